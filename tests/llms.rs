//! AI readiness: `/llms.txt` lists every API with a working markdown link,
//! `/llms-full.txt` holds their docs inline, and every page has a markdown
//! twin (`.md`, or `Accept: text/markdown`).

use portico::config::AuthSettings;
use portico_tests::{AppSpec, spawn_app};
use reqwest::StatusCode;

use crate::identity::{add_user, client, sign_in};

#[tokio::test]
async fn llms_txt_lists_every_api_with_a_working_markdown_link() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await;
    // Anonymous, as a crawler comes: the demo catalogue is public.
    let response = client()
        .get(format!("{}/llms.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("# Portico\n\n> "), "{text}");
    assert!(text.contains("\n## APIs\n"), "{text}");
    assert!(text.contains("- [The portal's own API (OpenAPI 3.1)](/openapi.json)"));
    let links: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("- ["))
        .filter_map(|line| line.split_once("](").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(')').map(|(link, _)| link))
        .filter(|link| link.ends_with("/docs.md"))
        .collect();
    assert_eq!(
        links.len(),
        5,
        "the demo's four APIs from files and the portal's own from its gateway: {text}"
    );
    assert!(
        text.contains("- [Petstore](/apis/default/petstore/docs.md)"),
        "{text}"
    );
    for link in links {
        let docs = client()
            .get(format!("{}{link}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(docs.status(), StatusCode::OK, "{link}");
        assert!(docs.text().await.unwrap().starts_with("# "), "{link}");
    }
}

#[tokio::test]
async fn llms_full_txt_holds_the_markdown_docs_of_every_api_inline() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await;
    let response = client()
        .get(format!("{}/llms-full.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("# Portico\n\n> "), "{text}");
    assert!(text.len() <= portico::llms::MAX_FULL_BYTES);
    assert!(!text.contains("## Left out"), "the demo fits: {text}");
    // Each API's docs, exactly as its markdown twin serves them.
    for link in [
        "/apis/default/petstore/docs.md",
        "/apis/default/legacy-orders/docs.md",
    ] {
        assert!(
            text.contains(&format!("Source: <{link}>")),
            "{link}: {text}"
        );
        let twin = client()
            .get(format!("{}{link}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(twin.trim_end()), "{link} inline");
    }
    assert!(text.contains("`GET /pets`"), "{text}");
}

#[tokio::test]
async fn llms_full_txt_leaves_out_what_the_reader_may_not_see() {
    let (app, _) = crate::mcp::portal().await;
    add_user(&app, "staff", "developer");
    let staff = sign_in(&app, "staff").await;
    let anonymous = client()
        .get(format!("{}/llms-full.txt", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(anonymous.contains("# Open Weather 2.1.0"), "{anonymous}");
    assert!(
        !anonymous.contains("payroll") && !anonymous.contains("Payroll"),
        "{anonymous}"
    );
    let developer = client()
        .get(format!("{}/llms-full.txt", app.base))
        .header(reqwest::header::COOKIE, staff.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(developer.contains("# Open Weather 2.1.0"), "{developer}");
    assert!(
        developer.contains("Source: </apis/default/payroll/docs.md>")
            && developer.contains("`GET /payslips`"),
        "{developer}"
    );
}

#[tokio::test]
async fn llms_txt_of_a_private_catalogue_needs_an_account() {
    let app = spawn_app(AppSpec {
        demo: true,
        auth: AuthSettings {
            public_catalog: false,
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let response = client()
        .get(format!("{}/llms.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let full = client()
        .get(format!("{}/llms-full.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), StatusCode::SEE_OTHER);
    // The admin token reads them.
    let text = app.get("/llms.txt").await.text().await.unwrap();
    assert!(text.contains("/apis/default/petstore/docs.md"), "{text}");
    let full = app.get("/llms-full.txt").await.text().await.unwrap();
    assert!(
        full.contains("Source: </apis/default/petstore/docs.md>"),
        "{full}"
    );
}

#[tokio::test]
async fn every_page_has_a_markdown_twin() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await;
    let markdown = |path: &'static str, accept: Option<&'static str>| {
        let mut request = client().get(format!("{}{path}", app.base));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                response.headers()["content-type"],
                "text/markdown; charset=utf-8",
                "{path}"
            );
            response.text().await.unwrap()
        }
    };
    let home = markdown("/index.md", None).await;
    assert!(
        home.contains("### [Petstore](/apis/default/petstore)"),
        "{home}"
    );
    let catalog = markdown("/catalog.md", None).await;
    assert!(
        catalog.contains("[Petstore](/apis/default/petstore)"),
        "{catalog}"
    );
    let api = markdown("/apis/default/petstore.md", None).await;
    assert!(api.contains("# Petstore"), "{api}");
    assert!(
        api.contains("| GET | /pets | List all pets | listPets |"),
        "the operations table: {api}"
    );
    assert!(!api.contains('<'), "no HTML left: {api}");
    // Content negotiation on the page's own path gives the same twin.
    let negotiated = markdown("/apis/default/petstore", Some("text/markdown")).await;
    assert_eq!(negotiated, api);
    // API docs answer with the docs renderer's own markdown.
    let docs = markdown("/apis/default/petstore/docs", Some("text/markdown")).await;
    assert!(
        docs.contains("listPets") || docs.contains("List all pets"),
        "{docs}"
    );
    // A twin passes the same permission checks as its page.
    let plugins = client()
        .get(format!("{}/plugins.md", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plugins.status(), StatusCode::SEE_OTHER);
    let missing = client()
        .get(format!("{}/apis/default/nothing.md", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
