//! Builds the test fixtures (`tests/fixtures/`) and the examples (`examples/`)
//! to wasm32-wasip2 and exposes each component's path as a constant, e.g.
//! `FIXTURE_LOOP` and `HELLO_CONNECTOR`.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest_dir
        .join("..")
        .canonicalize()
        .expect("repository root");
    let target = repo.join("target/guests");
    let watch = [repo.join("plugin-sdk"), repo.join("wit")];
    let watch: Vec<_> = watch.iter().map(PathBuf::as_path).collect();

    let mut code = String::new();
    for workspace in ["tests/fixtures/Cargo.toml", "examples/Cargo.toml"] {
        let guests = portico_guest_build::build_guests(&repo.join(workspace), &target, &watch)
            .unwrap_or_else(|e| panic!("building {workspace}: {e}"));
        for guest in guests {
            let constant = guest.name.to_uppercase().replace('-', "_");
            writeln!(code, "/// The `{}` component.", guest.name).expect("writing to a String");
            writeln!(code, "pub const {constant}: &str = {:?};", guest.wasm)
                .expect("writing to a String");
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("guests.rs"), code).expect("writing guests.rs");
}
