//! The OpenAPI document the query API serves, and the page to try it.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use support::{error_code, start};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_document_and_the_page_to_try_it_are_served_without_a_token(pool: PgPool) {
    let app = start(pool).await;

    let document = app.get("/openapi.json", None).await;
    assert_eq!(document.status(), StatusCode::OK);
    let document: Value = document.json().await.expect("a JSON document");
    assert!(document["openapi"].as_str().unwrap_or("").starts_with("3."));
    assert_eq!(document["info"]["title"], "PageNow query API");
    let messages = &document["paths"]["/v1/conversations/{id}/messages"]["get"];
    let parameters: Vec<&str> = messages["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        parameters,
        ["id", "limit", "before", "min_position", "wait_ms"]
    );
    for status in ["200", "401", "403", "404", "503"] {
        assert!(
            messages["responses"][status].is_object(),
            "{status} is not documented"
        );
    }

    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui"), "not the Swagger UI page");
}

/// Every operation of the document is one the API serves: without a token, each answers
/// `401`, never the `404 route.not_found` of a route that does not exist.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_documented_operation_is_served(pool: PgPool) {
    let app = start(pool).await;
    let document: Value = app
        .get("/openapi.json", None)
        .await
        .json()
        .await
        .expect("a JSON document");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 23, "only {} paths", paths.len());
    for path in paths.keys() {
        let concrete = path
            .replace("{id}", "7a1c5c3e-1f0e-4c55-9a4e-1f2d3c4b5a69")
            .replace("{user_id}", "ann")
            .replace("{domain}", "example.com");
        let answer = app.get(&concrete, None).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "GET {concrete}");
        assert_ne!(
            error_code(answer).await,
            "route.not_found",
            "GET {concrete}"
        );
    }
}
