//! The OpenAPI document the command API serves, and the page to try it.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use support::{code, Api};

async fn document(api: &Api) -> Value {
    let answer = api
        .http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("a JSON document")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_document_describes_each_command_body_and_answer(pool: PgPool) {
    let api = Api::start(&pool).await;
    let document = document(&api).await;

    assert!(document["openapi"].as_str().unwrap_or("").starts_with("3."));
    assert_eq!(document["info"]["title"], "PageNow command API");
    let send = &document["paths"]["/v1/commands/send-message"]["post"];
    assert_eq!(
        send["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SendBody"
    );
    let body = &document["components"]["schemas"]["SendBody"];
    assert_eq!(body["additionalProperties"], false);
    let required: Vec<&str> = body["required"]
        .as_array()
        .expect("required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["conversation_id", "text"]);
    for status in [
        "200", "401", "403", "404", "409", "413", "415", "422", "503",
    ] {
        assert!(
            send["responses"][status].is_object(),
            "{status} is not documented"
        );
    }
    assert_eq!(document["security"][0]["bearer"], serde_json::json!([]));

    let page = api
        .http
        .get(format!("{}/docs/", api.base))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), StatusCode::OK);
}

/// The answers' schemas are registered by hand (`document()`): a reference to one that
/// is missing would leave the document pointing at nothing.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_schema_the_document_refers_to_is_in_it(pool: PgPool) {
    let api = Api::start(&pool).await;
    let document = document(&api).await;

    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(
        references.contains(&"#/components/schemas/Accepted".to_owned()),
        "the commands' answer is referred to: {references:?}"
    );
    for reference in references {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{reference} is not a schema reference"));
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{reference} is not in the document"
        );
    }
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("$ref", Value::String(reference)) => references.push(reference.clone()),
                    _ => collect_references(field, references),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, references)),
        _ => {}
    }
}

/// Every command of the document is one the API serves: without a token, each answers
/// `401`, never the `404 route.not_found` of a route that does not exist.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_documented_command_is_served(pool: PgPool) {
    let api = Api::start(&pool).await;
    let document = document(&api).await;
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "only {} paths", paths.len());
    for path in paths.keys() {
        let (status, body) = api.post(None, path, "{}").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "POST {path}");
        assert_ne!(code(&body), "route.not_found", "POST {path}");
    }
}
