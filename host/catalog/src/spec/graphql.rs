//! GraphQL schemas: a syntax check and the root fields as operations, via `apollo-parser`.
//!
//! A schema is kept as text; what search needs is its entry points, the fields of the query,
//! mutation and subscription root types (renamed ones included, through `schema { ... }`).

use apollo_parser::Parser;
use apollo_parser::cst::{self, CstChildren, Definition};

use super::Operation;

/// The root fields of a schema, or the first syntax error as (message, byte offset).
pub(super) fn operations(text: &str) -> Result<Vec<Operation>, (String, usize)> {
    let tree = Parser::new(text).parse();
    if let Some(error) = tree.errors().next() {
        return Err((error.message().to_owned(), error.index()));
    }
    let document = tree.document();

    let mut roots = [
        ("query", "Query".to_owned()),
        ("mutation", "Mutation".to_owned()),
        ("subscription", "Subscription".to_owned()),
    ];
    for definition in document.definitions() {
        let root_types = match definition {
            Definition::SchemaDefinition(d) => d.root_operation_type_definitions(),
            Definition::SchemaExtension(d) => d.root_operation_type_definitions(),
            _ => continue,
        };
        for root in root_types {
            let (Some(kind), Some(name)) = (root.operation_type(), root.named_type()) else {
                continue;
            };
            let Some(name) = name.name() else { continue };
            let slot = if kind.query_token().is_some() {
                0
            } else if kind.mutation_token().is_some() {
                1
            } else {
                2
            };
            roots[slot].1 = name.text().to_string();
        }
    }

    let mut operations = Vec::new();
    for definition in document.definitions() {
        let (name, fields) = match definition {
            Definition::ObjectTypeDefinition(d) => (d.name(), d.fields_definition()),
            Definition::ObjectTypeExtension(d) => (d.name(), d.fields_definition()),
            _ => continue,
        };
        let (Some(name), Some(fields)) = (name, fields) else {
            continue;
        };
        let name = name.text();
        let Some((kind, _)) = roots
            .iter()
            .find(|(_, root)| root.as_str() == name.as_str())
        else {
            continue;
        };
        for field in fields.field_definitions() {
            let Some(field_name) = field.name() else {
                continue;
            };
            operations.push(Operation {
                method: (*kind).to_owned(),
                path: field_name.text().to_string(),
                operation_id: None,
                summary: None,
                description: field
                    .description()
                    .and_then(|d| d.string_value())
                    .map(String::from),
                tags: Vec::new(),
                deprecated: field
                    .directives()
                    .is_some_and(|d| has_deprecated(d.directives())),
            });
        }
    }
    Ok(operations)
}

fn has_deprecated(mut directives: CstChildren<cst::Directive>) -> bool {
    directives.any(|d| d.name().is_some_and(|n| n.text() == "deprecated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(operations: &[Operation]) -> Vec<String> {
        operations
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect()
    }

    #[test]
    fn root_fields_become_operations_with_descriptions_and_deprecation() {
        let sdl = r#"
            type Query {
              "The signed-in user."
              me: User
              user(id: ID!): User @deprecated(reason: "use node")
            }
            type Mutation { rename(name: String!): User }
            type User { id: ID! name: String }
            extend type Query { node(id: ID!): User }
        "#;
        let ops = operations(sdl).unwrap();
        assert_eq!(
            paths(&ops),
            ["query me", "query user", "mutation rename", "query node"]
        );
        assert_eq!(ops[0].description.as_deref(), Some("The signed-in user."));
        assert!(!ops[0].deprecated);
        assert!(ops[1].deprecated);
    }

    #[test]
    fn renamed_root_types_are_followed() {
        let sdl = "schema { query: Root subscription: Events }\n\
                   type Root { a: Int }\ntype Events { tick: Int }\ntype Query { ignored: Int }";
        assert_eq!(
            paths(&operations(sdl).unwrap()),
            ["query a", "subscription tick"]
        );
    }

    #[test]
    fn syntax_error_gives_its_offset() {
        let (message, offset) = operations("type Query {\n  a: \n}").unwrap_err();
        assert!(!message.is_empty());
        assert!(offset >= 13, "offset {offset}");
    }
}
