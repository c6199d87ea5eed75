//! The API-key strategy over the wire.

use actix_web::test as at;
use actix_web::{App, get};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use custom_strategy::{ApiKeyStore, ApiKeyStrategy};
use serde_json::{Value, json};

#[get("/reports")]
#[authenticate("api-key", roles = ["reader"])]
async fn reports(user: UserProfile) -> String {
    user.id.clone()
}

fn setup() -> (StrategyRegistry, String, String) {
    let mut store = ApiKeyStore::new();
    let reader = store.issue(UserProfile::new("bot").with_roles(["reader"]));
    let nobody = store.issue(UserProfile::new("intern"));
    let registry = StrategyRegistry::builder()
        .register(ApiKeyStrategy::new(store))
        .build()
        .unwrap();
    (registry, reader, nobody)
}

#[actix_web::test]
async fn api_key_over_the_wire() {
    let (registry, reader, nobody) = setup();
    registry.verify_handlers_in("api_key").unwrap();
    let app = at::init_service(App::new().app_data(registry).service(reports)).await;

    let resp = at::call_service(&app, at::TestRequest::get().uri("/reports").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get("www-authenticate").unwrap(),
        r#"ApiKey realm="api""#
    );

    let req = at::TestRequest::get()
        .uri("/reports")
        .insert_header(("x-api-key", reader.as_str()));
    assert_eq!(at::call_and_read_body(&app, req.to_request()).await, "bot");

    let req = at::TestRequest::get()
        .uri("/reports")
        .insert_header(("authorization", format!("ApiKey {reader}")));
    assert_eq!(at::call_and_read_body(&app, req.to_request()).await, "bot");

    let req = at::TestRequest::get()
        .uri("/reports")
        .insert_header(("x-api-key", nobody.as_str()));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 403);

    let tampered = format!("{}x", reader);
    let req = at::TestRequest::get()
        .uri("/reports")
        .insert_header(("x-api-key", tampered.as_str()));
    let resp = at::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), 401);
    let body: Value = at::read_body_json(resp).await;
    assert_eq!(
        body,
        json!({"error": {"statusCode": 401, "name": "UnauthorizedError",
            "message": "the API key is not valid", "code": "INVALID_API_KEY"}})
    );
    assert!(
        !body.to_string().contains(&reader),
        "the key must not be echoed"
    );

    let req = at::TestRequest::get()
        .uri("/reports")
        .insert_header(("x-api-key", reader.as_str()))
        .insert_header(("authorization", format!("ApiKey {reader}")));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 400);
}
