//! Breaking-change detection on descriptions nobody wrote for these tests: the OpenAPI
//! Initiative's petstore versions in `fixtures/diff/` always, and pairs from the shared corpus
//! (`../shared/corpus/openapi` beside the repository) when it is there. Set `PORTICO_CORPUS`
//! to make a missing corpus fail. Also keeps docs/spec-diff.md in step with the rules.

// A module, so that `cargo test diff` selects these tests too.
mod spec_diff {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use portico_catalog::diff::{
        DiffError, Rule, Severity, Side, SpecDiff, diff, diff_documents, diff_specs,
    };
    use portico_catalog::spec::{ParsedSpec, SpecHint};

    fn parse(path: &Path) -> ParsedSpec {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        ParsedSpec::parse(&bytes, &SpecHint::from_file_name(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fixture(name: &str) -> ParsedSpec {
        parse(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(name),
        )
    }

    /// Each change as `rule @ location`, to compare with expectations.
    fn listed(result: &SpecDiff) -> Vec<String> {
        result
            .changes
            .iter()
            .map(|c| format!("{} @ {}", c.rule, c.location))
            .collect()
    }

    fn has(result: &SpecDiff, rule: Rule, location: &str) -> bool {
        result.with_rule(rule).any(|c| c.location == location)
    }

    #[test]
    fn swagger2_petstore_to_its_openapi3_rewrite_requires_a_body_and_returns_one_pet() {
        let old = fixture("diff/petstore-swagger-2.0.yaml");
        let new = fixture("diff/petstore.yaml");
        let result = diff_specs(&old, &new).unwrap();
        assert_eq!(
            listed(&result),
            [
                "request-constraint-narrowed @ GET /pets › parameter `limit` (query)",
                "response-constraint-narrowed @ GET /pets › response 200 › application/json",
                "required-request-body-added @ POST /pets › request body",
                "response-type-changed @ GET /pets/{petId} › response 200 › application/json",
            ]
        );
        let messages: Vec<&str> = result.changes.iter().map(|c| c.message.as_str()).collect();
        assert_eq!(messages[0], "`maximum` 100 was added.");
        assert_eq!(messages[3], "Type changed from `array` to `object`.");
        assert_eq!(result.breaking().count(), 3);
    }

    #[test]
    fn petstore_to_expanded_petstore_breaks_on_removed_status_header_property_and_id_type() {
        let old = fixture("diff/petstore.yaml");
        let new = fixture("diff/petstore-expanded.yaml");
        let result = diff_specs(&old, &new).unwrap();
        let breaking: Vec<String> = result
            .breaking()
            .map(|c| format!("{} @ {}: {}", c.rule, c.location, c.message))
            .collect();
        assert_eq!(
            breaking,
            [
                "response-header-removed @ GET /pets › response 200 › header `x-next`: \
                 Header `x-next` was removed.",
                "response-constraint-widened @ GET /pets › response 200 › application/json: \
                 `maxItems` 100 was removed.",
                "request-property-removed @ POST /pets › request body › application/json › id: \
                 Required property `id` was removed.",
                "response-status-removed @ POST /pets › response 201: Response `201` was removed.",
                "request-type-changed @ GET /pets/{id} › parameter `id` (path): \
                 Type changed from `string` to `integer/int64`.",
            ]
        );
        // `/pets/{petId}` became `/pets/{id}`: one path, not a removal and an addition.
        assert!(has(&result, Rule::PathParameterRenamed, "/pets/{id}"));
        assert!(result.with_rule(Rule::PathRemoved).next().is_none());
        assert!(has(&result, Rule::OperationAdded, "DELETE /pets/{id}"));
        assert!(has(
            &result,
            Rule::OptionalParameterAdded,
            "GET /pets › parameter `tags` (query)"
        ));
        assert!(has(
            &result,
            Rule::ResponseStatusAdded,
            "POST /pets › response 200"
        ));
        assert_eq!(result.with_rule(Rule::OperationIdChanged).count(), 3);
        // `Pet` became `allOf: [NewPet, {id}]`: the same shape, so the responses did not change.
        assert!(
            result
                .with_rule(Rule::ResponsePropertyRemoved)
                .next()
                .is_none()
        );
    }

    #[test]
    fn json_values_diff_like_parsed_specs_swagger2_included() {
        let old = fixture("diff/petstore.yaml");
        let new = fixture("diff/petstore-expanded.yaml");
        let through_values = diff(old.document().unwrap(), new.document().unwrap()).unwrap();
        assert_eq!(through_values, diff_specs(&old, &new).unwrap());

        let swagger = fixture("diff/petstore-swagger-2.0.yaml");
        let raw: serde_json::Value = serde_yaml_ng::from_str(swagger.text()).unwrap();
        assert_eq!(raw["swagger"], "2.0");
        assert_eq!(
            diff(&raw, old.document().unwrap()).unwrap(),
            diff_specs(&swagger, &old).unwrap()
        );
    }

    #[test]
    fn unparseable_bytes_are_unreadable_naming_the_side_file_and_line() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let broken = std::fs::read(dir.join("specs/broken.yaml")).unwrap();
        let petstore = std::fs::read(dir.join("diff/petstore.yaml")).unwrap();
        let err = diff_documents(
            &broken,
            &SpecHint::from_file_name("broken.yaml"),
            &petstore,
            &SpecHint::from_file_name("petstore.yaml"),
        )
        .unwrap_err();
        let DiffError::Unreadable { side, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*side, Side::Old);
        assert!(reason.starts_with("broken.yaml:8:"), "{reason}");
        assert!(
            err.to_string()
                .starts_with("the old document cannot be diffed: broken.yaml:8:")
        );

        let ok = diff_documents(
            &petstore,
            &SpecHint::from_file_name("petstore.yaml"),
            &petstore,
            &SpecHint::default(),
        )
        .unwrap();
        assert!(ok.is_empty());
    }

    #[test]
    fn an_asyncapi_document_cannot_be_diffed_and_the_side_is_named() {
        let petstore = fixture("diff/petstore.yaml");
        let events = fixture("specs/streetlights-asyncapi-2.6.yaml");
        let err = diff_specs(&petstore, &events).unwrap_err();
        let DiffError::Unreadable { side, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*side, Side::New);
        assert!(reason.contains("AsyncAPI"), "{reason}");
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

    #[test]
    fn every_corpus_document_diffed_with_itself_has_no_changes() {
        let Some(dir) = corpus() else { return };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("directory"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.push(dir.join("github-api.github.com.json"));
        assert!(files.len() > 100, "only {} corpus files", files.len());
        for path in files {
            let spec = parse(&path);
            let started = Instant::now();
            let result =
                diff_specs(&spec, &spec).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                result.is_empty(),
                "{}: {:#?}",
                path.display(),
                &result.changes[..result.changes.len().min(5)]
            );
            if path.ends_with("github-api.github.com.json") {
                eprintln!("GitHub's description with itself: {:?}", started.elapsed());
            }
        }
    }

    #[test]
    fn stripe_2022_to_2023_adds_paths_and_reports_what_breaks_once_per_schema() {
        let Some(dir) = corpus() else { return };
        // The directory's copy is Stripe's spec3 from before 2023-08-16, the other is 2023-08-16.
        let old = parse(&dir.join("directory/stripe.com.json"));
        let new = parse(&dir.join("stripe-spec3.2023-09-12.json"));
        let started = Instant::now();
        let result = diff_specs(&old, &new).unwrap();
        eprintln!(
            "Stripe pair: {} changes in {:?}",
            result.changes.len(),
            started.elapsed()
        );

        assert!(result.is_breaking());
        assert_eq!(result.with_rule(Rule::PathAdded).count(), 13);
        assert!(has(&result, Rule::PathAdded, "/v1/account_sessions"));
        assert!(result.with_rule(Rule::PathRemoved).next().is_none());
        assert!(result.with_rule(Rule::OperationRemoved).next().is_none());
        assert!(has(
            &result,
            Rule::OptionalParameterAdded,
            "GET /v1/credit_notes/preview › parameter `effective_at` (query)"
        ));
        // `checkout.session.success_url` became optional and nullable: breaking, reported once
        // for the schema with the number of places it reaches.
        let optional: Vec<_> = result
            .with_rule(Rule::ResponsePropertyBecameOptional)
            .filter(|c| c.location.ends_with("success_url"))
            .collect();
        assert_eq!(optional.len(), 1, "{optional:#?}");
        assert!(
            optional[0]
                .message
                .contains("in schema `checkout.session`, used in"),
            "{}",
            optional[0].message
        );
        let payment_method_types = result
            .with_rule(Rule::ResponseEnumValueAdded)
            .find(|c| {
                c.location
                    == "POST /v1/payment_links › response 200 › application/json \
                        › payment_method_types[]"
            })
            .expect("`paypal` is a new payment method type of payment links");
        assert!(payment_method_types.message.contains("`paypal`"));
        assert_eq!(payment_method_types.severity, Severity::Breaking);
        let request_enum = result
            .with_rule(Rule::RequestEnumValueAdded)
            .find(|c| {
                c.location
                    .starts_with("POST /v1/checkout/sessions › request body")
            })
            .expect("checkout sessions accept new values");
        assert_eq!(request_enum.severity, Severity::NonBreaking);
        assert!(
            result.changes.len() < 1000,
            "shared schemas are reported once, not per use: {}",
            result.changes.len()
        );
    }

    #[test]
    fn descriptions_of_different_apis_are_refused() {
        let Some(dir) = corpus() else { return };
        let places = parse(&dir.join("directory/placekit.co.json"));
        let scraping = parse(&dir.join("directory/webscraping.ai.json"));
        let err = diff_specs(&places, &scraping).unwrap_err();
        assert_eq!(
            err,
            DiffError::DifferentApi {
                old_title: "PlaceKit API Reference".into(),
                new_title: "WebScraping.AI".into()
            }
        );
    }

    /// The rule table of docs/spec-diff.md, as the code would write it.
    fn rule_table() -> String {
        let mut table = String::from("| Rule | Severity | Detects |\n| --- | --- | --- |\n");
        for rule in Rule::ALL {
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                rule.id(),
                rule.severity(),
                rule.summary().replace('|', "\\|")
            ));
        }
        table
    }

    #[test]
    fn docs_list_every_rule_with_its_severity() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/spec-diff.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let start = doc.find("<!-- rules:start -->").expect("start marker")
            + "<!-- rules:start -->\n".len();
        let end = doc.find("<!-- rules:end -->").expect("end marker");
        let expected = rule_table();
        assert!(
            doc[start..end] == expected,
            "{} is out of date with the rules; put this between the markers:\n\n{expected}",
            path.display()
        );
    }
}
