//! Who may see an entity. One portal serves three audiences at once, chosen
//! per entity by its `portico.dev/visibility` annotation:
//!
//! - `public` (or no annotation): whoever may read the catalogue;
//! - `internal`: members of the organisation;
//! - `partner`: members, and the groups its `portico.dev/partner-groups`
//!   annotation names (comma-separated).
//!
//! An unknown value hides the entity from everyone but members (the
//! validator refuses such entities; this is the backstop). Reads filter in
//! SQL, so pages, totals and facets only ever count what the reader may see.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;

/// The annotation that sets an entity's audience.
pub const VISIBILITY: &str = "portico.dev/visibility";
/// The annotation naming the partner groups granted a `partner` entity.
pub const PARTNER_GROUPS: &str = "portico.dev/partner-groups";
/// The values [`VISIBILITY`] takes.
pub const VISIBILITIES: &[&str] = &["public", "internal", "partner"];

/// Who reads: an organisation member sees everything; anyone else sees
/// public entities and the partner entities granted to one of their groups.
///
/// The default is the narrowest reader (public entities only), so a read
/// that forgets to say who asks shows nothing private.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Audience {
    /// Whether the reader belongs to the organisation.
    pub member: bool,
    /// The reader's groups, lower-cased.
    pub groups: Vec<String>,
}

impl Audience {
    /// A member of the organisation (and the portal itself): sees everything.
    pub fn member() -> Audience {
        Audience {
            member: true,
            groups: Vec::new(),
        }
    }

    /// Someone outside the organisation, in these groups.
    pub fn outsider<S: AsRef<str>>(groups: impl IntoIterator<Item = S>) -> Audience {
        let mut groups: Vec<String> = groups
            .into_iter()
            .map(|g| g.as_ref().trim().to_lowercase())
            .filter(|g| !g.is_empty() && !g.contains(','))
            .collect();
        groups.sort();
        groups.dedup();
        Audience {
            member: false,
            groups,
        }
    }

    /// Whether an entity with these annotations is visible to this reader.
    pub fn sees(&self, annotations: &BTreeMap<String, String>) -> bool {
        if self.member {
            return true;
        }
        let visibility = annotations
            .get(VISIBILITY)
            .map_or("public".into(), |v| v.trim().to_lowercase());
        match visibility.as_str() {
            "public" => true,
            "partner" => annotations.get(PARTNER_GROUPS).is_some_and(|granted| {
                granted
                    .split(',')
                    .map(|g| g.trim().to_lowercase())
                    .any(|g| self.groups.contains(&g))
            }),
            _ => false,
        }
    }

    /// A SQL boolean: the entity whose id is `id` is visible (`1` for members).
    /// Matches [`Audience::sees`] over the search rows, which hold annotation
    /// values lower-cased.
    pub(crate) fn to_sql(&self, id: &str, params: &mut Vec<SqlValue>) -> String {
        if self.member {
            return "1".into();
        }
        params.push(SqlValue::Text(format!("metadata.annotations.{VISIBILITY}")));
        let mut hidden = String::from(
            "SELECT v.entity_id FROM entity_search v WHERE v.key = ? AND trim(v.value) <> 'public'",
        );
        if !self.groups.is_empty() {
            params.push(SqlValue::Text(format!(
                "metadata.annotations.{PARTNER_GROUPS}"
            )));
            let likes: Vec<&str> = self
                .groups
                .iter()
                .map(|g| {
                    params.push(SqlValue::Text(format!(",{g},")));
                    "instr(',' || replace(g.value, ' ', '') || ',', ?) > 0"
                })
                .collect();
            hidden.push_str(&format!(
                " AND NOT (trim(v.value) = 'partner' AND EXISTS (SELECT 1 FROM entity_search g
                 WHERE g.entity_id = v.entity_id AND g.key = ? AND ({})))",
                likes.join(" OR ")
            ));
        }
        format!("{id} NOT IN ({hidden})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotated(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn members_see_everything_and_outsiders_what_is_public_or_granted() {
        let internal = annotated(&[(VISIBILITY, "internal")]);
        let partner = annotated(&[(VISIBILITY, "Partner"), (PARTNER_GROUPS, "acme, Globex")]);
        let unknown = annotated(&[(VISIBILITY, "secret")]);
        let member = Audience::member();
        assert!(
            [&internal, &partner, &unknown]
                .iter()
                .all(|a| member.sees(a))
        );

        let anyone = Audience::default();
        assert!(anyone.sees(&BTreeMap::new()));
        assert!(anyone.sees(&annotated(&[(VISIBILITY, "public")])));
        assert!(!anyone.sees(&internal) && !anyone.sees(&partner) && !anyone.sees(&unknown));

        let globex = Audience::outsider(["GLOBEX"]);
        assert!(globex.sees(&partner));
        assert!(!globex.sees(&internal));
        assert!(!Audience::outsider(["initech"]).sees(&partner));
        // A group name cannot smuggle a comma into the match.
        assert!(Audience::outsider(["acme,globex"]).groups.is_empty());
    }
}
