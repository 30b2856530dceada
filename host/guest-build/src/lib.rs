//! Builds Portico's WebAssembly guest workspaces (plugins, examples, test
//! fixtures) from a build script, so the server and the tests always embed
//! `.wasm` files built from the sources next to them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// A guest component a build produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    /// The crate's package name, e.g. `fixture-loop`.
    pub name: String,
    /// The component, e.g. `<target_dir>/wasm32-wasip2/release/fixture_loop.wasm`.
    pub wasm: PathBuf,
}

/// Builds every `cdylib` crate of the guest workspace `workspace_manifest`
/// (a `Cargo.toml` with a `[workspace]`) in release mode for [`TARGET`], into
/// `target_dir`, and returns the components sorted by crate name.
///
/// Give every guest workspace the same `target_dir` (`<repo>/target/guests`)
/// so that shared dependencies such as `wit-bindgen` compile once. Prints
/// `cargo:rerun-if-changed` for the workspace directory and for each path in
/// `watch` (typically `plugin-sdk` and `wit`, which guests use from outside
/// their workspace), and forwards the guests' compiler warnings as
/// `cargo:warning`.
///
/// # Errors
///
/// An I/O error when cargo cannot be started or a built component is missing.
///
/// # Panics
///
/// When the build fails, with cargo's output in the message, which is what a
/// build script wants to show.
pub fn build_guests(
    workspace_manifest: &Path,
    target_dir: &Path,
    watch: &[&Path],
) -> io::Result<Vec<Guest>> {
    let workspace_dir = workspace_manifest.parent().unwrap_or(Path::new("."));
    for path in std::iter::once(workspace_dir).chain(watch.iter().copied()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let metadata = cargo(workspace_dir)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(workspace_manifest)
        .output()?;
    check(&metadata, "cargo metadata", workspace_manifest);
    let cdylibs = cdylib_targets(&String::from_utf8_lossy(&metadata.stdout))
        .map_err(|e| io::Error::other(format!("cannot read `cargo metadata`: {e}")))?;

    let build = cargo(workspace_dir)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(workspace_manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .output()?;
    let stderr = String::from_utf8_lossy(&build.stderr);
    check(&build, "cargo build", workspace_manifest);
    // Shown by `cargo build -vv`; the warnings also reach a plain build.
    eprint!("{stderr}");
    for line in stderr.lines() {
        if line.starts_with("warning:") && !line.contains(" generated ") {
            println!("cargo:warning=guest {}: {line}", workspace_dir.display());
        }
    }

    let out_dir = target_dir.join(TARGET).join("release");
    cdylibs
        .into_iter()
        .map(|(name, lib)| {
            let wasm = out_dir.join(format!("{}.wasm", lib.replace('-', "_")));
            if wasm.is_file() {
                Ok(Guest { name, wasm })
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("cargo built `{name}` but {} is missing", wasm.display()),
                ))
            }
        })
        .collect()
}

/// Environment variables that cargo sets for the outer build (or that the
/// outer build honours) and that would make the nested build use the wrong
/// flags, target, profile, directory or compiler wrapper.
fn leaks_into_nested_build(name: &str) -> bool {
    const EXACT: [&str; 4] = [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
    ];
    // `CARGO_BUILD_*` covers `CARGO_BUILD_TARGET` and `CARGO_BUILD_RUSTFLAGS`;
    // `CARGO_TARGET_*` covers per-target runners, linkers and flags.
    const PREFIXES: [&str; 3] = ["CARGO_PROFILE_", "CARGO_BUILD_", "CARGO_TARGET_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// A cargo command for the nested build: the same cargo as the outer build,
/// run from the guest workspace so its own `.cargo/config.toml` applies.
fn cargo(workspace_dir: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(workspace_dir);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(leaks_into_nested_build) {
            command.env_remove(name);
        }
    }
    command
}

fn check(output: &std::process::Output, what: &str, manifest: &Path) {
    if !output.status.success() {
        panic!(
            "{what} failed for guest workspace {} ({}):\n{}",
            manifest.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `(package name, library target name)` of each `cdylib` in `cargo metadata` output.
fn cdylib_targets(metadata: &str) -> Result<Vec<(String, String)>, String> {
    let root: serde_json::Value = serde_json::from_str(metadata).map_err(|e| e.to_string())?;
    let items = |v: &serde_json::Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
    let mut found = BTreeMap::new();
    for package in items(&root, "packages") {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        for target in items(&package, "targets") {
            if items(&target, "kind").iter().any(|k| k == "cdylib") {
                let lib = target["name"].as_str().unwrap_or(name);
                found.insert(name.to_owned(), lib.to_owned());
            }
        }
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdylib_targets_are_read_from_cargo_metadata() {
        let metadata = r#"{"packages": [
            {"name": "fixture-loop", "version": "0.1.0", "targets": [
                {"kind": ["cdylib"], "name": "fixture_loop", "src_path": "C:\\x\\lib.rs"}]},
            {"name": "helper", "targets": [{"kind": ["lib"], "name": "helper"}]},
            {"name": "caf\u00e9-plugin", "targets": [{"kind": ["cdylib", "rlib"], "name": "cafe"}]}
        ], "workspace_members": [], "version": 1, "resolve": null, "ok": true}"#;
        assert_eq!(
            cdylib_targets(metadata).unwrap(),
            [
                ("café-plugin".to_owned(), "cafe".to_owned()),
                ("fixture-loop".to_owned(), "fixture_loop".to_owned()),
            ]
        );
    }

    #[test]
    fn outer_build_settings_do_not_leak_into_guest_builds() {
        for name in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_PROFILE_RELEASE_LTO",
            "CARGO_TARGET_WASM32_WASIP2_RUNNER",
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            assert!(leaks_into_nested_build(name), "{name}");
        }
        for name in [
            "CARGO_MAKEFLAGS",
            "CARGO_HOME",
            "RUSTUP_TOOLCHAIN",
            "PATH",
            "RUSTC_WRAPPER",
        ] {
            assert!(!leaks_into_nested_build(name), "{name}");
        }
    }
}
