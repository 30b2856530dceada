//! Spec parsing against documents nobody wrote for these tests: the fixtures in
//! `fixtures/specs/` always, and the shared real-world corpus (`../shared/corpus/openapi`
//! beside the repository) when it is there. Set `PORTICO_CORPUS` to make a missing corpus
//! fail (its value, unless `1`, is the corpus folder to use).

// A module, so that `cargo test spec` selects these tests too.
mod spec {
    use std::path::{Path, PathBuf};

    use portico_catalog::spec::{Operation, ParsedSpec, SpecError, SpecFormat, SpecHint};
    use serde_json::Value;

    const HTTP_METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn fixture(name: &str) -> (Vec<u8>, SpecHint) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/specs")
            .join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (bytes, SpecHint::from_file_name(name))
    }

    fn parse_fixture(name: &str) -> ParsedSpec {
        let (bytes, hint) = fixture(name);
        ParsedSpec::parse(&bytes, &hint).unwrap_or_else(|e| panic!("{e}"))
    }

    fn listed(operations: &[Operation]) -> Vec<String> {
        operations
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect()
    }

    /// Every `$ref` in the document, with where it is.
    fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push((at.to_owned(), r.clone()));
                }
                for (key, v) in map {
                    refs(v, &format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    refs(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn fixtures_are_recognised_and_indexed() {
        let cases = [
            ("petstore-2.0.yaml", SpecFormat::OpenApi2, 5),
            ("petstore-3.0.yaml", SpecFormat::OpenApi30, 4),
            ("petstore-3.1.json", SpecFormat::OpenApi31, 3),
            ("streetlights-asyncapi-2.6.yaml", SpecFormat::AsyncApi, 4),
            ("accounts-asyncapi-3.0.yaml", SpecFormat::AsyncApi, 2),
            ("library.graphql", SpecFormat::GraphQl, 5),
        ];
        for (name, format, operations) in cases {
            let (bytes, hint) = fixture(name);
            assert_eq!(SpecFormat::detect(&bytes, &hint), format, "{name}");
            assert_eq!(
                SpecFormat::detect(&bytes, &SpecHint::default()),
                format,
                "{name} without a hint"
            );
            let spec = ParsedSpec::parse(&bytes, &hint).unwrap();
            assert_eq!(spec.format(), format, "{name}");
            assert_eq!(spec.operations().len(), operations, "{name}");
            assert_eq!(spec.text().as_bytes(), &bytes[..], "{name}");
        }
    }

    #[test]
    fn swagger2_petstore_becomes_openapi30_with_servers_bodies_components_and_refs() {
        let spec = parse_fixture("petstore-2.0.yaml");
        let doc = spec.document().unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc.get("swagger").is_none() && doc.get("definitions").is_none());
        assert_eq!(
            doc["servers"],
            serde_json::json!([
                {"url": "https://petstore.example.com/v1"},
                {"url": "http://petstore.example.com/v1"}
            ])
        );

        let components = &doc["components"];
        for section in ["schemas", "parameters", "responses", "securitySchemes"] {
            assert!(components[section].is_object(), "components.{section}");
        }
        assert_eq!(
            components["securitySchemes"]["petstore_auth"]["flows"]["implicit"]["scopes"]["read:pets"],
            "read your pets"
        );
        assert_eq!(
            components["schemas"]["Pet"]["discriminator"]["propertyName"],
            "kind"
        );
        assert_eq!(
            components["schemas"]["Pet"]["properties"]["tag"]["nullable"],
            true
        );

        let create = &doc["paths"]["/pets"]["post"];
        assert_eq!(create["requestBody"]["required"], true);
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
        let upload = &doc["paths"]["/pets/{petId}/photo"]["post"];
        let form = &upload["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(form["properties"]["photo"]["format"], "binary");
        assert_eq!(form["required"], serde_json::json!(["photo"]));

        let show = &doc["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["content"];
        assert!(show["application/json"].is_object() && show["application/xml"].is_object());
        let list = &doc["paths"]["/pets"]["get"];
        assert_eq!(
            list["parameters"][0]["$ref"],
            "#/components/parameters/limit"
        );
        assert_eq!(list["parameters"][1]["explode"], true);
        assert_eq!(
            list["responses"]["200"]["headers"]["x-next"]["schema"]["type"],
            "string"
        );

        let mut all = Vec::new();
        refs(doc, "", &mut all);
        assert!(all.len() >= 8, "{all:?}");
        for (at, reference) in all {
            let target = reference.strip_prefix('#').and_then(|p| doc.pointer(p));
            assert!(target.is_some(), "{at}: {reference} points nowhere");
        }
    }

    #[test]
    fn converted_swagger2_reads_back_as_openapi30_with_the_same_index() {
        let spec = parse_fixture("petstore-2.0.yaml");
        let json = serde_json::to_vec(spec.document().unwrap()).unwrap();
        let again =
            ParsedSpec::parse(&json, &SpecHint::from_media_type("application/json")).unwrap();
        assert_eq!(again.format(), SpecFormat::OpenApi30);
        assert_eq!(again.operations(), spec.operations());
        assert_eq!(again.info(), spec.info());
    }

    #[test]
    fn petstore_operations_and_info_are_indexed() {
        let spec = parse_fixture("petstore-2.0.yaml");
        let ops = spec.operations();
        assert_eq!(
            listed(&ops),
            [
                "GET /pets",
                "POST /pets",
                "GET /pets/{petId}",
                "DELETE /pets/{petId}",
                "POST /pets/{petId}/photo"
            ]
        );
        assert_eq!(ops[0].operation_id.as_deref(), Some("listPets"));
        assert_eq!(ops[0].summary.as_deref(), Some("List all pets"));
        assert_eq!(ops[0].tags, ["pets"]);
        assert!(ops[3].deprecated && !ops[2].deprecated);

        let info = spec.info();
        assert_eq!(info.title.as_deref(), Some("Petstore"));
        assert_eq!(info.version.as_deref(), Some("1.0.0"));
        assert_eq!(info.description.as_deref(), Some("A sample pet store."));
        assert_eq!(info.tags, ["pets"]);
        assert_eq!(info.security_schemes, ["api_key", "petstore_auth"]);

        let info = parse_fixture("petstore-3.0.yaml").info();
        let servers: Vec<_> = info
            .servers
            .iter()
            .map(|s| (s.url.as_str(), s.description.as_deref()))
            .collect();
        assert_eq!(
            servers,
            [
                ("https://petstore.example.com/v1", Some("production")),
                ("https://sandbox.petstore.example.com/v1", Some("sandbox"))
            ]
        );
        assert_eq!(info.tags, ["pets", "store"]);

        let spec = parse_fixture("petstore-3.1.json");
        assert_eq!(
            listed(&spec.operations()),
            ["GET /pets", "GET /pets/{petId}", "PATCH /pets/{petId}"]
        );
        assert_eq!(spec.info().version.as_deref(), Some("v2"));
    }

    #[test]
    fn asyncapi_fixtures_index_their_channels_and_servers() {
        let spec = parse_fixture("streetlights-asyncapi-2.6.yaml");
        let ops = spec.operations();
        let ids: Vec<_> = ops
            .iter()
            .map(|o| (o.method.as_str(), o.operation_id.as_deref().unwrap()))
            .collect();
        assert_eq!(
            ids,
            [
                ("publish", "dimLight"),
                ("subscribe", "dimmed"),
                ("publish", "turnOn"),
                ("subscribe", "receiveLightMeasurement")
            ]
        );
        let info = spec.info();
        assert_eq!(info.title.as_deref(), Some("Streetlights API"));
        let names: Vec<_> = info.servers.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(names, [Some("production"), Some("sandbox")]);
        assert_eq!(info.security_schemes, ["apiKey"]);

        let spec = parse_fixture("accounts-asyncapi-3.0.yaml");
        let mut ops = listed(&spec.operations());
        ops.sort();
        assert_eq!(ops, ["receive user/signedup", "send user/signedup"]);
        let info = spec.info();
        assert_eq!(info.servers[0].url, "kafka://kafka.example.com:9092");
        assert_eq!(info.tags, ["accounts"]);
    }

    #[test]
    fn graphql_fixture_is_kept_as_text_and_indexes_root_fields() {
        let spec = parse_fixture("library.graphql");
        assert!(spec.document().is_none());
        let ops = spec.operations();
        assert_eq!(
            listed(&ops),
            [
                "query books",
                "query book",
                "query author",
                "mutation addBook",
                "query search"
            ]
        );
        assert_eq!(
            ops[0].description.as_deref(),
            Some("Every book, newest first.")
        );
        assert!(ops[2].deprecated);
    }

    #[test]
    fn broken_fixtures_report_file_line_and_reason() {
        let (bytes, hint) = fixture("broken.yaml");
        let err = ParsedSpec::parse(&bytes, &hint).unwrap_err();
        assert!(matches!(err, SpecError::Syntax { .. }), "{err:?}");
        assert_eq!(err.file(), Some("broken.yaml"));
        assert_eq!(err.line(), Some(8), "{err}");
        assert!(err.to_string().starts_with("broken.yaml:8:"), "{err}");

        let (bytes, hint) = fixture("broken.json");
        let err = ParsedSpec::parse(&bytes, &hint).unwrap_err();
        assert_eq!(err.line(), Some(6), "{err}");
        assert!(err.to_string().contains("trailing comma"), "{err}");
    }

    /// The shared corpus, or `None` (with a note) when it is absent and not required.
    fn corpus() -> Option<PathBuf> {
        let required = std::env::var("PORTICO_CORPUS").ok();
        let root = match required.as_deref() {
            Some(dir) if !dir.is_empty() && dir != "1" => PathBuf::from(dir),
            _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        };
        let openapi = root.join("openapi");
        if openapi.is_dir() {
            return Some(openapi);
        }
        if required.is_some() {
            panic!(
                "PORTICO_CORPUS is set but {} is not a directory; point PORTICO_CORPUS at the \
                 corpus folder (the one holding openapi/)",
                openapi.display()
            );
        }
        eprintln!(
            "note: skipping: no corpus at {} (set PORTICO_CORPUS to require it)",
            openapi.display()
        );
        None
    }

    /// Operations counted straight from the JSON, without the crate's index.
    fn count_operations(doc: &Value) -> usize {
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            return 0;
        };
        paths
            .values()
            .filter_map(|item| {
                let item = match item.get("$ref").and_then(Value::as_str) {
                    Some(r) => doc.pointer(r.trim_start_matches('#'))?,
                    None => item,
                };
                item.as_object()
            })
            .map(|item| {
                HTTP_METHODS
                    .iter()
                    .filter(|m| item.contains_key(**m))
                    .count()
            })
            .sum()
    }

    #[test]
    fn every_corpus_document_parses_with_the_operations_counted_independently() {
        let Some(dir) = corpus() else { return };
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dir.join("directory-manifest.json")).unwrap())
                .unwrap();
        let mut files: Vec<(PathBuf, Option<String>)> = manifest
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let file = entry["file"].as_str().unwrap();
                let version = entry["openapi"].as_str().map(str::to_owned);
                (dir.join("directory").join(file), version)
            })
            .collect();
        for large in ["github-api.github.com.json", "stripe-spec3.2023-09-12.json"] {
            files.push((dir.join(large), None));
        }
        assert!(files.len() >= 100, "only {} corpus files", files.len());

        let mut total = 0;
        for (path, version) in &files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let spec = ParsedSpec::parse(&bytes, &SpecHint::from_file_name(name.as_str()))
                .unwrap_or_else(|e| panic!("{e}"));
            let expected_format = match version.as_deref() {
                Some(v) if v.starts_with("3.0") => Some(SpecFormat::OpenApi30),
                Some(_) => Some(SpecFormat::OpenApi31),
                None => None,
            };
            if let Some(format) = expected_format {
                assert_eq!(spec.format(), format, "{name}");
            }
            assert!(spec.format().is_openapi(), "{name}");
            let raw: Value = serde_json::from_slice(&bytes).unwrap();
            let operations = spec.operations();
            assert_eq!(operations.len(), count_operations(&raw), "{name}");
            let info = spec.info();
            assert!(info.title.is_some() && info.version.is_some(), "{name}");
            total += operations.len();
        }
        eprintln!("{} corpus documents, {total} operations", files.len());
    }

    #[test]
    fn github_description_parses_and_indexes_its_thousand_operations() {
        let Some(dir) = corpus() else { return };
        let bytes = std::fs::read(dir.join("github-api.github.com.json")).unwrap();
        let hint = SpecHint::from_file_name("github-api.github.com.json");
        let spec = ParsedSpec::parse(&bytes, &hint).unwrap();
        let operations = spec.operations();
        let info = spec.info();

        assert_eq!(spec.format(), SpecFormat::OpenApi30);
        assert!(operations.len() > 1000, "{}", operations.len());
        assert_eq!(
            info.title.as_deref(),
            Some("GitHub's official OpenAPI spec + Octokit extension")
        );
        let repos_get = operations
            .iter()
            .find(|o| o.operation_id.as_deref() == Some("repos/get"))
            .expect("repos/get is indexed");
        assert_eq!(
            (repos_get.method.as_str(), repos_get.path.as_str()),
            ("GET", "/repos/{owner}/{repo}")
        );
    }
}
