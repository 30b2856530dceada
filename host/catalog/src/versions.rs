//! API versions: the types callers see (versions, environments, documents,
//! drafts to publish), environments read from a document's servers, and the
//! one place that orders versions: semver where every version allows, else
//! publication. What a descriptor says about versions is read in `read`.

mod read;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::search::OperationRow;
use crate::spec::{
    ParsedSpec, SpecFormat, VersionInfo, VersionLifecycle, lenient_semver, sort_versions,
};

pub(crate) use read::{DefinitionFiles, read_entity};

/// One place a version is served: `production`, `sandbox`, `staging`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// Its name, lowercase (`production`, `sandbox`, ...).
    pub name: String,
    /// The server URL as written (`{variables}` included; may be relative).
    pub url: String,
    /// What the document or descriptor says about it.
    pub description: Option<String>,
}

/// A spec document as stored, once per content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecDocument {
    /// SHA-256 of the document's bytes, lowercase hex.
    pub hash: String,
    /// `openapi2`, `openapi30`, `openapi31`, `asyncapi`, `graphql` or `other`.
    pub format: String,
    /// The media type to serve it with (`application/yaml`, `application/json`, ...).
    pub media_type: String,
    /// The document exactly as written.
    pub content: String,
}

/// One stored version of an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiVersion {
    /// The version as written (`info.version`, or the descriptor's).
    pub version: String,
    /// When the catalogue first saw it (RFC 3339, UTC, milliseconds).
    pub published_at: String,
    /// When its document, lifecycle or environments last changed.
    pub updated_at: String,
    /// Experimental, production, or deprecated with a sunset date.
    pub lifecycle: VersionLifecycle,
    /// How to move off it (for a deprecated version), if said.
    pub migration: Option<String>,
    /// When it became deprecated (RFC 3339), for a deprecated version: an
    /// owner's deprecation through the portal is laid over what the
    /// descriptor says (see `sqlite_changelog`).
    pub deprecated_at: Option<String>,
    /// The content hash of its spec document.
    pub spec_hash: String,
    /// The format of its spec document.
    pub spec_format: String,
    /// Where it is served.
    pub environments: Vec<Environment>,
    /// The catalogue source that published it.
    pub source: String,
    /// The exact place it came from.
    pub location: String,
}

/// One version with its operation index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionDetail {
    /// The version.
    pub version: ApiVersion,
    /// Its document's operations.
    pub operations: Vec<OperationRow>,
}

/// A version to publish: a parsed document and what the descriptor says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionDraft {
    /// The version's name.
    pub version: String,
    /// The document (hash, format, media type, text).
    pub document: SpecDocument,
    /// The document's operation index.
    pub operations: Vec<OperationRow>,
    /// Its lifecycle.
    pub lifecycle: VersionLifecycle,
    /// How to move off it, if said.
    pub migration: Option<String>,
    /// Where it is served.
    pub environments: Vec<Environment>,
}

impl VersionDraft {
    /// A production draft of a parsed document, named by its `info.version`
    /// (`current` when it has none) and served where its `servers` say.
    pub fn from_spec(spec: &ParsedSpec) -> VersionDraft {
        let format = spec.format();
        VersionDraft {
            version: spec
                .info()
                .version
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| UNVERSIONED.to_owned()),
            document: SpecDocument {
                hash: spec.content_hash().to_owned(),
                format: format.as_str().to_owned(),
                media_type: media_type(format, spec.text()).to_owned(),
                content: spec.text().to_owned(),
            },
            operations: spec
                .operations()
                .into_iter()
                .map(OperationRow::from)
                .collect(),
            lifecycle: VersionLifecycle::Production,
            migration: None,
            environments: environments_from_spec(spec),
        }
    }
}

/// The name of a version whose document gives none (GraphQL, or OpenAPI without `info.version`).
pub const UNVERSIONED: &str = "current";

/// What publishing a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishOutcome {
    /// A version new to the API.
    Added,
    /// Its document, lifecycle, environments or provenance changed.
    Changed,
    /// Stored before exactly so; nothing was written.
    Unchanged,
}

/// Orders anything carrying a version newest first, with [`sort_versions`]:
/// semver where every version reads as semver, else by publication.
pub(crate) fn newest_first<T>(items: Vec<T>, info: impl Fn(&T) -> VersionInfo) -> Vec<T> {
    let mut infos: Vec<VersionInfo> = items.iter().map(&info).collect();
    sort_versions(&mut infos);
    let mut by_version: HashMap<String, T> =
        items.into_iter().map(|t| (info(&t).version, t)).collect();
    infos
        .into_iter()
        .rev()
        .filter_map(|i| by_version.remove(&i.version))
        .collect()
}

/// The version publishing `version` is compared with: the newest other
/// version older than it by semver when it reads as semver, else the latest
/// published other version.
pub fn previous_version<'a>(version: &str, versions: &'a [ApiVersion]) -> Option<&'a ApiVersion> {
    let others = versions.iter().filter(|v| v.version != version);
    match lenient_semver(version) {
        Some(mine) => others
            .filter_map(|v| Some((lenient_semver(&v.version)?, v)))
            .filter(|(semver, _)| *semver < mine)
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, v)| v),
        None => others.max_by(|a, b| a.published_at.cmp(&b.published_at)),
    }
}

fn media_type(format: SpecFormat, text: &str) -> &'static str {
    let trimmed = text.trim_start();
    match format {
        SpecFormat::GraphQl => "application/graphql",
        _ if trimmed.starts_with('{') => "application/json",
        SpecFormat::Other => "text/plain",
        _ => "application/yaml",
    }
}

/// Environments from a document's servers: an `x-portico-environment` on a
/// server names it; otherwise its description, name or URL mentioning
/// sandbox, staging, test or dev does; otherwise it is production.
pub fn environments_from_spec(spec: &ParsedSpec) -> Vec<Environment> {
    let Some(doc) = spec.document() else {
        return Vec::new();
    };
    let explicit = |server: &Value| {
        server
            .get("x-portico-environment")
            .and_then(Value::as_str)
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
    };
    match doc.get("servers") {
        // OpenAPI (Swagger 2.0's host, basePath and schemes already converted).
        Some(Value::Array(servers)) => servers
            .iter()
            .filter_map(|server| {
                let url = server.get("url")?.as_str()?.to_owned();
                let description = server
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let name = explicit(server).unwrap_or_else(|| {
                    guess_environment(&[description.as_deref().unwrap_or(""), &url]).to_owned()
                });
                Some(Environment {
                    name,
                    url,
                    description,
                })
            })
            .collect(),
        // AsyncAPI: servers by name.
        Some(Value::Object(raw)) => spec
            .info()
            .servers
            .into_iter()
            .map(|server| {
                let key = server.name.clone().unwrap_or_default();
                let name = raw.get(&key).and_then(explicit).unwrap_or_else(|| {
                    let description = server.description.as_deref().unwrap_or("");
                    guess_environment(&[&key, description, &server.url]).to_owned()
                });
                Environment {
                    name,
                    url: server.url,
                    description: server.description,
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The environment the first of `texts` that names one names; production otherwise.
fn guess_environment(texts: &[&str]) -> &'static str {
    for text in texts {
        for word in text
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
        {
            return match word {
                "sandbox" => "sandbox",
                "staging" | "stage" | "stg" => "staging",
                "test" | "testing" | "qa" => "test",
                "dev" | "development" => "dev",
                "prod" | "production" | "live" => "production",
                _ => continue,
            };
        }
    }
    "production"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SpecHint;

    fn draft(text: &str) -> VersionDraft {
        VersionDraft::from_spec(&ParsedSpec::parse(text.as_bytes(), &SpecHint::default()).unwrap())
    }

    fn openapi(version: &str, servers: &str) -> String {
        format!(
            "openapi: 3.0.3\ninfo: {{title: Pets, version: '{version}'}}\nservers: {servers}\npaths: {{}}\n"
        )
    }

    fn info(version: &str, at: &str) -> VersionInfo {
        VersionInfo {
            version: version.into(),
            published_at: Some(at.into()),
        }
    }

    #[test]
    fn versions_order_by_semver_when_all_parse_else_by_publication() {
        let semver = vec![
            info("1.10.0", "2024-01-01T00:00:00Z"),
            info("v2", "2023-01-01T00:00:00Z"),
            info("1.9", "2025-01-01T00:00:00Z"),
        ];
        let order: Vec<String> = newest_first(semver, Clone::clone)
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(order, ["v2", "1.10.0", "1.9"]);
        let mixed = vec![
            info("2.0.0", "2024-01-01T00:00:00Z"),
            info("beta", "2024-03-01T00:00:00Z"),
            info("1.0.0", "2024-02-01T00:00:00Z"),
        ];
        let order: Vec<String> = newest_first(mixed, Clone::clone)
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(order, ["beta", "1.0.0", "2.0.0"]);
    }

    #[test]
    fn environments_come_from_servers_by_extension_then_words_else_production() {
        let servers = "[{url: 'https://api.example.com'}, {url: 'https://sandbox.example.com', description: Try it}, \
                       {url: 'https://x.example.com', description: Staging cluster}, \
                       {url: 'https://eu.example.com', x-portico-environment: EU-Prod}, \
                       {url: 'https://devices.example.com'}, {url: 'https://api-dev.example.com'}]";
        let drafts = [draft(&openapi("1.0.0", servers))];
        let names: Vec<(&str, &str)> = drafts[0]
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.url.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("production", "https://api.example.com"),
                ("sandbox", "https://sandbox.example.com"),
                ("staging", "https://x.example.com"),
                ("eu-prod", "https://eu.example.com"),
                ("production", "https://devices.example.com"),
                ("dev", "https://api-dev.example.com"),
            ]
        );
        assert_eq!(
            drafts[0].environments[1].description.as_deref(),
            Some("Try it")
        );
    }

    #[test]
    fn swagger2_hosts_become_production_servers() {
        let swagger = "swagger: '2.0'\ninfo: {title: Orders, version: 1.4.0}\nhost: orders.example.com\nbasePath: /v1\nschemes: [https]\npaths: {}\n";
        let drafts = [draft(swagger)];
        assert_eq!(drafts[0].version, "1.4.0");
        assert_eq!(drafts[0].document.format, "openapi2");
        assert_eq!(drafts[0].document.media_type, "application/yaml");
        assert_eq!(
            drafts[0].environments,
            [Environment {
                name: "production".into(),
                url: "https://orders.example.com/v1".into(),
                description: None
            }]
        );
    }
}
