//! Kong's log plugins (http-log, and file-log or tcp-log lines relayed to
//! the portal) normalised into usage records: one record per request, or per
//! identical request in the same millisecond.
//!
//! http-log sends one JSON object, or a JSON array when it batches; relayed
//! log files hold one object per line. All three are accepted.

use portico_plugin_sdk::{PluginError, UsageRecord};
use serde::Deserialize;
use serde_json::Value;

/// One logged request (the fields used here), as Kong's log format has it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Entry {
    service: Option<Named>,
    route: Option<Named>,
    request: Option<Request>,
    response: Option<Response>,
    latencies: Option<Latencies>,
    consumer: Option<Consumer>,
    /// The credential the request was made with (its key-auth id).
    authenticated_entity: Option<Named>,
    started_at: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Request {
    method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Response {
    status: Option<u16>,
    size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Latencies {
    request: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Consumer {
    id: Option<String>,
    username: Option<String>,
}

/// Normalises one pushed payload; entries that are not log objects are skipped,
/// and a payload with none at all is an error.
pub(crate) fn ingest(body: &[u8]) -> Result<Vec<UsageRecord>, PluginError> {
    let garbage = |why: String| PluginError::Internal(format!("not a Kong log payload: {why}"));
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        match value.map_err(|e| garbage(e.to_string()))? {
            Value::Array(items) => values.extend(items),
            other => values.push(other),
        }
    }
    let mut records: Vec<UsageRecord> = Vec::new();
    let mut skipped = 0;
    for value in values {
        let Ok(entry) = serde_json::from_value::<Entry>(value) else {
            skipped += 1;
            continue;
        };
        let Some(record) = record(entry) else {
            skipped += 1;
            continue;
        };
        match records.iter_mut().find(|r| same_key(r, &record)) {
            Some(existing) => merge(existing, &record),
            None => records.push(record),
        }
    }
    if records.is_empty() && skipped > 0 {
        return Err(garbage(format!(
            "none of its {skipped} entries is a logged request"
        )));
    }
    Ok(records)
}

fn record(entry: Entry) -> Option<UsageRecord> {
    let started = entry.started_at?;
    let status = entry.response.as_ref().and_then(|r| r.status);
    let consumer = entry.consumer.unwrap_or_default();
    // The connector's own reference: `<consumer username>/<key-auth id>`.
    let credential_ref = match (
        &consumer.username,
        entry.authenticated_entity.and_then(|e| e.id),
    ) {
        (Some(username), Some(key)) => Some(format!("{username}/{key}")),
        _ => None,
    };
    let latency = entry.latencies.and_then(|l| l.request);
    Some(UsageRecord {
        window_start_ms: started,
        window_seconds: 0,
        credential_ref,
        consumer: consumer.username.or(consumer.id),
        api_id: entry.service.and_then(|s| s.id),
        route: entry.route.and_then(|r| r.name.or(r.id)),
        method: entry.request.and_then(|r| r.method),
        status,
        requests: 1,
        errors: u64::from(status.is_some_and(|s| s >= 500)),
        latency_ms_avg: latency,
        latency_ms_max: latency,
        bytes: entry.response.and_then(|r| r.size),
    })
}

/// Records are upserts on these fields, so requests sharing them are one record.
fn same_key(a: &UsageRecord, b: &UsageRecord) -> bool {
    a.window_start_ms == b.window_start_ms
        && a.credential_ref == b.credential_ref
        && a.consumer == b.consumer
        && a.api_id == b.api_id
        && a.route == b.route
        && a.method == b.method
        && a.status == b.status
}

fn merge(into: &mut UsageRecord, from: &UsageRecord) {
    into.latency_ms_avg = match (into.latency_ms_avg, from.latency_ms_avg) {
        (Some(a), Some(b)) => Some(
            (a * into.requests as f64 + b * from.requests as f64)
                / (into.requests + from.requests) as f64,
        ),
        (a, b) => a.or(b),
    };
    into.latency_ms_max = match (into.latency_ms_max, from.latency_ms_max) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    into.bytes = match (into.bytes, from.bytes) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    into.requests += from.requests;
    into.errors += from.errors;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(started: u64, status: u16, latency: u64) -> String {
        format!(
            r#"{{"service": {{"id": "svc"}}, "route": {{"id": "r1", "name": "orders"}},
                "request": {{"method": "GET", "uri": "/orders"}},
                "response": {{"status": {status}, "size": 100}},
                "latencies": {{"request": {latency}, "kong": 1, "proxy": 2}},
                "authenticated_entity": {{"id": "k1"}},
                "consumer": {{"id": "c1", "username": "portico-app"}},
                "started_at": {started}}}"#
        )
    }

    #[test]
    fn a_single_object_is_one_record_with_the_credential_ref() {
        let records = ingest(entry(1000, 200, 7).as_bytes()).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.credential_ref.as_deref(), Some("portico-app/k1"));
        assert_eq!(r.consumer.as_deref(), Some("portico-app"));
        assert_eq!(
            (r.api_id.as_deref(), r.route.as_deref()),
            (Some("svc"), Some("orders"))
        );
        assert_eq!((r.status, r.requests, r.errors), (Some(200), 1, 0));
        assert_eq!((r.latency_ms_avg, r.bytes), (Some(7.0), Some(100)));
    }

    #[test]
    fn batches_and_lines_merge_identical_requests() {
        let batch = format!(
            "[{}, {}, {}]",
            entry(1000, 502, 10),
            entry(1000, 502, 30),
            entry(2000, 200, 5)
        );
        let records = ingest(batch.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].requests, records[0].errors), (2, 2));
        assert_eq!(records[0].latency_ms_avg, Some(20.0));
        assert_eq!(records[0].latency_ms_max, Some(30.0));
        assert_eq!(records[0].bytes, Some(200));

        let lines = format!("{}\n{}\n", entry(1, 200, 1), entry(2, 200, 1));
        assert_eq!(ingest(lines.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn garbage_is_refused_and_an_empty_batch_is_nothing() {
        assert!(matches!(ingest(b"<html>"), Err(PluginError::Internal(_))));
        assert!(matches!(ingest(b"[1, 2]"), Err(PluginError::Internal(_))));
        assert!(ingest(b"[]").unwrap().is_empty());
    }
}
