//! Comparing security: the schemes of `components.securitySchemes`, and the requirements
//! (global or per operation) that say which credentials a call needs.
//!
//! A requirement list is a choice of alternatives, each a set of schemes with scopes; an empty
//! list or an empty alternative lets anonymous callers in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Differ, Rule, join, list, resolve};

/// One way to satisfy a requirement: scheme name → scopes.
type Alternative<'a> = BTreeMap<&'a str, Vec<&'a str>>;

fn alternatives(requirement: Option<&Value>) -> Vec<Alternative<'_>> {
    let Some(Value::Array(list)) = requirement else {
        return Vec::new();
    };
    list.iter()
        .filter_map(Value::as_object)
        .map(|alt| {
            alt.iter()
                .map(|(scheme, scopes)| {
                    let scopes = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    (scheme.as_str(), scopes)
                })
                .collect()
        })
        .collect()
}

fn is_open(alternatives: &[Alternative<'_>]) -> bool {
    alternatives.is_empty() || alternatives.iter().any(BTreeMap::is_empty)
}

fn describe(alternative: &Alternative<'_>) -> String {
    let parts: Vec<String> = alternative
        .iter()
        .map(|(scheme, scopes)| match scopes.as_slice() {
            [] => format!("`{scheme}`"),
            scopes => format!("`{scheme}` ({})", scopes.join(", ")),
        })
        .collect();
    parts.join(" with ")
}

/// Compares two requirement lists in force at `location`.
pub(crate) fn compare_requirements(
    d: &mut Differ<'_>,
    location: &str,
    old: Option<&Value>,
    new: Option<&Value>,
) {
    let (old, new) = (alternatives(old), alternatives(new));
    let either = |alts: &[Alternative<'_>]| {
        let all: Vec<String> = alts.iter().map(describe).collect();
        all.join(" or ")
    };
    match (is_open(&old), is_open(&new)) {
        (true, true) => return,
        (true, false) => {
            let message = format!("Credentials are now required: {}.", either(&new));
            d.push(Rule::SecurityAdded, location.to_owned(), message);
            return;
        }
        (false, true) => {
            let message = format!("Credentials are no longer required (was {}).", either(&old));
            d.push(Rule::SecurityRemoved, location.to_owned(), message);
            return;
        }
        (false, false) => {}
    }
    // Alternatives pair up as written, then by their set of schemes (scopes may differ).
    let mut old_used = vec![false; old.len()];
    let mut new_used = vec![false; new.len()];
    let mut pairs = Vec::new();
    let same_schemes = |a: &Alternative<'_>, b: &Alternative<'_>| a.keys().eq(b.keys());
    for exact in [true, false] {
        for (i, o) in old.iter().enumerate() {
            if old_used[i] {
                continue;
            }
            let found = new
                .iter()
                .enumerate()
                .position(|(j, n)| !new_used[j] && if exact { o == n } else { same_schemes(o, n) });
            if let Some(j) = found {
                old_used[i] = true;
                new_used[j] = true;
                pairs.push((i, j));
            }
        }
    }
    pairs.sort_unstable();
    for (i, j) in pairs {
        for (scheme, old_scopes) in &old[i] {
            let new_scopes = &new[j][scheme];
            let added: Vec<&str> = new_scopes
                .iter()
                .filter(|s| !old_scopes.contains(s))
                .copied()
                .collect();
            let removed: Vec<&str> = old_scopes
                .iter()
                .filter(|s| !new_scopes.contains(s))
                .copied()
                .collect();
            if !added.is_empty() {
                let message = format!("`{scheme}` now also needs scope {}.", list(&added));
                d.push(Rule::SecurityScopeAdded, location.to_owned(), message);
            }
            if !removed.is_empty() {
                let message = format!("`{scheme}` no longer needs scope {}.", list(&removed));
                d.push(Rule::SecurityScopeRemoved, location.to_owned(), message);
            }
        }
    }
    for (o, _) in old.iter().zip(&old_used).filter(|(_, used)| !**used) {
        let message = format!("{} is no longer accepted.", describe(o));
        d.push(
            Rule::SecurityAlternativeRemoved,
            location.to_owned(),
            message,
        );
    }
    for (n, _) in new.iter().zip(&new_used).filter(|(_, used)| !**used) {
        let message = format!("{} is now accepted too.", describe(n));
        d.push(Rule::SecurityAlternativeAdded, location.to_owned(), message);
    }
}

fn schemes(doc: &Value) -> Vec<(&str, &Map<String, Value>)> {
    let Some(schemes) = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    schemes
        .iter()
        .filter_map(|(name, s)| Some((name.as_str(), resolve(doc, s).value.as_object()?)))
        .collect()
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// Compares `components.securitySchemes`.
pub(crate) fn compare_schemes(d: &mut Differ<'_>) {
    let (old, new) = (schemes(d.old), schemes(d.new));
    for (name, o) in &old {
        let at = format!("security scheme `{name}`");
        let Some((_, n)) = new.iter().find(|(k, _)| k == name) else {
            let message = format!("Security scheme `{name}` was removed.");
            d.push(Rule::SecuritySchemeRemoved, at, message);
            continue;
        };
        let lowercase = |m: &Map<String, Value>, key| text(m, key).map(str::to_ascii_lowercase);
        let fields = [
            (
                "type",
                text(o, "type").map(str::to_owned),
                text(n, "type").map(str::to_owned),
            ),
            (
                "in",
                text(o, "in").map(str::to_owned),
                text(n, "in").map(str::to_owned),
            ),
            (
                "name",
                text(o, "name").map(str::to_owned),
                text(n, "name").map(str::to_owned),
            ),
            ("scheme", lowercase(o, "scheme"), lowercase(n, "scheme")),
            (
                "openIdConnectUrl",
                text(o, "openIdConnectUrl").map(str::to_owned),
                text(n, "openIdConnectUrl").map(str::to_owned),
            ),
        ];
        for (field, a, b) in fields {
            if a != b {
                let show = |v: Option<String>| {
                    v.map_or_else(|| "nothing".to_owned(), |v| format!("`{v}`"))
                };
                let message = format!("`{field}` changed from {} to {}.", show(a), show(b));
                d.push(Rule::SecuritySchemeChanged, at.clone(), message);
            }
        }
        flows(d, &at, o.get("flows"), n.get("flows"));
    }
    for (name, _) in new.iter().filter(|(k, _)| !old.iter().any(|(o, _)| o == k)) {
        let message = format!("Security scheme `{name}` was added.");
        d.push(
            Rule::SecuritySchemeAdded,
            format!("security scheme `{name}`"),
            message,
        );
    }
}

fn flows(d: &mut Differ<'_>, at: &str, old: Option<&Value>, new: Option<&Value>) {
    let (Some(old), Some(new)) = (
        old.and_then(Value::as_object),
        new.and_then(Value::as_object),
    ) else {
        return;
    };
    for (kind, o) in old {
        let flow_at = join(at, &format!("flow `{kind}`"));
        let Some(n) = new.get(kind) else {
            let message = format!("The `{kind}` flow was removed.");
            d.push(Rule::SecuritySchemeChanged, flow_at, message);
            continue;
        };
        for url in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
            let (a, b) = (
                o.get(url).and_then(Value::as_str),
                n.get(url).and_then(Value::as_str),
            );
            if a != b && a.is_some() {
                let message = format!(
                    "`{url}` changed from `{}` to `{}`.",
                    a.unwrap_or(""),
                    b.unwrap_or("")
                );
                d.push(Rule::SecuritySchemeChanged, flow_at.clone(), message);
            }
        }
        let scopes = |v: &Value| -> Vec<String> {
            v.get("scopes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect()
        };
        let (os, ns) = (scopes(o), scopes(n));
        let removed: Vec<&String> = os.iter().filter(|s| !ns.contains(s)).collect();
        let added: Vec<&String> = ns.iter().filter(|s| !os.contains(s)).collect();
        if !removed.is_empty() {
            let message = format!("Scope {} is no longer offered.", list(&removed));
            d.push(Rule::SecuritySchemeScopeRemoved, flow_at.clone(), message);
        }
        if !added.is_empty() {
            let message = format!("Scope {} is now offered.", list(&added));
            d.push(Rule::SecuritySchemeScopeAdded, flow_at, message);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::diff;
    use crate::diff::tests::{Case, case, check, doc, op_doc};

    fn global(security: Value) -> Value {
        doc(json!({"/pets": {"get": {}}}), json!({"security": security}))
    }

    fn with_schemes(schemes: Value) -> Value {
        doc(
            json!({"/pets": {"get": {}}}),
            json!({"components": {"securitySchemes": schemes}}),
        )
    }

    fn oauth(scopes: &[&str], token_url: &str) -> Value {
        let scopes: Map<String, Value> = scopes
            .iter()
            .map(|s| ((*s).to_owned(), json!("")))
            .collect();
        json!({"oauth": {"type": "oauth2", "flows": {"clientCredentials": {
            "tokenUrl": token_url, "scopes": scopes
        }}}})
    }

    pub(crate) fn cases() -> Vec<Case> {
        let key = json!({"key": {"type": "apiKey", "in": "header", "name": "X-Key"}});
        let url = "https://auth.example.com/token";
        vec![
            case(
                Rule::SecuritySchemeAdded,
                with_schemes(json!({})),
                with_schemes(key.clone()),
            ),
            case(
                Rule::SecuritySchemeRemoved,
                with_schemes(key.clone()),
                with_schemes(json!({})),
            ),
            case(
                Rule::SecuritySchemeChanged,
                with_schemes(key),
                with_schemes(json!({"key": {"type": "apiKey", "in": "query", "name": "key"}})),
            ),
            case(
                Rule::SecuritySchemeScopeAdded,
                with_schemes(oauth(&["read"], url)),
                with_schemes(oauth(&["read", "write"], url)),
            ),
            case(
                Rule::SecuritySchemeScopeRemoved,
                with_schemes(oauth(&["read", "write"], url)),
                with_schemes(oauth(&["read"], url)),
            ),
            case(
                Rule::SecurityAdded,
                global(json!([])),
                global(json!([{"key": []}])),
            ),
            case(
                Rule::SecurityRemoved,
                global(json!([{"key": []}])),
                global(json!([])),
            ),
            case(
                Rule::SecurityAlternativeAdded,
                global(json!([{"key": []}])),
                global(json!([{"key": []}, {"oauth": []}])),
            ),
            case(
                Rule::SecurityAlternativeRemoved,
                global(json!([{"key": []}, {"oauth": []}])),
                global(json!([{"key": []}])),
            ),
            case(
                Rule::SecurityScopeAdded,
                op_doc(json!({"security": [{"oauth": ["read"]}]})),
                op_doc(json!({"security": [{"oauth": ["read", "write"]}]})),
            ),
            case(
                Rule::SecurityScopeRemoved,
                op_doc(json!({"security": [{"oauth": ["read", "write"]}]})),
                op_doc(json!({"security": [{"oauth": ["read"]}]})),
            ),
        ]
    }

    #[test]
    fn every_security_case_reports_its_rule() {
        check(&cases());
    }

    #[test]
    fn an_operation_overriding_the_global_requirement_is_compared_with_what_it_inherited() {
        let old = global(json!([{"key": []}]));
        let mut new = old.clone();
        new["paths"]["/pets"]["get"]["security"] = json!([]);
        let result = diff(&old, &new).unwrap();
        assert_eq!(result.changes.len(), 1, "{:#?}", result.changes);
        assert_eq!(result.changes[0].rule, Rule::SecurityRemoved);
        assert_eq!(result.changes[0].location, "GET /pets › security");
        // Inherited on both sides: reported once, globally.
        let result = diff(&old, &global(json!([{"other": []}]))).unwrap();
        let locations: Vec<_> = result.changes.iter().map(|c| c.location.as_str()).collect();
        assert_eq!(locations, ["security (global)", "security (global)"]);
    }

    #[test]
    fn an_optional_credential_keeps_the_operation_open() {
        let result = diff(&global(json!([{}])), &global(json!([{}, {"key": []}]))).unwrap();
        assert!(result.is_empty(), "{:#?}", result.changes);
    }

    #[test]
    fn a_changed_token_url_changes_the_scheme() {
        let old = with_schemes(oauth(&["read"], "https://a/token"));
        let new = with_schemes(oauth(&["read"], "https://b/token"));
        let result = diff(&old, &new).unwrap();
        assert_eq!(result.changes.len(), 1);
        assert_eq!(
            result.changes[0].location,
            "security scheme `oauth` › flow `clientCredentials`"
        );
        assert_eq!(
            result.changes[0].message,
            "`tokenUrl` changed from `https://a/token` to `https://b/token`."
        );
    }
}
