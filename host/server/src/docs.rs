//! Rendered API docs: the docs-renderer plugin for a spec's format renders it
//! (Swagger 2.0 converted to OpenAPI 3.0 first), and the output is kept in
//! memory by (spec hash, renderer id and version, options), bounded by bytes,
//! so a large spec is rendered once however many readers ask at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portico_catalog::spec::{ParsedSpec, SpecHint};
use portico_runtime::worlds::renderer::{Operation, RenderOptions, TocEntry};
use portico_runtime::worlds::{SpecDocument, SpecFormat};
use portico_runtime::{CallError, Origin, Plugin, World};
use sha2::{Digest, Sha256};

use crate::branding::Branding;

/// The most rendered output kept in memory (GitHub's 13 MB spec renders to about 30 MB).
const CACHE_BYTES: usize = 256 << 20;

/// Languages of the code samples.
const SAMPLE_LANGUAGES: [&str; 4] = ["curl", "javascript", "python", "rust"];

/// Docs as a renderer made them.
#[derive(Debug)]
pub struct RenderedDocs {
    /// An HTML fragment, sanitised by the renderer.
    pub html: String,
    /// The same content as markdown.
    pub markdown: String,
    /// The table of contents.
    pub toc: Vec<TocEntry>,
    /// The operation index.
    pub operations: Vec<Operation>,
    /// Problems that did not stop rendering.
    pub warnings: Vec<String>,
    /// `id@version` of the renderer.
    pub renderer: String,
    /// A fingerprint of spec, renderer and options: an ETag.
    pub fingerprint: String,
}

impl RenderedDocs {
    fn bytes(&self) -> usize {
        self.html.len() + self.markdown.len() + self.toc.len() * 64 + self.operations.len() * 256
    }
}

/// Why docs could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// No loaded renderer handles the spec's format.
    #[error("no docs renderer handles {0} documents")]
    NoRenderer(String),
    /// The host could not read the document to convert it.
    #[error("the spec document could not be read: {0}")]
    Unreadable(String),
    /// The renderer failed or refused the document.
    #[error(transparent)]
    Plugin(#[from] CallError),
}

/// What one render needs besides the document.
#[derive(Debug, Clone)]
pub struct DocsRequest {
    /// The path the docs are served under.
    pub base_path: String,
    /// The environments readers may call, as (name, base URL).
    pub servers: Vec<(String, String)>,
}

/// Renders docs through plugins and caches the output.
#[derive(Default)]
pub struct DocsService {
    cache: Mutex<Lru>,
    /// Held while a key renders, so concurrent readers wait for one render.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Formats each renderer handles, by `id@version`.
    formats: Mutex<HashMap<String, Vec<SpecFormat>>>,
}

impl DocsService {
    /// The docs of a stored spec document, from the cache or rendered now.
    pub async fn render(
        &self,
        plugins: Vec<Arc<Plugin>>,
        branding: &Branding,
        document: portico_catalog::SpecDocument,
        request: DocsRequest,
    ) -> Result<Arc<RenderedDocs>, DocsError> {
        let format = spec_format(&document.format);
        // Swagger 2.0 is rendered as the OpenAPI 3.0 the catalogue converts it to.
        let wanted = if format == SpecFormat::Openapi2 {
            SpecFormat::Openapi30
        } else {
            format
        };
        let renderer = self
            .renderer_for(plugins, wanted)
            .await
            .ok_or_else(|| DocsError::NoRenderer(document.format.clone()))?;
        let options = options(branding, request);
        let renderer_id = format!("{}@{}", renderer.id(), renderer.manifest().version);
        let key = fingerprint(&document.hash, &renderer_id, &options);
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let gate = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            in_flight.entry(key.clone()).or_default().clone()
        };
        let result = async {
            let _turn = gate.lock().await;
            if let Some(found) = self.cached(&key) {
                return Ok(found);
            }
            let spec = tokio::task::spawn_blocking(move || plugin_document(document, format))
                .await
                .map_err(|e| DocsError::Unreadable(e.to_string()))??;
            let rendered = renderer.render_docs(&spec, &options).await?;
            let docs = Arc::new(RenderedDocs {
                html: rendered.html,
                markdown: rendered.markdown,
                toc: rendered.toc,
                operations: rendered.operations,
                warnings: rendered.warnings,
                renderer: renderer_id,
                fingerprint: key.clone(),
            });
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone(), docs.clone());
            Ok(docs)
        }
        .await;
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&gate) <= 2 {
            in_flight.remove(&key);
        }
        result
    }

    fn cached(&self, key: &str) -> Option<Arc<RenderedDocs>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
    }

    /// The renderer for a format: an installed one before a bundled one, then by id.
    async fn renderer_for(
        &self,
        plugins: Vec<Arc<Plugin>>,
        format: SpecFormat,
    ) -> Option<Arc<Plugin>> {
        let mut candidates: Vec<(bool, Arc<Plugin>)> = plugins
            .into_iter()
            .filter(|p| p.world() == World::DocsRenderer)
            .map(|p| (matches!(p.info().origin, Origin::Bundled(_)), p))
            .collect();
        candidates.sort_by(|(a, p), (b, q)| a.cmp(b).then_with(|| p.id().cmp(q.id())));
        for (_, plugin) in candidates {
            let id = format!("{}@{}", plugin.id(), plugin.manifest().version);
            let known = self
                .formats
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&id)
                .cloned();
            let formats = match known {
                Some(formats) => formats,
                None => match plugin.renderer_formats().await {
                    Ok(formats) => {
                        self.formats
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id, formats.clone());
                        formats
                    }
                    Err(error) => {
                        tracing::warn!(plugin = %plugin.id(), %error, "a docs renderer did not say its formats");
                        continue;
                    }
                },
            };
            if formats.contains(&format) {
                return Some(plugin);
            }
        }
        None
    }
}

/// The document as the renderer gets it: as stored, or Swagger 2.0 converted to OpenAPI 3.0 JSON.
pub(crate) fn plugin_document(
    document: portico_catalog::SpecDocument,
    format: SpecFormat,
) -> Result<SpecDocument, DocsError> {
    if format != SpecFormat::Openapi2 {
        return Ok(SpecDocument {
            format,
            media_type: document.media_type,
            content: document.content,
            source: None,
        });
    }
    let hint = SpecHint {
        file_name: None,
        media_type: Some(document.media_type.clone()),
    };
    let parsed = ParsedSpec::parse(document.content.as_bytes(), &hint)
        .map_err(|e| DocsError::Unreadable(e.to_string()))?;
    let converted = parsed
        .document()
        .ok_or_else(|| DocsError::Unreadable("not an OpenAPI document".to_owned()))?;
    Ok(SpecDocument {
        format: SpecFormat::Openapi30,
        media_type: "application/json".to_owned(),
        content: serde_json::to_string(converted)
            .map_err(|e| DocsError::Unreadable(e.to_string()))?,
        source: None,
    })
}

/// The catalogue's format name as the contract's enum.
pub(crate) fn spec_format(name: &str) -> SpecFormat {
    match name {
        "openapi2" => SpecFormat::Openapi2,
        "openapi30" => SpecFormat::Openapi30,
        "openapi31" => SpecFormat::Openapi31,
        "asyncapi" => SpecFormat::Asyncapi,
        "graphql" => SpecFormat::Graphql,
        "wsdl" => SpecFormat::Wsdl,
        "wadl" => SpecFormat::Wadl,
        _ => SpecFormat::Other,
    }
}

fn options(branding: &Branding, request: DocsRequest) -> RenderOptions {
    RenderOptions {
        theme: branding.sanitized().theme(),
        base_path: request.base_path,
        try_it_endpoint: None,
        servers: request.servers,
        code_sample_languages: SAMPLE_LANGUAGES.iter().map(|l| (*l).to_owned()).collect(),
        locale: "en".to_owned(),
    }
}

/// SHA-256 over everything that shapes the output.
fn fingerprint(spec_hash: &str, renderer: &str, options: &RenderOptions) -> String {
    let mut hasher = Sha256::new();
    for part in [spec_hash, renderer, &format!("{options:?}")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Rendered docs by key, least recently used out first once over [`CACHE_BYTES`].
#[derive(Default)]
struct Lru {
    entries: HashMap<String, (Arc<RenderedDocs>, u64)>,
    bytes: usize,
    clock: u64,
}

impl Lru {
    fn get(&mut self, key: &str) -> Option<Arc<RenderedDocs>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(docs, used)| {
            *used = clock;
            docs.clone()
        })
    }

    fn insert(&mut self, key: String, docs: Arc<RenderedDocs>) {
        self.clock += 1;
        self.bytes += docs.bytes();
        if let Some((old, _)) = self.entries.insert(key, (docs, self.clock)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > CACHE_BYTES && self.entries.len() > 1 {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(size: usize) -> Arc<RenderedDocs> {
        Arc::new(RenderedDocs {
            html: "x".repeat(size),
            markdown: String::new(),
            toc: Vec::new(),
            operations: Vec::new(),
            warnings: Vec::new(),
            renderer: "r@1".into(),
            fingerprint: "f".into(),
        })
    }

    #[test]
    fn the_cache_evicts_the_least_recently_used_past_its_bytes() {
        let mut lru = Lru::default();
        let third = CACHE_BYTES / 3;
        lru.insert("a".into(), docs(third));
        lru.insert("b".into(), docs(third));
        assert!(lru.get("a").is_some());
        lru.insert("c".into(), docs(third));
        lru.insert("d".into(), docs(third));
        assert!(lru.get("b").is_none(), "least recently used");
        assert!(lru.get("a").is_some() && lru.get("d").is_some());
        assert!(lru.bytes <= CACHE_BYTES);
        lru.insert("huge".into(), docs(CACHE_BYTES * 2));
        assert!(
            lru.get("huge").is_some(),
            "the newest entry stays, however big"
        );
        assert_eq!(lru.entries.len(), 1);
    }

    #[test]
    fn swagger_2_is_converted_and_openapi_3_passes_as_stored() {
        let stored = |format: &str, content: &str| portico_catalog::SpecDocument {
            hash: "h".into(),
            format: format.into(),
            media_type: "application/yaml".into(),
            content: content.into(),
        };
        let swagger =
            "swagger: '2.0'\ninfo: {title: T, version: '1'}\nhost: h.example\npaths: {}\n";
        let converted = plugin_document(stored("openapi2", swagger), SpecFormat::Openapi2).unwrap();
        assert_eq!(converted.format, SpecFormat::Openapi30);
        assert!(
            converted.content.contains("\"openapi\":\"3.0"),
            "{}",
            converted.content
        );
        let yaml = "openapi: 3.1.0\ninfo: {title: T, version: '1'}\n";
        let kept = plugin_document(stored("openapi31", yaml), SpecFormat::Openapi31).unwrap();
        assert_eq!(kept.content, yaml);
        assert!(
            plugin_document(stored("openapi2", "swagger: [oops"), SpecFormat::Openapi2).is_err()
        );
    }

    #[test]
    fn fingerprints_change_with_spec_renderer_and_options() {
        let request = DocsRequest {
            base_path: "/apis/default/a/docs".into(),
            servers: Vec::new(),
        };
        let options = options(&Branding::default(), request.clone());
        let base = fingerprint("h1", "r@1", &options);
        assert_eq!(base, fingerprint("h1", "r@1", &options));
        assert_ne!(base, fingerprint("h2", "r@1", &options));
        assert_ne!(base, fingerprint("h1", "r@2", &options));
        let mut other = request;
        other.servers.push(("sandbox".into(), "https://s".into()));
        assert_ne!(
            base,
            fingerprint("h1", "r@1", &super::options(&Branding::default(), other))
        );
    }
}
