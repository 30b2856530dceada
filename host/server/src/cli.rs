//! The command line: `portico serve`, `portico plugin ...` (in plugin_cli.rs),
//! `portico catalog ...`, `portico user add` (in user_cli.rs),
//! `portico gateway ...` (in gateway_cli.rs) and `portico spec diff` (in spec_cli.rs).
//!
//! Bad input (a malformed `.wasm`, a wrong world, an unknown config key, an
//! unusable database path) prints one message naming the file and the problem
//! and exits with code 2; other failures exit with 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides};
use crate::plugin_cli::PluginCommand;
use crate::server::Server;

/// Exit code for bad input.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "portico",
    version,
    about = "An API developer portal in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the portal.
    Serve(ServeArgs),
    /// Lists, inspects, packs, signs and verifies plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Imports, checks and exports catalogue entities.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Creates local accounts (the first admin).
    #[command(subcommand)]
    User(crate::user_cli::UserCommand),
    /// Lists the configured gateways and syncs one now.
    #[command(subcommand)]
    Gateway(crate::gateway_cli::GatewayCommand),
    /// Compares API descriptions: `spec diff OLD NEW` lists breaking changes.
    #[command(subcommand)]
    Spec(crate::spec_cli::SpecCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Imports Backstage descriptor files, directories of them, or http(s) URLs on
    /// `[catalog] allowed_hosts` (works while the server runs).
    Import {
        /// Files, directories or URLs.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        #[command(flatten)]
        config: ConfigArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Checks descriptor files without importing them; exits with 1 when any entity is invalid.
    Validate {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Writes every entity to standard output as YAML documents.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// A JSON array instead of YAML.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct ConfigArgs {
    /// Configuration file (default: ./portico.toml when it exists).
    #[arg(long, env = "PORTICO_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the database and caches.
    #[arg(long, env = "PORTICO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Directory scanned for plugin `.wasm` files.
    #[arg(long, env = "PORTICO_PLUGINS_DIR")]
    plugins_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "PORTICO_LISTEN")]
    listen: Option<String>,
    /// Start with demo content.
    #[arg(long)]
    demo: bool,
}

/// A failure and the exit code it earns.
pub(crate) struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            code: EXIT_BAD_INPUT,
            error: error.into(),
        }
    }
}

/// A failure that is not the input's fault (exit code 1).
pub(crate) fn failed(error: anyhow::Error) -> Failure {
    Failure { code: 1, error }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Plugin(command) => crate::plugin_cli::run(command),
        Command::Catalog(command) => catalog(command),
        Command::User(command) => crate::user_cli::run(command),
        Command::Gateway(command) => crate::gateway_cli::run(command),
        Command::Spec(command) => crate::spec_cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

pub(crate) fn load_config(
    args: ConfigArgs,
    listen: Option<String>,
    demo: bool,
) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen,
        data_dir: args.data_dir,
        plugins_dir: args.plugins_dir,
        demo,
    };
    Config::load(args.config.as_deref(), overrides)
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PORTICO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    let config = load_config(args.config, args.listen, args.demo)?;
    init_tracing(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        // The one line on stdout that scripts and tests wait for.
        println!("listening on http://{}", server.addr);
        shutdown_signal().await;
        tracing::info!("shutting down");
        server
            .shutdown(Duration::from_secs(10))
            .await
            .map_err(|error| Failure { code: 1, error })
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn catalog(command: CatalogCommand) -> Result<(), Failure> {
    use crate::catalog_cli;
    let report = match command {
        CatalogCommand::Import {
            paths,
            config,
            json,
        } => {
            let config = load_config(config, None, false)?;
            let targets = catalog_cli::Targets::check(&paths, &config)?;
            let store = catalog_cli::open_store(&config)?;
            let report = catalog_cli::import(&store, &targets, &config)
                .map_err(|error| Failure { code: 1, error })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", catalog_cli::summary(&report));
            }
            report
        }
        CatalogCommand::Validate { paths } => {
            paths
                .iter()
                .try_for_each(|p| catalog_cli::check_exists(p))?;
            let report =
                catalog_cli::validate(&paths).map_err(|error| Failure { code: 1, error })?;
            let valid = report.added.len() + report.changed.len() + report.unchanged.len();
            println!("{valid} valid, {} rejected", report.rejected.len());
            for problem in &report.rejected {
                println!("rejected: {problem}");
            }
            report
        }
        CatalogCommand::Export { config, json } => {
            let config = load_config(config, None, false)?;
            let store = catalog_cli::open_store(&config)?;
            let count = catalog_cli::export(&store, json, &mut std::io::stdout().lock())
                .map_err(|error| Failure { code: 1, error })?;
            eprintln!("{count} entities exported");
            return Ok(());
        }
    };
    match report.rejected.len() {
        0 => Ok(()),
        n => Err(Failure {
            code: 1,
            error: anyhow::anyhow!("{n} entities rejected"),
        }),
    }
}
