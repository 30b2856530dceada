//! The markdown writer: the same content as the HTML, for readers and agents
//! that want text. Schema trees become nested lists, parameters tables, and
//! code samples fenced blocks; descriptions are kept as their CommonMark.

use std::fmt::Write as _;

use crate::model::{MediaDoc, OperationDoc, ParameterDoc, SchemeDoc};
use crate::schema::{Cut, Node};
use crate::spec::{Spec, TagGroup};
use crate::text::one_line;

/// Writes the docs as CommonMark.
pub(crate) struct MarkdownWriter {
    out: String,
}

impl MarkdownWriter {
    /// A writer with room for about `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> MarkdownWriter {
        MarkdownWriter {
            out: String::with_capacity(capacity),
        }
    }

    /// The finished document.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn paragraph(&mut self, markdown: Option<&str>) {
        if let Some(markdown) = markdown {
            self.out.push_str(markdown.trim());
            self.out.push_str("\n\n");
        }
    }

    /// The introduction and servers.
    pub(crate) fn intro(&mut self, spec: &Spec<'_>, servers: &[(String, Option<&str>)]) {
        if let Some(version) = spec.info("version") {
            let _ = write!(self.out, "Version `{}` · ", version.replace('`', "'"));
        }
        let _ = writeln!(
            self.out,
            "OpenAPI `{}`\n",
            crate::html::openapi_version(spec)
        );
        self.paragraph(spec.info("description"));
        if !servers.is_empty() {
            self.out.push_str("## Servers\n\n");
            for (url, description) in servers {
                let _ = write!(self.out, "- `{url}`");
                if let Some(description) = description {
                    let _ = write!(self.out, ": {}", one_line(description));
                }
                self.out.push('\n');
            }
            self.out.push('\n');
        }
    }

    /// The Authentication section.
    pub(crate) fn authentication(&mut self, schemes: &[SchemeDoc<'_>]) {
        if schemes.is_empty() {
            return;
        }
        self.out.push_str("## Authentication\n\n");
        for scheme in schemes {
            let _ = writeln!(self.out, "### {}\n\n{}\n", scheme.name, scheme.kind);
            self.paragraph(scheme.description);
            for flow in &scheme.flows {
                let _ = writeln!(self.out, "{} flow:\n", flow.name);
                for (label, url) in &flow.urls {
                    let _ = writeln!(self.out, "- {label}: <{url}>");
                }
                for (scope, what) in &flow.scopes {
                    let _ = writeln!(self.out, "- scope `{scope}`: {}", one_line(what));
                }
                self.out.push('\n');
            }
        }
    }

    /// A tag's heading and description.
    pub(crate) fn group(&mut self, group: &TagGroup<'_>) {
        let _ = writeln!(self.out, "## {}\n", group.name);
        self.paragraph(group.description);
    }

    /// One operation.
    pub(crate) fn operation(&mut self, doc: &OperationDoc<'_, '_>) {
        let op = doc.operation;
        let _ = write!(self.out, "### {}", op.title());
        if op.deprecated() {
            self.out.push_str(" (deprecated)");
        }
        let kind = if op.webhook { " (webhook)" } else { "" };
        let _ = writeln!(self.out, "\n\n`{} {}`{kind}\n", op.method, op.path);
        self.paragraph(op.text("description"));
        if !doc.security.is_empty() {
            let alternatives: Vec<String> = doc
                .security
                .iter()
                .map(|requirement| {
                    if requirement.is_empty() {
                        return "none".to_owned();
                    }
                    requirement
                        .iter()
                        .map(|(scheme, scopes)| {
                            if scopes.is_empty() {
                                (*scheme).to_owned()
                            } else {
                                format!("{scheme} ({})", scopes.join(", "))
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" and ")
                })
                .collect();
            let _ = writeln!(self.out, "Authentication: {}\n", alternatives.join(" or "));
        }
        if !doc.parameters.is_empty() {
            self.out.push_str("#### Parameters\n\n");
            self.parameter_table(&doc.parameters, true);
        }
        if let Some(body) = &doc.body {
            self.out.push_str(if op.webhook {
                "#### Payload"
            } else {
                "#### Request body"
            });
            if body.required {
                self.out.push_str(" (required)");
            }
            self.out.push_str("\n\n");
            self.paragraph(body.description);
            self.media(&body.media);
        }
        if !doc.responses.is_empty() {
            self.out.push_str("#### Responses\n\n");
            for response in &doc.responses {
                let _ = write!(self.out, "##### {}", response.status);
                if let Some(description) = response.description {
                    let _ = write!(self.out, ": {}", one_line(description));
                }
                self.out.push_str("\n\n");
                if !response.headers.is_empty() {
                    self.out.push_str("Headers:\n\n");
                    self.parameter_table(&response.headers, false);
                }
                self.media(&response.media);
            }
        }
        if !doc.samples.is_empty() {
            self.out.push_str("#### Code samples\n\n");
            for (language, code) in &doc.samples {
                let _ = writeln!(
                    self.out,
                    "{}:\n\n```{}\n{code}\n```\n",
                    language.title(),
                    language.code()
                );
            }
        }
    }

    fn parameter_table(&mut self, parameters: &[ParameterDoc<'_>], with_location: bool) {
        if with_location {
            self.out
                .push_str("| Name | In | Type | Required | Description |\n|---|---|---|---|---|\n");
        } else {
            self.out
                .push_str("| Name | Type | Required | Description |\n|---|---|---|---|\n");
        }
        for parameter in parameters {
            let description = parameter
                .description
                .or(parameter.schema.description)
                .map(one_line)
                .unwrap_or_default();
            let _ = write!(self.out, "| `{}` |", cell(parameter.name));
            if with_location {
                let _ = write!(self.out, " {} |", parameter.location);
            }
            let _ = writeln!(
                self.out,
                " {} | {} | {} |",
                cell(&type_text(&parameter.schema)),
                if parameter.required { "yes" } else { "no" },
                cell(&description)
            );
        }
        self.out.push('\n');
    }

    fn media(&mut self, media: &[MediaDoc<'_>]) {
        let Some(first) = media.first() else {
            return;
        };
        let types: Vec<String> = media
            .iter()
            .map(|m| format!("`{}`", m.media_type))
            .collect();
        let _ = writeln!(self.out, "Content: {}\n", types.join(", "));
        if let Some(schema) = &first.schema {
            self.schema(schema);
        }
        if let Some(example) = &first.example {
            let _ = writeln!(self.out, "Example:\n\n```json\n{example}\n```\n");
        }
    }

    /// A schema tree as a nested list under its type line.
    pub(crate) fn schema(&mut self, node: &Node<'_>) {
        let _ = writeln!(self.out, "Schema: {}\n", type_text(node));
        if let Some(description) = node.description {
            let _ = writeln!(self.out, "{}\n", one_line(description));
        }
        self.content(node, 0);
        if node.has_content() {
            self.out.push('\n');
        } else if node.cut == Some(Cut::Elsewhere)
            && let Some((name, anchor)) = &node.reference
        {
            let _ = writeln!(self.out, "See [{name}](#{anchor}) for its properties.\n");
        }
    }

    /// Opens the Schemas section.
    pub(crate) fn schemas_start(&mut self) {
        self.out.push_str("## Schemas\n\n");
    }

    /// One definition in the Schemas section.
    pub(crate) fn definition(&mut self, name: &str, anchor: &str, node: &Node<'_>) {
        let _ = writeln!(self.out, "### {name}\n\n<a id=\"{anchor}\"></a>\n");
        self.schema(node);
    }

    fn content(&mut self, node: &Node<'_>, level: usize) {
        let pad = "  ".repeat(level);
        for child in &node.children {
            let _ = write!(
                self.out,
                "{pad}- `{}` {}",
                child.name.as_deref().unwrap_or(""),
                type_text(child)
            );
            if child.required {
                self.out.push_str(", required");
            }
            self.details(child);
            self.out.push('\n');
            self.content(child, level + 1);
        }
        if let Some(items) = &node.items {
            let _ = write!(self.out, "{pad}- items: {}", type_text(items));
            self.details(items);
            self.out.push('\n');
            self.content(items, level + 1);
        }
        if let Some(additional) = &node.additional {
            let _ = write!(
                self.out,
                "{pad}- other properties: {}",
                type_text(additional)
            );
            self.details(additional);
            self.out.push('\n');
            self.content(additional, level + 1);
        }
        if let Some((combinator, variants)) = &node.variants {
            let _ = writeln!(self.out, "{pad}- {}:", combinator.label().to_lowercase());
            for variant in variants {
                let _ = write!(self.out, "{pad}  - {}", type_text(variant));
                self.details(variant);
                self.out.push('\n');
                self.content(variant, level + 2);
            }
        }
    }

    /// Description, constraints, allowed values and example after a list item.
    fn details(&mut self, node: &Node<'_>) {
        if let Some(description) = node.description {
            let _ = write!(self.out, ": {}", one_line(description));
        }
        if !node.facts.is_empty() {
            let _ = write!(self.out, " ({})", node.facts.join(", "));
        }
        if !node.enum_values.is_empty() {
            let values: Vec<String> = node.enum_values.iter().map(|v| format!("`{v}`")).collect();
            let _ = write!(self.out, " Allowed: {}", values.join(", "));
            if node.more_enum_values > 0 {
                let _ = write!(self.out, " and {} more", node.more_enum_values);
            }
            self.out.push('.');
        }
        if let Some(example) = &node.example {
            let _ = write!(self.out, " Example: `{example}`.");
        }
    }
}

/// `*string (email)*, nullable`, with the component schema as a link.
fn type_text(node: &Node<'_>) -> String {
    let mut text = format!("*{}*", node.label);
    if let Some((name, anchor)) = &node.reference {
        let _ = write!(text, " [{name}](#{anchor})");
    }
    for (on, flag) in [
        (node.nullable, "nullable"),
        (node.read_only, "read-only"),
        (node.write_only, "write-only"),
        (node.deprecated, "deprecated"),
        (node.cut == Some(Cut::Cycle), "recursive"),
    ] {
        if on {
            let _ = write!(text, ", {flag}");
        }
    }
    text
}

/// Text safe in a table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
