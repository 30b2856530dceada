//! Entity references, `[kind:][namespace/]name`, as Backstage writes them.
//!
//! A reference names one entity; which kind and namespace apply when the text
//! leaves them out depends on the field it came from, so parsing takes defaults.

use std::fmt;

/// The namespace an entity lives in when its descriptor names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The text was empty.
    #[error("entity reference must not be empty")]
    Empty,
    /// A part between the separators was empty.
    #[error("entity reference \"{0}\" was not on the form [<kind>:][<namespace>/]<name>")]
    Malformed(String),
    /// No kind was written and the field has no default kind.
    #[error(
        "entity reference \"{0}\" had missing or empty kind (e.g. did not start with \"component:\" or similar)"
    )]
    MissingKind(String),
}

/// A parsed reference to one entity.
///
/// Comparison is case-insensitive, as in Backstage: use [`EntityRef::key`] to
/// compare or store, and `Display` to show (`component:default/petstore`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    /// The kind, as written (`Component`, `api`, ...).
    pub kind: String,
    /// The namespace, as written.
    pub namespace: String,
    /// The name, as written.
    pub name: String,
}

impl EntityRef {
    /// A reference from its three parts.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> EntityRef {
        EntityRef {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `[kind:][namespace/]name`, filling in `default_kind` (if any) and
    /// `default_namespace` where the text leaves them out.
    pub fn parse(
        text: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<EntityRef, RefError> {
        if text.is_empty() {
            return Err(RefError::Empty);
        }
        let slash = text.find('/');
        let colon = text.find(':').filter(|c| slash.is_none_or(|s| *c < s));
        let kind = colon.map(|c| &text[..c]);
        let namespace = slash.map(|s| &text[colon.map_or(0, |c| c + 1)..s]);
        let name_start = match (colon, slash) {
            (_, Some(s)) => s + 1,
            (Some(c), None) => c + 1,
            (None, None) => 0,
        };
        let name = &text[name_start..];
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::Malformed(text.to_owned()));
        }
        let kind = kind
            .or(default_kind)
            .ok_or_else(|| RefError::MissingKind(text.to_owned()))?;
        let namespace = namespace.unwrap_or(if default_namespace.is_empty() {
            DEFAULT_NAMESPACE
        } else {
            default_namespace
        });
        Ok(EntityRef::new(kind, namespace, name))
    }

    /// Parses a full reference, as the API's callers send (`kind:namespace/name`
    /// or `kind:name`, the namespace defaulting to `default`).
    pub fn parse_full(text: &str) -> Result<EntityRef, RefError> {
        EntityRef::parse(text, None, DEFAULT_NAMESPACE)
    }

    /// The lowercased form used for identity and storage.
    pub fn key(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.namespace.to_lowercase(),
            self.name.to_lowercase()
        )
    }

    /// Whether the reference is of `kind`, ignoring case.
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.namespace.to_lowercase(),
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, kind: Option<&str>) -> Result<String, RefError> {
        EntityRef::parse(text, kind, "default").map(|r| r.to_string())
    }

    #[test]
    fn missing_parts_take_the_field_defaults() {
        assert_eq!(
            parse("team-a", Some("Group")).unwrap(),
            "group:default/team-a"
        );
        assert_eq!(
            parse("user:guest", Some("Group")).unwrap(),
            "user:default/guest"
        );
        assert_eq!(
            parse("group:default/team-a", Some("User")).unwrap(),
            "group:default/team-a"
        );
        assert_eq!(
            parse("ops/db", Some("Resource")).unwrap(),
            "resource:ops/db"
        );
        let inherited = EntityRef::parse("team-a", Some("Group"), "development").unwrap();
        assert_eq!(inherited.to_string(), "group:development/team-a");
    }

    #[test]
    fn kind_is_required_where_the_field_has_no_default() {
        assert_eq!(
            parse("artists-db", None),
            Err(RefError::MissingKind("artists-db".into()))
        );
        assert!(
            RefError::MissingKind("x".into())
                .to_string()
                .contains("missing or empty kind")
        );
        assert_eq!(
            parse("resource:artists-db", None).unwrap(),
            "resource:default/artists-db"
        );
    }

    #[test]
    fn empty_parts_are_malformed() {
        assert_eq!(parse("", Some("Group")), Err(RefError::Empty));
        for bad in [":x", "group:", "group:/x", "/x", "group:ns/"] {
            assert!(
                matches!(parse(bad, Some("Group")), Err(RefError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_slash_before_the_colon_makes_the_rest_the_name() {
        let r = EntityRef::parse("ns/a:b", Some("Component"), "default").unwrap();
        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("ns", "a:b"));
    }

    #[test]
    fn keys_ignore_case_but_display_keeps_the_name() {
        let a = EntityRef::parse("Component:Default/PetStore", None, "default").unwrap();
        let b = EntityRef::parse("component:default/petstore", None, "default").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.to_string(), "component:default/PetStore");
        assert!(a.is_kind("COMPONENT"));
    }
}
