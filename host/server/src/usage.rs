//! Usage analytics: every call the portal or a gateway sees is appended,
//! rolled up per minute, hour and day with mergeable latency sketches, read
//! back as series for the API and the dashboards, and trimmed by retention.

pub mod funnel;
pub mod ingest;
pub mod log;
pub mod query;
pub mod rollup;
pub mod scope;
pub mod sketch;
pub mod upkeep;
pub mod widgets;
pub mod writer;

pub use log::{Source, UsageEvent, UsageLog, UsageRecord, now_ms};
