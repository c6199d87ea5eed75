//! Issue 16.2: the todo binary's `/openapi.json` is a valid OpenAPI
//! document (checked by `openapi-spec-validator` from PyPI, pinned in
//! .ci/services.sh), and every route's `security` is what its
//! `#[authenticate]` declares (compared with the handlers' inventory
//! records, linked into this test from the todo library). The binary also
//! runs under the default-deny policy.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use auth_core::HandlerAuth;
use common::server::TodoServer;
use serde_json::{Value, json};

/// The handlers of the todo example, as recorded by `#[authenticate]`.
fn todo_handlers() -> Vec<&'static HandlerAuth> {
    // Referencing every route module keeps its records in this binary.
    std::hint::black_box((
        todo::auth_routes::configure as fn(&mut actix_web::web::ServiceConfig),
        todo::todo_routes::configure as fn(&mut actix_web::web::ServiceConfig),
        todo::token_routes::configure as fn(_) -> _,
        todo::default_policy as fn() -> _,
    ));
    auth_core::annotated_handlers()
        .filter(|h| h.handler().starts_with("todo::"))
        .collect()
}

/// What a policy's `security` must be, written out from its parts.
fn expected_security(handler: &HandlerAuth) -> Value {
    let policy = handler.policy();
    if policy.is_skip() {
        return json!([]);
    }
    let mut alternatives: Vec<Value> = policy
        .strategies()
        .iter()
        .map(|s| json!({ s.name(): policy.required_scopes() }))
        .collect();
    if policy.is_optional()
        && policy.required_roles().is_empty()
        && policy.required_scopes().is_empty()
        && policy.required_principal().is_none()
    {
        alternatives.push(json!({}));
    }
    Value::Array(alternatives)
}

/// A plain-HTTP client (rustls needs its provider installed first).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn document(server: &TodoServer) -> Value {
    let resp = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi() {
    let server = TodoServer::start(&[]);
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let validated = match Command::new("openapi-spec-validator").arg(&file).output() {
        Ok(output) => output,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("openapi-spec-validator is missing ({e}); .ci/services.sh installs it")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: openapi-spec-validator not found ({e}); \
                 `pip install openapi-spec-validator==0.9.0` to run this check"
            );
            return;
        }
    };
    assert!(
        validated.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    // A document the validator must refuse, so that the check can fail:
    // a path parameter left undeclared.
    let mut broken = doc.clone();
    broken["paths"]["/todos/{id}"]["get"]["parameters"] = json!([]);
    std::fs::write(&file, serde_json::to_vec(&broken).unwrap()).unwrap();
    let refused = Command::new("openapi-spec-validator")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the validator accepts anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_has_the_security_its_handler_declares() {
    let handlers = todo_handlers();
    let names: BTreeSet<&str> = handlers.iter().map(|h| h.function()).collect();
    for expected in [
        "index",
        "signup",
        "login",
        "list",
        "admin_count",
        "openapi_json",
    ] {
        assert!(
            names.contains(expected),
            "{expected} is not recorded: {names:?}"
        );
    }
    // With the OpenID login configured, so that every recorded handler is
    // routed (the provider is discovered at the first login, not here).
    let server = TodoServer::start(&[
        ("OIDC_ISSUER", "https://idp.example"),
        ("OIDC_CLIENT_ID", "todo"),
        (
            "OIDC_REDIRECT_URI",
            "https://todo.example/auth/oidc/callback",
        ),
    ]);
    let doc = document(&server).await;
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let mut declared: BTreeSet<(String, String)> = BTreeSet::new();
    for handler in &handlers {
        assert!(
            !handler.routes().is_empty(),
            "{}: #[authenticate] sits below its route attribute",
            handler.handler()
        );
        for route in handler.routes() {
            for method in route.methods() {
                let method = method.to_ascii_lowercase();
                let operation = &doc["paths"][route.path()][&method];
                assert_eq!(
                    operation["security"],
                    expected_security(handler),
                    "{method} {} ({})",
                    route.path(),
                    handler.handler()
                );
                assert_eq!(
                    operation["operationId"],
                    handler.handler().replace("::", "."),
                    "{method} {}",
                    route.path()
                );
                declared.insert((method, route.path().to_owned()));
            }
        }
    }
    // The auth-token routes, declared by their scope's middleware.
    for method in ["get", "delete"] {
        let operation = &doc["paths"]["/users/me/tokens/{id}"][method];
        assert_eq!(
            operation["security"],
            json!([{"opaque": []}, {"jwt": []}, {"basic": []}])
        );
        assert_eq!(operation["parameters"][0]["name"], "id");
        declared.insert((method.to_owned(), "/users/me/tokens/{id}".to_owned()));
    }
    assert_eq!(
        documented, declared,
        "operations no declaration made, or missing"
    );

    // Each strategy describes its scheme.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["jwt"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    assert_eq!(schemes["basic"], json!({"type": "http", "scheme": "basic"}));
    assert_eq!(
        schemes["digest"],
        json!({"type": "http", "scheme": "digest"})
    );
    assert_eq!(
        schemes["opaque"],
        json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(
        schemes["token-basic"],
        json!({"type": "http", "scheme": "basic"})
    );
    assert_eq!(
        schemes["api-key"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    // The web page's session: an apiKey in its cookie.
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "__Host-session");
    assert!(
        schemes["session"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("x-csrf-token")),
        "{}",
        schemes["session"]
    );
    assert_eq!(schemes.as_object().unwrap().len(), 7);
    // Roles have no OpenAPI form: listed in x-roles.
    assert_eq!(
        doc["paths"]["/admin/todos/count"]["get"]["x-roles"],
        json!(["admin"])
    );
}

/// The binary answers 404 for what no declaration covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_declared_routes_only() {
    let server = TodoServer::start(&[]);
    let client = client();
    for (method, path) in [
        ("GET", "/nothing"),
        ("HEAD", "/todos"),
        ("PUT", "/todos"),
        ("POST", "/openapi.json"),
        ("GET", "/todos/1/extra"),
        ("DELETE", "/signup"),
        ("OPTIONS", "/users/me"),
    ] {
        let resp = client
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        if method != "HEAD" {
            let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "NOT_FOUND", "{method} {path}");
        }
    }
    let resp = client.get(server.url("/todos")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
