//! The rules a diff applies: one stable kebab-case id per kind of change, with its severity.
//!
//! Ids are part of the output (`--json`, docs/spec-diff.md), so they never change meaning. The
//! groups follow oasdiff's checks; schema rules come in a request and a response flavour because
//! the same change breaks one direction and not the other.

use serde::{Serialize, Serializer};

/// Whether a change can break existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Existing clients may fail: a request they send is refused or misread, or a response
    /// they read no longer has the shape they rely on.
    Breaking,
    /// Existing clients keep working; worth knowing about (new operations, deprecations, ...).
    NonBreaking,
}

impl Severity {
    /// `breaking` or `non-breaking`, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::NonBreaking => "non-breaking",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($($variant:ident = $id:literal, $severity:ident, $summary:literal;)*) => {
        /// A kind of change between two OpenAPI documents.
        ///
        /// Each rule has a stable kebab-case [`id`](Rule::id), a fixed
        /// [`severity`](Rule::severity) and a one-line [`summary`](Rule::summary).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl Rule {
            /// Every rule, in the order the documentation lists them.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable kebab-case id (`path-removed`, `request-type-changed`, ...).
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)*
                }
            }

            /// Whether a change of this kind can break existing clients.
            pub fn severity(self) -> Severity {
                match self {
                    $(Rule::$variant => Severity::$severity,)*
                }
            }

            /// One sentence saying what the rule detects.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Rule::$variant => $summary,)*
                }
            }
        }
    };
}

rules! {
    // The document as a whole.
    ServerAdded = "server-added", NonBreaking,
        "A server URL was added.";
    ServerRemoved = "server-removed", NonBreaking,
        "A server URL was removed (clients choose their base URL themselves, as in oasdiff).";
    SecuritySchemeAdded = "security-scheme-added", NonBreaking,
        "A security scheme was added to `components.securitySchemes`.";
    SecuritySchemeRemoved = "security-scheme-removed", Breaking,
        "A security scheme was removed from `components.securitySchemes`.";
    SecuritySchemeChanged = "security-scheme-changed", Breaking,
        "How a security scheme sends credentials changed (type, API key name or location, HTTP scheme, OAuth flow or URL).";
    SecuritySchemeScopeAdded = "security-scheme-scope-added", NonBreaking,
        "An OAuth flow of a security scheme offers a new scope.";
    SecuritySchemeScopeRemoved = "security-scheme-scope-removed", Breaking,
        "An OAuth flow of a security scheme no longer offers a scope.";
    // Security requirements, global or per operation.
    SecurityAdded = "security-added", Breaking,
        "An operation that needed no credentials now requires them.";
    SecurityRemoved = "security-removed", NonBreaking,
        "An operation that required credentials no longer does.";
    SecurityAlternativeAdded = "security-alternative-added", NonBreaking,
        "A new way to authenticate is accepted besides the existing ones.";
    SecurityAlternativeRemoved = "security-alternative-removed", Breaking,
        "A way to authenticate is no longer accepted.";
    SecurityScopeAdded = "security-scope-added", Breaking,
        "A security requirement asks for an additional scope.";
    SecurityScopeRemoved = "security-scope-removed", NonBreaking,
        "A security requirement no longer asks for a scope.";
    // Paths and operations.
    PathAdded = "path-added", NonBreaking,
        "A path was added.";
    PathRemoved = "path-removed", Breaking,
        "A path and every operation on it were removed.";
    PathParameterRenamed = "path-parameter-renamed", NonBreaking,
        "A path parameter was renamed; the URLs clients build are unchanged.";
    OperationAdded = "operation-added", NonBreaking,
        "An operation was added to an existing path.";
    OperationRemoved = "operation-removed", Breaking,
        "An operation was removed.";
    DeprecatedOperationRemoved = "deprecated-operation-removed", NonBreaking,
        "An operation that was already deprecated was removed.";
    OperationIdChanged = "operation-id-changed", NonBreaking,
        "An operation's `operationId` was added, removed or changed (generated clients may rename a method).";
    OperationDeprecated = "operation-deprecated", NonBreaking,
        "An operation was marked deprecated.";
    OperationUndeprecated = "operation-undeprecated", NonBreaking,
        "An operation is no longer deprecated.";
    // Parameters.
    RequiredParameterAdded = "required-parameter-added", Breaking,
        "A required parameter was added.";
    OptionalParameterAdded = "optional-parameter-added", NonBreaking,
        "An optional parameter was added.";
    ParameterRemoved = "parameter-removed", Breaking,
        "A parameter was removed; clients still sending it may be refused or silently ignored.";
    ParameterLocationChanged = "parameter-location-changed", Breaking,
        "A parameter moved (for example from the query to a header).";
    ParameterBecameRequired = "parameter-became-required", Breaking,
        "An optional parameter became required.";
    ParameterBecameOptional = "parameter-became-optional", NonBreaking,
        "A required parameter became optional.";
    ParameterSerializationChanged = "parameter-serialization-changed", Breaking,
        "A parameter's `style` or `explode` changed, so clients must encode it differently.";
    ParameterDeprecated = "parameter-deprecated", NonBreaking,
        "A parameter was marked deprecated.";
    // Request bodies.
    RequiredRequestBodyAdded = "required-request-body-added", Breaking,
        "An operation without a request body now requires one.";
    OptionalRequestBodyAdded = "optional-request-body-added", NonBreaking,
        "An operation without a request body now accepts an optional one.";
    RequestBodyRemoved = "request-body-removed", Breaking,
        "An operation no longer accepts a request body.";
    RequestBodyBecameRequired = "request-body-became-required", Breaking,
        "An optional request body became required.";
    RequestBodyBecameOptional = "request-body-became-optional", NonBreaking,
        "A required request body became optional.";
    RequestMediaTypeAdded = "request-media-type-added", NonBreaking,
        "A request body accepts a new media type.";
    RequestMediaTypeRemoved = "request-media-type-removed", Breaking,
        "A request body no longer accepts a media type.";
    // Responses.
    ResponseStatusAdded = "response-status-added", NonBreaking,
        "An operation documents a new response status.";
    ResponseStatusRemoved = "response-status-removed", Breaking,
        "A success (1xx, 2xx or 3xx) response status was removed.";
    ResponseErrorStatusRemoved = "response-error-status-removed", NonBreaking,
        "An error (4xx, 5xx or `default`) response was removed; clients handle unknown errors anyway.";
    ResponseMediaTypeAdded = "response-media-type-added", NonBreaking,
        "A response offers a new media type.";
    ResponseMediaTypeRemoved = "response-media-type-removed", Breaking,
        "A response no longer offers a media type.";
    ResponseHeaderAdded = "response-header-added", NonBreaking,
        "A response has a new header.";
    ResponseHeaderRemoved = "response-header-removed", Breaking,
        "A response header was removed.";
    ResponseHeaderBecameOptional = "response-header-became-optional", Breaking,
        "A required response header became optional.";
    // Schemas of what clients send: parameters, request bodies and their properties.
    RequestTypeChanged = "request-type-changed", Breaking,
        "A request value's type or format changed so that values clients send may be refused (including `number` to `integer`, or no longer nullable).";
    RequestTypeWidened = "request-type-widened", NonBreaking,
        "A request value accepts more types or a wider format (for example `integer` to `number`, or `int32` to `int64`).";
    RequestEnumValueRemoved = "request-enum-value-removed", Breaking,
        "A request value no longer accepts an enum value.";
    RequestEnumValueAdded = "request-enum-value-added", NonBreaking,
        "A request value accepts a new enum value.";
    RequestEnumAdded = "request-enum-added", Breaking,
        "A request value that accepted anything of its type is now limited to an enum.";
    RequestEnumRemoved = "request-enum-removed", NonBreaking,
        "A request value is no longer limited to an enum.";
    RequestConstraintNarrowed = "request-constraint-narrowed", Breaking,
        "A request value's bound or pattern was tightened, added or changed (`minimum`, `maxLength`, `pattern`, `maxItems`, `additionalProperties: false`, ...).";
    RequestConstraintWidened = "request-constraint-widened", NonBreaking,
        "A request value's bound or pattern was relaxed or removed.";
    RequestDefaultChanged = "request-default-changed", NonBreaking,
        "The default of a request value was added, removed or changed (what the server assumes when clients omit it).";
    RequestPropertyAdded = "request-property-added", NonBreaking,
        "A request object accepts a new optional property.";
    RequestRequiredPropertyAdded = "request-required-property-added", Breaking,
        "A request object has a new required property.";
    RequestPropertyRemoved = "request-property-removed", Breaking,
        "A request object no longer has a property; clients still sending it may be refused or ignored.";
    RequestPropertyBecameRequired = "request-property-became-required", Breaking,
        "An optional request property became required.";
    RequestPropertyBecameOptional = "request-property-became-optional", NonBreaking,
        "A required request property became optional.";
    RequestPropertyBecameReadOnly = "request-property-became-read-only", Breaking,
        "A request property became `readOnly`, so clients may no longer send it.";
    RequestUnionBranchAdded = "request-union-branch-added", NonBreaking,
        "A request `oneOf`/`anyOf` accepts a new alternative.";
    RequestUnionBranchRemoved = "request-union-branch-removed", Breaking,
        "A request `oneOf`/`anyOf` no longer accepts an alternative.";
    // Schemas of what clients receive: response bodies, headers and their properties.
    ResponseTypeChanged = "response-type-changed", Breaking,
        "A response value's type or format changed so that clients may receive values they do not expect (including becoming nullable).";
    ResponseTypeNarrowed = "response-type-narrowed", NonBreaking,
        "A response value's type or format narrowed (for example `number` to `integer`).";
    ResponseEnumValueAdded = "response-enum-value-added", Breaking,
        "A response value may take a new enum value, which existing clients may not handle (oasdiff's convention).";
    ResponseEnumValueRemoved = "response-enum-value-removed", NonBreaking,
        "A response value no longer takes an enum value.";
    ResponseEnumRemoved = "response-enum-removed", Breaking,
        "A response value is no longer limited to an enum, so clients may receive any value of its type.";
    ResponseEnumAdded = "response-enum-added", NonBreaking,
        "A response value is now limited to an enum.";
    ResponseConstraintWidened = "response-constraint-widened", Breaking,
        "A response value's bound or pattern was relaxed, removed or changed, so clients may receive values they never had to handle.";
    ResponseConstraintNarrowed = "response-constraint-narrowed", NonBreaking,
        "A response value's bound or pattern was tightened or added.";
    ResponsePropertyAdded = "response-property-added", NonBreaking,
        "A response object has a new property.";
    ResponsePropertyRemoved = "response-property-removed", Breaking,
        "A required response property was removed.";
    ResponseOptionalPropertyRemoved = "response-optional-property-removed", NonBreaking,
        "An optional response property was removed; clients already cope with its absence.";
    ResponsePropertyBecameOptional = "response-property-became-optional", Breaking,
        "A required response property became optional, so clients may not receive it.";
    ResponsePropertyBecameRequired = "response-property-became-required", NonBreaking,
        "An optional response property became required.";
    ResponsePropertyBecameWriteOnly = "response-property-became-write-only", Breaking,
        "A response property became `writeOnly`, so clients no longer receive it.";
    ResponseUnionBranchAdded = "response-union-branch-added", Breaking,
        "A response `oneOf`/`anyOf` has a new alternative that clients may not handle.";
    ResponseUnionBranchRemoved = "response-union-branch-removed", NonBreaking,
        "A response `oneOf`/`anyOf` lost an alternative.";
    // Either direction.
    PropertyDeprecated = "property-deprecated", NonBreaking,
        "A schema or property was marked deprecated.";
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case() {
        let mut seen = HashSet::new();
        for rule in Rule::ALL {
            let id = rule.id();
            assert!(seen.insert(id), "{id} twice");
            assert!(
                id.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{id} is not kebab-case"
            );
            assert!(rule.summary().ends_with('.'), "{id}: {}", rule.summary());
        }
    }

    #[test]
    fn rules_and_severities_serialise_as_their_ids() {
        let json = serde_json::to_value((Rule::PathRemoved, Severity::NonBreaking)).unwrap();
        assert_eq!(json, serde_json::json!(["path-removed", "non-breaking"]));
    }
}
