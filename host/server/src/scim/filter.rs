//! The RFC 7644 §3.4.2.2 filter language: parsed into a [`Filter`] tree and
//! evaluated against a resource's JSON, so lists (`?filter=`) and PATCH paths
//! (`members[value eq "..."]`) share one grammar. Attribute names match
//! whatever their case; string values too, except ids (`caseExact`).

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// `path op value`.
    Compare(AttrPath, Op, Value),
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some value of a multi-valued attribute matches.
    Within(String, Box<Filter>),
}

/// `name` or `name.sub`, any schema URN prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttrPath {
    /// The attribute.
    pub(crate) attr: String,
    /// Its sub-attribute.
    pub(crate) sub: Option<String>,
}

impl AttrPath {
    /// Reads `[urn:...:]attr[.sub]`.
    pub(crate) fn parse(text: &str) -> Result<AttrPath, String> {
        // A URN prefix ends at the last colon; core and extension URNs alike.
        let local = text.rsplit(':').next().unwrap_or(text);
        let (attr, sub) = match local.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (local, None),
        };
        let valid = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return Err(format!("`{text}` is not an attribute path"));
        }
        Ok(AttrPath {
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string, escapes and all.
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or("a string is not closed")?;
                let s: String = serde_json::from_str(&text[start..=end])
                    .map_err(|_| format!("{} is not a valid string", &text[start..=end]))?;
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), String> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            self.at += 1;
            self.expect(Token::Open, "`(` after `not`")?;
            let inner = self.or()?;
            self.expect(Token::Close, "`)`")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(path)) => self.attribute(&path),
            _ => Err("expected an attribute, `not` or `(`".into()),
        }
    }

    fn attribute(&mut self, path: &str) -> Result<Filter, String> {
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let AttrPath { attr, sub: None } = AttrPath::parse(path)? else {
                return Err(format!(
                    "`{path}[`: a value filter follows a plain attribute"
                ));
            };
            let inner = self.or()?;
            self.expect(Token::CloseBracket, "`]`")?;
            return Ok(Filter::Within(attr, Box::new(inner)));
        }
        let path = AttrPath::parse(path)?;
        let Some(Token::Word(op)) = self.next() else {
            return Err(format!("expected an operator after `{}`", path.attr));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = Op::parse(&op).ok_or_else(|| format!("`{op}` is not an operator"))?;
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                number => serde_json::from_str::<serde_json::Number>(number)
                    .map(Value::Number)
                    .map_err(|_| format!("`{number}` is not a value (quote strings)"))?,
            },
            _ => return Err("expected a value after the operator".into()),
        };
        if op.is_ordering() && !(value.is_string() || value.is_number()) {
            return Err("gt, ge, lt and le compare strings, dates and numbers only".into());
        }
        Ok(Filter::Compare(path, op, value))
    }
}

impl Filter {
    /// Parses a filter; the error says what is wrong, for an `invalidFilter` answer.
    pub(crate) fn parse(text: &str) -> Result<Filter, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        if parser.tokens.is_empty() {
            return Err("the filter is empty".into());
        }
        let filter = parser.or()?;
        if parser.at < parser.tokens.len() {
            return Err("unexpected text after the filter".into());
        }
        Ok(filter)
    }

    /// Whether `resource` (a JSON object) matches.
    pub(crate) fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(a) => !a.matches(resource),
            Filter::Present(path) => values(resource, path).iter().any(|v| is_present(v)),
            Filter::Compare(path, op, expected) => {
                let exact = case_exact(path);
                let found = values(resource, path);
                if *op == Op::Ne {
                    return !found.iter().any(|v| compare(v, Op::Eq, expected, exact));
                }
                if expected.is_null() {
                    return *op == Op::Eq && !found.iter().any(|v| is_present(v));
                }
                found.iter().any(|v| compare(v, *op, expected, exact))
            }
            Filter::Within(attr, inner) => match get(resource, attr) {
                Some(Value::Array(items)) => items.iter().any(|item| inner.matches(item)),
                Some(item @ Value::Object(_)) => inner.matches(item),
                _ => false,
            },
        }
    }
}

/// A key of a JSON object, whatever its case.
pub(crate) fn get<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The values a path names: every value of a multi-valued attribute, and of a
/// multi-valued complex attribute without a sub-attribute, each `value`.
pub(crate) fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = get(resource, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| match (&path.sub, item) {
            (Some(sub), _) => get(item, sub),
            (None, Value::Object(_)) if top.is_array() => get(item, "value"),
            (None, _) => Some(item),
        })
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        })
        .collect()
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Ids and external ids compare exactly; every other string ignores case.
fn case_exact(path: &AttrPath) -> bool {
    let name = path.sub.as_deref().unwrap_or(&path.attr);
    ["id", "externalId", "value", "$ref"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
        && !path.attr.eq_ignore_ascii_case("emails")
}

fn compare(found: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    match (found, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ada() -> Value {
        json!({
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "ada@example.com",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"value": "ada@work.example", "type": "work", "primary": true},
                {"value": "ada@home.example", "type": "home"}
            ],
            "meta": {"lastModified": "2026-01-02T03:04:05.000Z"}
        })
    }

    fn check(filter: &str) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(&ada())
    }

    #[test]
    fn scim_filter_comparisons_ignore_case_of_names_and_values_but_not_of_ids() {
        assert!(check(r#"userName eq "ADA@example.com""#));
        assert!(check(r#"USERNAME Eq "ada@example.com""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ada""#
        ));
        assert!(check(r#"name.familyName co "love""#));
        assert!(check(r#"userName ew ".COM""#));
        assert!(check(r#"userName ne "grace""#));
        assert!(!check(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
        assert!(check(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
        assert!(check("active eq true") && !check("active eq false"));
        assert!(check(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(check(r#"meta.lastModified le "2026-01-02T03:04:05.000Z""#));
        assert!(check("name.givenName pr") && !check("nickName pr"));
        assert!(check(r#"emails co "home.example""#));
    }

    #[test]
    fn scim_filter_logic_value_paths_and_precedence() {
        assert!(check(r#"emails[type eq "work" and value co "@work"]"#));
        assert!(!check(r#"emails[type eq "work" and value co "@home"]"#));
        assert!(check(r#"emails[type eq "work"] and not (userName eq "x")"#));
        assert!(check(
            r#"userName eq "x" or userName eq "y" or active eq true"#
        ));
        // `and` binds tighter than `or`.
        assert!(check(
            r#"active eq true or userName eq "x" and userName eq "y""#
        ));
        assert!(!check(
            r#"(active eq true or userName eq "x") and userName eq "y""#
        ));
        assert!(check(r#"emails.type eq "home""#));
        assert!(check(
            r#"userName eq "ada@example.com" and name.givenName eq "ada""#
        ));
    }

    #[test]
    fn scim_filter_errors_say_what_is_wrong() {
        for bad in [
            "",
            "userName",
            r#"userName xx "a""#,
            r#"userName eq ada"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" extra"#,
            "active gt true",
            r#"not userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"userName eq "unterminated"#,
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parses");
        }
        let err = Filter::parse(r#"userName xx "a""#).unwrap_err();
        assert!(err.contains("xx"), "{err}");
    }
}
