//! Builds the first-party plugins in `plugins/` and writes `BUNDLED`, the
//! list of their components, for `lib.rs` to include.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let guests = portico_guest_build::build_guests(
        &repo.join("plugins/Cargo.toml"),
        &repo.join("target/guests"),
        &[&repo.join("plugin-sdk"), &repo.join("wit")],
    )
    .expect("building the bundled plugins");

    let mut code = String::from(
        "/// The bundled plugins: (crate name, component bytes).\npub static BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for guest in &guests {
        writeln!(
            code,
            "    ({:?}, include_bytes!({:?})),",
            guest.name, guest.wasm
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("bundled.rs"), code).expect("writing bundled.rs");
}
