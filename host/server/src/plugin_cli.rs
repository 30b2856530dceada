//! `portico plugin ...`: list and inspect plugins; package, sign and verify
//! plugin files for distribution; install, upgrade, remove, enable and
//! disable them (a running server follows the plugins directory).
//!
//! A package is one `.wasm` file: the component with its manifest embedded
//! (`pack`), optionally signed with an ed25519 key (`keygen`, `sign`), checked
//! against the operator's trust policy (`verify`, and the server at load).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use portico_runtime::signing;
use portico_runtime::{
    AllowedHost, OutboundPolicy, PublicKey, Runtime, RuntimeConfig, SecretKey, Trust,
    TrustedPublisher,
};

use crate::cli::{ConfigArgs, Failure, load_config};
use crate::fetch::{FetchLimits, HttpClient};
use crate::loader::signature_path;
use crate::plugin_store::{PluginStore, write_atomically as write};

/// `portico plugin` sub-commands.
#[derive(Subcommand)]
pub(crate) enum PluginCommand {
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
    /// Packs a built component and its manifest into one plugin file.
    Pack {
        /// The built component (`.wasm`, e.g. from `cargo build --target wasm32-wasip2`,
        /// componentize-js or componentize-py).
        component: PathBuf,
        /// The manifest (default: `plugin.toml` in the current directory).
        #[arg(long, default_value = "plugin.toml")]
        manifest: PathBuf,
        /// The WIT version the component was built against (default: the one
        /// it carries, else this host's).
        #[arg(long)]
        wit_version: Option<String>,
        /// Where to write the package (default: `<id>-<version>.wasm`).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Signs a plugin file with a publisher key (embedded, or `FILE.sig` with --detached).
    Sign {
        /// The plugin file; signed in place unless --output is given.
        file: PathBuf,
        /// The key file written by `portico plugin keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Write the signature to `FILE.sig` and leave the plugin file untouched.
        #[arg(long)]
        detached: bool,
        /// Where to write the signed plugin (embedded signatures only).
        #[arg(long, short, conflicts_with = "detached")]
        output: Option<PathBuf>,
    },
    /// Checks a plugin file's signature (embedded or `FILE.sig`) against the
    /// trusted publishers of the configuration and of --trust; exits with 2
    /// when it is unsigned, tampered or untrusted.
    Verify {
        /// The plugin file.
        file: PathBuf,
        /// A trusted publisher, `NAME=ed25519:KEY`, besides those in the configuration.
        #[arg(long, value_name = "NAME=KEY")]
        trust: Vec<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Installs a plugin file into the plugins directory (a running server picks it up).
    Install {
        /// The plugin file or its http(s) URL (a detached signature at
        /// `FILE.sig` / `URL.sig` is used when present).
        source: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Installs a newer version of an installed plugin and makes it the serving one.
    Upgrade {
        /// The plugin file or its http(s) URL.
        source: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Removes an installed plugin (every version, or one).
    Remove {
        /// The plugin id.
        id: String,
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Switches an installed plugin back on.
    Enable {
        /// The plugin id.
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Switches a plugin off without removing it.
    Disable {
        /// The plugin id.
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Creates a publisher signing key.
    Keygen {
        /// The publisher's name, recorded in every signature it makes.
        #[arg(long)]
        publisher: String,
        /// Where to write the secret key file (default: `<publisher>.key`); refuses to overwrite.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Runs one `portico plugin` sub-command.
pub(crate) fn run(command: PluginCommand) -> Result<(), Failure> {
    match command {
        PluginCommand::List { config, json } => plugin_list(config, json),
        PluginCommand::Inspect { file, json } => plugin_inspect(&file, json),
        PluginCommand::Pack {
            component,
            manifest,
            wit_version,
            output,
        } => pack(&component, &manifest, wit_version.as_deref(), output),
        PluginCommand::Sign {
            file,
            key,
            detached,
            output,
        } => sign(&file, &key, detached, output),
        PluginCommand::Verify {
            file,
            trust,
            config,
        } => verify(&file, &trust, config),
        PluginCommand::Keygen { publisher, output } => keygen(&publisher, output),
        PluginCommand::Install { source, config } => install(&source, config, false),
        PluginCommand::Upgrade { source, config } => install(&source, config, true),
        PluginCommand::Remove {
            id,
            version,
            config,
        } => {
            let store = PluginStore::new(&load_config(config, None, false)?);
            for path in store.remove(&id, version.as_deref())? {
                println!("removed {}", path.display());
            }
            Ok(())
        }
        PluginCommand::Enable { id, config } => {
            PluginStore::new(&load_config(config, None, false)?).set_enabled(&id, true)?;
            println!("enabled {id}");
            Ok(())
        }
        PluginCommand::Disable { id, config } => {
            PluginStore::new(&load_config(config, None, false)?).set_enabled(&id, false)?;
            println!("disabled {id}");
            Ok(())
        }
    }
}

/// `install`, or with `upgrade`, install a newer version and pin it as active.
fn install(source: &str, config: ConfigArgs, upgrade: bool) -> Result<(), Failure> {
    let config = load_config(config, None, false)?;
    let store = PluginStore::new(&config);
    let (wasm, detached) = read_package(source)?;
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 1,
        ..RuntimeConfig::default()
    })?;
    if upgrade {
        let id = portico_runtime::manifest::read_sections(&wasm)
            .ok()
            .and_then(|s| s.manifest)
            .and_then(|m| portico_runtime::Manifest::parse(&m).ok());
        if let Some(m) = id {
            let scan = store.scan()?;
            let state = store.state()?;
            let current = scan
                .versions
                .get(&m.id)
                .and_then(|v| store.chosen(&state, &m.id, v));
            match current {
                None => {
                    return Err(anyhow::anyhow!(
                        "`{}` is not installed; use `portico plugin install`",
                        m.id
                    )
                    .into());
                }
                Some(c) if c.version >= m.version => {
                    return Err(anyhow::anyhow!(
                        "{} {} is serving; {} is not newer",
                        m.id,
                        c.version,
                        m.version
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
    }
    let policy = config.plugins.trust_policy()?;
    let installed = store
        .install(&runtime, &policy, &wasm, detached.as_deref(), upgrade)
        .with_context(|| source.to_owned())?;
    println!(
        "installed {} {} as {}",
        installed.id,
        installed.version,
        installed.path.display()
    );
    Ok(())
}

/// A package and its detached signature, from a file or an http(s) URL.
fn read_package(source: &str) -> anyhow::Result<(Vec<u8>, Option<Vec<u8>>)> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        let path = Path::new(source);
        return Ok((read(path)?, std::fs::read(signature_path(path)).ok()));
    }
    let url = url::Url::parse(source).with_context(|| format!("`{source}` is not a URL"))?;
    // The operator named this URL on the command line: its origin, and only
    // that, may be reached (internal artifact servers included).
    let origin = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(443)
    );
    let policy = OutboundPolicy {
        allowed: vec![AllowedHost::parse(&origin).map_err(|e| anyhow::anyhow!(e))?],
        allow_private_addresses: true,
    };
    let limits = FetchLimits {
        max_body_bytes: 64 * 1024 * 1024,
        ..FetchLimits::default()
    };
    let client = HttpClient::new(policy, limits, "the command line");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let package = client
            .get(&url)
            .await
            .with_context(|| format!("cannot download {source}"))?;
        if !package.status.is_success() {
            anyhow::bail!(
                "cannot download {source}: the server answered {}",
                package.status
            );
        }
        let signature_url = url::Url::parse(&format!("{source}.sig"))?;
        let signature = match client.get(&signature_url).await {
            Ok(found) if found.status.is_success() => Some(found.body.to_vec()),
            _ => None,
        };
        Ok((package.body.to_vec(), signature))
    })
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn pack(
    component: &Path,
    manifest: &Path,
    wit_version: Option<&str>,
    output: Option<PathBuf>,
) -> Result<(), Failure> {
    let wasm = read(component)?;
    let manifest_text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read the manifest {}", manifest.display()))?;
    let packed =
        portico_runtime::package::pack(&wasm, &manifest_text, wit_version).with_context(|| {
            format!(
                "cannot pack {} with {}",
                component.display(),
                manifest.display()
            )
        })?;
    // The package must load here: a package that cannot is not shipped.
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 1,
        ..RuntimeConfig::default()
    })?;
    let inspection = runtime.inspect(&packed)?;
    if let Err(reason) = &inspection.compatible {
        return Err(anyhow::anyhow!("{}: {reason}", component.display()).into());
    }
    let m = inspection
        .manifest
        .as_ref()
        .expect("packed with a manifest");
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{}-{}.wasm", m.id, m.version)));
    write(&output, &packed)?;
    println!(
        "packed {} {} ({}, WIT {}) into {} ({} bytes)",
        m.id,
        m.version,
        m.world,
        inspection.wit_version.as_deref().unwrap_or("?"),
        output.display(),
        packed.len()
    );
    Ok(())
}

fn sign(file: &Path, key: &Path, detached: bool, output: Option<PathBuf>) -> Result<(), Failure> {
    let wasm = read(file)?;
    let key_text = std::fs::read_to_string(key)
        .with_context(|| format!("cannot read the key file {}", key.display()))?;
    let key = SecretKey::parse(&key_text).with_context(|| key.display().to_string())?;
    let signature = signing::sign(&wasm, &key).with_context(|| file.display().to_string())?;
    let written = if detached {
        let path = signature_path(file);
        write(&path, signature.to_json().as_bytes())?;
        path
    } else {
        let path = output.unwrap_or_else(|| file.to_owned());
        let signed =
            signing::embed(&wasm, &signature).with_context(|| file.display().to_string())?;
        write(&path, &signed)?;
        path
    };
    println!(
        "signed {} as {} ({}): {}",
        file.display(),
        key.publisher(),
        key.public_key(),
        written.display()
    );
    Ok(())
}

fn verify(file: &Path, trust: &[String], config: ConfigArgs) -> Result<(), Failure> {
    let config = load_config(config, None, false)?;
    let mut policy = config.plugins.trust_policy()?;
    policy.require_signatures = true;
    for entry in trust {
        let (name, key) = entry
            .split_once('=')
            .with_context(|| format!("--trust `{entry}` must be NAME=ed25519:KEY"))?;
        policy.trusted.push(TrustedPublisher {
            name: name.to_owned(),
            key: PublicKey::parse(key)?,
        });
    }
    let wasm = read(file)?;
    match crate::loader::check_signature(&policy, file, &wasm)? {
        Trust::Trusted { publisher } => {
            println!("{}: signed by {publisher}, trusted", file.display());
            Ok(())
        }
        // With signatures required, anything else was refused above.
        other => Err(anyhow::anyhow!("{}: {other:?}", file.display()).into()),
    }
}

fn keygen(publisher: &str, output: Option<PathBuf>) -> Result<(), Failure> {
    let key = SecretKey::generate(publisher)?;
    let path = output.unwrap_or_else(|| PathBuf::from(format!("{publisher}.key")));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_secret()
        .open(&path)
        .with_context(|| format!("cannot create {} (it is never overwritten)", path.display()))?;
    std::io::Write::write_all(&mut file, key.to_file().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("secret key written to {} (keep it private)", path.display());
    println!("public key: {}", key.public_key());
    println!();
    println!("operators trust it with, in portico.toml:");
    println!("[plugins]");
    println!(
        "trusted_publishers = [{{ name = \"{publisher}\", key = \"{}\" }}]",
        key.public_key()
    );
    Ok(())
}

/// Owner-only permissions for secret files, where the platform has them.
trait SecretMode {
    fn mode_secret(&mut self) -> &mut Self;
}

impl SecretMode for std::fs::OpenOptions {
    #[cfg(unix)]
    fn mode_secret(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
    #[cfg(not(unix))]
    fn mode_secret(&mut self) -> &mut Self {
        self
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
