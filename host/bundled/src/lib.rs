//! The first-party plugins of `plugins/`, built for wasm32-wasip2 by this
//! crate's build script and embedded as bytes, so `portico` is one
//! self-contained binary.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
