//! Reading descriptor files: multi-document YAML with line numbers, and the
//! `$text` / `$json` / `$yaml` placeholders that pull in files next to the
//! descriptor (or URLs, only on hosts the import allows).
//!
//! Each document is parsed on its own, so one broken document costs only itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use url::Url;

/// Fetches the text behind a URL; the server supplies one (the crate makes no
/// network calls itself).
pub trait UrlReader: Send + Sync {
    /// The body at `url`, or a reason it could not be read.
    fn read_url(&self, url: &Url) -> Result<String, String>;
}

/// Where a descriptor (or a placeholder target) lives; relative targets
/// resolve against it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Place {
    /// A local file (absolute path).
    File(PathBuf),
    /// A remote document.
    Url(Url),
}

impl Place {
    /// The location string Backstage uses: `file:/abs/path` or `url:https://...`.
    pub(crate) fn location(&self) -> String {
        match self {
            Place::File(p) => format!("file:{}", p.display()),
            Place::Url(u) => format!("url:{u}"),
        }
    }
}

/// What reading may touch beyond the descriptor itself.
#[derive(Clone, Default)]
pub(crate) struct ReadPolicy {
    /// Local files must lie under one of these (canonical) directories;
    /// empty allows any file.
    pub(crate) roots: Vec<PathBuf>,
    /// Hosts URLs may point at: `example.com`, `*.example.com` for its
    /// subdomains, or `*` for any. Empty allows none.
    pub(crate) allowed_hosts: Vec<String>,
    /// Reads allowed URLs.
    pub(crate) url_reader: Option<Arc<dyn UrlReader>>,
}

impl std::fmt::Debug for ReadPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPolicy")
            .field("roots", &self.roots)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("url_reader", &self.url_reader.is_some())
            .finish()
    }
}

impl ReadPolicy {
    /// Resolves `target` against `base` and reads it, within the policy.
    pub(crate) fn read(&self, base: &Place, target: &str) -> Result<(Place, String), String> {
        let place = self.resolve(base, target)?;
        let text = match &place {
            Place::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            Place::Url(url) => match &self.url_reader {
                Some(reader) => reader
                    .read_url(url)
                    .map_err(|e| format!("cannot read {url}: {e}"))?,
                None => return Err(format!("cannot read {url}: no URL reader is configured")),
            },
        };
        Ok((place, text))
    }

    /// Resolves `target` (relative path, absolute path or URL) against `base`,
    /// refusing what the policy does not allow.
    pub(crate) fn resolve(&self, base: &Place, target: &str) -> Result<Place, String> {
        let url = match Url::parse(target) {
            Ok(url) if url.scheme().len() > 1 => Some(url),
            _ => match base {
                Place::Url(base_url) => Some(
                    base_url
                        .join(target)
                        .map_err(|e| format!("bad target \"{target}\": {e}"))?,
                ),
                Place::File(_) => None,
            },
        };
        if let Some(url) = url {
            return self.check_url(url);
        }
        let Place::File(base_path) = base else {
            unreachable!("URL bases resolve to URLs")
        };
        let dir = base_path.parent().unwrap_or(Path::new("/"));
        let joined = dir.join(target);
        let path = joined
            .canonicalize()
            .map_err(|e| format!("cannot read {}: {e}", joined.display()))?;
        if !self.roots.is_empty() && !self.roots.iter().any(|r| path.starts_with(r)) {
            return Err(format!(
                "{} is outside the directories this import may read",
                path.display()
            ));
        }
        Ok(Place::File(path))
    }

    fn check_url(&self, url: Url) -> Result<Place, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "cannot read {url}: only http and https URLs are supported"
            ));
        }
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let allowed = self.allowed_hosts.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => pattern == "*" || host == pattern,
            }
        });
        if allowed {
            Ok(Place::Url(url))
        } else {
            Err(format!(
                "reading {url} is not allowed: host \"{host}\" is not in the import's allowed hosts"
            ))
        }
    }
}

/// One YAML document of a descriptor file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// Position among the file's non-empty documents, from 0.
    pub index: usize,
    /// The line (from 1) where the document's content starts.
    pub line: usize,
    /// The document as JSON.
    pub value: Value,
    /// The document's text, for finding field lines.
    text: String,
}

impl Document {
    /// The line of the field at dotted `path` (e.g. `metadata.tags.1`), as near
    /// as a textual look can tell; the document's first line otherwise.
    pub(crate) fn field_line(&self, path: &str) -> usize {
        self.line + field_offset(&self.text, path)
    }
}

/// A document that is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    /// Position among the file's documents, from 0.
    pub index: usize,
    /// The line (from 1) of the error.
    pub line: usize,
    /// The parser's message.
    pub message: String,
}

/// Splits a YAML stream into documents and parses each; empty documents are
/// skipped.
pub(crate) fn parse_documents(text: &str) -> Vec<Result<Document, YamlError>> {
    let mut out = Vec::new();
    let mut index = 0;
    for (first_line, chunk) in split_documents(text) {
        let Some(offset) = chunk
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        else {
            continue;
        };
        let parsed = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&chunk);
        match parsed {
            Ok(serde_yaml_ng::Value::Null) => continue,
            Ok(mut value) => {
                let _ = value.apply_merge();
                out.push(Ok(Document {
                    index,
                    line: first_line + offset,
                    value: yaml_to_json(value),
                    text: chunk.lines().skip(offset).collect::<Vec<_>>().join("\n"),
                }));
            }
            Err(e) => out.push(Err(YamlError {
                index,
                // The parser may notice the problem past the document's last
                // line; point at that line instead.
                line: first_line
                    + e.location()
                        .map_or(offset, |l| l.line() - 1)
                        .min(last_content_offset(&chunk)),
                message: strip_location(&e.to_string()),
            })),
        }
        index += 1;
    }
    out
}

/// Parses one YAML document (a `$yaml` target) into JSON.
pub(crate) fn parse_yaml_value(text: &str) -> Result<Value, String> {
    let mut value =
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).map_err(|e| e.to_string())?;
    let _ = value.apply_merge();
    Ok(yaml_to_json(value))
}

/// Replaces every `{"$text" | "$json" | "$yaml": target}` object in `value`
/// with the target's content; the error names the field.
pub(crate) fn substitute(
    value: &mut Value,
    base: &Place,
    policy: &ReadPolicy,
) -> Result<(), String> {
    substitute_at(value, base, policy, "")
}

fn substitute_at(
    value: &mut Value,
    base: &Place,
    policy: &ReadPolicy,
    path: &str,
) -> Result<(), String> {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (key, target) = map.iter().next().expect("one entry");
            let target = target.as_str().map(str::to_owned);
            match (key.as_str(), target) {
                (kind @ ("$text" | "$json" | "$yaml"), Some(target)) => {
                    let kind = kind.to_owned();
                    let (_, text) = policy
                        .read(base, &target)
                        .map_err(|e| format!("\"{path}\": {kind}: {e}"))?;
                    *value = match kind.as_str() {
                        "$text" => Value::String(text),
                        "$json" => serde_json::from_str(&text).map_err(|e| {
                            format!("\"{path}\": $json: {target} is not valid JSON: {e}")
                        })?,
                        _ => parse_yaml_value(&text).map_err(|e| {
                            format!("\"{path}\": $yaml: {target} is not valid YAML: {e}")
                        })?,
                    };
                    Ok(())
                }
                _ => {
                    for (k, v) in map.iter_mut() {
                        substitute_at(v, base, policy, &child(k))?;
                    }
                    Ok(())
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute_at(v, base, policy, &child(k))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute_at(v, base, policy, &child(&i.to_string()))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Document chunks with the line (from 1) each starts on.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if marker || line == "..." {
            chunks.push((start, std::mem::take(&mut current)));
            start = i + 1;
            if let Some(rest) = line.strip_prefix("---").filter(|_| marker) {
                // Content on the marker line (`--- !tag`, `--- {a: 1}`) stays
                // with its document.
                current.push_str(rest);
                current.push('\n');
                continue;
            }
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    chunks.push((start, current));
    chunks
}

fn last_content_offset(chunk: &str) -> usize {
    chunk
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .last()
        .map_or(0, |(i, _)| i)
}

/// Drops the parser's " at line N column M" (relative to the document, so
/// misleading); the problem carries the file's line instead.
fn strip_location(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " at line ".len()..];
        let tail = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        let tail = tail.strip_prefix(" column ").unwrap_or(tail);
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    other => serde_yaml_ng::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

/// Line offset (from 0) of a dotted field path within a document's text, by
/// following indentation; stops at the deepest segment found.
fn field_offset(text: &str, path: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let content = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let mut found = 0;
    let mut from = 0;
    let mut parent_indent: Option<usize> = None;
    for segment in path.split('.') {
        let mut hit = None;
        let mut items_seen = 0;
        let wanted_item = segment.parse::<usize>().ok();
        let mut child_indent = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            if !content(line) {
                continue;
            }
            let ind = indent(line);
            if parent_indent.is_some_and(|p| ind <= p)
                && !(wanted_item.is_some()
                    && line.trim_start().starts_with('-')
                    && parent_indent == Some(ind))
            {
                break;
            }
            let level = *child_indent.get_or_insert(ind);
            if ind != level {
                continue;
            }
            let body = line.trim_start();
            match wanted_item {
                Some(n) if body.starts_with('-') => {
                    if items_seen == n {
                        hit = Some((i, ind));
                        break;
                    }
                    items_seen += 1;
                }
                Some(_) => {}
                None => {
                    let key = body.trim_start_matches(['"', '\'']);
                    if key.starts_with(segment)
                        && key[segment.len()..]
                            .trim_start_matches(['"', '\''])
                            .starts_with(':')
                    {
                        hit = Some((i, ind));
                        break;
                    }
                }
            }
        }
        let Some((line, ind)) = hit else { break };
        found = line;
        from = line + 1;
        parent_indent = Some(ind);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines_and_skip_empty_ones() {
        let text = "# leading comment\napiVersion: v1\nkind: A\n---\n---\n# only a comment\n---\n\nkind: B\nmetadata:\n  name: b\n...\n";
        let docs: Vec<_> = parse_documents(text)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (0, 2));
        assert_eq!((docs[1].index, docs[1].line), (1, 9));
        assert_eq!(docs[1].value["metadata"]["name"], "b");
        assert_eq!(docs[1].field_line("metadata.name"), 11);
    }

    #[test]
    fn a_broken_document_costs_only_itself() {
        let text = "kind: A\n---\nkind: [unclosed\n---\nkind: C\n";
        let docs = parse_documents(text);
        assert_eq!(docs.len(), 3);
        let err = docs[1].as_ref().unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.line, 3);
        assert_eq!(
            err.message,
            "did not find expected ',' or ']', while parsing a flow sequence"
        );
        assert_eq!(docs[2].as_ref().unwrap().value["kind"], "C");
    }

    #[test]
    fn field_lines_follow_indentation_and_list_items() {
        let text = "apiVersion: x\nmetadata:\n  name: a\n  tags:\n    - one\n    - two words\nspec:\n  owner: o\n  name: not-this\n";
        let doc = parse_documents(text).remove(0).unwrap();
        assert_eq!(doc.field_line("metadata.tags.1"), 6);
        assert_eq!(doc.field_line("spec.name"), 9);
        assert_eq!(doc.field_line("spec.definition"), 7);
        assert_eq!(doc.field_line("kind"), 1);
    }

    #[test]
    fn yaml_merge_keys_and_tags_become_plain_json() {
        let doc = parse_documents("base: &b {a: 1}\nx:\n  <<: *b\n  c: !custom 2\n")
            .remove(0)
            .unwrap();
        assert_eq!(doc.value["x"], serde_json::json!({"a": 1, "c": 2}));
    }

    #[test]
    fn placeholders_read_files_next_to_the_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("spec.txt"), "hello").unwrap();
        std::fs::write(root.join("data.json"), "{\"n\": [1]}").unwrap();
        std::fs::write(root.join("data.yaml"), "n: [2]\n").unwrap();
        let base = Place::File(root.join("catalog-info.yaml"));
        let policy = ReadPolicy {
            roots: vec![root.clone()],
            ..ReadPolicy::default()
        };
        let mut value = serde_json::json!({"spec": {"definition": {"$text": "./spec.txt"},
            "j": {"$json": "data.json"}, "y": [{"$yaml": "data.yaml"}], "other": {"$env": "X"}}});
        substitute(&mut value, &base, &policy).unwrap();
        assert_eq!(value["spec"]["definition"], "hello");
        assert_eq!(value["spec"]["j"]["n"][0], 1);
        assert_eq!(value["spec"]["y"][0]["n"][0], 2);
        assert_eq!(value["spec"]["other"]["$env"], "X");
    }

    #[test]
    fn placeholders_cannot_escape_the_roots_or_reach_unlisted_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("inner")).unwrap();
        std::fs::write(root.join("secret.txt"), "s").unwrap();
        let base = Place::File(root.join("inner/catalog-info.yaml"));
        let policy = ReadPolicy {
            roots: vec![root.join("inner")],
            allowed_hosts: vec!["*.example.com".into()],
            url_reader: None,
        };
        let mut value = serde_json::json!({"d": {"$text": "../secret.txt"}});
        let err = substitute(&mut value, &base, &policy).unwrap_err();
        assert!(
            err.starts_with("\"d\": $text:") && err.contains("outside the directories"),
            "{err}"
        );
        let mut value = serde_json::json!({"d": {"$text": "https://github.com/x/y.yaml"}});
        let err = substitute(&mut value, &base, &policy).unwrap_err();
        assert!(
            err.contains("host \"github.com\" is not in the import's allowed hosts"),
            "{err}"
        );
        let mut value = serde_json::json!({"d": {"$text": "https://api.example.com/x"}});
        let err = substitute(&mut value, &base, &policy).unwrap_err();
        assert!(err.contains("no URL reader is configured"), "{err}");
    }

    #[test]
    fn relative_targets_of_remote_descriptors_stay_remote() {
        struct Echo;
        impl UrlReader for Echo {
            fn read_url(&self, url: &Url) -> Result<String, String> {
                Ok(url.to_string())
            }
        }
        let policy = ReadPolicy {
            roots: Vec::new(),
            allowed_hosts: vec!["example.com".into()],
            url_reader: Some(Arc::new(Echo)),
        };
        let base = Place::Url(Url::parse("https://example.com/a/catalog.yaml").unwrap());
        let (place, text) = policy.read(&base, "./b/spec.yaml").unwrap();
        assert_eq!(text, "https://example.com/a/b/spec.yaml");
        assert_eq!(place.location(), "url:https://example.com/a/b/spec.yaml");
    }
}
