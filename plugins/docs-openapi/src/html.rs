//! The HTML writer: an introduction, authentication, one section per tag with
//! its operations, and the component schemas, as a fragment styled by its own
//! scoped stylesheet and the portal's CSS variables. Schema trees are nested
//! `<details>`, so they expand without JavaScript; every text is escaped.

use std::fmt::Write as _;

use crate::model::{MediaDoc, OperationDoc, ParameterDoc, SchemeDoc};
use crate::schema::{Cut, Node};
use crate::spec::{Spec, TagGroup};
use crate::text::{escape_into, is_safe_url, markdown_html};

/// The stylesheet, scoped to `.apidocs` and themed by the portal's variables.
const STYLE: &str = include_str!("docs.css");

/// Writes the docs as an HTML fragment.
pub(crate) struct HtmlWriter {
    out: String,
}

impl HtmlWriter {
    /// A writer with room for about `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> HtmlWriter {
        let mut out = String::with_capacity(capacity);
        out.push_str("<style>");
        out.push_str(STYLE);
        out.push_str("</style>\n<div class=\"apidocs\">\n");
        HtmlWriter { out }
    }

    /// The finished fragment.
    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</div>\n");
        self.out
    }

    fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    fn markdown(&mut self, markdown: Option<&str>) {
        if let Some(markdown) = markdown {
            self.out.push_str("<div class=\"md\">");
            markdown_html(&mut self.out, markdown);
            self.out.push_str("</div>");
        }
    }

    /// The introduction: version, description, contact, licence and servers.
    pub(crate) fn intro(&mut self, spec: &Spec<'_>, servers: &[(String, Option<&str>)]) {
        self.out
            .push_str("<section id=\"introduction\" class=\"intro\">\n<p class=\"intro-meta\">");
        if let Some(version) = spec.info("version") {
            self.out.push_str("Version <code>");
            self.text(version);
            self.out.push_str("</code> · ");
        }
        self.out.push_str("OpenAPI <code>");
        self.text(&openapi_version(spec));
        self.out.push_str("</code></p>\n");
        self.markdown(spec.info("description"));
        let mut links: Vec<(String, String)> = Vec::new();
        let info = spec.root.get("info");
        let field = |path: &[&str]| {
            let mut value = info?;
            for key in path {
                value = value.get(key)?;
            }
            value.as_str().filter(|s| !s.trim().is_empty())
        };
        if let Some(url) = field(&["contact", "url"]) {
            links.push((
                field(&["contact", "name"]).unwrap_or("Contact").to_owned(),
                url.to_owned(),
            ));
        }
        if let Some(email) = field(&["contact", "email"]) {
            links.push((email.to_owned(), format!("mailto:{email}")));
        }
        if let Some(terms) = field(&["termsOfService"]) {
            links.push(("Terms of service".to_owned(), terms.to_owned()));
        }
        if let Some(name) = field(&["license", "name"]) {
            let url = field(&["license", "url"]).unwrap_or("");
            links.push((format!("License: {name}"), url.to_owned()));
        }
        if let Some(url) = spec
            .root
            .get("externalDocs")
            .and_then(|d| d.get("url"))
            .and_then(|u| u.as_str())
        {
            links.push(("More documentation".to_owned(), url.to_owned()));
        }
        if !links.is_empty() {
            self.out.push_str("<ul class=\"intro-links\">");
            for (label, url) in links {
                self.out.push_str("<li>");
                self.link(&label, &url);
                self.out.push_str("</li>");
            }
            self.out.push_str("</ul>\n");
        }
        self.out.push_str("</section>\n");
        if !servers.is_empty() {
            self.out
                .push_str("<section id=\"servers\" class=\"servers\">\n<h2>Servers</h2>\n<ul>");
            for (url, description) in servers {
                self.out.push_str("<li><code>");
                self.text(url);
                self.out.push_str("</code>");
                if let Some(description) = description {
                    self.out.push(' ');
                    self.text(description);
                }
                self.out.push_str("</li>");
            }
            self.out.push_str("</ul>\n</section>\n");
        }
    }

    fn link(&mut self, label: &str, url: &str) {
        if url.is_empty() || !is_safe_url(url) {
            self.text(label);
            return;
        }
        self.out.push_str("<a href=\"");
        self.text(url);
        self.out.push_str("\" rel=\"noopener noreferrer\">");
        self.text(label);
        self.out.push_str("</a>");
    }

    /// The Authentication section.
    pub(crate) fn authentication(&mut self, schemes: &[SchemeDoc<'_>]) {
        if schemes.is_empty() {
            return;
        }
        self.out
            .push_str("<section id=\"authentication\" class=\"auth\">\n<h2>Authentication</h2>\n");
        for scheme in schemes {
            let _ = write!(
                self.out,
                "<div class=\"scheme\" id=\"{}\"><h3>",
                scheme.anchor
            );
            self.text(scheme.name);
            self.out.push_str("</h3><p class=\"scheme-kind\">");
            self.inline_code(&scheme.kind);
            self.out.push_str("</p>");
            self.markdown(scheme.description);
            for flow in &scheme.flows {
                self.out.push_str("<h4>");
                self.text(flow.name);
                self.out.push_str(" flow</h4><ul>");
                for (label, url) in &flow.urls {
                    let _ = write!(self.out, "<li>{label}: <code>");
                    self.text(url);
                    self.out.push_str("</code></li>");
                }
                self.out.push_str("</ul>");
                if !flow.scopes.is_empty() {
                    self.out.push_str("<table class=\"params\"><thead><tr><th scope=\"col\">Scope</th><th scope=\"col\">Allows</th></tr></thead><tbody>");
                    for (scope, what) in &flow.scopes {
                        self.out.push_str("<tr><td><code>");
                        self.text(scope);
                        self.out.push_str("</code></td><td>");
                        self.text(what);
                        self.out.push_str("</td></tr>");
                    }
                    self.out.push_str("</tbody></table>");
                }
            }
            self.out.push_str("</div>\n");
        }
        self.out.push_str("</section>\n");
    }

    /// Text where `` `code` `` spans become `<code>`.
    fn inline_code(&mut self, text: &str) {
        for (i, part) in text.split('`').enumerate() {
            if i % 2 == 1 {
                self.out.push_str("<code>");
                self.text(part);
                self.out.push_str("</code>");
            } else {
                self.text(part);
            }
        }
    }

    /// Opens a tag's section.
    pub(crate) fn group_start(&mut self, group: &TagGroup<'_>) {
        let _ = write!(
            self.out,
            "<section class=\"tag-group\" id=\"{}\">\n<h2>",
            group.anchor
        );
        self.text(group.name);
        self.out.push_str("</h2>\n");
        self.markdown(group.description);
    }

    /// Closes a tag's section.
    pub(crate) fn group_end(&mut self) {
        self.out.push_str("</section>\n");
    }

    /// One operation.
    pub(crate) fn operation(&mut self, doc: &OperationDoc<'_, '_>) {
        let op = doc.operation;
        let method = op.method.to_ascii_lowercase();
        let _ = write!(
            self.out,
            "<section class=\"op\" id=\"{}\">\n<h3>",
            op.anchor
        );
        self.text(&op.title());
        if op.deprecated() {
            self.out
                .push_str(" <span class=\"flag flag-deprecated\">deprecated</span>");
        }
        let _ = write!(
            self.out,
            "</h3>\n<p class=\"op-line\"><span class=\"method method-{method}\">{}</span> <code class=\"op-path\">",
            op.method
        );
        self.text(op.path);
        self.out.push_str("</code>");
        if op.webhook {
            self.out.push_str(" <span class=\"flag\">webhook</span>");
        }
        self.out.push_str("</p>\n");
        self.markdown(op.text("description"));
        self.security(doc);
        if !doc.parameters.is_empty() {
            self.out.push_str("<h4>Parameters</h4>\n");
            self.parameter_table(&doc.parameters, true);
        }
        if let Some(body) = &doc.body {
            self.out.push_str(if op.webhook {
                "<h4>Payload"
            } else {
                "<h4>Request body"
            });
            if body.required {
                self.out
                    .push_str(" <span class=\"flag flag-required\">required</span>");
            }
            self.out.push_str("</h4>\n");
            self.markdown(body.description);
            self.media(&body.media);
        }
        if !doc.responses.is_empty() {
            self.out.push_str("<h4>Responses</h4>\n");
            for response in &doc.responses {
                let class = response.status.chars().next().unwrap_or('d');
                let _ = write!(
                    self.out,
                    "<details class=\"response\"><summary><span class=\"status status-{class}\">"
                );
                self.text(response.status);
                self.out.push_str("</span> ");
                if let Some(description) = response.description {
                    self.text(&crate::text::one_line(description));
                }
                self.out
                    .push_str("</summary>\n<div class=\"response-body\">");
                if response
                    .description
                    .is_some_and(|d| d.trim().contains("\n\n"))
                {
                    self.markdown(response.description);
                }
                if !response.headers.is_empty() {
                    self.out.push_str("<p class=\"part-label\">Headers</p>");
                    self.parameter_table(&response.headers, false);
                }
                self.media(&response.media);
                if response.headers.is_empty() && response.media.is_empty() {
                    self.out.push_str("<p class=\"muted\">No content.</p>");
                }
                self.out.push_str("</div></details>\n");
            }
        }
        if !doc.samples.is_empty() {
            self.out
                .push_str("<details class=\"samples\"><summary>Code samples</summary>\n");
            for (language, code) in &doc.samples {
                let _ = write!(
                    self.out,
                    "<p class=\"sample-lang\">{}</p><pre><code class=\"language-{}\">",
                    language.title(),
                    language.code()
                );
                self.text(code);
                self.out.push_str("</code></pre>\n");
            }
            self.out.push_str("</details>\n");
        }
        self.out.push_str("</section>\n");
    }

    fn security(&mut self, doc: &OperationDoc<'_, '_>) {
        let explicit_none = doc
            .operation
            .object
            .get("security")
            .and_then(|s| s.as_array())
            .is_some_and(|s| s.is_empty());
        if explicit_none {
            self.out
                .push_str("<p class=\"op-security\">No authentication.</p>\n");
            return;
        }
        if doc.security.is_empty() {
            return;
        }
        self.out
            .push_str("<p class=\"op-security\">Authentication: ");
        for (i, requirement) in doc.security.iter().enumerate() {
            if i > 0 {
                self.out.push_str(" <em>or</em> ");
            }
            if requirement.is_empty() {
                self.out.push_str("none");
            }
            for (j, (scheme, scopes)) in requirement.iter().enumerate() {
                if j > 0 {
                    self.out.push_str(" <em>and</em> ");
                }
                let _ = write!(
                    self.out,
                    "<a href=\"#auth-scheme-{}\">",
                    crate::text::slug(scheme)
                );
                self.text(scheme);
                self.out.push_str("</a>");
                if !scopes.is_empty() {
                    self.out.push_str(" (");
                    for (k, scope) in scopes.iter().enumerate() {
                        if k > 0 {
                            self.out.push_str(", ");
                        }
                        self.out.push_str("<code>");
                        self.text(scope);
                        self.out.push_str("</code>");
                    }
                    self.out.push(')');
                }
            }
        }
        self.out.push_str("</p>\n");
    }

    fn parameter_table(&mut self, parameters: &[ParameterDoc<'_>], with_location: bool) {
        self.out
            .push_str("<table class=\"params\"><thead><tr><th scope=\"col\">Name</th>");
        if with_location {
            self.out.push_str("<th scope=\"col\">In</th>");
        }
        self.out.push_str(
            "<th scope=\"col\">Type</th><th scope=\"col\">Description</th></tr></thead><tbody>\n",
        );
        for parameter in parameters {
            self.out.push_str("<tr><td><code class=\"prop-name\">");
            self.text(parameter.name);
            self.out.push_str("</code>");
            if parameter.required {
                self.out
                    .push_str(" <span class=\"flag flag-required\">required</span>");
            }
            if parameter.deprecated {
                self.out
                    .push_str(" <span class=\"flag flag-deprecated\">deprecated</span>");
            }
            self.out.push_str("</td>");
            if with_location {
                self.out.push_str("<td>");
                self.text(parameter.location);
                self.out.push_str("</td>");
            }
            self.out.push_str("<td>");
            self.type_line(&parameter.schema);
            self.out.push_str("</td><td>");
            self.markdown(parameter.description.or(parameter.schema.description));
            self.facts(&parameter.schema);
            if parameter.schema.has_content() {
                self.content(&parameter.schema);
            }
            self.out.push_str("</td></tr>\n");
        }
        self.out.push_str("</tbody></table>\n");
    }

    fn media(&mut self, media: &[MediaDoc<'_>]) {
        if media.is_empty() {
            return;
        }
        self.out.push_str("<p class=\"media-types\">");
        for (i, m) in media.iter().enumerate() {
            if i > 0 {
                self.out.push(' ');
            }
            self.out.push_str("<code>");
            self.text(m.media_type);
            self.out.push_str("</code>");
        }
        self.out.push_str("</p>\n");
        let first = &media[0];
        if let Some(schema) = &first.schema {
            self.schema(schema);
        }
        if let Some(example) = &first.example {
            self.out
                .push_str("<details class=\"example\"><summary>Example</summary><pre><code>");
            self.text(example);
            self.out.push_str("</code></pre></details>\n");
        }
    }

    /// A schema tree at the root of a body, response or definition.
    pub(crate) fn schema(&mut self, node: &Node<'_>) {
        self.out
            .push_str("<div class=\"schema\"><p class=\"schema-type\">");
        self.type_line(node);
        self.out.push_str("</p>");
        self.markdown(node.description);
        self.facts(node);
        self.content(node);
        if !node.has_content()
            && node.cut == Some(Cut::Elsewhere)
            && let Some((name, anchor)) = &node.reference
        {
            self.out.push_str("<p class=\"schema-cut\">See <a href=\"#");
            self.out.push_str(anchor);
            self.out.push_str("\">");
            self.text(name);
            self.out.push_str("</a> for its properties.</p>");
        }
        self.out.push_str("</div>\n");
    }

    /// One definition in the Schemas section.
    pub(crate) fn definition(&mut self, name: &str, anchor: &str, node: &Node<'_>) {
        let _ = write!(
            self.out,
            "<details class=\"definition\" id=\"{anchor}\"><summary>"
        );
        self.text(name);
        self.out.push_str(" <span class=\"prop-type\">");
        self.text(&node.label);
        self.out.push_str("</span></summary>\n");
        self.schema(node);
        self.out.push_str("</details>\n");
    }

    /// Opens the Schemas section.
    pub(crate) fn schemas_start(&mut self) {
        self.out
            .push_str("<section id=\"schemas\" class=\"schemas\">\n<h2>Schemas</h2>\n");
    }

    /// Closes the Schemas section.
    pub(crate) fn schemas_end(&mut self) {
        self.out.push_str("</section>\n");
    }

    /// The type label, the component it refers to as a link, and its flags.
    fn type_line(&mut self, node: &Node<'_>) {
        self.out.push_str("<span class=\"prop-type\">");
        match &node.reference {
            Some((name, anchor)) if node.label.ends_with(name) => {
                self.text(&node.label[..node.label.len() - name.len()]);
                let _ = write!(self.out, "<a href=\"#{anchor}\">");
                self.text(name);
                self.out.push_str("</a>");
            }
            Some((name, anchor)) => {
                self.text(&node.label);
                let _ = write!(self.out, " <a href=\"#{anchor}\">");
                self.text(name);
                self.out.push_str("</a>");
            }
            None => self.text(&node.label),
        }
        self.out.push_str("</span>");
        for (on, flag) in [
            (node.nullable, "nullable"),
            (node.read_only, "read-only"),
            (node.write_only, "write-only"),
            (node.deprecated, "deprecated"),
            (node.cut == Some(Cut::Cycle), "recursive"),
        ] {
            if on {
                let _ = write!(self.out, " <span class=\"flag flag-{flag}\">{flag}</span>");
            }
        }
    }

    /// Constraints, allowed values and the example of a node.
    fn facts(&mut self, node: &Node<'_>) {
        if !node.facts.is_empty() {
            self.out.push_str("<p class=\"constraints\">");
            for (i, fact) in node.facts.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(" · ");
                }
                self.text(fact);
            }
            self.out.push_str("</p>");
        }
        if !node.enum_values.is_empty() {
            self.out.push_str("<p class=\"constraints\">Allowed: ");
            for value in &node.enum_values {
                self.out.push_str("<code>");
                self.text(value);
                self.out.push_str("</code> ");
            }
            if node.more_enum_values > 0 {
                let _ = write!(self.out, "and {} more", node.more_enum_values);
            }
            self.out.push_str("</p>");
        }
        if let Some(example) = &node.example {
            self.out
                .push_str("<p class=\"constraints\">Example: <code>");
            self.text(example);
            self.out.push_str("</code></p>");
        }
    }

    /// Properties, items, map values and variants.
    fn content(&mut self, node: &Node<'_>) {
        if !node.children.is_empty() {
            self.out.push_str("<ul class=\"props\">");
            for child in &node.children {
                self.property(child);
            }
            self.out.push_str("</ul>");
        }
        if let Some(items) = &node.items {
            self.out
                .push_str("<div class=\"nested\"><p class=\"part-label\">Items</p>");
            self.schema(items);
            self.out.push_str("</div>");
        }
        if let Some(additional) = &node.additional {
            self.out
                .push_str("<div class=\"nested\"><p class=\"part-label\">Other properties</p>");
            self.schema(additional);
            self.out.push_str("</div>");
        }
        if let Some((combinator, variants)) = &node.variants {
            let _ = write!(
                self.out,
                "<div class=\"nested\"><p class=\"part-label\">{}</p><ul class=\"variants\">",
                combinator.label()
            );
            for variant in variants {
                self.out.push_str("<li>");
                if variant.has_content() {
                    self.out.push_str("<details><summary>");
                    self.type_line(variant);
                    self.out.push_str("</summary>");
                    self.markdown(variant.description);
                    self.facts(variant);
                    self.content(variant);
                    self.out.push_str("</details>");
                } else {
                    self.type_line(variant);
                    self.markdown(variant.description);
                    self.facts(variant);
                }
                self.out.push_str("</li>");
            }
            self.out.push_str("</ul></div>");
        }
    }

    fn property(&mut self, node: &Node<'_>) {
        let name = node.name.as_deref().unwrap_or("");
        if node.has_content() {
            self.out.push_str("<li><details><summary>");
            self.property_head(name, node);
            self.out.push_str("</summary><div class=\"prop-body\">");
            self.markdown(node.description);
            self.facts(node);
            self.content(node);
            self.out.push_str("</div></details></li>");
        } else {
            self.out.push_str("<li><div class=\"prop-row\">");
            self.property_head(name, node);
            self.out.push_str("</div>");
            if node.description.is_some()
                || !node.facts.is_empty()
                || !node.enum_values.is_empty()
                || node.example.is_some()
            {
                self.out.push_str("<div class=\"prop-body\">");
                self.markdown(node.description);
                self.facts(node);
                self.out.push_str("</div>");
            }
            self.out.push_str("</li>");
        }
    }

    fn property_head(&mut self, name: &str, node: &Node<'_>) {
        self.out.push_str("<code class=\"prop-name\">");
        self.text(name);
        self.out.push_str("</code> ");
        self.type_line(node);
        if node.required {
            self.out
                .push_str(" <span class=\"flag flag-required\">required</span>");
        }
    }
}

/// The `openapi` field as written.
pub(crate) fn openapi_version(spec: &Spec<'_>) -> String {
    match spec.root.get("openapi") {
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}
