//! The OpenAPI document as the sandbox reads it: parsed from JSON or YAML,
//! local `$ref`s resolved with a bound on chains, a request path matched
//! against the path templates, and the parts of an operation a call is
//! checked against (parameters, body, security) or answered from (responses).

use portico_plugin_sdk::{PluginError, SpecDocument, SpecFormat};
use serde_json::{Map, Value};

/// The longest `$ref` chain followed; longer ones are treated as broken.
const MAX_REF_HOPS: usize = 32;

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A parsed OpenAPI 3.0 or 3.1 document.
pub(crate) struct Spec {
    root: Value,
    /// Whether it is 3.0 (where `nullable` means what 3.1's type arrays do).
    pub(crate) v30: bool,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Header,
    Cookie,
}

impl In {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
            In::Cookie => "cookie",
        }
    }
}

/// One parameter of an operation, resolved.
pub(crate) struct Param<'a> {
    pub(crate) name: &'a str,
    pub(crate) place: In,
    pub(crate) required: bool,
    pub(crate) schema: Option<&'a Value>,
}

/// The operation a call matched, with the values of its path's parameters.
pub(crate) struct Matched<'a> {
    /// The path template, e.g. `/pets/{petId}`.
    pub(crate) template: &'a str,
    /// The operation object.
    pub(crate) operation: &'a Map<String, Value>,
    /// Path-level and operation-level parameters, the operation's winning.
    pub(crate) params: Vec<Param<'a>>,
    /// `{name}` values of the path, percent-decoded.
    pub(crate) path_values: Vec<(String, String)>,
}

/// Why no operation matched.
pub(crate) enum NoMatch {
    /// No path template fits.
    Path,
    /// A template fits, but not for this method; the methods it has.
    Method(Vec<String>),
}

/// The success answer an operation declares.
pub(crate) struct Success<'a> {
    pub(crate) status: u16,
    /// The media type and its object, when the answer has a body.
    pub(crate) content: Option<(&'a str, &'a Value)>,
}

impl Spec {
    /// Parses a document and checks it is OpenAPI 3.0 or 3.1.
    pub(crate) fn parse(document: &SpecDocument) -> Result<Spec, PluginError> {
        if !matches!(
            document.format,
            SpecFormat::Openapi30 | SpecFormat::Openapi31
        ) {
            return Err(PluginError::Unsupported(format!(
                "the synthetic sandbox reads OpenAPI 3.0 and 3.1, not {:?}",
                document.format
            )));
        }
        let json =
            document.media_type.contains("json") || document.content.trim_start().starts_with('{');
        let root: Value = if json {
            serde_json::from_str(&document.content).map_err(|e| {
                PluginError::InvalidConfig(format!("the spec is not valid JSON: {e}"))
            })?
        } else {
            serde_yaml_ng::from_str(&document.content).map_err(|e| {
                PluginError::InvalidConfig(format!("the spec is not valid YAML: {e}"))
            })?
        };
        let version = match root.get("openapi") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                return Err(PluginError::Unsupported(
                    "the document has no `openapi` field, so it is not OpenAPI 3".to_owned(),
                ));
            }
        };
        if !version.starts_with("3.") {
            return Err(PluginError::Unsupported(format!(
                "OpenAPI {version} is not supported; 3.0 and 3.1 are"
            )));
        }
        Ok(Spec {
            v30: version.starts_with("3.0"),
            root,
        })
    }

    /// Follows `$ref`s from `value` to what they point at; a broken or
    /// endless chain ends at the last value reached.
    pub(crate) fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut current = value;
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
                return current;
            };
            match self.pointer(reference) {
                Some(target) => current = target,
                None => return current,
            }
        }
        current
    }

    /// The value a local reference (`#/components/...`) points at.
    fn pointer(&self, reference: &str) -> Option<&Value> {
        let fragment = percent_decode(reference.strip_prefix('#')?);
        let mut current = &self.root;
        for part in fragment.strip_prefix('/')?.split('/') {
            let part = part.replace("~1", "/").replace("~0", "~");
            current = match current {
                Value::Object(map) => map.get(&part)?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The path templates of the document.
    pub(crate) fn templates(&self) -> impl Iterator<Item = &str> {
        self.root
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(template, _)| template.as_str())
            .filter(|t| t.starts_with('/'))
    }

    /// The operation of a method and a concrete path. Of several templates
    /// that fit, the one with the most literal segments wins (`/pets/mine`
    /// before `/pets/{id}`).
    pub(crate) fn find(&self, method: &str, path: &str) -> Result<Matched<'_>, NoMatch> {
        let paths = self.root.get("paths").and_then(Value::as_object);
        type Candidate<'a> = (
            usize,
            &'a str,
            &'a Map<String, Value>,
            Vec<(String, String)>,
        );
        let mut best: Option<Candidate<'_>> = None;
        for (template, item) in paths.into_iter().flatten() {
            let Some(item) = self.resolve(item).as_object() else {
                continue;
            };
            let Some((literals, values)) = match_template(template, path) else {
                continue;
            };
            if best.as_ref().is_none_or(|(score, ..)| literals > *score) {
                best = Some((literals, template, item, values));
            }
        }
        let Some((_, template, item, path_values)) = best else {
            return Err(NoMatch::Path);
        };
        let method = method.to_ascii_lowercase();
        let Some(operation) = item.get(&method).and_then(Value::as_object) else {
            let allowed = METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(|m| m.to_ascii_uppercase())
                .collect();
            return Err(NoMatch::Method(allowed));
        };
        let mut params = self.params(item.get("parameters"));
        for own in self.params(operation.get("parameters")) {
            params.retain(|p| !(p.name == own.name && p.place == own.place));
            params.push(own);
        }
        Ok(Matched {
            template,
            operation,
            params,
            path_values,
        })
    }

    fn params<'a>(&'a self, list: Option<&'a Value>) -> Vec<Param<'a>> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let p = self.resolve(p).as_object()?;
                let place = match p.get("in")?.as_str()? {
                    "path" => In::Path,
                    "query" => In::Query,
                    "header" => In::Header,
                    "cookie" => In::Cookie,
                    _ => return None,
                };
                // A parameter described by `content` holds its schema in the media type.
                let schema = p.get("schema").or_else(|| {
                    p.get("content")?
                        .as_object()?
                        .values()
                        .next()?
                        .get("schema")
                });
                Some(Param {
                    name: p.get("name")?.as_str()?,
                    place,
                    required: place == In::Path
                        || p.get("required").and_then(Value::as_bool) == Some(true),
                    schema,
                })
            })
            .collect()
    }

    /// The security requirements of an operation: its own, else the
    /// document's; none when either is empty or lists `{}` (optional).
    pub(crate) fn security<'a>(&'a self, operation: &'a Map<String, Value>) -> Vec<&'a str> {
        let list = operation
            .get("security")
            .or_else(|| self.root.get("security"))
            .and_then(Value::as_array);
        let Some(list) = list else {
            return Vec::new();
        };
        if list
            .iter()
            .any(|r| r.as_object().is_some_and(Map::is_empty))
        {
            return Vec::new();
        }
        list.iter()
            .filter_map(Value::as_object)
            .flat_map(|r| r.keys().map(String::as_str))
            .collect()
    }

    /// The `WWW-Authenticate` challenge for a security scheme by name.
    pub(crate) fn challenge(&self, scheme: &str) -> String {
        let object = self
            .root
            .pointer("/components/securitySchemes")
            .and_then(|s| s.get(scheme))
            .map(|s| self.resolve(s));
        let kind = object.and_then(|o| o.get("type")).and_then(Value::as_str);
        let http = object
            .and_then(|o| o.get("scheme"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        match (kind, http.as_deref()) {
            (Some("http"), Some("basic")) => "Basic realm=\"sandbox\"".to_owned(),
            (Some("apiKey"), _) => {
                let name = object
                    .and_then(|o| o.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("key");
                let place = object
                    .and_then(|o| o.get("in"))
                    .and_then(Value::as_str)
                    .unwrap_or("header");
                format!(
                    "ApiKey realm=\"sandbox\", {place}=\"{}\"",
                    name.replace(['"', '\\'], "")
                )
            }
            _ => "Bearer realm=\"sandbox\"".to_owned(),
        }
    }

    /// The request body object of an operation, resolved.
    pub(crate) fn request_body<'a>(
        &'a self,
        operation: &'a Map<String, Value>,
    ) -> Option<&'a Map<String, Value>> {
        self.resolve(operation.get("requestBody")?).as_object()
    }

    /// The success answer of an operation: its lowest 2xx (`2XX` counts as
    /// 200), else `default`, else a bare 200.
    pub(crate) fn success<'a>(&'a self, operation: &'a Map<String, Value>) -> Success<'a> {
        let responses = operation.get("responses").and_then(Value::as_object);
        let mut found: Option<(u16, &Value)> = None;
        for (code, response) in responses.into_iter().flatten() {
            let status = match code.as_str() {
                "2XX" | "2xx" => 200,
                other => match other.parse::<u16>() {
                    Ok(status) if (200..300).contains(&status) => status,
                    _ => continue,
                },
            };
            if found.is_none_or(|(s, _)| status < s) {
                found = Some((status, response));
            }
        }
        let found = found.or_else(|| Some((200, responses?.get("default")?)));
        let Some((status, response)) = found else {
            return Success {
                status: 200,
                content: None,
            };
        };
        let content = self
            .resolve(response)
            .get("content")
            .and_then(Value::as_object)
            .and_then(pick_media_type);
        Success {
            status,
            content: if status == 204 { None } else { content },
        }
    }

    /// Whether an operation declares an answer with this status.
    pub(crate) fn declares(&self, operation: &Map<String, Value>, status: u16) -> bool {
        operation
            .get("responses")
            .and_then(Value::as_object)
            .is_some_and(|r| r.contains_key(&status.to_string()))
    }

    /// An example of a media type object: `example`, else the first of
    /// `examples` (their `value`), else its schema's own example.
    pub(crate) fn media_example<'a>(&'a self, media: &'a Value) -> Option<&'a Value> {
        if let Some(example) = media.get("example") {
            return Some(example);
        }
        if let Some(examples) = media.get("examples").and_then(Value::as_object) {
            for example in examples.values() {
                if let Some(value) = self.resolve(example).get("value") {
                    return Some(value);
                }
            }
        }
        let schema = self.resolve(media.get("schema")?);
        schema
            .get("example")
            .or_else(|| schema.get("examples")?.as_array()?.first())
    }
}

/// The media type a sandbox speaks: JSON first, then the first declared.
pub(crate) fn pick_media_type(content: &Map<String, Value>) -> Option<(&str, &Value)> {
    content
        .iter()
        .find(|(t, _)| is_json(t))
        .or_else(|| content.iter().next())
        .map(|(t, v)| (t.as_str(), v))
}

/// Whether a media type is JSON (`application/json`, `application/*+json`).
pub(crate) fn is_json(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "*/*"
}

/// Matches a concrete path against a template: the number of literal
/// segments and the `{name}` values, or `None`.
pub(crate) fn match_template(template: &str, path: &str) -> Option<(usize, Vec<(String, String)>)> {
    let wanted: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if wanted.len() != given.len() {
        return None;
    }
    let mut literals = 0;
    let mut values = Vec::new();
    for (w, g) in wanted.iter().zip(&given) {
        match w.find('{') {
            None => {
                if percent_decode(g) != *w {
                    return None;
                }
                literals += 1;
            }
            Some(open) => {
                let close = open + w[open..].find('}')?;
                let (prefix, name, suffix) = (&w[..open], &w[open + 1..close], &w[close + 1..]);
                let value = g.strip_prefix(prefix)?.strip_suffix(suffix)?;
                if value.is_empty() {
                    return None;
                }
                values.push((name.to_owned(), percent_decode(value)));
            }
        }
    }
    Some((literals, values))
}

/// Undoes `%XX` escapes; anything else stays as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec(yaml: &str) -> Spec {
        Spec::parse(&SpecDocument {
            format: SpecFormat::Openapi31,
            media_type: "application/yaml".into(),
            content: yaml.into(),
            source: None,
        })
        .unwrap()
    }

    const DOC: &str = r##"
openapi: 3.1.0
info: {title: T, version: "1"}
security: [{key: []}]
paths:
  /pets:
    get: {security: [{}, {key: []}], responses: {"200": {description: ok}}}
  /pets/{id}:
    parameters: [{$ref: "#/components/parameters/Id"}]
    get:
      parameters: [{name: v, in: query, required: true}]
      responses: {"404": {description: no}, "2XX": {description: ok}, "201": {description: c, content: {text/plain: {}, application/json: {example: {a: 1}}}}}
    delete: {responses: {"204": {description: gone}}}
  /pets/mine:
    get: {responses: {default: {description: d}}}
components:
  parameters: {Id: {name: id, in: path, schema: {type: string}}}
  securitySchemes: {key: {type: apiKey, in: header, name: X-Key}}
"##;

    #[test]
    fn literal_templates_win_and_path_values_are_decoded() {
        let spec = spec(DOC);
        let m = spec.find("GET", "/pets/mine").ok().unwrap();
        assert_eq!(m.template, "/pets/mine");
        let m = spec.find("get", "/pets/a%20b").ok().unwrap();
        assert_eq!(m.template, "/pets/{id}");
        assert_eq!(m.path_values, [("id".to_owned(), "a b".to_owned())]);
        let names: Vec<_> = m.params.iter().map(|p| (p.name, p.required)).collect();
        assert_eq!(names, [("id", true), ("v", true)]);
        assert!(matches!(spec.find("GET", "/nope"), Err(NoMatch::Path)));
        let Err(NoMatch::Method(allowed)) = spec.find("PUT", "/pets/1") else {
            panic!("a known path with another method");
        };
        assert_eq!(allowed, ["GET", "DELETE"]);
    }

    #[test]
    fn security_falls_back_to_the_document_and_empty_means_optional() {
        let spec = spec(DOC);
        let get_pet = spec.find("GET", "/pets/1").ok().unwrap();
        assert_eq!(spec.security(get_pet.operation), ["key"]);
        let list = spec.find("GET", "/pets").ok().unwrap();
        assert!(spec.security(list.operation).is_empty());
        assert_eq!(
            spec.challenge("key"),
            "ApiKey realm=\"sandbox\", header=\"X-Key\""
        );
        assert_eq!(spec.challenge("nope"), "Bearer realm=\"sandbox\"");
    }

    #[test]
    fn success_is_the_lowest_2xx_with_json_preferred() {
        let spec = spec(DOC);
        let get_pet = spec.find("GET", "/pets/1").ok().unwrap();
        let success = spec.success(get_pet.operation);
        assert_eq!(success.status, 200);
        assert!(success.content.is_none());
        let delete = spec.find("DELETE", "/pets/1").ok().unwrap();
        assert_eq!(spec.success(delete.operation).status, 204);
        let mine = spec.find("GET", "/pets/mine").ok().unwrap();
        assert_eq!(spec.success(mine.operation).status, 200);
        let content = serde_json::json!({"text/plain": {}, "application/problem+json": {}});
        assert_eq!(
            pick_media_type(content.as_object().unwrap()).unwrap().0,
            "application/problem+json"
        );
    }

    #[test]
    fn swagger_and_other_formats_are_refused() {
        let err = Spec::parse(&SpecDocument {
            format: SpecFormat::Openapi2,
            media_type: "application/json".into(),
            content: "{}".into(),
            source: None,
        })
        .err()
        .unwrap();
        assert!(matches!(err, PluginError::Unsupported(_)));
        let err = Spec::parse(&SpecDocument {
            format: SpecFormat::Openapi30,
            media_type: "application/json".into(),
            content: "{not json".into(),
            source: None,
        })
        .err()
        .unwrap();
        assert!(matches!(err, PluginError::InvalidConfig(_)));
    }
}
