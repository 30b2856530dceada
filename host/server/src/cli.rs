//! The command line: `portico serve` and `portico plugin list|inspect`.
//!
//! Bad input (a malformed `.wasm`, a wrong world, an unknown config key, an
//! unusable database path) prints one message naming the file and the problem
//! and exits with code 2; other failures exit with 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use portico_runtime::{Runtime, RuntimeConfig};

use crate::config::{Config, LogFormat, Overrides};
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
    /// Lists and inspects plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Imports, checks and exports catalogue entities.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Imports Backstage descriptor files, or directories of them (works while the server runs).
    Import {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
struct ConfigArgs {
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

#[derive(Subcommand)]
enum PluginCommand {
    /// Lists the plugins the portal would load (bundled and from the plugins directory).
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows a plugin file's manifest, world, WIT version, imports and exports.
    Inspect {
        /// The `.wasm` file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A failure and the exit code it earns.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure {
            code: EXIT_BAD_INPUT,
            error,
        }
    }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Plugin(PluginCommand::List { config, json }) => plugin_list(config, json),
        Command::Plugin(PluginCommand::Inspect { file, json }) => plugin_inspect(&file, json),
        Command::Catalog(command) => catalog(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

fn load_config(args: ConfigArgs, listen: Option<String>, demo: bool) -> anyhow::Result<Config> {
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
            paths
                .iter()
                .try_for_each(|p| catalog_cli::check_exists(p))?;
            let config = load_config(config, None, false)?;
            let store = catalog_cli::open_store(&config)?;
            let report =
                catalog_cli::import(&store, &paths).map_err(|error| Failure { code: 1, error })?;
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

fn plugin_list(args: ConfigArgs, json: bool) -> Result<(), Failure> {
    let config = load_config(args, None, false)?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.cache_dir()),
        ..RuntimeConfig::default()
    })?;
    let registry = crate::loader::load_all(&runtime, &config)?;
    let infos = registry.infos();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&infos).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    println!(
        "{:<28} {:<10} {:<18} {:<6} ORIGIN",
        "ID", "VERSION", "WORLD", "WIT"
    );
    for info in infos {
        println!(
            "{:<28} {:<10} {:<18} {:<6} {}",
            info.id,
            info.version,
            info.world.name(),
            info.wit_version,
            info.origin
        );
    }
    Ok(())
}

fn plugin_inspect(file: &Path, json: bool) -> Result<(), Failure> {
    let wasm = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 1,
        ..RuntimeConfig::default()
    })?;
    let inspection = runtime
        .inspect(&wasm)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&inspection).map_err(anyhow::Error::from)?
        );
    } else {
        print!("{}", render_inspection(file, &inspection));
    }
    match &inspection.compatible {
        Ok(()) => Ok(()),
        Err(reason) => Err(anyhow::anyhow!("{}: {reason}", file.display()).into()),
    }
}

fn render_inspection(file: &Path, i: &portico_runtime::Inspection) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "file:        {}", file.display());
    let _ = writeln!(out, "size:        {} bytes", i.size);
    let _ = writeln!(out, "sha256:      {}", i.sha256);
    if let Some(m) = &i.manifest {
        let _ = writeln!(out, "id:          {}", m.id);
        let _ = writeln!(out, "version:     {}", m.version);
        let _ = writeln!(out, "world:       {}", m.world);
        let _ = writeln!(
            out,
            "wit:         {} (built against {})",
            m.wit,
            i.wit_version.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(out, "description: {}", m.description);
        let _ = writeln!(out, "author:      {}", m.author);
        let _ = writeln!(out, "license:     {}", m.license);
        let _ = writeln!(out, "failure:     {:?}", m.failure);
        let hosts = &m.capabilities.allowed_outbound_hosts;
        let _ = writeln!(
            out,
            "outbound:    {}",
            if hosts.is_empty() {
                "none".to_owned()
            } else {
                hosts.join(", ")
            }
        );
        let _ = writeln!(out, "kv quota:    {} bytes", m.capabilities.kv_quota_bytes);
        let _ = writeln!(out, "secrets:     {}", m.capabilities.secrets.join(", "));
        let _ = writeln!(
            out,
            "limits:      {} MiB, {} ms per call",
            m.limits.memory_mb, m.limits.time_ms
        );
    }
    let _ = writeln!(
        out,
        "compatible:  {}",
        match &i.compatible {
            Ok(()) => "yes".to_owned(),
            Err(e) => format!("no: {e}"),
        }
    );
    let _ = writeln!(out, "imports:");
    for name in &i.imports {
        let _ = writeln!(out, "  {name}");
    }
    let _ = writeln!(out, "exports:");
    for name in &i.exports {
        let _ = writeln!(out, "  {name}");
    }
    out
}
