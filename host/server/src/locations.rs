//! Catalogue locations (Backstage's name for a registered source): checking a
//! `{type, target}` against `[catalog]`, importing it at once (or into a
//! scratch store for a dry run), deleting it, and re-reading locations on a
//! schedule.
//!
//! Every `file` and `url` source is a location, whether registered over HTTP
//! or imported by the CLI. The refresher re-reads those the server's own rules
//! allow (files within `[catalog] roots`, URLs on `allowed_hosts`) and leaves
//! the others to whoever imported them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portico_catalog::{
    Audience, CatalogError, CatalogStore, Database, EntityJson, Fields, ImportOptions,
    ImportReport, OrphanPolicy, Problem, SourceInfo, SqliteStore, SyncOutcome, UrlReader,
    import_paths, import_urls,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use crate::config::CatalogSettings;
use crate::fetch::{BlockingReader, FetchLimits, HttpClient};
use crate::state::AppState;

/// What a location points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A descriptor file or a directory of them (absolute).
    File(PathBuf),
    /// A descriptor document on an allowed host.
    Url(Url),
}

impl Target {
    /// A command-line argument: an `http(s)://` URL, else a path.
    pub fn from_arg(arg: &str) -> Target {
        match Url::parse(arg) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Target::Url(url),
            _ => Target::File(PathBuf::from(arg)),
        }
    }

    /// `file` or `url`, as Backstage names location types.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::File(_) => "file",
            Target::Url(_) => "url",
        }
    }

    /// The path or URL, as the location's `target` shows it.
    pub fn target(&self) -> String {
        match self {
            Target::File(p) => p.display().to_string(),
            Target::Url(u) => u.to_string(),
        }
    }

    /// The identity of the source an import of this target writes.
    pub fn source(&self) -> String {
        format!("{}:{}", self.kind(), self.target())
    }
}

/// Why a location cannot be registered.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// The type or target is malformed, not allowed, or cannot be read.
    #[error("{0}")]
    Refused(String),
    /// The location is already registered.
    #[error("{0}")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] CatalogError),
    /// The scratch store of a dry run could not be made.
    #[error("{0:#}")]
    Scratch(anyhow::Error),
}

/// The catalogue's URL reader for `settings` (none when no host is allowed),
/// running requests on `runtime`.
pub fn url_reader(
    settings: &CatalogSettings,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<Option<BlockingReader>> {
    let policy = settings.outbound_policy()?;
    if policy.allowed.is_empty() {
        return Ok(None);
    }
    let client = HttpClient::new(policy, FetchLimits::default(), "[catalog]");
    Ok(Some(BlockingReader::new(client, runtime)))
}

/// Import options under `[catalog]`: its hosts, reader, roots and orphan policy.
pub fn import_options(
    settings: &CatalogSettings,
    reader: Option<&BlockingReader>,
    roots: Vec<PathBuf>,
) -> ImportOptions {
    ImportOptions {
        // A first, host-only filter in the catalogue; the reader checks
        // scheme, port and addresses on every request.
        allowed_hosts: reader
            .map(|r| {
                let allowed = &r.client().policy().allowed;
                allowed.iter().map(|a| a.host().to_owned()).collect()
            })
            .unwrap_or_default(),
        url_reader: reader.map(|r| Arc::new(r.clone()) as Arc<dyn UrlReader>),
        roots,
        orphans: settings.orphans,
        progress: None,
    }
}

/// Checks a location request against the server's rules: a file must lie in
/// `[catalog] roots`, a URL on an allowed host and public address (the name
/// is resolved; nothing is read).
pub async fn check(
    settings: &CatalogSettings,
    reader: Option<&BlockingReader>,
    kind: &str,
    target: &str,
) -> Result<Target, LocationError> {
    let refused = |why: String| LocationError::Refused(why);
    match kind {
        "file" => {
            if settings.roots.is_empty() {
                return Err(refused(
                    "file locations are disabled: list the directories they may come from in [catalog] roots".into(),
                ));
            }
            let path = std::path::absolute(target)
                .and_then(|p| p.canonicalize())
                .map_err(|e| refused(format!("cannot read {target}: {e}")))?;
            if !within(&path, &canonical_roots(settings)) {
                return Err(refused(format!(
                    "{} is outside the directories in [catalog] roots",
                    path.display()
                )));
            }
            Ok(Target::File(path))
        }
        "url" => {
            let url = Url::parse(target)
                .map_err(|e| refused(format!("\"{target}\" is not a URL: {e}")))?;
            let Some(reader) = reader else {
                return Err(refused(
                    "URL locations are disabled: list the hosts they may come from in [catalog] allowed_hosts".into(),
                ));
            };
            reader
                .client()
                .check_destination(&url)
                .await
                .map_err(|e| refused(format!("cannot read {url}: {e}")))?;
            Ok(Target::Url(url))
        }
        other => Err(refused(format!(
            "a location's type must be \"url\" or \"file\", not \"{other}\""
        ))),
    }
}

/// Imports one target as its own source.
pub fn import(
    store: &dyn CatalogStore,
    target: &Target,
    options: &ImportOptions,
) -> Result<ImportReport, CatalogError> {
    match target {
        Target::File(path) => import_paths(store, std::slice::from_ref(path), options),
        Target::Url(url) => import_urls(store, std::slice::from_ref(url), options),
    }
}

/// A location, as Backstage shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Location {
    /// Its id.
    pub id: String,
    /// `file`, `url`, `gateway` or `api`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it points at.
    pub target: String,
}

impl From<SourceInfo> for Location {
    fn from(s: SourceInfo) -> Location {
        Location {
            id: s.id,
            kind: s.source_type,
            target: s.target,
        }
    }
}

/// What registering a location did (or, in a dry run, would do).
#[derive(Debug)]
pub struct Registration {
    /// The location; in a dry run its id is `type:target`, as Backstage's is.
    pub location: Location,
    /// The entities it provides.
    pub entities: Vec<EntityJson>,
    /// Whether it was registered before.
    pub exists: bool,
    /// What in it was not imported, and why.
    pub rejected: Vec<Problem>,
}

/// Registers a checked target and imports it at once; a dry run imports
/// into a scratch store and registers nothing. Call with the locations lock
/// held (see [`AppState::locations_lock`]).
pub fn register(
    store: &dyn CatalogStore,
    target: &Target,
    options: &ImportOptions,
    dry_run: bool,
) -> Result<Registration, LocationError> {
    let source = target.source();
    let exists = store.sources()?.iter().any(|s| s.source == source);
    if exists && !dry_run {
        return Err(LocationError::Exists(format!(
            "the {} location {} is already registered",
            target.kind(),
            target.target()
        )));
    }
    let scratch = if dry_run {
        Some(scratch_store().map_err(LocationError::Scratch)?)
    } else {
        None
    };
    let used: &dyn CatalogStore = match &scratch {
        Some((_dir, scratch)) => scratch,
        None => store,
    };
    let report = import(used, target, options)?;
    let shown = target.target();
    if let Some(failure) = report
        .rejected
        .iter()
        .find(|p| p.file == shown && p.line.is_none() && p.entity.is_none())
    {
        // The target itself could not be read: nothing was written.
        return Err(LocationError::Refused(failure.to_string()));
    }
    let refs: Vec<String> = [&report.added, &report.changed, &report.unchanged]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let entities = used
        .entities_by_refs(&refs, &Fields::default(), &Audience::member())?
        .into_iter()
        .flatten()
        .collect();
    let location = if dry_run {
        Location {
            id: source.clone(),
            kind: target.kind().into(),
            target: shown,
        }
    } else {
        find_source(store, |s| s.source == source)?
            .map(Location::from)
            .ok_or_else(|| CatalogError::NotFound(format!("location {source}")))?
    };
    Ok(Registration {
        location,
        entities,
        exists,
        rejected: report.rejected,
    })
}

fn scratch_store() -> anyhow::Result<(tempfile::TempDir, SqliteStore)> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(&dir.path().join("dry-run.db"))?;
    let store = SqliteStore::new(&db)?;
    Ok((dir, store))
}

/// The first source that `wanted` accepts.
pub fn find_source(
    store: &dyn CatalogStore,
    wanted: impl Fn(&SourceInfo) -> bool,
) -> Result<Option<SourceInfo>, CatalogError> {
    Ok(store.sources()?.into_iter().find(|s| wanted(s)))
}

/// Deletes a location by id; its entities are orphaned or deleted per `orphans`.
pub fn delete(
    store: &dyn CatalogStore,
    id: &str,
    orphans: OrphanPolicy,
) -> Result<SyncOutcome, CatalogError> {
    let source = find_source(store, |s| s.id == id)?
        .ok_or_else(|| CatalogError::NotFound(format!("no location with id {id}")))?;
    store.remove_source(&source.source, orphans)
}

fn canonical_roots(settings: &CatalogSettings) -> Vec<PathBuf> {
    settings
        .roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .collect()
}

fn within(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| path.starts_with(r))
}

/// Re-reads every location the server may read (files within `[catalog]
/// roots`, URLs on allowed hosts); failures are logged with the location.
/// Returns how many locations were read.
pub fn refresh_all(
    store: &dyn CatalogStore,
    settings: &CatalogSettings,
    reader: Option<&BlockingReader>,
) -> usize {
    let sources = match store.sources() {
        Ok(sources) => sources,
        Err(error) => {
            tracing::error!(%error, "location refresh: cannot list the locations");
            return 0;
        }
    };
    let roots = canonical_roots(settings);
    let options = import_options(settings, reader, settings.roots.clone());
    let mut read = 0;
    for source in sources {
        let target = match source.source_type.as_str() {
            "file" if within(Path::new(&source.target), &roots) => {
                Target::File(PathBuf::from(&source.target))
            }
            "url" => match (Url::parse(&source.target), reader) {
                (Ok(url), Some(r)) if r.client().check_url(&url).is_ok() => Target::Url(url),
                _ => continue,
            },
            _ => continue,
        };
        read += 1;
        match import(store, &target, &options) {
            Ok(report) => {
                for problem in &report.rejected {
                    tracing::warn!(location = %source.id, target = %source.target, %problem,
                        "location refresh: not imported");
                }
                tracing::debug!(location = %source.id, target = %source.target,
                    added = report.added.len(), changed = report.changed.len(),
                    orphaned = report.orphaned.len(), deleted = report.deleted.len(),
                    "location refreshed");
            }
            Err(error) => tracing::error!(location = %source.id, target = %source.target,
                %error, "location refresh failed"),
        }
    }
    read
}

/// Starts re-reading locations every `[catalog] refresh_interval_secs`
/// (none when 0), until `stop` fires or its sender is dropped.
pub fn spawn_refresher(state: AppState, mut stop: oneshot::Receiver<()>) -> Option<JoinHandle<()>> {
    let secs = state.config().catalog.refresh_interval_secs;
    if secs == 0 {
        return None;
    }
    let period = Duration::from_secs(secs);
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => {}
            }
            let state = state.clone();
            let work = tokio::task::spawn_blocking(move || {
                refresh_all(
                    state.catalog().as_ref(),
                    &state.config().catalog,
                    state.url_reader(),
                )
            });
            tokio::select! {
                // The import finishes on its own; its transaction is atomic.
                _ = &mut stop => return,
                done = work => if let Err(error) = done {
                    tracing::error!(%error, "location refresh stopped unexpectedly");
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(roots: Vec<PathBuf>) -> CatalogSettings {
        CatalogSettings {
            roots,
            ..CatalogSettings::default()
        }
    }

    #[test]
    fn arguments_that_are_http_urls_are_urls_and_the_rest_paths() {
        assert_eq!(Target::from_arg("https://example.com/c.yaml").kind(), "url");
        assert_eq!(Target::from_arg("./catalog-info.yaml").kind(), "file");
        assert_eq!(Target::from_arg("c:/x.yaml").kind(), "file");
        assert_eq!(
            Target::from_arg("http://example.com/a").source(),
            "url:http://example.com/a"
        );
    }

    #[tokio::test]
    async fn file_locations_need_roots_and_must_stay_inside_them() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("in");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("c.yaml"), "").unwrap();
        std::fs::write(dir.path().join("out.yaml"), "").unwrap();
        let file = |p: &Path| p.display().to_string();

        let err = check(
            &settings(vec![]),
            None,
            "file",
            &file(&inside.join("c.yaml")),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("[catalog] roots"), "{err}");

        let s = settings(vec![inside.clone()]);
        let ok = check(&s, None, "file", &file(&inside.join("c.yaml"))).await;
        assert_eq!(ok.unwrap().kind(), "file");
        let sneaky = file(&inside.join("../out.yaml"));
        let err = check(&s, None, "file", &sneaky).await.unwrap_err();
        assert!(err.to_string().contains("outside the directories"), "{err}");
        let err = check(&s, None, "git", "x").await.unwrap_err();
        assert!(err.to_string().contains("not \"git\""), "{err}");
        let err = check(&s, None, "url", "https://example.com/x")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("URL locations are disabled"),
            "{err}"
        );
    }
}
