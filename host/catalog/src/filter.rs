//! Backstage-style entity filters and sort orders, and the SQL they become.
//!
//! `filter=kind=api,spec.type=openapi` matches entities with both; repeating
//! `filter` ORs the groups; a key without `=` asks that the field exists.
//! Keys and values compare case-insensitively.

use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};

use crate::audience::Audience;
use crate::store::CatalogError;

/// One `key=value[,value...]` test; no values means "the field exists".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Lowercased dotted field path (`spec.type`, `relations.ownedby`).
    pub key: String,
    /// Lowercased accepted values (any matches).
    pub values: Vec<String>,
}

/// A filter: any of several groups, each requiring all its conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityFilter {
    /// The OR'd groups; none means every entity.
    pub any_of: Vec<Vec<Condition>>,
    raw: Vec<String>,
    /// Who reads: entities they may not see never match.
    pub audience: Audience,
}

impl EntityFilter {
    /// Parses `filter` query parameters.
    pub fn parse<S: AsRef<str>>(params: &[S]) -> Result<EntityFilter, CatalogError> {
        let mut any_of = Vec::new();
        let mut raw = Vec::new();
        for param in params {
            let param = param.as_ref();
            let mut group: Vec<Condition> = Vec::new();
            for part in param.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (key, value) = match part.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (part, None),
                };
                if key.is_empty() {
                    return Err(CatalogError::Invalid(format!(
                        "filter \"{param}\" has an empty key"
                    )));
                }
                let key = key.to_lowercase();
                let existing = group.iter_mut().find(|c| c.key == key);
                match (existing, value) {
                    (Some(c), Some(v)) => c.values.push(v.to_lowercase()),
                    (Some(_), None) => {}
                    (None, v) => group.push(Condition {
                        key,
                        values: v.map(str::to_lowercase).into_iter().collect(),
                    }),
                }
            }
            if !group.is_empty() {
                any_of.push(group);
                raw.push(param.to_owned());
            }
        }
        Ok(EntityFilter {
            any_of,
            raw,
            audience: Audience::default(),
        })
    }

    /// A filter of one group.
    pub fn all_of(conditions: Vec<Condition>) -> EntityFilter {
        EntityFilter {
            raw: vec![
                conditions
                    .iter()
                    .flat_map(|c| {
                        if c.values.is_empty() {
                            vec![c.key.clone()]
                        } else {
                            c.values.iter().map(|v| format!("{}={v}", c.key)).collect()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ],
            any_of: vec![conditions],
            audience: Audience::default(),
        }
    }

    /// The same filter, for this reader.
    pub fn visible_to(self, audience: Audience) -> EntityFilter {
        EntityFilter { audience, ..self }
    }

    /// The parameters it was parsed from (for cursors).
    pub(crate) fn raw(&self) -> &[String] {
        &self.raw
    }

    /// A SQL boolean over `entities e`: the conditions and the audience.
    pub(crate) fn to_sql(&self, params: &mut Vec<SqlValue>) -> String {
        let conditions = self.conditions_sql(params);
        let audience = self.audience.to_sql("e.id", params);
        format!("{conditions} AND {audience}")
    }

    /// The conditions alone (`1` when there are none).
    pub(crate) fn conditions_sql(&self, params: &mut Vec<SqlValue>) -> String {
        if self.any_of.is_empty() {
            return "1".into();
        }
        let groups: Vec<String> = self
            .any_of
            .iter()
            .map(|group| {
                let conds: Vec<String> = group.iter().map(|c| condition_sql(c, params)).collect();
                format!("({})", conds.join(" AND "))
            })
            .collect();
        format!("({})", groups.join(" OR "))
    }
}

fn placeholders(values: &[String], params: &mut Vec<SqlValue>) -> String {
    let marks: Vec<&str> = values
        .iter()
        .map(|v| {
            params.push(SqlValue::Text(v.clone()));
            "?"
        })
        .collect();
    marks.join(",")
}

fn condition_sql(c: &Condition, params: &mut Vec<SqlValue>) -> String {
    if c.key == "kind" && !c.values.is_empty() {
        return format!("e.kind IN ({})", placeholders(&c.values, params));
    }
    if c.key == "metadata.namespace" && !c.values.is_empty() {
        return format!("e.namespace IN ({})", placeholders(&c.values, params));
    }
    if let Some(relation) = c.key.strip_prefix("relations.") {
        params.push(SqlValue::Text(relation.to_owned()));
        return if c.values.is_empty() {
            "EXISTS (SELECT 1 FROM entity_relations r WHERE r.source_key = e.ref_key AND r.type_key = ?)"
                .into()
        } else {
            format!(
                "e.ref_key IN (SELECT source_key FROM entity_relations WHERE type_key = ? AND target_key IN ({}))",
                placeholders(&c.values, params)
            )
        };
    }
    params.push(SqlValue::Text(c.key.clone()));
    if c.values.is_empty() {
        "e.id IN (SELECT entity_id FROM entity_search WHERE key = ?)".into()
    } else {
        format!(
            "e.id IN (SELECT entity_id FROM entity_search WHERE key = ? AND value IN ({}))",
            placeholders(&c.values, params)
        )
    }
}

/// A sort order: `asc:metadata.name` or `desc:spec.type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Lowercased dotted field path.
    pub field: String,
    /// Largest first.
    pub descending: bool,
}

impl Order {
    /// Parses `asc:field` / `desc:field` (`/entities?order=`), `field,asc` /
    /// `field,desc` (`/entities/by-query?orderField=`) or a bare field
    /// (ascending).
    pub fn parse(text: &str) -> Result<Order, CatalogError> {
        let (dir, field) = match text.split_once(',') {
            Some((field, dir)) => (dir, field),
            None => text.split_once(':').unwrap_or(("asc", text)),
        };
        let descending = match dir.trim().to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(CatalogError::Invalid(format!(
                    "order \"{text}\": direction \"{other}\" is not asc or desc"
                )));
            }
        };
        let field = field.trim().to_lowercase();
        if field.is_empty() {
            return Err(CatalogError::Invalid(format!(
                "order \"{text}\" names no field"
            )));
        }
        Ok(Order { field, descending })
    }

    /// The SQL sort value for `entities e`, with missing values sorting last.
    pub(crate) fn sort_sql(order: Option<&Order>, params: &mut Vec<SqlValue>) -> String {
        let Some(order) = order else {
            return "e.ref_key".into();
        };
        let expr = match order.field.as_str() {
            "kind" => "e.kind".to_owned(),
            "metadata.namespace" => "e.namespace".to_owned(),
            "metadata.name" => "lower(e.name)".to_owned(),
            field => {
                params.push(SqlValue::Text(field.to_owned()));
                "(SELECT min(s.value) FROM entity_search s WHERE s.entity_id = e.id AND s.key = ?)"
                    .to_owned()
            }
        };
        let missing = if order.descending {
            "''"
        } else {
            "char(1114111)"
        };
        format!("coalesce({expr}, {missing})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_within_and_or_across_params() {
        let f = EntityFilter::parse(&["Kind=API,spec.type=OpenAPI", "kind=component,kind=system"])
            .unwrap();
        assert_eq!(f.any_of.len(), 2);
        assert_eq!(
            f.any_of[0],
            [
                Condition {
                    key: "kind".into(),
                    values: vec!["api".into()]
                },
                Condition {
                    key: "spec.type".into(),
                    values: vec!["openapi".into()]
                },
            ]
        );
        assert_eq!(f.any_of[1][0].values, ["component", "system"]);
        let mut params = Vec::new();
        let sql = f.to_sql(&mut params);
        assert!(sql.contains(" OR "), "{sql}");
        // Five values, and the annotation key that hides private entities.
        assert_eq!(params.len(), 6);
        let mut params = Vec::new();
        f.visible_to(Audience::member()).to_sql(&mut params);
        assert_eq!(params.len(), 5);
    }

    #[test]
    fn bare_keys_test_existence_and_empty_keys_are_refused() {
        let f = EntityFilter::parse(&["metadata.annotations.backstage.io/techdocs-ref"]).unwrap();
        assert!(f.any_of[0][0].values.is_empty());
        assert!(EntityFilter::parse(&["=x"]).is_err());
        assert_eq!(EntityFilter::parse(&[""]).unwrap(), EntityFilter::default());
    }

    #[test]
    fn orders_parse_direction_and_field() {
        assert_eq!(
            Order::parse("desc:Metadata.Name").unwrap(),
            Order {
                field: "metadata.name".into(),
                descending: true
            }
        );
        assert!(!Order::parse("spec.type").unwrap().descending);
        assert_eq!(
            Order::parse("metadata.name,desc").unwrap(),
            Order::parse("desc:metadata.name").unwrap()
        );
        assert!(Order::parse("up:x").is_err());
        assert!(Order::parse("asc:").is_err());
    }
}
