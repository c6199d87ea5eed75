//! RESTHeart-style auth tokens on the wire: issued after authentication,
//! shown and revoked at their location by their owner only, capped, expiring.

use std::sync::Arc;
use std::time::Duration;

use actix_http::Request;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use auth_core::testing::IdentityStrategy;
use auth_core::{AuthenticationMiddleware, MemoryStore, StateStore, StrategyRegistry, UserProfile};
use auth_token::TokenManager;

async fn hello(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

async fn broken(_: UserProfile) -> HttpResponse {
    HttpResponse::InternalServerError().finish()
}

fn manager() -> TokenManager {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    TokenManager::new(store)
}

/// `/ada/*` authenticates as ada, `/eve/*` as eve, `/skip/*` by a strategy
/// that must not get tokens; `/ada/tokens` and `/eve/tokens` serve the same
/// token locations to each.
macro_rules! app {
    ($manager:expr) => {{
        let m: TokenManager = $manager;
        let registry = StrategyRegistry::builder()
            .register(IdentityStrategy::new("as-ada", "ada").roles(["writer"]))
            .register(IdentityStrategy::new("as-eve", "eve"))
            .register(IdentityStrategy::new("token-basic", "ada"))
            .build()
            .unwrap();
        test::init_service(
            App::new()
                .app_data(registry)
                .service(
                    web::scope("/ada/tokens")
                        .wrap(AuthenticationMiddleware::with(["as-ada"]))
                        .configure(m.routes()),
                )
                .service(
                    web::scope("/ada")
                        .wrap(m.issue_on_success(["token-basic"]))
                        .wrap(AuthenticationMiddleware::with(["as-ada"]))
                        .route("/hello", web::get().to(hello))
                        .route("/broken", web::get().to(broken)),
                )
                .service(
                    web::scope("/eve/tokens")
                        .wrap(AuthenticationMiddleware::with(["as-eve"]))
                        .configure(m.routes()),
                )
                .service(
                    web::scope("/skip")
                        .wrap(m.issue_on_success(["token-basic"]))
                        .wrap(AuthenticationMiddleware::with(["token-basic"]))
                        .route("/hello", web::get().to(hello)),
                ),
        )
        .await
    }};
}

async fn send<S, B>(app: &S, method: &str, uri: &str) -> ServiceResponse<B>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let req = test::TestRequest::default()
        .method(method.parse().unwrap())
        .uri(uri)
        .to_request();
    test::call_service(app, req).await
}

fn header<B>(resp: &ServiceResponse<B>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn an_authenticated_response_carries_a_token_its_expiry_and_its_location() {
    let m = manager().location("/ada/tokens");
    let app = app!(m.clone());
    let before = std::time::SystemTime::now();
    let resp = send(&app, "GET", "/ada/hello").await;
    assert_eq!(resp.status(), 200);
    let token = header(&resp, "auth-token").expect("Auth-Token");
    let until = header(&resp, "auth-token-valid-until").unwrap();
    let location = header(&resp, "auth-token-location").unwrap();
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(token.len(), 43);
    let until = time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    let lives = until.unix_timestamp()
        - before
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
    assert!((899..=901).contains(&lives), "{lives}");
    assert!(location.starts_with("/ada/tokens/"), "{location}");
    let record = m.verify(&token).await.unwrap().unwrap();
    assert_eq!(
        (record.owner.as_str(), record.roles.as_slice()),
        ("ada", &["writer".to_owned()][..])
    );
    // The owner sees it at its location; the body holds no token.
    let resp = send(&app, "GET", &location).await;
    assert_eq!(resp.status(), 200);
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        body.contains("\"owner\":\"ada\"") && !body.contains(&token),
        "{body}"
    );
}

#[actix_web::test]
async fn another_user_gets_404_and_the_owner_revokes_with_delete() {
    let m = manager().location("/ada/tokens");
    let app = app!(m.clone());
    let resp = send(&app, "GET", "/ada/hello").await;
    let token = header(&resp, "auth-token").unwrap();
    let id = header(&resp, "auth-token-location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    for method in ["GET", "DELETE"] {
        let resp = send(&app, method, &format!("/eve/tokens/{id}")).await;
        assert_eq!(resp.status(), 404, "{method} by eve");
    }
    for missing in ["nope", "AAAAAAAAAAAA", "%00"] {
        assert_eq!(
            send(&app, "GET", &format!("/ada/tokens/{missing}"))
                .await
                .status(),
            404
        );
    }
    assert!(
        m.verify(&token).await.unwrap().is_some(),
        "eve's DELETE did nothing"
    );
    assert_eq!(
        send(&app, "DELETE", &format!("/ada/tokens/{id}"))
            .await
            .status(),
        204
    );
    assert!(m.verify(&token).await.unwrap().is_none());
    assert_eq!(
        send(&app, "GET", &format!("/ada/tokens/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        send(&app, "DELETE", &format!("/ada/tokens/{id}"))
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn failures_and_token_authenticated_requests_get_no_new_token() {
    let app = app!(manager());
    let resp = send(&app, "GET", "/ada/broken").await;
    assert_eq!(resp.status(), 500);
    assert!(header(&resp, "auth-token").is_none());
    let resp = send(&app, "GET", "/skip/hello").await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "auth-token").is_none());
}

#[actix_web::test]
async fn a_user_holds_at_most_the_cap_and_the_oldest_go_first() {
    let m = manager().max_per_user(3);
    let profile = UserProfile::new("ada");
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(m.issue(&profile).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(m.list("ada").await.unwrap().len(), 3);
    for (i, issued) in tokens.iter().enumerate() {
        assert_eq!(
            m.verify(&issued.token).await.unwrap().is_some(),
            i >= 2,
            "token {i}"
        );
    }
}

#[actix_web::test]
async fn tokens_expire_and_forged_ones_are_unknown() {
    let m = manager().ttl(Duration::from_secs(1));
    // Expiry to the second on a test clock: token_lifetimes.rs. This one
    // runs on the real clock and store TTLs.
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    assert!(m.verify(&issued.token).await.unwrap().is_some());
    let mut forged = issued.token.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    for guess in [
        String::from_utf8(forged).unwrap(),
        "A".repeat(43),
        String::new(),
        format!("{}x", issued.token),
        issued.token[..42].to_owned(),
        "not a token at all with spaces and more than forty-three chars".into(),
    ] {
        assert!(m.verify(&guess).await.unwrap().is_none(), "{guess}");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(m.verify(&issued.token).await.unwrap().is_none(), "expired");
}
