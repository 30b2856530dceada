//! Portico, the API developer portal: configuration, start-up, routes and pages.
//!
//! The binary (`portico`) is a thin CLI over this library; tests start the
//! same [`Server`] on port 0 with a temporary data directory.

#![forbid(unsafe_code)]

pub mod api;
pub mod apis_api;
pub mod apps;
pub mod apps_api;
pub mod billing;
pub mod billing_api;
pub mod branding;
pub mod catalog_api;
pub mod catalog_cli;
pub mod changelog_api;
pub mod changelog_feed;
pub mod cli;
pub mod config;
pub mod demo;
pub mod deprecation;
pub mod docs;
pub mod fetch;
pub mod gateway_cli;
pub mod gateways;
pub mod gateways_api;
pub mod identity;
pub mod identity_api;
pub mod llms;
pub mod loader;
pub mod locations;
pub mod locations_api;
pub mod markdown_twin;
pub mod mcp;
pub mod multipart;
pub mod openapi;
pub mod plugin_cli;
pub mod plugin_store;
pub mod plugins_api;
pub mod problem;
pub mod products_api;
pub mod publish_preview;
pub mod query;
pub mod scim;
pub mod server;
pub mod spec_cli;
pub mod state;
pub mod tryit;
pub mod ui;
pub mod usage;
pub mod usage_api;
pub mod user_cli;
pub mod verify_api;
pub mod webhooks;
pub mod webhooks_api;

pub use config::Config;
pub use server::{Server, app};
pub use state::AppState;
