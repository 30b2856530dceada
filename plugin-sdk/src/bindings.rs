//! The generated bindings, one module per world, hidden from plugin authors.
//!
//! The other worlds reuse the connector world's `types` and `host`, so each
//! WIT type has exactly one Rust type. Export macros are `pub` because they
//! expand in the plugin's crate, which is what keeps a world's exports there.

// The types plugins see carry the WIT doc comments; the `wasi:*` interfaces
// and generated helpers have none, and no plugin author reads them.
#![allow(missing_docs)]

/// The `gateway-connector` world; also the home of `types`, `host` and `wasi:http`.
pub mod connector {
    wit_bindgen::generate!({
        path: "../wit",
        world: "gateway-connector",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        additional_derives_ignore: ["stream-error"],
        generate_all,
    });
}

/// The `docs-renderer` world.
pub mod renderer {
    wit_bindgen::generate!({
        path: "../wit",
        world: "docs-renderer",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        with: {
            "portico:plugin/types@0.1.1": crate::bindings::connector::portico::plugin::types,
            "portico:plugin/host@0.1.1": crate::bindings::connector::portico::plugin::host,
        },
    });
}

/// The `analytics-widget` world.
pub mod widget {
    wit_bindgen::generate!({
        path: "../wit",
        world: "analytics-widget",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        with: {
            "portico:plugin/types@0.1.1": crate::bindings::connector::portico::plugin::types,
            "portico:plugin/host@0.1.1": crate::bindings::connector::portico::plugin::host,
        },
    });
}

/// The `billing` world.
pub mod billing {
    wit_bindgen::generate!({
        path: "../wit",
        world: "billing",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        with: {
            "portico:plugin/types@0.1.1": crate::bindings::connector::portico::plugin::types,
            "portico:plugin/host@0.1.1": crate::bindings::connector::portico::plugin::host,
        },
    });
}

/// The `sandbox` world.
pub mod sandbox {
    wit_bindgen::generate!({
        path: "../wit",
        world: "sandbox",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        with: {
            "portico:plugin/types@0.1.1": crate::bindings::connector::portico::plugin::types,
            "portico:plugin/host@0.1.1": crate::bindings::connector::portico::plugin::host,
        },
    });
}
