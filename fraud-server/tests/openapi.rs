//! Keeps `GET /api/openapi.json` true: every route the server answers is
//! described, every described operation is called with its documented example,
//! and each response is checked against the documented schema for its status.

mod common;

use std::collections::BTreeSet;

use common::{settings, state_with, state_without_model};
use fraud_server::{metrics::ROUTES, routes};
use serde_json::Value;

fn spec() -> Value {
    serde_json::from_str(fraud_server::handlers::OPENAPI).expect("the OpenAPI document is JSON")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            spec.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => schema,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

/// A small validator for the subset of JSON Schema the document uses.
fn check(spec: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = options.iter().filter(|o| {
            let mut p = Vec::new();
            check(spec, o, v, at, &mut p);
            p.is_empty()
        });
        if fits.count() != 1 {
            problems.push(format!("{at}: matches not exactly one of oneOf"));
        }
        return;
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            problems.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_matches(t.as_str().unwrap_or(""), v)) => {
            problems.push(format!("{at}: expected one of {ts:?}, got {v}"));
            return;
        }
        _ => {}
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            problems.push(format!("{at}: {v} not in {options:?}"));
        }
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            problems.push(format!("{at}: {x} < {min}"));
        }
    }
    if let (Some(max), Some(x)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if x > max {
            problems.push(format!("{at}: {x} > {max}"));
        }
    }
    if let (Some(required), Some(obj)) = (
        schema.get("required").and_then(Value::as_array),
        v.as_object(),
    ) {
        for name in required {
            let name = name.as_str().expect("required names are strings");
            if !obj.contains_key(name) {
                problems.push(format!("{at}: missing required `{name}`"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        v.as_object(),
    ) {
        for (name, sub) in props {
            if let Some(value) = obj.get(name) {
                check(spec, sub, value, &format!("{at}.{name}"), problems);
            }
        }
    }
    if let (Some(extra), Some(obj)) = (schema.get("additionalProperties"), v.as_object()) {
        let props = schema.get("properties").and_then(Value::as_object);
        for (name, value) in obj {
            if !props.is_some_and(|p| p.contains_key(name)) {
                check(spec, extra, value, &format!("{at}.{name}"), problems);
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate().take(50) {
            check(spec, items, item, &format!("{at}[{i}]"), problems);
        }
    }
}

#[test]
fn every_served_route_is_documented() {
    let spec = spec();
    let documented: BTreeSet<&str> = spec["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = ROUTES.iter().copied().collect();
    assert_eq!(documented, served);
    assert!(spec["openapi"].as_str().expect("version").starts_with("3."));
}

#[test]
fn the_document_is_what_the_server_serves() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let state = state_with(settings());
    let served = rt.block_on(
        warp::test::request()
            .path("/api/openapi.json")
            .reply(&routes(state.clone())),
    );
    assert_eq!(served.status(), 200);
    let body: Value = serde_json::from_slice(served.body()).expect("JSON");
    assert_eq!(body, spec());
}

#[tokio::test]
async fn every_operation_answers_as_documented() {
    let spec = spec();
    let loaded = state_with(settings());
    let loading = state_without_model(settings());
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let example = op
                .pointer("/requestBody/content/application~1json/example")
                .cloned();
            for (state, name) in [(&loaded, "loaded"), (&loading, "loading")] {
                let mut req = warp::test::request()
                    .method(&method.to_uppercase())
                    .path(path);
                if let Some(body) = &example {
                    req = req.json(body);
                }
                let r = req.reply(&routes(state.clone())).await;
                let status = r.status().as_u16().to_string();
                let documented = op["responses"].get(&status).unwrap_or_else(|| {
                    panic!("{method} {path} ({name}) answered {status}, which is not documented")
                });
                let content_type = r.headers()["content-type"].to_str().expect("ascii");
                let media = content_type.split(';').next().unwrap_or("").trim();
                let schema = documented
                    .pointer(&format!("/content/{}/schema", media.replace('/', "~1")))
                    .unwrap_or_else(|| {
                        panic!("{method} {path} ({name}): {status} {media} is not documented")
                    });
                if media == "application/json" {
                    let v: Value = serde_json::from_slice(r.body()).expect("JSON body");
                    let mut problems = Vec::new();
                    check(&spec, schema, &v, "$", &mut problems);
                    assert!(
                        problems.is_empty(),
                        "{method} {path} ({name}) {status}: {problems:#?}"
                    );
                }
                checked += 1;
            }
        }
    }
    // Every route is documented (see above); some routes have more than
    // one operation (`GET` and `POST /admin/models`), each called twice.
    let operations: usize = spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().expect("operations").len())
        .sum();
    assert!(operations >= ROUTES.len());
    assert_eq!(checked, 2 * operations);
}

#[tokio::test]
async fn documented_error_responses_match_their_schema() {
    let spec = spec();
    let state = state_with(settings());
    for (path, body, status) in [
        ("/api/predict", "{}", "422"),
        ("/api/predict", "[", "400"),
        ("/api/predict/batch", "{\"transactions\":[1]}", "400"),
    ] {
        let r = warp::test::request()
            .method("POST")
            .path(path)
            .header("content-type", "application/json")
            .body(body)
            .reply(&routes(state.clone()))
            .await;
        assert_eq!(r.status().as_u16().to_string(), status);
        let schema = spec
            .pointer(&format!(
                "/paths/{}/post/responses/{status}/content/application~1json/schema",
                path.replace('/', "~1")
            ))
            .expect("documented");
        let v: Value = serde_json::from_slice(r.body()).expect("JSON");
        let mut problems = Vec::new();
        check(&spec, schema, &v, "$", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

/// The explanation fields a prediction carries when `explain` is asked for.
const EXPLANATION: [&str; 3] = ["reasons", "contributions", "base_value"];

#[tokio::test]
async fn the_explain_option_answers_as_documented() {
    let spec = spec();
    let prediction = &spec["components"]["schemas"]["Prediction"]["properties"];
    for key in EXPLANATION {
        assert!(
            prediction.get(key).is_some(),
            "Prediction documents `{key}`"
        );
    }
    let state = state_with(settings());
    let mut explained_operations = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let documents_explain = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["name"] == "explain" && p["in"] == "query" && p["schema"]["type"] == "boolean"
                })
            });
            if !documents_explain {
                continue;
            }
            explained_operations += 1;
            let body_schema = resolve(
                &spec,
                &op["requestBody"]["content"]["application/json"]["schema"],
            );
            assert_eq!(
                body_schema["properties"]["explain"]["type"], "boolean",
                "{path}: the body's `explain` is documented"
            );
            let example = op
                .pointer("/requestBody/content/application~1json/example")
                .cloned()
                .expect("an example");
            let mut in_body = example.clone();
            in_body["explain"] = Value::Bool(true);
            for (query, body) in [("?explain=true", &example), ("", &in_body)] {
                let r = warp::test::request()
                    .method(&method.to_uppercase())
                    .path(&format!("{path}{query}"))
                    .json(body)
                    .reply(&routes(state.clone()))
                    .await;
                assert_eq!(r.status(), 200, "{path}{query}");
                let v: Value = serde_json::from_slice(r.body()).expect("JSON");
                let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
                let mut problems = Vec::new();
                check(&spec, schema, &v, "$", &mut problems);
                assert!(problems.is_empty(), "{path}{query}: {problems:#?}");
                let predictions = match v.get("predictions") {
                    Some(list) => list.as_array().expect("predictions").clone(),
                    None => vec![v.clone()],
                };
                assert!(!predictions.is_empty());
                for p in &predictions {
                    for key in EXPLANATION {
                        assert!(p.get(key).is_some(), "{path}{query}: no `{key}` in {p}");
                    }
                }
            }
            let r = warp::test::request()
                .method(&method.to_uppercase())
                .path(&format!("{path}?explain=maybe"))
                .json(&example)
                .reply(&routes(state.clone()))
                .await;
            assert_eq!(r.status(), 400, "{path}?explain=maybe");
            let v: Value = serde_json::from_slice(r.body()).expect("JSON");
            let schema = &op["responses"]["400"]["content"]["application/json"]["schema"];
            let mut problems = Vec::new();
            check(&spec, schema, &v, "$", &mut problems);
            assert!(problems.is_empty(), "{problems:?}");
        }
    }
    assert_eq!(
        explained_operations, 2,
        "both predict operations take `explain`"
    );
}
