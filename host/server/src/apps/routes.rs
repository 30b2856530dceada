//! Which API, environment and operation a gateway's request is for, from the
//! servers the catalogue declares: `X-Forwarded-Host` and the path pick the
//! server (its name says sandbox or production), and the path below the
//! server's base picks the operation of the API's newest version. The table
//! is rebuilt when the catalogue's generation moves, checked at most every
//! [`CHECK_EVERY`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_catalog::{Database, EntityRef, Url};
use rusqlite::Connection;

use super::keys::Environment;
use super::verify::Target;

/// How often the catalogue's generation is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// How often a call the table cannot place may make it check again.
pub const RECHECK_AFTER_MISS: Duration = Duration::from_millis(100);

/// What a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The API, `api:namespace/name`.
    pub api: Arc<str>,
    /// The matched server's environment, when a server matched.
    pub environment: Option<Environment>,
    /// The operation, `GET /pets/{petId}`, when one matched.
    pub operation: Option<Arc<str>>,
}

/// The table of declared servers and operations, rebuilt as the catalogue changes.
pub struct Routes {
    db: Database,
    cached: Mutex<Cached>,
}

struct Cached {
    checked: Option<Instant>,
    generation: i64,
    table: Arc<RouteTable>,
}

impl Routes {
    /// An empty table, built on first use.
    pub fn new(db: Database) -> Routes {
        Routes {
            db,
            cached: Mutex::new(Cached {
                checked: None,
                generation: -1,
                table: Arc::new(RouteTable::default()),
            }),
        }
    }

    /// The current table, checked against the catalogue every [`CHECK_EVERY`].
    pub async fn table(&self) -> Arc<RouteTable> {
        self.table_within(CHECK_EVERY).await
    }

    /// The table checked against the catalogue now, unless that was done in
    /// the last [`RECHECK_AFTER_MISS`]: for a call the table could not place,
    /// which may name what the catalogue just received.
    pub async fn table_after_miss(&self) -> Arc<RouteTable> {
        self.table_within(RECHECK_AFTER_MISS).await
    }

    async fn table_within(&self, max_age: Duration) -> Arc<RouteTable> {
        let generation = {
            let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            if cached.checked.is_some_and(|at| at.elapsed() < max_age) {
                return cached.table.clone();
            }
            cached.generation
        };
        let db = self.db.clone();
        let rebuilt = tokio::task::spawn_blocking(move || -> Result<_, rusqlite::Error> {
            let conn = db.conn();
            let now: i64 =
                conn.query_row("SELECT value FROM catalog_generation", [], |r| r.get(0))?;
            if now == generation {
                return Ok(None);
            }
            Ok(Some((now, RouteTable::build(&conn)?)))
        })
        .await;
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        match rebuilt {
            Ok(Ok(Some((generation, table)))) => {
                cached.generation = generation;
                cached.table = Arc::new(table);
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot read the declared servers"),
            Err(error) => tracing::error!(%error, "cannot read the declared servers"),
        }
        cached.checked = Some(Instant::now());
        cached.table.clone()
    }
}

/// Declared servers by host, and operations by API.
#[derive(Default)]
pub struct RouteTable {
    servers: HashMap<String, Vec<ServerRoute>>,
    operations: HashMap<Arc<str>, Vec<OperationRoute>>,
    /// Every API in the catalogue, by reference.
    apis: HashSet<Arc<str>>,
}

struct ServerRoute {
    /// The base path without a trailing `/` (empty for the root).
    base: String,
    api: Arc<str>,
    environment: Environment,
}

struct OperationRoute {
    method: String,
    segments: Vec<Segment>,
    literals: usize,
    label: Arc<str>,
}

enum Segment {
    Literal(String),
    Variable,
}

impl RouteTable {
    fn build(conn: &Connection) -> Result<RouteTable, rusqlite::Error> {
        let mut table = RouteTable::default();
        let mut apis: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |key: String| {
            apis.entry(key.clone())
                .or_insert_with(|| key.into())
                .clone()
        };
        let mut statement = conn.prepare(
            "SELECT DISTINCT e.ref_key, env.name, env.url
             FROM api_environments env
             JOIN api_versions v ON v.id = env.version_id
             JOIN entities e ON e.id = v.entity_id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (api, name, url) = row?;
            let Ok(url) = Url::parse(&url) else { continue };
            let Some(host) = url.host_str() else { continue };
            let Some(port) = url.port_or_known_default() else {
                continue;
            };
            table
                .servers
                .entry(format!("{}:{port}", host.to_ascii_lowercase()))
                .or_default()
                .push(ServerRoute {
                    base: url.path().trim_end_matches('/').to_owned(),
                    api: intern(api),
                    environment: Environment::of_server(&name),
                });
        }
        for routes in table.servers.values_mut() {
            routes.sort_by_key(|r| std::cmp::Reverse(r.base.len()));
        }
        let mut statement =
            conn.prepare("SELECT ref_key FROM entities WHERE ref_key LIKE 'api:%'")?;
        for api in statement.query_map([], |r| r.get::<_, String>(0))? {
            let api = intern(api?);
            table.apis.insert(api);
        }
        let mut statement = conn.prepare(
            "SELECT e.ref_key, o.method, o.path FROM api_operations o
             JOIN entities e ON e.id = o.entity_id ORDER BY o.entity_id, o.position",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (api, method, path) = row?;
            let segments: Vec<Segment> = path
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Variable
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            let literals = segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            let label: Arc<str> = format!("{} {path}", method.to_ascii_uppercase()).into();
            table
                .operations
                .entry(intern(api))
                .or_default()
                .push(OperationRoute {
                    method: method.to_ascii_uppercase(),
                    segments,
                    literals,
                    label,
                });
        }
        Ok(table)
    }

    /// Which API, environment and operation `target` is for; the error says
    /// why none could be told.
    pub fn resolve(&self, target: &Target) -> Result<Resolved, String> {
        let path = target
            .path
            .as_deref()
            .map(|p| p.split(['?', '#']).next().unwrap_or(""))
            .unwrap_or("");
        let host = target.host.as_deref().map(|h| normal_host(h, target.https));
        let servers = host.as_deref().and_then(|h| self.servers.get(h));
        let api = match &target.api {
            Some(text) => Some(
                EntityRef::parse(text.strip_prefix("api:").unwrap_or(text), Some("api"), "")
                    .map_err(|e| format!("`api` is not an API reference: {e}"))?
                    .key(),
            ),
            None => None,
        };
        // The server the request went to: under the named API when one is named.
        let server = servers.and_then(|routes| {
            routes.iter().find(|s| {
                api.as_deref().is_none_or(|a| *s.api == *a) && under(path, &s.base).is_some()
            })
        });
        let api: Arc<str> = match (api, server) {
            (_, Some(server)) => server.api.clone(),
            (Some(api), None) => {
                if servers
                    .is_some_and(|routes| routes.iter().any(|s| under(path, &s.base).is_some()))
                {
                    // The call went to another API's server: naming this one changes nothing.
                    return Err(format!(
                        "the call went to a server of another API than `{api}`"
                    ));
                }
                if !self.apis.contains(api.as_str()) {
                    return Err(format!("there is no API `{api}`"));
                }
                api.into()
            }
            (None, None) => {
                return Err(match &target.host {
                    Some(h) => format!(
                        "no API declares a server at `{h}{path}`: name the API with `?api=namespace/name`, or declare the server in its spec"
                    ),
                    None => "the request names no API: pass `?api=namespace/name`, or forward the original host (`X-Forwarded-Host`)".into(),
                });
            }
        };
        let rest = server.and_then(|s| under(path, &s.base)).unwrap_or(path);
        let operation = target
            .method
            .as_deref()
            .and_then(|m| self.operation(&api, m, rest));
        Ok(Resolved {
            environment: server.map(|s| s.environment),
            api,
            operation,
        })
    }

    fn operation(&self, api: &str, method: &str, path: &str) -> Option<Arc<str>> {
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        self.operations
            .get(api)?
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && op.segments.len() == parts.len())
            .filter(|op| {
                op.segments
                    .iter()
                    .zip(&parts)
                    .all(|(segment, part)| match segment {
                        Segment::Literal(text) => text == part,
                        Segment::Variable => true,
                    })
            })
            .max_by_key(|op| op.literals)
            .map(|op| op.label.clone())
    }
}

/// `host:port`, lower-cased, with the scheme's port when none is written.
fn normal_host(host: &str, https: bool) -> String {
    let host = host.trim().to_ascii_lowercase();
    // `[::1]` has colons but no port; `[::1]:81` and `example.com:81` have one.
    let has_port = host.rsplit_once(':').is_some_and(|(before, port)| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && (!before.starts_with('[') || before.ends_with(']'))
    });
    if has_port {
        host
    } else {
        format!("{host}:{}", if https { 443 } else { 80 })
    }
}

/// The rest of `path` below `base`, on a segment boundary.
fn under<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let mut table = RouteTable::default();
        let api: Arc<str> = "api:default/petstore".into();
        table.apis.insert(api.clone());
        table.servers.insert(
            "127.0.0.1:8080".into(),
            vec![
                ServerRoute {
                    base: "/sandbox/v1".into(),
                    api: api.clone(),
                    environment: Environment::Sandbox,
                },
                ServerRoute {
                    base: "/v1".into(),
                    api: api.clone(),
                    environment: Environment::Production,
                },
            ],
        );
        let op = |method: &str, path: &str, segments: Vec<Segment>| {
            let literals = segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            OperationRoute {
                method: method.into(),
                segments,
                literals,
                label: format!("{method} {path}").into(),
            }
        };
        table.operations.insert(
            api,
            vec![
                op(
                    "GET",
                    "/pets/{petId}",
                    vec![Segment::Literal("pets".into()), Segment::Variable],
                ),
                op(
                    "GET",
                    "/pets/mine",
                    vec![
                        Segment::Literal("pets".into()),
                        Segment::Literal("mine".into()),
                    ],
                ),
            ],
        );
        table
    }

    fn target(host: Option<&str>, api: Option<&str>, path: &str) -> Target {
        Target {
            api: api.map(str::to_owned),
            host: host.map(str::to_owned),
            method: Some("get".into()),
            path: Some(path.into()),
            ..Target::default()
        }
    }

    #[test]
    fn the_forwarded_host_and_path_pick_the_server_its_environment_and_the_operation() {
        let table = table();
        let found = table
            .resolve(&target(Some("127.0.0.1:8080"), None, "/v1/pets/7?x=1"))
            .unwrap();
        assert_eq!(&*found.api, "api:default/petstore");
        assert_eq!(found.environment, Some(Environment::Production));
        assert_eq!(found.operation.as_deref(), Some("GET /pets/{petId}"));
        let sandbox = table
            .resolve(&target(
                Some("127.0.0.1:8080"),
                None,
                "/sandbox/v1/pets/mine",
            ))
            .unwrap();
        assert_eq!(sandbox.environment, Some(Environment::Sandbox));
        assert_eq!(
            sandbox.operation.as_deref(),
            Some("GET /pets/mine"),
            "literal segments win"
        );
        assert!(
            table
                .resolve(&target(Some("127.0.0.1:8080"), None, "/v10/pets"))
                .is_err()
        );
        assert!(
            table
                .resolve(&target(Some("example.com"), None, "/v1/pets/1"))
                .is_err()
        );
        assert!(table.resolve(&target(None, None, "/v1/pets/1")).is_err());
    }

    #[test]
    fn a_named_api_needs_no_server_and_ports_default_by_scheme() {
        let table = table();
        // Naming an API never moves a call that went to another API's server.
        assert!(
            table
                .resolve(&target(
                    Some("127.0.0.1:8080"),
                    Some("orders"),
                    "/v1/pets/1"
                ))
                .is_err()
        );
        assert!(table.resolve(&target(None, Some("nope"), "/")).is_err());
        let named = table
            .resolve(&target(None, Some("petstore"), "/pets/1"))
            .unwrap();
        assert_eq!(&*named.api, "api:default/petstore");
        assert_eq!(named.environment, None);
        assert_eq!(named.operation.as_deref(), Some("GET /pets/{petId}"));
        assert!(table.resolve(&target(None, Some("a:b:c/"), "/")).is_err());
        assert_eq!(normal_host("Example.com", true), "example.com:443");
        assert_eq!(normal_host("example.com:8443", true), "example.com:8443");
        assert_eq!(normal_host("[::1]", false), "[::1]:80");
        assert_eq!(normal_host("[::1]:81", false), "[::1]:81");
    }
}
