//! `portico catalog import|validate|export`: the catalogue from the command line.
//!
//! Import works while the server runs on the same data directory (SQLite in
//! WAL mode takes one writer at a time and waits for it). Bad input is
//! reported per entity and the rest proceeds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use portico_catalog::{
    CatalogStore, Database, ImportOptions, ImportReport, ListQuery, Progress, SqliteStore, Stage,
    import_paths,
};

use crate::config::Config;

/// Opens the catalogue of a configured data directory.
pub fn open_store(config: &Config) -> anyhow::Result<SqliteStore> {
    let db = Database::open(&config.database_path())?;
    Ok(SqliteStore::new(&db)?)
}

/// Imports paths into a store, drawing a progress bar on a terminal.
pub fn import(store: &dyn CatalogStore, paths: &[PathBuf]) -> anyhow::Result<ImportReport> {
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
        ..ImportOptions::default()
    };
    let absolute = paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = import_paths(store, &absolute, &options)?;
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
    import(&store, paths)
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
