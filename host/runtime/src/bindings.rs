//! The generated host bindings for every world of `wit/`, kept in one place.
//!
//! The first world generates the shared `types` and `host` interfaces; the
//! others reuse them through `with`, so the rest of the host sees one set of
//! plain Rust types. WASI comes from wasmtime-wasi and wasmtime-wasi-http.

#![allow(missing_docs, unreachable_pub)]

pub(crate) mod connector {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "portico:plugin/gateway-connector",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub(crate) mod renderer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "portico:plugin/docs-renderer",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "portico:plugin/types": super::connector::portico::plugin::types,
            "portico:plugin/host": super::connector::portico::plugin::host,
        },
    });
}

pub(crate) mod widget {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "portico:plugin/analytics-widget",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "portico:plugin/types": super::connector::portico::plugin::types,
            "portico:plugin/host": super::connector::portico::plugin::host,
        },
    });
}

pub(crate) mod billing {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "portico:plugin/billing",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "portico:plugin/types": super::connector::portico::plugin::types,
            "portico:plugin/host": super::connector::portico::plugin::host,
        },
    });
}

pub(crate) mod sandbox {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "portico:plugin/sandbox",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "portico:plugin/types": super::connector::portico::plugin::types,
            "portico:plugin/host": super::connector::portico::plugin::host,
        },
    });
}

pub(crate) use connector::portico::plugin::{host, types};
