//! `GET /api/v1/openapi.json`: the OpenAPI document is served, is valid JSON,
//! and describes every route the router has, each as it behaves.
//!
//! `cargo xtask test` also runs Schemathesis against it (xtask/src/test.rs).

use crate::authorization::{Access, MATRIX};
use crate::helpers::{spawn_app, TestApp};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every API route of `routes::api()`, as (method, path), from the
/// authorization matrix: a route added to the router must be added there (with
/// who may call it) and to the document; `routes/mod.rs` is read below so that
/// one missing from the matrix fails too.
fn routes() -> BTreeSet<(String, String)> {
    MATRIX
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

/// Routes that need a bearer token of some kind.
fn secured_routes() -> BTreeSet<(String, String)> {
    MATRIX
        .iter()
        .filter(|r| r.access != Access::Public)
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).expect("the document is valid JSON")
}

/// The (method, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            item.keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

/// The (method, path) of each `.route("path", get(..).post(..))` call in
/// `routes/mod.rs`, under `/api/v1`.
fn routes_in_the_router_source() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/http/routes/mod.rs");
    let mut found = BTreeSet::new();
    for (start, _) in source.match_indices(".route(") {
        // The call's arguments, up to its closing parenthesis.
        let args = &source[start + ".route(".len()..];
        let mut depth = 1;
        let end = args
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })
            .expect("a closed .route( call");
        let args = &args[..end];
        let path = args.split('"').nth(1).expect("a path literal");
        for method in METHODS {
            let call = format!("{method}(");
            let called = args
                .match_indices(&call)
                .any(|(i, _)| !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            if called {
                found.insert((method.to_owned(), format!("/api/v1{path}")));
            }
        }
    }
    found
}

/// A concrete URL for a documented path.
fn url_of(path: &str) -> String {
    path.replace("{version_id}", "01980a00-0000-7000-8000-000000000102")
        .replace("{policy_id}", "01980a00-0000-7000-8000-000000000202")
        .replace("{academy_id}", "01980a00-0000-7000-8000-000000000302")
        .replace("{user_id}", "01980a00-0000-7000-8000-000000000014")
        .replace("{device_id}", "01980a00-0000-7000-8000-0000000000d1")
        .replace("{invitation_id}", "01980a00-0000-7000-8000-0000000000e1")
        .replace("{code}", "ZZZZ-ZZZZ")
        .replace("{incident_id}", "01980a00-0000-7000-8000-0000000000f1")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_json() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Haven API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_document_and_nothing_else() {
    assert_eq!(
        routes_in_the_router_source(),
        routes(),
        "routes/mod.rs and the authorization matrix differ: add the new route to MATRIX \
         (tests/api/authorization.rs) and document it"
    );
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented = operations(&doc);
    let missing: Vec<_> = routes().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes()).cloned().collect();
    assert!(
        extra.is_empty(),
        "operations the router does not have: {extra:?}"
    );
}

#[tokio::test]
async fn the_router_answers_the_documented_methods_and_only_those() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented = operations(&doc);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            let response = app
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    app.url(&url_of(path)),
                )
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if documented.contains(&(method.to_owned(), path.clone())) {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
                let body = response.text().await.unwrap();
                assert!(
                    !body.contains("there is no API endpoint"),
                    "{method} {path} is documented but not routed"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is routed but not documented");
            }
        }
    }
}

#[tokio::test]
async fn secured_routes_and_only_those_need_the_bearer_token() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let secured = operation["security"] == serde_json::json!([{"bearer": []}]);
        let secured_route = secured_routes().contains(&(method.clone(), path.clone()));
        assert_eq!(secured, secured_route, "{method} {path}: security");
        let responses = &operation["responses"];
        if secured_route {
            assert_eq!(
                responses["401"]["$ref"], "#/components/responses/Unauthorized",
                "{method} {path}"
            );
            // Any credential will do for these, so nothing is forbidden.
            let anyone = MATRIX
                .iter()
                .any(|r| r.method == method && r.path == path && r.access == Access::AnyCaller);
            if !anyone || !responses["403"].is_null() {
                assert_eq!(
                    responses["403"]["$ref"], "#/components/responses/Forbidden",
                    "{method} {path}"
                );
            }
        }
        // And the server agrees: with no token, only secured routes answer 401
        // (before reading any body).
        let response = app
            .client
            .request(
                method.to_uppercase().parse().unwrap(),
                app.url(&url_of(&path)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status() == 401,
            secured_route,
            "{method} {path} answered {} with no token",
            response.status()
        );
    }
}

#[tokio::test]
async fn every_operation_documents_success_and_its_errors_as_api_errors() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let responses = doc["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} has no success response"
        );
        for (status, response) in responses {
            if status.starts_with('2') {
                continue;
            }
            let response = match response["$ref"].as_str() {
                Some(r) => {
                    let name = r.strip_prefix("#/components/responses/").unwrap();
                    &doc["components"]["responses"][name]
                }
                None => response,
            };
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ApiError",
                "{method} {path} {status}"
            );
        }
    }
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 50);
    for r in found {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[tokio::test]
async fn the_schemas_follow_serde_and_the_limits_in_the_code() {
    use haven_core::pull::MAX_PULL_LIMIT;
    use haven_core::rules::MAX_ROWS;
    use haven_core::sync::wire::MAX_BATCH;

    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];

    // deny_unknown_fields is additionalProperties: false, in structs and in
    // the variants of tagged enums; a type without it stays open.
    for closed in [
        "PushRequest",
        "Mutation",
        "AgreementRecord",
        "PublishPolicyVersion",
    ] {
        assert_eq!(schemas[closed]["additionalProperties"], false, "{closed}");
    }
    for variant in schemas["PolicyOwner"]["oneOf"].as_array().unwrap() {
        assert_eq!(variant["additionalProperties"], false, "{variant}");
    }
    assert_eq!(schemas["Change"]["oneOf"][0]["additionalProperties"], false);
    assert!(schemas["ApiError"].get("additionalProperties").is_none());

    // The flattened record: one object, `received_at` beside its fields.
    let view = &schemas["AgreementView"];
    assert!(view.get("allOf").is_none());
    assert_eq!(view["properties"]["received_at"]["type"], "integer");
    assert!(view["properties"]["signer_name"].is_object());

    // Options are nullable and not required; UUIDs and digests have formats.
    let contact = &schemas["Contact"];
    assert_eq!(
        contact["properties"]["phone"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert!(!contact["required"]
        .as_array()
        .unwrap()
        .contains(&"phone".into()));
    assert_eq!(
        schemas["AgreementRecord"]["properties"]["id"]["format"],
        "uuid"
    );
    assert_eq!(
        schemas["Sha256Hex"]["pattern"],
        haven_core::hash::SHA256_HEX_PATTERN
    );
    assert_eq!(schemas["Slug"]["pattern"], haven_core::slug::SLUG_PATTERN);
    assert_eq!(
        contact["properties"]["email"]["pattern"],
        haven_core::validate::EMAIL_PATTERN
    );

    // The pupil and the staff sanctions tables have their own columns.
    let pupil = &schemas["RuleTables"]["properties"]["pupil_sanctions"];
    let staff = &schemas["RuleTables"]["properties"]["staff_sanctions"];
    assert_ne!(pupil["items"], staff["items"]);
    assert_eq!(pupil["maxItems"], MAX_ROWS);

    // Mutation ids are 1 to i64::MAX, a push holds at most MAX_BATCH.
    assert_eq!(schemas["Mutation"]["properties"]["id"]["minimum"], 1);
    assert_eq!(schemas["Mutation"]["properties"]["id"]["maximum"], i64::MAX);
    assert_eq!(
        schemas["PushRequest"]["properties"]["mutations"]["maxItems"],
        MAX_BATCH
    );

    // The pull limit's range is the handler's.
    let params = doc["paths"]["/api/v1/pull"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], MAX_PULL_LIMIT);
}
