//! End-to-end tests: the real server on port 0, real plugins built from
//! `tests/fixtures/`, `plugins/` and `examples/`, real HTTP.

mod api_contract;
mod apps;
mod apps_ui;
mod aws_apigateway;
mod billing_plugin;
mod catalog;
mod catalog_locations;
mod changelog;
mod cli;
mod distribution;
mod docs;
mod express_gateway;
mod forward_auth;
mod gateways;
mod grants;
mod hostile;
mod identity;
mod kong;
mod llms;
mod mcp;
mod permissions;
mod polyglot;
mod sandbox;
mod scim;
mod server;
mod tryit;
mod usage;
mod verify;
mod visibility;
mod webhooks;
mod widgets;
mod worlds;
