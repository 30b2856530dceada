//! The value keywords of a schema: types and formats, enums, bounds and patterns.
//!
//! Each comparison says which way the set of valid values moved (narrowed or widened); the
//! caller turns that into a rule by direction, since narrowing breaks requests and widening
//! breaks responses.

use serde_json::Value;

use super::{Direction, View, values};
use crate::diff::Rule;

const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const OBJECT: u8 = 4;
const ARRAY: u8 = 8;
const NUMBER: u8 = 16;
const INTEGER: u8 = 32;
const STRING: u8 = 64;

/// Type names in the order messages list them.
const NAMES: [(u8, &str); 6] = [
    (INTEGER, "integer"),
    (NUMBER, "number"),
    (STRING, "string"),
    (BOOLEAN, "boolean"),
    (OBJECT, "object"),
    (ARRAY, "array"),
];

/// Formats that accept every value of their type (`binary` is any string of octets).
const HINT_FORMATS: [&str; 2] = ["password", "binary"];

/// Format pairs where the second accepts every value of the first.
const WIDER_FORMATS: [(&str, &str); 3] =
    [("int32", "int64"), ("float", "double"), ("int32", "double")];

/// How the set of accepted values moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tightening {
    /// Fewer values are valid.
    Narrowed,
    /// More values are valid.
    Widened,
    /// Some values became valid and others invalid (a changed pattern).
    Changed,
}

fn type_bit(name: &str) -> u8 {
    match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "object" => OBJECT,
        "array" => ARRAY,
        "number" => NUMBER,
        "integer" => INTEGER,
        "string" => STRING,
        _ => 0,
    }
}

/// `type` (a name or, in 3.1, a list) plus 3.0's `nullable`; inferred from `properties` or
/// `items` when absent. `None` when any type goes.
pub(super) fn types_of(view: &View<'_>) -> Option<u8> {
    let mut bits = match view.get("type") {
        Some(Value::String(name)) => type_bit(name),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .fold(0, |bits, name| bits | type_bit(name)),
        _ if view.get("properties").is_some() => OBJECT,
        _ if view.get("items").is_some() => ARRAY,
        _ => 0,
    };
    if bits == 0 {
        return None;
    }
    if view.flag("nullable") {
        bits |= NULL;
    }
    Some(bits)
}

/// `integer/int32`, `string|null`, `any type`.
pub(super) fn type_text(types: Option<u8>, format: Option<&str>) -> String {
    let Some(bits) = types else {
        return match format {
            Some(format) => format!("any type/{format}"),
            None => "any type".to_owned(),
        };
    };
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    let mut text = names.join("|");
    if let Some(format) = format {
        text = format!("{text}/{format}");
    }
    if bits & NULL != 0 {
        text = if text.is_empty() {
            "null".into()
        } else {
            format!("{text}|null")
        };
    }
    text
}

/// Whether every value valid for `narrow` is valid for `wide`.
fn accepts(wide: (Option<u8>, Option<&str>), narrow: (Option<u8>, Option<&str>)) -> bool {
    let Some(wide_types) = wide.0 else {
        return true;
    };
    let Some(narrow_types) = narrow.0 else {
        return false;
    };
    let mut missing = narrow_types & !wide_types;
    if wide_types & NUMBER != 0 {
        missing &= !INTEGER;
    }
    if missing != 0 {
        return false;
    }
    match (wide.1.filter(|f| !HINT_FORMATS.contains(f)), narrow.1) {
        (None, _) => true,
        (Some(w), Some(n)) => w == n || WIDER_FORMATS.contains(&(n, w)),
        (Some(_), None) => false,
    }
}

/// The types less `null`.
pub(super) fn without_null(types: u8) -> u8 {
    types & !NULL
}

/// Whether some value has both types (any type overlaps everything).
pub(super) fn overlap(a: Option<u8>, b: Option<u8>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    let widen = |t: u8| if t & NUMBER != 0 { t | INTEGER } else { t };
    (widen(a) & b) != 0 || (a & widen(b)) != 0
}

/// Type and format: what no longer fits, or what now fits.
pub(super) fn types(old: &View<'_>, new: &View<'_>, dir: Direction, out: &mut Vec<(Rule, String)>) {
    let o = (old.types(), old.get("format").and_then(Value::as_str));
    let n = (new.types(), new.get("format").and_then(Value::as_str));
    if o == n {
        return;
    }
    let (new_takes_old, old_takes_new) = (accepts(n, o), accepts(o, n));
    if new_takes_old && old_takes_new {
        return;
    }
    let nullability_only =
        o.1 == n.1 && matches!((o.0, n.0), (Some(a), Some(b)) if (a ^ b) == NULL);
    let gained_null = n.0.is_some_and(|b| b & NULL != 0);
    let message = match (nullability_only, dir, gained_null) {
        (true, Direction::Request, true) => "Now accepts `null`.".to_owned(),
        (true, Direction::Request, false) => "No longer accepts `null`.".to_owned(),
        (true, Direction::Response, true) => "May now be `null`.".to_owned(),
        (true, Direction::Response, false) => "Is no longer `null`.".to_owned(),
        (false, ..) => format!(
            "Type changed from `{}` to `{}`.",
            type_text(o.0, o.1),
            type_text(n.0, n.1)
        ),
    };
    let rule = match dir {
        Direction::Request if new_takes_old => Rule::RequestTypeWidened,
        Direction::Request => Rule::RequestTypeChanged,
        Direction::Response if old_takes_new => Rule::ResponseTypeNarrowed,
        Direction::Response => Rule::ResponseTypeChanged,
    };
    out.push((rule, message));
}

/// `enum`, or 3.1's `const` as a one-value enum.
fn enum_values<'a>(view: &View<'a>) -> Option<Vec<&'a Value>> {
    if let Some(Value::Array(values)) = view.get("enum") {
        return Some(values.iter().collect());
    }
    view.get("const").map(|value| vec![value])
}

/// Enum values removed and added, or an enum appearing or going.
pub(super) fn enumeration(
    old: &View<'_>,
    new: &View<'_>,
    dir: Direction,
    out: &mut Vec<(Rule, String)>,
) {
    let request = dir == Direction::Request;
    match (enum_values(old), enum_values(new)) {
        (None, None) => {}
        (None, Some(n)) => {
            let (rule, verb) = if request {
                (Rule::RequestEnumAdded, "Now accepts only")
            } else {
                (Rule::ResponseEnumAdded, "Now limited to")
            };
            out.push((rule, format!("{verb} {}.", values(&n))));
        }
        (Some(o), None) => {
            let (rule, message) = if request {
                (
                    Rule::RequestEnumRemoved,
                    "Accepts any value, no longer only",
                )
            } else {
                (
                    Rule::ResponseEnumRemoved,
                    "May be any value, no longer only",
                )
            };
            out.push((rule, format!("{message} {}.", values(&o))));
        }
        (Some(o), Some(n)) => {
            let removed: Vec<&Value> = o.iter().filter(|v| !n.contains(v)).copied().collect();
            let added: Vec<&Value> = n.iter().filter(|v| !o.contains(v)).copied().collect();
            if !removed.is_empty() {
                let (rule, verb) = if request {
                    (Rule::RequestEnumValueRemoved, "No longer accepts")
                } else {
                    (Rule::ResponseEnumValueRemoved, "No longer returns")
                };
                out.push((rule, format!("{verb} {}.", values(&removed))));
            }
            if !added.is_empty() {
                let (rule, verb) = if request {
                    (Rule::RequestEnumValueAdded, "Now also accepts")
                } else {
                    (Rule::ResponseEnumValueAdded, "May now also be")
                };
                out.push((rule, format!("{verb} {}.", values(&added))));
            }
        }
    }
}

/// A numeric bound: its value, whether it is exclusive, and the value as written.
#[derive(Clone, Copy)]
struct Bound<'a> {
    value: f64,
    exclusive: bool,
    raw: &'a Value,
}

impl std::fmt::Display for Bound<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.raw)?;
        if self.exclusive {
            f.write_str(" (exclusive)")?;
        }
        Ok(())
    }
}

/// `minimum`/`maximum` with 3.0's boolean or 3.1's numeric `exclusive*`; plain counts otherwise.
fn bound<'a>(
    view: &View<'a>,
    keyword: &str,
    exclusive: Option<&str>,
    lower: bool,
) -> Option<Bound<'a>> {
    let excl = exclusive.and_then(|k| view.get(k));
    let plain = view.get(keyword).and_then(|raw| {
        Some(Bound {
            value: raw.as_f64()?,
            exclusive: excl.and_then(Value::as_bool) == Some(true),
            raw,
        })
    });
    let numeric_exclusive = excl.filter(|v| v.is_number()).and_then(|raw| {
        Some(Bound {
            value: raw.as_f64()?,
            exclusive: true,
            raw,
        })
    });
    match (plain, numeric_exclusive) {
        (Some(a), Some(b)) => Some(if tighter(b, a, lower) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Whether bound `a` admits fewer values than `b`.
fn tighter(a: Bound<'_>, b: Bound<'_>, lower: bool) -> bool {
    let further = if lower {
        a.value > b.value
    } else {
        a.value < b.value
    };
    further || (a.value == b.value && a.exclusive && !b.exclusive)
}

fn compare_bound(
    keyword: &str,
    old: Option<Bound<'_>>,
    new: Option<Bound<'_>>,
    lower: bool,
) -> Option<(Tightening, String)> {
    match (old, new) {
        (None, None) => None,
        (None, Some(n)) => Some((Tightening::Narrowed, format!("`{keyword}` {n} was added."))),
        (Some(o), None) => Some((Tightening::Widened, format!("`{keyword}` {o} was removed."))),
        (Some(o), Some(n)) => {
            let verb = if n.value > o.value {
                "raised"
            } else {
                "lowered"
            };
            let message = format!("`{keyword}` {verb} from {o} to {n}.");
            if tighter(n, o, lower) {
                Some((Tightening::Narrowed, message))
            } else if tighter(o, n, lower) {
                Some((Tightening::Widened, message))
            } else {
                None
            }
        }
    }
}

/// Bounds, lengths, counts, `multipleOf`, `pattern`, `uniqueItems`, `additionalProperties: false`.
pub(super) fn constraints(old: &View<'_>, new: &View<'_>) -> Vec<(Tightening, String)> {
    let mut out = Vec::new();
    let bounds = [
        ("minimum", Some("exclusiveMinimum"), true),
        ("maximum", Some("exclusiveMaximum"), false),
        ("minLength", None, true),
        ("maxLength", None, false),
        ("minItems", None, true),
        ("maxItems", None, false),
        ("minProperties", None, true),
        ("maxProperties", None, false),
    ];
    for (keyword, exclusive, lower) in bounds {
        let o = bound(old, keyword, exclusive, lower);
        let n = bound(new, keyword, exclusive, lower);
        out.extend(compare_bound(keyword, o, n, lower));
    }

    let multiple = |view: &View<'_>| view.get("multipleOf").and_then(Value::as_f64);
    match (multiple(old), multiple(new)) {
        (Some(o), Some(n)) if o != n => {
            let whole = |x: f64| (x - x.round()).abs() < 1e-9;
            let tightening = if whole(n / o) {
                Tightening::Narrowed
            } else if whole(o / n) {
                Tightening::Widened
            } else {
                Tightening::Changed
            };
            out.push((tightening, format!("`multipleOf` changed from {o} to {n}.")));
        }
        (None, Some(n)) => out.push((Tightening::Narrowed, format!("`multipleOf` {n} was added."))),
        (Some(o), None) => out.push((
            Tightening::Widened,
            format!("`multipleOf` {o} was removed."),
        )),
        _ => {}
    }

    let pattern = |view: &View<'_>| {
        view.get("pattern")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (pattern(old), pattern(new)) {
        (Some(o), Some(n)) if o != n => out.push((
            Tightening::Changed,
            format!("`pattern` changed from `{o}` to `{n}`."),
        )),
        (None, Some(n)) => out.push((Tightening::Narrowed, format!("`pattern` `{n}` was added."))),
        (Some(o), None) => out.push((Tightening::Widened, format!("`pattern` `{o}` was removed."))),
        _ => {}
    }

    match (old.flag("uniqueItems"), new.flag("uniqueItems")) {
        (false, true) => out.push((Tightening::Narrowed, "Items must now be unique.".into())),
        (true, false) => out.push((
            Tightening::Widened,
            "Items no longer need to be unique.".into(),
        )),
        _ => {}
    }

    let closed = |view: &View<'_>| view.get("additionalProperties") == Some(&Value::Bool(false));
    match (closed(old), closed(new)) {
        (false, true) => out.push((
            Tightening::Narrowed,
            "`additionalProperties: false` was added: unknown properties are refused.".into(),
        )),
        (true, false) => out.push((
            Tightening::Widened,
            "`additionalProperties: false` was removed: unknown properties are allowed.".into(),
        )),
        _ => {}
    }
    out
}

/// A JSON value for a message: strings as written, others as JSON, long ones cut.
pub(crate) fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::schema::tests::one_change;

    fn view(doc: &Value) -> View<'_> {
        View::of(doc, doc)
    }

    #[test]
    fn integer_fits_in_number_but_not_the_reverse() {
        let int = (Some(INTEGER), None);
        let num = (Some(NUMBER), None);
        assert!(accepts(num, int));
        assert!(!accepts(int, num));
        assert!(accepts((None, None), num), "any type accepts everything");
        assert!(!accepts(num, (None, None)));
        assert!(accepts(
            (Some(STRING), Some("password")),
            (Some(STRING), None)
        ));
    }

    #[test]
    fn types_read_3_0_nullable_3_1_lists_and_inference() {
        assert_eq!(
            view(&json!({"type": "string", "nullable": true})).types(),
            Some(STRING | NULL)
        );
        assert_eq!(
            view(&json!({"type": ["integer", "null"]})).types(),
            Some(INTEGER | NULL)
        );
        assert_eq!(view(&json!({"properties": {}})).types(), Some(OBJECT));
        assert_eq!(view(&json!({"description": "anything"})).types(), None);
        assert_eq!(
            type_text(Some(STRING | NULL), Some("date")),
            "string/date|null"
        );
    }

    #[test]
    fn exclusive_bounds_of_3_0_and_3_1_compare_alike() {
        let old = json!({"minimum": 5});
        let v30 = json!({"minimum": 5, "exclusiveMinimum": true});
        let v31 = json!({"exclusiveMinimum": 5});
        for new in [&v30, &v31] {
            let found = constraints(&view(&old), &view(new));
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, Tightening::Narrowed);
        }
        assert!(constraints(&view(&v30), &view(&v31)).is_empty());
        let found = constraints(
            &view(&json!({"maximum": 10})),
            &view(&json!({"maximum": 20})),
        );
        assert_eq!(
            found,
            [(
                Tightening::Widened,
                "`maximum` raised from 10 to 20.".to_owned()
            )]
        );
    }

    #[test]
    fn multiples_patterns_and_closed_objects_move_the_right_way() {
        let m = |x: f64| json!({"multipleOf": x});
        let kinds = |a: &Value, b: &Value| -> Vec<Tightening> {
            constraints(&view(a), &view(b))
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(kinds(&m(2.0), &m(4.0)), [Tightening::Narrowed]);
        assert_eq!(kinds(&m(0.1), &m(0.01)), [Tightening::Widened]);
        assert_eq!(kinds(&m(2.0), &m(3.0)), [Tightening::Changed]);
        assert_eq!(
            kinds(&json!({"pattern": "a"}), &json!({"pattern": "b"})),
            [Tightening::Changed]
        );
        assert_eq!(
            kinds(
                &json!({"type": "object"}),
                &json!({"type": "object", "additionalProperties": false})
            ),
            [Tightening::Narrowed]
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(show(&json!("short")), "short");
        assert_eq!(show(&json!(3)), "3");
        assert!(show(&json!("x".repeat(100))).ends_with("..."));
    }

    #[test]
    fn nullability_is_a_type_change_described_as_such() {
        let nullable = json!({"type": "string", "nullable": true});
        let (rule, _, message) = one_change(
            Direction::Response,
            json!({"type": "string"}),
            nullable.clone(),
        );
        assert_eq!(
            (rule, message.as_str()),
            (Rule::ResponseTypeChanged, "May now be `null`.")
        );
        let (rule, _, message) =
            one_change(Direction::Request, nullable, json!({"type": "string"}));
        assert_eq!(
            (rule, message.as_str()),
            (Rule::RequestTypeChanged, "No longer accepts `null`.")
        );
        // 3.1 spelling of the same thing.
        let (rule, _, _) = one_change(
            Direction::Request,
            json!({"type": "string"}),
            json!({"type": ["string", "null"]}),
        );
        assert_eq!(rule, Rule::RequestTypeWidened);
    }

    #[test]
    fn formats_narrow_and_widen_with_the_type() {
        let t = |t: &str, f: &str| json!({"type": t, "format": f});
        let (rule, _, message) = one_change(
            Direction::Request,
            json!({"type": "number"}),
            t("integer", "int32"),
        );
        assert_eq!(rule, Rule::RequestTypeChanged);
        assert_eq!(message, "Type changed from `number` to `integer/int32`.");
        let (rule, _, _) = one_change(
            Direction::Request,
            t("integer", "int32"),
            t("integer", "int64"),
        );
        assert_eq!(rule, Rule::RequestTypeWidened);
        let (rule, _, _) = one_change(
            Direction::Response,
            t("integer", "int32"),
            t("integer", "int64"),
        );
        assert_eq!(rule, Rule::ResponseTypeChanged);
        let (rule, _, _) = one_change(
            Direction::Request,
            t("string", "date"),
            t("string", "date-time"),
        );
        assert_eq!(rule, Rule::RequestTypeChanged);
    }
}
