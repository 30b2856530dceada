//! `portico gateway list` and `portico gateway sync NAME`: the configured
//! gateways with their last sync, and a sync run from the command line (it
//! works while the server runs; the write is one transaction either way).

use clap::Subcommand;
use portico_catalog::Database;

use crate::cli::{ConfigArgs, Failure, failed, load_config};
use crate::gateways::{self, Run, Status, Trigger, runs};

/// `portico gateway ...`.
#[derive(Subcommand)]
pub(crate) enum GatewayCommand {
    /// Lists the gateways of `[[gateways]]` with their last sync.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Syncs one gateway now; exits with 1 when the sync fails.
    Sync {
        /// The gateway's name.
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `gateway` command.
pub(crate) fn run(command: GatewayCommand) -> Result<(), Failure> {
    match command {
        GatewayCommand::List { config, json } => list(config, json),
        GatewayCommand::Sync { name, config, json } => sync(&name, config, json),
    }
}

fn list(config: ConfigArgs, json: bool) -> Result<(), Failure> {
    let config = load_config(config, None, false)?;
    let db = Database::open(&config.database_path())?;
    let mut rows = Vec::new();
    for g in &config.gateways {
        let last = runs::last(&db, &g.name).map_err(|e| failed(e.into()))?;
        rows.push((g, last));
    }
    if json {
        let value: Vec<_> = rows
            .iter()
            .map(|(g, last)| {
                serde_json::json!({
                    "name": g.name,
                    "connector": g.connector,
                    "sync_interval": g.sync_interval.to_string(),
                    "timeout": g.timeout.to_string(),
                    "allowed_outbound_hosts": g.outbound_hosts(),
                    "last_run": last,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("no gateways configured: add [[gateways]] tables to the configuration file");
        return Ok(());
    }
    println!(
        "{:<20} {:<22} {:<9} LAST SYNC",
        "NAME", "CONNECTOR", "EVERY"
    );
    for (g, last) in rows {
        let last = last.map_or_else(|| "never".to_owned(), |run| describe(&run));
        println!(
            "{:<20} {:<22} {:<9} {last}",
            g.name,
            g.connector,
            g.sync_interval.to_string()
        );
    }
    Ok(())
}

fn sync(name: &str, config: ConfigArgs, json: bool) -> Result<(), Failure> {
    let config = load_config(config, None, false)?;
    if !config.gateways.iter().any(|g| g.name == name) {
        let known: Vec<&str> = config.gateways.iter().map(|g| g.name.as_str()).collect();
        return Err(anyhow::anyhow!(
            "no gateway called `{name}` (configured: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
        .into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let run: Run = runtime.block_on(async {
        let state = tokio::task::spawn_blocking(move || crate::server::prepare(config))
            .await
            .map_err(anyhow::Error::from)??;
        gateways::sync(&state, name, Trigger::Cli)
            .await
            .map_err(|e| failed(e.into()))
    })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&run).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{name}: {}", describe(&run));
        for problem in &run.problems {
            println!("  {problem}");
        }
    }
    match run.status {
        Status::Failed => Err(failed(anyhow::anyhow!("the sync of `{name}` failed"))),
        _ => Ok(()),
    }
}

/// One line about a run: when, how it ended, what it did.
fn describe(run: &Run) -> String {
    match (&run.status, &run.error) {
        (Status::Failed, Some(error)) => {
            format!("run {} at {}: failed: {error}", run.id, run.started_at)
        }
        (Status::Running, _) => format!("run {} at {}: running", run.id, run.started_at),
        _ => format!(
            "run {} at {}: succeeded: {} found, {} added, {} updated, {} unchanged, {} orphaned, {} not written",
            run.id,
            run.started_at,
            run.discovered,
            run.added,
            run.updated,
            run.unchanged,
            run.orphaned,
            run.rejected
        ),
    }
}
