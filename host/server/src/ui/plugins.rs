//! The plugins page, server-rendered from `GET /api/v1/plugins`'s data: every
//! loaded plugin with its health, calls, failures by kind, p50/p99 call time
//! and peak memory, then per plugin what its manifest asks for against what
//! the operator granted, and its last errors with their times.
//!
//! For those who may manage plugins it is also where they are installed
//! (a file upload), switched on and off and removed, through the same
//! operations as the admin API.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portico_runtime::manifest::Limits;
use portico_runtime::{AmountGrant, Grants, Health, HealthState, Origin, PluginInfo};

use super::{Chrome, render};
use crate::identity::Caller;
use crate::identity::roles::PLUGINS_MANAGE;
use crate::multipart;
use crate::plugin_store::PluginStore;
use crate::plugins_api::{self, MAX_UPLOAD};
use crate::problem::ApiError;
use crate::state::AppState;

/// Routes of the plugins page and its forms.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/plugins",
            get(plugins)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/plugins/{id}/enable", post(enable))
        .route("/plugins/{id}/disable", post(disable))
        .route("/plugins/{id}/remove", post(remove))
}

#[derive(Template)]
#[template(path = "plugins.html")]
struct PluginsPage {
    chrome: Chrome,
    plugins: Vec<PluginRow>,
    /// Installed plugins an operator switched off (not loaded, so not in `plugins`).
    disabled: Vec<String>,
    /// The CSRF token of the forms, for those who may manage plugins.
    manage: Option<String>,
    /// What the last change did.
    notice: Option<String>,
    /// Why the last change was refused.
    problem: Option<String>,
}

/// One plugin as a table row and a detail section.
struct PluginRow {
    id: String,
    description: String,
    version: String,
    world: String,
    wit_version: String,
    origin_kind: &'static str,
    origin: String,
    hosts: Vec<String>,
    limits: String,
    health: &'static str,
    health_class: &'static str,
    switched_off: bool,
    calls: u64,
    failures: u64,
    failure_kinds: String,
    p50: String,
    p99: String,
    peak_memory: String,
    log_lines_dropped: u64,
    grants: Vec<GrantRow>,
    not_granted: Vec<String>,
    errors: Vec<ErrorRow>,
}

/// One capability or limit: what was asked, what the operator set, what was granted.
#[derive(Debug, PartialEq)]
struct GrantRow {
    name: &'static str,
    requested: String,
    operator: String,
    granted: String,
    /// Whether the plugin got less than it asked for.
    narrowed: bool,
}

/// One recent error.
struct ErrorRow {
    at: String,
    kind: String,
    message: String,
}

impl PluginRow {
    fn new(info: PluginInfo) -> PluginRow {
        let (origin_kind, origin) = match info.origin {
            Origin::Bundled(name) => ("bundled", name),
            Origin::File(path) => ("file", path),
        };
        let health = HealthCells::new(&info.health);
        let h = &info.health;
        PluginRow {
            id: info.id,
            description: info.description,
            version: info.version,
            world: info.world.to_string(),
            wit_version: info.wit_version,
            origin_kind,
            origin,
            hosts: info.granted_outbound_hosts,
            limits: limits_text(info.limits),
            health: health.label,
            health_class: health.class,
            switched_off: health.switched_off,
            calls: h.calls,
            failures: health.failures,
            failure_kinds: health.kinds,
            p50: duration_text(h.p50_call_us),
            p99: duration_text(h.p99_call_us),
            peak_memory: bytes_text(h.peak_memory_bytes),
            log_lines_dropped: h.log_lines_dropped,
            not_granted: info.grants.outbound_hosts.not_granted.clone(),
            grants: grant_rows(&info.grants),
            errors: h
                .last_errors
                .iter()
                .rev()
                .map(|e| ErrorRow {
                    at: e.at.clone(),
                    kind: kind_name(e.kind),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

/// The rows of a plugin's grants table.
fn grant_rows(g: &Grants) -> Vec<GrantRow> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    let hosts = &g.outbound_hosts;
    let amount = |name, a: &AmountGrant, unit: &str| GrantRow {
        name,
        requested: format!("{} {unit}", a.requested),
        operator: match (a.operator, a.max) {
            (Some(o), Some(max)) => format!("{o} {unit} (at most {max})"),
            (Some(o), None) => format!("{o} {unit}"),
            (None, Some(max)) => format!("not set (at most {max})"),
            (None, None) => "not set".to_owned(),
        },
        granted: format!("{} {unit}", a.granted),
        narrowed: a.granted < a.requested,
    };
    vec![
        GrantRow {
            name: "Outbound hosts",
            requested: list(&hosts.requested),
            operator: hosts.operator.as_deref().map_or("not set".to_owned(), list),
            granted: list(&hosts.granted),
            narrowed: hosts.granted != hosts.requested,
        },
        GrantRow {
            name: "Private addresses",
            requested: "—".to_owned(),
            operator: if g.allow_private_addresses {
                "allowed"
            } else {
                "not allowed"
            }
            .to_owned(),
            granted: if g.allow_private_addresses {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
            narrowed: false,
        },
        amount("Key-value quota", &g.kv_quota_bytes, "bytes"),
        GrantRow {
            name: "Secrets",
            requested: list(&g.secrets.requested),
            operator: list(&g.secrets.configured),
            granted: list(&g.secrets.granted),
            narrowed: g.secrets.granted != g.secrets.requested,
        },
        amount("Memory", &g.memory_mb, "MiB"),
        amount("Time per call", &g.time_ms, "ms"),
    ]
}

/// How a plugin's health reads on the page.
#[derive(Debug, PartialEq)]
struct HealthCells {
    label: &'static str,
    class: &'static str,
    switched_off: bool,
    failures: u64,
    /// Failures by kind, e.g. `trap 2 · timeout 1`.
    kinds: String,
}

impl HealthCells {
    fn new(health: &Health) -> HealthCells {
        let (label, class) = match health.state {
            HealthState::Healthy => ("Healthy", "badge-good"),
            HealthState::Degraded => ("Degraded", "badge-warn"),
            HealthState::SwitchedOff => ("Switched off", "badge-bad"),
        };
        let kinds = health
            .failures
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(kind, count)| format!("{} {count}", kind_name(*kind)))
            .collect::<Vec<_>>()
            .join(" · ");
        HealthCells {
            label,
            class,
            switched_off: health.state == HealthState::SwitchedOff,
            failures: health.failures.values().sum(),
            kinds,
        }
    }
}

/// A failure kind's stable, documented name (`out_of_memory`), spaced for reading.
fn kind_name(kind: portico_runtime::FaultKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

fn limits_text(limits: Limits) -> String {
    let time = if limits.time_ms >= 1000 && limits.time_ms.is_multiple_of(1000) {
        format!("{} s", limits.time_ms / 1000)
    } else {
        format!("{} ms", limits.time_ms)
    };
    format!("{} MiB · {time}", limits.memory_mb)
}

/// `840 µs`, `12.5 ms`, `3.2 s`; a dash before the first call.
fn duration_text(us: Option<u64>) -> String {
    match us {
        None => "—".to_owned(),
        Some(us) if us < 1000 => format!("{us} µs"),
        Some(us) if us < 1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        Some(us) => format!("{:.1} s", us as f64 / 1e6),
    }
}

/// `0`, `1.1 MiB`, `512 KiB`.
fn bytes_text(bytes: u64) -> String {
    match bytes {
        0 => "—".to_owned(),
        b if b < 1 << 20 => format!("{} KiB", b.div_ceil(1024)),
        b => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
    }
}

async fn plugins(caller: Caller, State(state): State<AppState>) -> Response {
    page(&state, &caller, Ok(None)).await
}

/// The page, after a change whose outcome is `outcome` (a notice or a refusal).
async fn page(
    state: &AppState,
    caller: &Caller,
    outcome: Result<Option<String>, ApiError>,
) -> Response {
    let store = PluginStore::new(state.config());
    let disabled = tokio::task::spawn_blocking(move || store.state())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|s| s.disabled.into_iter().collect())
        .unwrap_or_default();
    let (status, notice, problem) = match outcome {
        Ok(notice) => (StatusCode::OK, notice, None),
        Err(error) => (error.status(), None, Some(error.to_string())),
    };
    let page = PluginsPage {
        chrome: Chrome::new(state.branding(), "Plugins", "plugins"),
        plugins: state
            .plugins()
            .infos()
            .into_iter()
            .map(PluginRow::new)
            .collect(),
        disabled,
        manage: caller
            .actor
            .can(PLUGINS_MANAGE)
            .then(|| caller.csrf.clone().unwrap_or_default()),
        notice,
        problem,
    };
    (status, render(&page)).into_response()
}

/// The upload form: `csrf` first, then `package` (the `.wasm`), an optional
/// detached `signature` and an `activate` checkbox.
async fn upload(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = match UploadForm::read(&headers, &body) {
        Ok(form) => {
            plugins_api::install(&state, &caller, form.package, form.signature, form.activate)
                .await
                .map(|answer| {
                    Some(format!(
                        "Installed {} {}.",
                        answer.installed.id, answer.installed.version
                    ))
                })
        }
        Err(error) => Err(error),
    };
    page(&state, &caller, outcome).await
}

/// The fields of an upload.
struct UploadForm {
    package: Bytes,
    signature: Option<Vec<u8>>,
    activate: bool,
}

impl UploadForm {
    fn read(headers: &HeaderMap, body: &Bytes) -> Result<UploadForm, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = multipart::boundary(content_type).ok_or_else(|| {
            ApiError::BadRequest(
                "send the plugin with the upload form (multipart/form-data)".into(),
            )
        })?;
        let parts =
            multipart::parts(body, &boundary).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let field = |name: &str| parts.iter().find(|p| p.name == name && !p.data.is_empty());
        let package = field("package").ok_or_else(|| {
            ApiError::BadRequest("choose a plugin file (.wasm) to install".into())
        })?;
        Ok(UploadForm {
            package: body.slice_ref(package.data),
            signature: field("signature").map(|p| p.data.to_vec()),
            activate: field("activate").is_some(),
        })
    }
}

async fn enable(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let outcome = plugins_api::set_enabled(&state, &caller, id.clone(), true)
        .await
        .map(|_| Some(format!("Switched {id} on.")));
    page(&state, &caller, outcome).await
}

async fn disable(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let outcome = plugins_api::set_enabled(&state, &caller, id.clone(), false)
        .await
        .map(|_| Some(format!("Switched {id} off; it stays installed.")));
    page(&state, &caller, outcome).await
}

async fn remove(caller: Caller, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let outcome = plugins_api::remove(&state, &caller, id.clone(), None)
        .await
        .map(|_| Some(format!("Removed {id}.")));
    page(&state, &caller, outcome).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use portico_runtime::{FaultKind, HostGrant, RecentError, SecretGrant};

    use super::*;
    use crate::branding::Branding;
    use crate::ui::tests::{acme, get, test_state};

    #[tokio::test]
    async fn empty_plugin_list_says_how_to_install_one() {
        let (state, _dir) = test_state(Branding::default(), false);
        let (_, _, html) = get(&state, "/plugins").await;
        assert!(html.contains("No plugins installed"));
    }

    fn amount(
        requested: u64,
        operator: Option<u64>,
        max: Option<u64>,
        granted: u64,
    ) -> AmountGrant {
        AmountGrant {
            requested,
            operator,
            max,
            granted,
        }
    }

    fn grants() -> Grants {
        Grants {
            outbound_hosts: HostGrant {
                requested: vec!["https://*.acme.example".into()],
                operator: Some(vec![
                    "https://api.acme.example".into(),
                    "https://evil.example".into(),
                ]),
                granted: vec!["https://api.acme.example".into()],
                not_granted: vec![
                    "https://evil.example: not within what the manifest asks for".into(),
                ],
            },
            allow_private_addresses: false,
            kv_quota_bytes: amount(4096, Some(1024), None, 1024),
            secrets: SecretGrant {
                requested: vec!["token".into()],
                configured: vec!["token".into()],
                granted: vec!["token".into()],
            },
            memory_mb: amount(64, None, Some(512), 64),
            time_ms: amount(10_000, None, Some(60_000), 10_000),
        }
    }

    #[test]
    fn a_switched_off_plugin_is_flagged_with_its_figures_grants_and_last_errors() {
        let health = Health {
            state: HealthState::SwitchedOff,
            calls: 9,
            failures: BTreeMap::from([(FaultKind::Trap, 2), (FaultKind::OutOfMemory, 3)]),
            consecutive_faults: 5,
            mean_call_us: 120,
            p50_call_us: Some(840),
            p99_call_us: Some(12_500),
            peak_memory_bytes: 3 << 20,
            log_lines_dropped: 7,
            last_errors: vec![RecentError {
                at: "2026-11-27T13:14:27Z".into(),
                kind: FaultKind::Trap,
                message: "wasm trap: unreachable".into(),
            }],
        };
        let cells = HealthCells::new(&health);
        assert_eq!(
            cells,
            HealthCells {
                label: "Switched off",
                class: "badge-bad",
                switched_off: true,
                failures: 5,
                kinds: "out of memory 3 · trap 2".into(),
            }
        );
        let rows = grant_rows(&grants());
        assert_eq!(
            rows[2],
            GrantRow {
                name: "Key-value quota",
                requested: "4096 bytes".into(),
                operator: "1024 bytes".into(),
                granted: "1024 bytes".into(),
                narrowed: true,
            }
        );
        let page = PluginsPage {
            chrome: Chrome::new(&acme(), "Plugins", "plugins"),
            plugins: vec![PluginRow {
                id: "widget".into(),
                description: String::new(),
                version: "1.0.0".into(),
                world: "analytics-widget".into(),
                wit_version: "0.1.0".into(),
                origin_kind: "file",
                origin: "/srv/plugins/widget.wasm".into(),
                hosts: vec!["https://api.acme.example".into()],
                limits: limits_text(Limits {
                    memory_mb: 64,
                    time_ms: 10_000,
                }),
                health: cells.label,
                health_class: cells.class,
                switched_off: cells.switched_off,
                calls: health.calls,
                failures: cells.failures,
                failure_kinds: cells.kinds,
                p50: duration_text(health.p50_call_us),
                p99: duration_text(health.p99_call_us),
                peak_memory: bytes_text(health.peak_memory_bytes),
                log_lines_dropped: health.log_lines_dropped,
                grants: rows,
                not_granted: grants().outbound_hosts.not_granted,
                errors: vec![ErrorRow {
                    at: "2026-11-27T13:14:27Z".into(),
                    kind: "trap".into(),
                    message: "wasm trap: unreachable".into(),
                }],
            }],
            disabled: vec!["old-billing".into()],
            manage: Some("csrf-token-1".into()),
            notice: None,
            problem: Some("hello-connector 2.0.0: refused".into()),
        };
        let html = page.render().unwrap();
        // Managers get the upload form, its CSRF field first, and a switch per plugin.
        let form = html
            .find("enctype=\"multipart/form-data\"")
            .expect("an upload form");
        let first_input = html[form..].find("<input").unwrap() + form;
        assert!(
            html[first_input..]
                .starts_with("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-1\">")
        );
        assert!(html.contains("action=\"/plugins/widget/disable\""));
        assert!(html.contains("action=\"/plugins/widget/remove\""));
        assert!(html.contains("action=\"/plugins/old-billing/enable\""));
        assert!(
            html.contains(
                "<p class=\"form-error\" role=\"alert\">hello-connector 2.0.0: refused</p>"
            )
        );
        assert!(html.contains("<tr class=\"is-off\">"));
        assert!(html.contains("<span class=\"badge badge-bad\">Switched off</span>"));
        assert!(html.contains("64 MiB · 10 s"));
        assert!(html.contains("<td class=\"num\">840 µs</td>"), "{html}");
        assert!(html.contains("<td class=\"num\">12.5 ms</td>"));
        assert!(html.contains("<td class=\"num\">3.0 MiB</td>"));
        assert!(html.contains("7 log lines dropped"));
        assert!(html.contains("<time datetime=\"2026-11-27T13:14:27Z\">"));
        assert!(html.contains("wasm trap: unreachable"));
        assert!(html.contains("<li>https://api.acme.example</li>"));
        assert!(html.contains("https://evil.example: not within what the manifest asks for"));
        assert!(html.contains("<tr class=\"is-narrowed\">"));
    }

    #[test]
    fn figures_read_in_units_people_use() {
        assert_eq!(duration_text(None), "—");
        assert_eq!(duration_text(Some(999)), "999 µs");
        assert_eq!(duration_text(Some(2_500_000)), "2.5 s");
        assert_eq!(bytes_text(0), "—");
        assert_eq!(bytes_text(1000), "1 KiB");
        assert_eq!(bytes_text(64 << 20), "64.0 MiB");
    }
}
