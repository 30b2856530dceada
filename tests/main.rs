//! End-to-end tests: the real server on port 0, real plugins built from
//! `tests/fixtures/`, `plugins/` and `examples/`, real HTTP.

mod api_contract;
mod catalog;
mod catalog_locations;
mod cli;
mod distribution;
mod docs;
mod gateways;
mod grants;
mod hostile;
mod identity;
mod llms;
mod permissions;
mod polyglot;
mod scim;
mod server;
mod tryit;
mod worlds;
