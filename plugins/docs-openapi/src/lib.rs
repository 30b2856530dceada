//! Portico's first-party docs renderer for OpenAPI 3.0 and 3.1 (the host
//! converts Swagger 2.0 to 3.0 first): operations grouped by tag with their
//! parameters, bodies and responses as expandable schema trees, the security
//! schemes, code samples and the component schemas, as HTML and as markdown.

mod html;
mod markdown;
mod model;
mod samples;
mod schema;
mod spec;
mod text;

use portico_plugin_sdk::renderer::{Operation, RenderOptions, Rendered, Renderer, TocEntry};
use portico_plugin_sdk::{PluginError, SpecDocument, SpecFormat, export_renderer};
use serde_json::{Map, Value};

use crate::html::HtmlWriter;
use crate::markdown::MarkdownWriter;
use crate::model::{Expansion, OperationDoc};
use crate::samples::Language;
use crate::schema::{Builder, Usage};
use crate::spec::Spec;

/// Schema nodes the operations may expand in place, shared between them:
/// a small API gets deep trees, GitHub's thousand operations a page that opens.
const EXPANSION_NODES: usize = 24_000;

/// The fewest and most nodes one operation expands.
const OPERATION_NODES: (usize, usize) = (25, 300);

/// The most nodes a component schema's own section shows.
const DEFINITION_NODES: usize = 200;

/// The base URL of code samples when neither the host nor the document gives one.
const PLACEHOLDER_SERVER: &str = "https://api.example.com";

struct DocsOpenApi;

impl Renderer for DocsOpenApi {
    fn formats() -> Vec<SpecFormat> {
        vec![SpecFormat::Openapi30, SpecFormat::Openapi31]
    }

    fn render(spec: SpecDocument, options: RenderOptions) -> Result<Rendered, PluginError> {
        let root = parse(&spec)?;
        let rendered = render(
            root.as_object().expect("parse checks for an object"),
            &options,
            spec.content.len(),
        );
        // The instance is thrown away after the call: freeing the parsed
        // document piece by piece would only cost time.
        #[cfg(target_arch = "wasm32")]
        std::mem::forget((root, spec));
        Ok(rendered)
    }

    fn operations(spec: SpecDocument) -> Result<Vec<Operation>, PluginError> {
        let root = parse(&spec)?;
        let spec = Spec::new(root.as_object().expect("parse checks for an object"));
        Ok(spec
            .operations
            .iter()
            .map(|o| spec.index_entry(o))
            .collect())
    }
}

export_renderer!(DocsOpenApi);

#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Parses a document (JSON, or YAML when it does not look like JSON) and
/// checks it is an OpenAPI 3.0 or 3.1 object.
fn parse(document: &SpecDocument) -> Result<Value, PluginError> {
    if !matches!(
        document.format,
        SpecFormat::Openapi30 | SpecFormat::Openapi31
    ) {
        return Err(PluginError::Unsupported(format!(
            "this renderer reads OpenAPI 3.0 and 3.1, not {:?}",
            document.format
        )));
    }
    let json =
        document.media_type.contains("json") || document.content.trim_start().starts_with('{');
    let root: Value = if json {
        serde_json::from_str(&document.content)
            .map_err(|e| PluginError::Internal(format!("the document is not valid JSON: {e}")))?
    } else {
        serde_yaml_ng::from_str(&document.content)
            .map_err(|e| PluginError::Internal(format!("the document is not valid YAML: {e}")))?
    };
    let Some(object) = root.as_object() else {
        return Err(PluginError::Internal(
            "the document is not an object at its top level".to_owned(),
        ));
    };
    spec::check_version(object).map_err(PluginError::Unsupported)?;
    Ok(root)
}

/// Renders a parsed document: both outputs, the table of contents, the
/// operation index and warnings, in one pass over the operations.
fn render(root: &Map<String, Value>, options: &RenderOptions, capacity: usize) -> Rendered {
    let spec = Spec::new(root);
    let languages: Vec<Language> = if options.code_sample_languages.is_empty() {
        Language::ALL.to_vec()
    } else {
        let mut chosen: Vec<Language> = options
            .code_sample_languages
            .iter()
            .filter_map(|name| Language::parse(name))
            .collect();
        chosen.dedup();
        chosen
    };
    let document_servers = spec.servers(None);
    let base_url = options
        .servers
        .first()
        .map(|(_, url)| url.clone())
        .or_else(|| document_servers.first().map(|(url, _)| url.clone()))
        .filter(|url| url.contains("://"))
        .unwrap_or_else(|| PLACEHOLDER_SERVER.to_owned());
    let expansion = Expansion {
        budget: (EXPANSION_NODES / spec.operations.len().max(1))
            .clamp(OPERATION_NODES.0, OPERATION_NODES.1),
        ref_depth: 2,
    };

    // Sized from what GitHub's and Stripe's documents render to, to spare re-allocations.
    let mut html = HtmlWriter::new(capacity * 2);
    let mut md = MarkdownWriter::new(capacity);
    let mut toc = vec![entry(1, "Introduction", "introduction")];
    html.intro(&spec, &document_servers);
    md.intro(&spec, &document_servers);
    if !document_servers.is_empty() {
        toc.push(entry(1, "Servers", "servers"));
    }

    let schemes = model::schemes(&spec);
    if !schemes.is_empty() {
        toc.push(entry(1, "Authentication", "authentication"));
    }
    html.authentication(&schemes);
    md.authentication(&schemes);

    for group in &spec.groups {
        toc.push(entry(1, group.name, &group.anchor));
        html.group_start(group);
        md.group(group);
        for &index in &group.operations {
            let operation = &spec.operations[index];
            toc.push(entry(2, &operation.title(), &operation.anchor));
            let servers = operation.servers.map(|s| spec.servers(Some(s)));
            let base = servers
                .as_ref()
                .and_then(|s| s.first())
                .map(|(url, _)| url.as_str())
                .filter(|url| url.contains("://"))
                .unwrap_or(&base_url);
            let doc = OperationDoc::new(&spec, operation, expansion, &languages, base);
            html.operation(&doc);
            md.operation(&doc);
        }
        html.group_end();
    }

    if let Some(schemas) = spec.component("schemas").filter(|s| !s.is_empty()) {
        toc.push(entry(1, "Schemas", "schemas"));
        html.schemas_start();
        md.schemas_start();
        for (name, schema) in schemas {
            let anchor = spec.schema_anchor(name).unwrap_or("schemas").to_owned();
            toc.push(entry(2, name, &anchor));
            let node = Builder::new(&spec, Usage::Definition, DEFINITION_NODES, 0)
                .definition(name, schema);
            html.definition(name, &anchor, &node);
            md.definition(name, &anchor, &node);
        }
        html.schemas_end();
    }

    let warnings = spec
        .broken_refs
        .borrow()
        .iter()
        .map(|r| format!("`$ref` {r} points nowhere in the document; shown as `any`"))
        .collect();
    Rendered {
        html: html.finish(),
        markdown: md.finish(),
        toc,
        operations: spec
            .operations
            .iter()
            .map(|o| spec.index_entry(o))
            .collect(),
        warnings,
    }
}

fn entry(level: u8, title: &str, anchor: &str) -> TocEntry {
    TocEntry {
        level,
        title: title.to_owned(),
        anchor: anchor.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use portico_plugin_sdk::Theme;

    use super::*;

    pub(crate) fn options() -> RenderOptions {
        RenderOptions {
            theme: Theme {
                primary_color: "#000".into(),
                accent_color: "#000".into(),
                background_color: "#fff".into(),
                text_color: "#000".into(),
                font_family: "sans-serif".into(),
                monospace_font_family: "monospace".into(),
                dark: false,
            },
            base_path: "/apis/default/pets/docs".into(),
            try_it_endpoint: None,
            servers: Vec::new(),
            code_sample_languages: Vec::new(),
            locale: "en".into(),
        }
    }

    fn document(content: &str) -> SpecDocument {
        SpecDocument {
            format: SpecFormat::Openapi30,
            media_type: "application/yaml".into(),
            content: content.into(),
            source: None,
        }
    }

    const PETSTORE: &str = r#"
openapi: 3.0.3
info:
  title: Pets
  version: 1.0.0
  description: "Adopt <script>alert(1)</script> **pets**."
servers: [{url: "https://pets.example.com/v1"}]
tags: [{name: pets, description: Everything about pets}]
security: [{key: []}]
paths:
  /pets:
    post:
      tags: [pets]
      operationId: createPet
      summary: Add a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses:
        '201':
          description: Created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
  /health:
    get:
      security: []
      responses: {'200': {description: OK}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, description: "The pet's <b>name</b>"}
        kind: {type: string, enum: [cat, dog]}
"#;

    #[test]
    fn a_document_renders_grouped_with_schemas_samples_and_toc() {
        let rendered = DocsOpenApi::render(document(PETSTORE), options()).unwrap();
        let html = &rendered.html;
        assert!(
            html.contains("<section class=\"tag-group\" id=\"tag-pets\">\n<h2>pets</h2>"),
            "{html}"
        );
        assert!(html.contains("<section class=\"op\" id=\"op-createpet\">\n<h3>Add a pet</h3>"));
        assert!(html.contains(
            "<span class=\"method method-post\">POST</span> <code class=\"op-path\">/pets</code>"
        ));
        assert!(html.contains("<code class=\"prop-name\">name</code>"));
        assert!(html.contains("<a href=\"#schema-pet\">Pet</a>"));
        assert!(html.contains("<code>&quot;cat&quot;</code>"));
        assert!(
            html.contains("curl -X POST &#39;https://pets.example.com/v1/pets&#39;"),
            "{html}"
        );
        assert!(html.contains("-H &#39;X-Api-Key: YOUR_API_KEY&#39;"));
        assert!(html.contains("<p class=\"op-security\">No authentication.</p>"));
        assert!(html.contains("<section class=\"tag-group\" id=\"tag-other-operations\">"));
        assert!(html.contains("id=\"schema-pet\""));
        assert!(
            !html.contains("<script>") && !html.contains("<b>name"),
            "escaped"
        );
        let md = &rendered.markdown;
        assert!(md.contains("## pets\n\nEverything about pets"), "{md}");
        assert!(md.contains("### Add a pet\n\n`POST /pets`"));
        assert!(
            md.contains("- `name` *string*, required: The pet's <b>name</b>"),
            "{md}"
        );
        assert!(md.contains("```shell\ncurl -X POST 'https://pets.example.com/v1/pets'"));
        let toc: Vec<_> = rendered
            .toc
            .iter()
            .map(|e| (e.level, e.anchor.as_str()))
            .collect();
        assert_eq!(
            toc,
            [
                (1, "introduction"),
                (1, "servers"),
                (1, "authentication"),
                (1, "tag-pets"),
                (2, "op-createpet"),
                (1, "tag-other-operations"),
                (2, "op-get-health"),
                (1, "schemas"),
                (2, "schema-pet"),
            ]
        );
        assert_eq!(rendered.operations.len(), 2);
        assert_eq!(
            rendered.operations[0].operation_id.as_deref(),
            Some("createPet")
        );
        assert_eq!(rendered.operations[0].anchor, "op-createpet");
        assert!(rendered.warnings.is_empty());
    }

    #[test]
    fn chosen_languages_and_host_servers_shape_the_samples() {
        let mut options = options();
        options.code_sample_languages = vec!["python".into(), "cobol".into()];
        options.servers = vec![("sandbox".into(), "https://sandbox.example.com".into())];
        let rendered = DocsOpenApi::render(document(PETSTORE), options).unwrap();
        assert!(rendered.html.contains("requests.post("));
        assert!(rendered.html.contains("https://sandbox.example.com/pets"));
        assert!(!rendered.html.contains("curl -X"));
    }

    #[test]
    fn broken_input_is_an_error_value_not_a_panic() {
        for bad in [
            "{not json",
            "- a list",
            "openapi: 2.0\n",
            "swagger: '2.0'\n",
            "info: {}\n",
            ": :",
        ] {
            let result = DocsOpenApi::render(document(bad), options());
            assert!(result.is_err(), "{bad}");
        }
        let mut swagger = document("swagger: '2.0'");
        swagger.format = SpecFormat::Openapi2;
        assert!(matches!(
            DocsOpenApi::render(swagger, options()),
            Err(PluginError::Unsupported(_))
        ));
    }

    #[test]
    fn odd_but_valid_documents_render_with_warnings() {
        let odd = r##"{"openapi": "3.1.0", "info": {"title": "Odd"}, "paths": {
            "/a": {"get": {"responses": {"200": {"description": "x", "content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}},
            "/b": "not an object",
            "/c": {"post": {"requestBody": {"content": {"text/plain": {"schema": true}}}, "responses": []}}
        }, "components": {"schemas": {"Self": {"$ref": "#/components/schemas/Self"}, "T": true}}}"##;
        let rendered = DocsOpenApi::render(document(odd), options()).unwrap();
        assert_eq!(rendered.operations.len(), 2);
        assert!(
            rendered.warnings.iter().any(|w| w.contains("Missing")),
            "{:?}",
            rendered.warnings
        );
    }

    #[test]
    fn operations_alone_are_the_index() {
        let ops = DocsOpenApi::operations(document(PETSTORE)).unwrap();
        let ids: Vec<_> = ops
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(ids, [("POST", "/pets"), ("GET", "/health")]);
        assert_eq!(ops[0].tags, ["pets"]);
    }

    /// Every document of the shared corpus renders, when the corpus sits beside the repository.
    #[test]
    fn every_corpus_document_renders() {
        let corpus =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/openapi");
        let Ok(entries) = std::fs::read_dir(corpus.join("directory")) else {
            eprintln!("skipped: no corpus at {}", corpus.display());
            return;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.push(corpus.join("stripe-spec3.2023-09-12.json"));
        files.push(corpus.join("github-api.github.com.json"));
        for file in files {
            let content = std::fs::read_to_string(&file).unwrap();
            let format = if content.contains("\"openapi\": \"3.0")
                || content.contains("\"openapi\":\"3.0")
            {
                SpecFormat::Openapi30
            } else {
                SpecFormat::Openapi31
            };
            let spec = SpecDocument {
                format,
                media_type: "application/json".into(),
                content,
                source: None,
            };
            let started = std::time::Instant::now();
            let rendered = DocsOpenApi::render(spec, options())
                .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
            eprintln!(
                "{}: {:?}, html {} B, markdown {} B, {} operations",
                file.display(),
                started.elapsed(),
                rendered.html.len(),
                rendered.markdown.len(),
                rendered.operations.len()
            );
            assert!(rendered.html.len() > 1000, "{}", file.display());
        }
    }
}
