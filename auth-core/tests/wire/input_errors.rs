//! actix-web's input errors answered in the registry's error shape, without
//! quoting the request and without a challenge.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use auth_core::{ProblemJsonRenderer, StrategyRegistry, input_errors};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct NewNote {
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    pages: u32,
}

#[derive(Deserialize)]
struct Paging {
    #[allow(dead_code)]
    limit: u8,
}

async fn create(_: web::Json<NewNote>) -> HttpResponse {
    HttpResponse::Created().finish()
}

async fn create_form(_: web::Form<NewNote>) -> HttpResponse {
    HttpResponse::Created().finish()
}

async fn list(_: web::Query<Paging>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn one(_: web::Path<i64>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

const SECRET: &str = "hunter2-secret";

macro_rules! app {
    ($registry:expr) => {
        test::init_service(
            App::new()
                .app_data($registry)
                .configure(input_errors(256))
                .route("/notes", web::post().to(create))
                .route("/forms", web::post().to(create_form))
                .route("/notes", web::get().to(list))
                .route("/notes/{id}", web::get().to(one)),
        )
        .await
    };
}

/// (request, status, code) for every class of bad input, several each.
fn cases() -> Vec<(test::TestRequest, u16, &'static str)> {
    let json = |body: &str| {
        test::TestRequest::post()
            .uri("/notes")
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_owned())
    };
    let form = |body: &str| {
        test::TestRequest::post()
            .uri("/forms")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_owned())
    };
    let big = format!(r#"{{"title":"{}","pages":1}}"#, "x".repeat(300));
    vec![
        // Not JSON.
        (json("{"), 400, "INVALID_JSON"),
        (json(r#"{"title": "a",, }"#), 400, "INVALID_JSON"),
        (json("not json at all"), 400, "INVALID_JSON"),
        (
            json(r#"{"title":"a","pages":1} trailing"#),
            400,
            "INVALID_JSON",
        ),
        // JSON of the wrong shape, some quoting the secret.
        (json(r#"{"nope":1}"#), 422, "VALIDATION_FAILED"),
        (
            json(&format!(r#"{{"title":"a","pages":"{SECRET}"}}"#)),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json(&format!(r#"{{"title":1,"pages":"{SECRET}"}}"#)),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json(r#"{"title":"a","pages":-1}"#),
            422,
            "VALIDATION_FAILED",
        ),
        (json("[]"), 422, "VALIDATION_FAILED"),
        // Too large.
        (json(&big), 413, "ENTITY_TOO_LARGE"),
        (
            form(&format!("title={}&pages=1", "y".repeat(300))),
            413,
            "ENTITY_TOO_LARGE",
        ),
        // Wrong content type.
        (
            test::TestRequest::post()
                .uri("/notes")
                .insert_header(("content-type", "text/plain"))
                .set_payload(r#"{"title":"a","pages":1}"#),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            test::TestRequest::post()
                .uri("/notes")
                .set_payload(r#"{"title":"a","pages":1}"#),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            test::TestRequest::post()
                .uri("/forms")
                .insert_header(("content-type", "application/json"))
                .set_payload("title=a&pages=1"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // Forms of the wrong shape.
        (
            form(&format!("title=a&pages={SECRET}")),
            400,
            "INVALID_FORM",
        ),
        (form("title=a"), 400, "INVALID_FORM"),
        // Query strings.
        (
            test::TestRequest::get().uri(&format!("/notes?limit={SECRET}")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            test::TestRequest::get().uri("/notes?limit=300"),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            test::TestRequest::get().uri("/notes"),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        // Path segments.
        (
            test::TestRequest::get().uri(&format!("/notes/{SECRET}")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            test::TestRequest::get().uri("/notes/1.5"),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            test::TestRequest::get().uri("/notes/99999999999999999999"),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
    ]
}

#[actix_web::test]
async fn input_errors_take_the_loopback_shape_without_quoting_the_request() {
    let app = app!(StrategyRegistry::builder().build().unwrap());
    let mut seen = 0;
    for (req, status, code) in cases() {
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status().as_u16(), status, "{code}");
        assert!(resp.headers().get("www-authenticate").is_none(), "{code}");
        assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
        let body = test::read_body(resp).await;
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(SECRET), "{code}: {text}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["statusCode"], status, "{text}");
        assert_eq!(body["error"]["code"], code, "{text}");
        let name = body["error"]["name"].as_str().unwrap();
        assert!(
            name.ends_with("Error") && name != "InternalServerError",
            "{name}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        seen += 1;
    }
    assert!(seen >= 20);
    // A good request still goes through.
    let req = test::TestRequest::post()
        .uri("/notes")
        .set_json(serde_json::json!({"title": "a", "pages": 3}));
    assert_eq!(
        test::call_service(&app, req.to_request()).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn a_missing_field_is_named() {
    let app = app!(StrategyRegistry::builder().build().unwrap());
    let req = test::TestRequest::post()
        .uri("/notes")
        .set_json(serde_json::json!({"title": "a"}));
    let body: Value = test::call_and_read_body_json(&app, req.to_request()).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing field `pages`"), "{message}");
}

#[actix_web::test]
async fn input_errors_follow_the_registry_renderer() {
    let app = app!(
        StrategyRegistry::builder()
            .renderer(ProblemJsonRenderer)
            .build()
            .unwrap()
    );
    for (req, status, code) in cases() {
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status().as_u16(), status, "{code}");
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let body: Value = serde_json::from_slice(&test::read_body(resp).await).unwrap();
        assert_eq!(
            (body["status"].as_u64(), body["code"].as_str()),
            (Some(u64::from(status)), Some(code))
        );
    }
}
