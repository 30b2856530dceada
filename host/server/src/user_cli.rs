//! `portico user add NAME --role ROLE`: creates a local account, usually the
//! first admin, in the portal's database (it works while the server runs).
//!
//! The password comes from `--password-file`, else `PORTICO_PASSWORD`, else
//! a prompt on a terminal; it is never taken from the command line itself.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use portico_catalog::Database;
use serde_json::json;

use crate::cli::{ConfigArgs, Failure, load_config};
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::identity::roles::Roles;
use crate::identity::users::{self, NewUser, UserError};

/// `portico user ...`.
#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Creates a local account with its roles.
    Add {
        /// The username (letters, digits, `.`, `_`, `-`, `@`).
        name: String,
        /// A role: admin, api-owner, developer, viewer or a custom one (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The name shown.
        #[arg(long, default_value = "")]
        display_name: String,
        /// The email address.
        #[arg(long, default_value = "")]
        email: String,
        /// A group to add the user to (repeatable; created when new).
        #[arg(long = "group")]
        groups: Vec<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// Runs a `user` command.
pub(crate) fn run(command: UserCommand) -> Result<(), Failure> {
    let UserCommand::Add {
        name,
        roles,
        password_file,
        display_name,
        email,
        groups,
        config,
    } = command;
    let config = load_config(config, None, false)?;
    let all_roles = Roles::new(&config.auth);
    // A bad role is bad input before anything is asked or opened.
    if let Some(role) = roles.iter().find(|r| !all_roles.exists(r)) {
        let known: Vec<&str> = all_roles.names().collect();
        return Err(anyhow::anyhow!("unknown role `{role}` (known: {})", known.join(", ")).into());
    }
    users::check_username(&name).map_err(anyhow::Error::from)?;
    let password = read_password(password_file)?;
    let db = Database::open(&config.database_path())?;
    let user = NewUser {
        username: name.clone(),
        display_name,
        email,
        password,
        roles: roles.clone(),
    };
    let id = match users::create_user(&db, &all_roles, &user) {
        Ok(id) => id,
        Err(error @ (UserError::Invalid(_) | UserError::Exists(_))) => {
            return Err(anyhow::Error::from(error).into());
        }
        Err(error) => return Err(crate::cli::failed(error.into())),
    };
    for group in &groups {
        users::add_to_group(&db, id, group)
            .map_err(|e| crate::cli::failed(anyhow::Error::from(e)))?;
    }
    let caller = Caller::system("cli", "portico user add");
    audit::record(
        &db,
        &caller,
        "user.create",
        &name,
        Outcome::Success,
        json!({ "roles": roles, "groups": groups, "user_id": id }),
    );
    println!("created user {name} with roles {}", roles.join(", "));
    Ok(())
}

fn read_password(file: Option<PathBuf>) -> Result<String, Failure> {
    let password = if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        text.lines().next().unwrap_or_default().to_owned()
    } else if let Ok(password) = std::env::var("PORTICO_PASSWORD") {
        password
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again =
            rpassword::prompt_password("Password again: ").context("cannot read the password")?;
        if first != again {
            return Err(anyhow::anyhow!("the passwords differ").into());
        }
        first
    } else {
        return Err(anyhow::anyhow!(
            "no password: use --password-file FILE, set PORTICO_PASSWORD, or run on a terminal"
        )
        .into());
    };
    if password.chars().count() < users::MIN_PASSWORD_CHARS {
        return Err(anyhow::anyhow!(
            "the password must have at least {} characters",
            users::MIN_PASSWORD_CHARS
        )
        .into());
    }
    Ok(password)
}
