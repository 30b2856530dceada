//! End-to-end tests: the real server on port 0, real plugins built from
//! `tests/fixtures/`, `plugins/` and `examples/`, real HTTP.

mod catalog;
mod catalog_locations;
mod cli;
mod distribution;
mod docs;
mod gateways;
mod grants;
mod hostile;
mod identity;
mod permissions;
mod polyglot;
mod server;
mod worlds;
