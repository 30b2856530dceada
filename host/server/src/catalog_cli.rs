//! `portico catalog import|validate|export`: the catalogue from the command line.
//!
//! Import works while the server runs on the same data directory (SQLite in
//! WAL mode takes one writer at a time and waits for it), and reads URLs on
//! `[catalog] allowed_hosts`. Bad input is reported per entity and the rest
//! proceeds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use portico_catalog::{
    CatalogStore, Database, ImportOptions, ImportReport, ListQuery, Progress, SqliteStore, Stage,
    import_paths, import_urls,
};
use url::Url;

use crate::config::Config;
use crate::fetch::BlockingReader;
use crate::locations::{self, Target};

/// Opens the catalogue of a configured data directory.
pub fn open_store(config: &Config) -> anyhow::Result<SqliteStore> {
    let db = Database::open(&config.database_path())?;
    Ok(SqliteStore::new(&db)?.with_breaking_changes(config.catalog.breaking_changes))
}

/// What `catalog import` was asked to read, checked against `[catalog]`.
pub struct Targets {
    paths: Vec<PathBuf>,
    urls: Vec<Url>,
    reader: Option<BlockingReader>,
    /// Drives the reader's requests while the import runs on this thread.
    _runtime: Option<tokio::runtime::Runtime>,
}

impl Targets {
    /// Sorts arguments into paths (which must exist) and URLs (whose hosts
    /// must be allowed and resolve to allowed addresses); an error is bad input.
    pub fn check(args: &[String], config: &Config) -> anyhow::Result<Targets> {
        let (mut paths, mut urls) = (Vec::new(), Vec::new());
        for arg in args {
            match Target::from_arg(arg) {
                Target::File(path) => {
                    check_exists(&path)?;
                    paths.push(std::path::absolute(&path).with_context(|| arg.clone())?);
                }
                Target::Url(url) => urls.push(url),
            }
        }
        let Some(first) = urls.first() else {
            return Ok(Targets {
                paths,
                urls,
                reader: None,
                _runtime: None,
            });
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let Some(reader) = locations::url_reader(&config.catalog, runtime.handle().clone())? else {
            anyhow::bail!(
                "{first}: URL imports are disabled: list the host in [catalog] allowed_hosts of portico.toml"
            );
        };
        for url in &urls {
            runtime
                .block_on(reader.client().check_destination(url))
                .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        }
        Ok(Targets {
            paths,
            urls,
            reader: Some(reader),
            _runtime: Some(runtime),
        })
    }
}

/// Imports the targets into a store under `[catalog]`. The CLI reads what
/// its user names: each path's own directory is readable, besides any roots.
pub fn import(
    store: &dyn CatalogStore,
    targets: &Targets,
    config: &Config,
) -> anyhow::Result<ImportReport> {
    let settings = &config.catalog;
    let mut roots = settings.roots.clone();
    if !roots.is_empty() {
        roots.extend(targets.paths.iter().map(|p| {
            if p.is_dir() {
                p.clone()
            } else {
                p.parent().unwrap_or(Path::new("/")).to_owned()
            }
        }));
    }
    let options = locations::import_options(settings, targets.reader.as_ref(), roots);
    import_with(store, &targets.paths, &targets.urls, options)
}

/// Imports into a store, drawing a progress bar on a terminal.
fn import_with(
    store: &dyn CatalogStore,
    paths: &[PathBuf],
    urls: &[Url],
    options: ImportOptions,
) -> anyhow::Result<ImportReport> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:8} [{bar:40}] {pos}/{len}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let shown = bar.clone();
    let options = ImportOptions {
        progress: Some(Arc::new(move |p: Progress| {
            shown.set_message(match p.stage {
                Stage::Reading => "reading",
                Stage::Writing => "writing",
            });
            shown.set_length(p.total as u64);
            shown.set_position(p.done as u64);
        })),
        ..options
    };
    let absolute = paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut report = import_paths(store, &absolute, &options)?;
    if !urls.is_empty() {
        let remote = import_urls(store, urls, &options)?;
        report.added.extend(remote.added);
        report.changed.extend(remote.changed);
        report.unchanged.extend(remote.unchanged);
        report.orphaned.extend(remote.orphaned);
        report.deleted.extend(remote.deleted);
        report.rejected.extend(remote.rejected);
        report.files += remote.files;
    }
    bar.finish_and_clear();
    Ok(report)
}

/// The summary people read after an import.
pub fn summary(report: &ImportReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{} added, {} changed, {} unchanged, {} orphaned, {} deleted, {} rejected ({} files)\n",
        report.added.len(),
        report.changed.len(),
        report.unchanged.len(),
        report.orphaned.len(),
        report.deleted.len(),
        report.rejected.len(),
        report.files,
    );
    for problem in &report.rejected {
        let _ = writeln!(out, "rejected: {problem}");
    }
    out
}

/// Checks descriptor files without touching any catalogue: imports them into a throwaway one.
pub fn validate(paths: &[PathBuf]) -> anyhow::Result<ImportReport> {
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = Database::open(&scratch.path().join("validate.db"))?;
    let store = SqliteStore::new(&db)?;
    import_with(&store, paths, &[], ImportOptions::default())
}

/// Writes every entity as YAML documents (or a JSON array).
pub fn export(
    store: &dyn CatalogStore,
    json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<usize> {
    // Parsed again so that both formats can lay it out.
    let entities = store
        .list_entities(&ListQuery::default())?
        .iter()
        .map(|raw| serde_json::from_str::<serde_json::Value>(raw.get()))
        .collect::<Result<Vec<_>, _>>()?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &entities)?;
        writeln!(out)?;
    } else {
        for entity in &entities {
            writeln!(out, "---")?;
            out.write_all(serde_yaml_ng::to_string(entity)?.as_bytes())?;
        }
    }
    Ok(entities.len())
}

/// Whether a path looks like something the import can read.
pub fn check_exists(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        Ok(())
    } else {
        anyhow::bail!("{}: no such file or directory", path.display())
    }
}
