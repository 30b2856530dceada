//! `oneOf`/`anyOf`: pairing the alternatives of two unions (a plain schema counts as a union
//! of one) so that each pair is compared and the rest reported as added or removed.
//!
//! Alternatives pair by `$ref` name, then by type; two different names never pair.

use serde_json::Value;

use super::view::View;
use super::{Direction, Found, Schemas, keywords};
use crate::diff::{Resolved, Rule, resolve};

impl<'a> Schemas<'a> {
    /// `oneOf`/`anyOf` on either side (a plain schema counts as one alternative): alternatives
    /// pair up by `$ref` name, then by type; the rest were added or removed.
    pub(super) fn unions(
        &mut self,
        old: Resolved<'a>,
        ov: &View<'a>,
        new: Resolved<'a>,
        nv: &View<'a>,
        dir: Direction,
        out: &mut Vec<Found>,
    ) {
        let (old_kind, old_branches) = branches(self.old, old, ov);
        let (new_kind, new_branches) = branches(self.new, new, nv);
        let kind = new_kind.or(old_kind).unwrap_or("oneOf");
        let mut old_used = vec![false; old_branches.len()];
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut new_used = vec![false; new_branches.len()];
        let mut pair = |by: &dyn Fn(&Branch<'a>, &Branch<'a>) -> bool| {
            for (j, nb) in new_branches.iter().enumerate() {
                if new_used[j] {
                    continue;
                }
                let found =
                    (0..old_branches.len()).find(|&i| !old_used[i] && by(&old_branches[i], nb));
                if let Some(i) = found {
                    old_used[i] = true;
                    new_used[j] = true;
                    pairs.push((i, j));
                }
            }
        };
        pair(&|o, n| o.name.is_some() && o.name == n.name);
        pair(&|o, n| o.name.is_none() && n.name.is_none() && o.types == n.types);
        // An inline alternative may stand for a named one; two names never pair.
        pair(&|o, n| (o.name.is_none() || n.name.is_none()) && o.types == n.types);
        // `nullable` often moves between a union and its alternatives.
        let non_null = |t: Option<u8>| t.map(keywords::without_null);
        pair(&|o, n| {
            (o.name.is_none() || n.name.is_none()) && non_null(o.types) == non_null(n.types)
        });
        pairs.sort_by_key(|&(_, j)| j);
        for (i, j) in pairs {
            let step = match new_branches[j].name {
                Some(name) => format!("{kind}({name})"),
                None => format!("{kind}[{j}]"),
            };
            self.nested(
                &step,
                old_branches[i].value,
                new_branches[j].value,
                dir,
                out,
            );
        }
        let mut found = |rule, message: String| {
            out.push(Found {
                rule,
                path: String::new(),
                message,
                origin: None,
            });
        };
        for (i, b) in old_branches
            .iter()
            .enumerate()
            .filter(|(i, _)| !old_used[*i])
        {
            let (rule, verb) = match dir {
                Direction::Request => (Rule::RequestUnionBranchRemoved, "No longer accepts"),
                Direction::Response => (Rule::ResponseUnionBranchRemoved, "No longer returns"),
            };
            found(rule, format!("{verb} the {} alternative.", b.label(i)));
        }
        for (j, b) in new_branches
            .iter()
            .enumerate()
            .filter(|(j, _)| !new_used[*j])
        {
            let (rule, verb) = match dir {
                Direction::Request => (Rule::RequestUnionBranchAdded, "Accepts"),
                Direction::Response => (Rule::ResponseUnionBranchAdded, "May return"),
            };
            found(rule, format!("{verb} a new {} alternative.", b.label(j)));
        }
    }
}

/// One alternative of a `oneOf`/`anyOf`.
struct Branch<'a> {
    value: &'a Value,
    name: Option<&'a str>,
    types: Option<u8>,
}

impl Branch<'_> {
    fn label(&self, index: usize) -> String {
        match self.name {
            Some(name) => format!("`{name}`"),
            None => format!(
                "#{} (`{}`)",
                index + 1,
                keywords::type_text(self.types, None)
            ),
        }
    }
}

fn branches<'a>(
    doc: &'a Value,
    schema: Resolved<'a>,
    view: &View<'a>,
) -> (Option<&'static str>, Vec<Branch<'a>>) {
    let branch = |value: &'a Value| {
        let r = resolve(doc, value);
        Branch {
            value,
            name: r.name,
            types: View::of(doc, value).types(),
        }
    };
    match view.union() {
        Some((kind, list)) => (Some(kind), list.iter().map(branch).collect()),
        None => (
            None,
            vec![Branch {
                value: schema.value,
                name: schema.name,
                types: view.types(),
            }],
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::diff::Rule;
    use crate::diff::diff;
    use crate::diff::schema::Direction;
    use crate::diff::schema::tests::{body, object, one_change};

    #[test]
    fn union_alternatives_pair_by_reference_name_then_type() {
        let mut old = body(
            Direction::Response,
            json!({"oneOf": [
                {"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}
            ]}),
        );
        old["components"] = json!({"schemas": {
            "Cat": object(json!({"purrs": {"type": "boolean"}}), &["purrs"]),
            "Dog": object(json!({"barks": {"type": "boolean"}}), &[]),
            "Fox": object(json!({"sly": {"type": "boolean"}}), &[]),
        }});
        let mut new = old.clone();
        let schema = "/paths/~1pets/get/responses/200/content/application~1json/schema";
        *new.pointer_mut(schema).unwrap() = json!({"oneOf": [
            {"$ref": "#/components/schemas/Fox"}, {"$ref": "#/components/schemas/Cat"}
        ]});
        new["components"]["schemas"]["Cat"]["required"] = json!([]);
        let result = diff(&old, &new).unwrap();
        let found: Vec<_> = result
            .changes
            .iter()
            .map(|c| {
                (
                    c.rule,
                    c.location.rsplit(" › ").next().unwrap(),
                    c.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    Rule::ResponsePropertyBecameOptional,
                    "oneOf(Cat).purrs",
                    "Property `purrs` became optional."
                ),
                (
                    Rule::ResponseUnionBranchRemoved,
                    "application/json",
                    "No longer returns the `Dog` alternative."
                ),
                (
                    Rule::ResponseUnionBranchAdded,
                    "application/json",
                    "May return a new `Fox` alternative."
                ),
            ]
        );
    }

    #[test]
    fn a_plain_schema_becoming_a_union_keeps_its_alternative() {
        let (rule, _, message) = one_change(
            Direction::Request,
            json!({"type": "string"}),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        );
        assert_eq!(rule, Rule::RequestUnionBranchAdded);
        assert_eq!(message, "Accepts a new #2 (`integer`) alternative.");
    }
}
