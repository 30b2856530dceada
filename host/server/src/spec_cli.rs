//! `portico spec diff OLD NEW`: the breaking changes between two versions of an OpenAPI
//! description, for CI pipelines. Exits with 0 when nothing breaks, 1 when something does and
//! 2 for input it cannot compare (a missing or unparseable file, not OpenAPI, different APIs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use portico_catalog::diff::{Change, SpecDiff, diff_documents};
use portico_catalog::spec::SpecHint;

use crate::cli::{Failure, failed};

/// `portico spec ...`.
#[derive(Subcommand)]
pub(crate) enum SpecCommand {
    /// Compares two versions of an OpenAPI description (JSON or YAML; OpenAPI 3.0, 3.1 or
    /// Swagger 2.0) and lists what changed; exits with 1 when a change breaks clients.
    Diff {
        /// The earlier version.
        old: PathBuf,
        /// The later version.
        new: PathBuf,
        /// Print `{"breaking": n, "non_breaking": m, "changes": [...]}` instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `spec` command.
pub(crate) fn run(command: SpecCommand) -> Result<(), Failure> {
    match command {
        SpecCommand::Diff { old, new, json } => diff(&old, &new, json),
    }
}

fn diff(old_path: &Path, new_path: &Path, json: bool) -> Result<(), Failure> {
    let read = |path: &Path| {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        anyhow::Ok((bytes, SpecHint::from_file_name(path.display().to_string())))
    };
    let (old, old_hint) = read(old_path)?;
    let (new, new_hint) = read(new_path)?;
    // Unreadable documents are named with their file, line and column by the library.
    let result = diff_documents(&old, &old_hint, &new, &new_hint)?;
    if json {
        let text = serde_json::to_string_pretty(&result).map_err(anyhow::Error::from)?;
        println!("{text}");
    } else {
        print!("{}", render(&result));
    }
    match result.breaking().count() {
        0 => Ok(()),
        n => Err(failed(anyhow::anyhow!(
            "{n} breaking {} between {} and {}",
            plural(n, "change", "changes"),
            old_path.display(),
            new_path.display()
        ))),
    }
}

/// One line per change, breaking ones first, then a summary line.
fn render(result: &SpecDiff) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, c: &Change| {
        let _ = writeln!(
            out,
            "{label:<13} {}: {} [{}]",
            c.location, c.message, c.rule
        );
    };
    for change in result.breaking() {
        line(&mut out, "BREAKING", change);
    }
    for change in result.non_breaking() {
        line(&mut out, "non-breaking", change);
    }
    let (breaking, other) = (result.breaking().count(), result.non_breaking().count());
    let _ = match (breaking, other) {
        (0, 0) => writeln!(out, "no changes"),
        _ => writeln!(
            out,
            "{breaking} breaking {}, {other} non-breaking",
            plural(breaking, "change", "changes")
        ),
    };
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(paths: serde_json::Value) -> serde_json::Value {
        json!({"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"}, "paths": paths})
    }

    #[test]
    fn breaking_changes_are_listed_first_with_their_rule_then_a_summary() {
        let old = spec(json!({"/pets": {"get": {}, "delete": {}}}));
        let new = spec(json!({"/pets": {"get": {}, "post": {}}}));
        let result = portico_catalog::diff::diff(&old, &new).unwrap();
        assert_eq!(
            render(&result),
            "BREAKING      DELETE /pets: The operation was removed. [operation-removed]\n\
             non-breaking  POST /pets: The operation was added. [operation-added]\n\
             1 breaking change, 1 non-breaking\n"
        );
    }

    #[test]
    fn identical_descriptions_say_so() {
        let doc = spec(json!({"/pets": {"get": {}}}));
        let result = portico_catalog::diff::diff(&doc, &doc).unwrap();
        assert_eq!(render(&result), "no changes\n");
    }
}
