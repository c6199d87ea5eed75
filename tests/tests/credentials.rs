//! One `Authorization` policy for every strategy (issue 12.1): the real JWT,
//! Basic and Digest strategies on one handler read the header through
//! auth-core's parser, so two `Authorization` headers are a 400 whichever
//! strategy would have taken either of them, and quoting and case rules are
//! the same for all.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{BasicStrategy, DigestStrategy, MemoryUserStore, invalid_credentials};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtStrategy, SigningKey};
use auth_macros::authenticate;
use serde_json::{Value, json};

const SECRET: &[u8] = b"credentials-test-secret-long-enough-for-hs256";

#[get("/any")]
#[authenticate("jwt", "basic", "digest")]
async fn any(user: UserProfile) -> String {
    format!("{}:{}", user.strategy, user.id)
}

fn registry() -> StrategyRegistry {
    let basic = BasicStrategy::new("api", |user: String, password: String| async move {
        if user == "ada" && password == "pw" {
            Ok(UserProfile::new("ada"))
        } else {
            Err(invalid_credentials())
        }
    });
    let digest = DigestStrategy::new("api", Arc::new(MemoryUserStore::new()));
    StrategyRegistry::builder()
        .register(JwtStrategy::hs256(SECRET).unwrap())
        .register(basic)
        .register(digest)
        .build()
        .unwrap()
}

fn bearer() -> String {
    let claims = json!({"sub": "ada", "exp": 4_102_444_800u64});
    let token = SigningKey::hmac(SECRET, Algorithm::HS256)
        .unwrap()
        .sign(&claims, None)
        .unwrap();
    format!("Bearer {token}")
}

fn basic() -> String {
    format!(
        "Basic {}",
        auth_test_support::basic_credentials("ada", "pw")
    )
}

struct Reply {
    status: StatusCode,
    challenges: Vec<String>,
    body: Value,
    text: String,
}

async fn send(headers: &[&str]) -> Reply {
    let app = at::init_service(App::new().app_data(registry()).service(any)).await;
    let mut req = at::TestRequest::get().uri("/any");
    for value in headers {
        req = req.append_header(("authorization", *value));
    }
    let resp = at::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let challenges = auth_test_support::www_authenticate(resp.headers());
    let bytes = at::read_body(resp).await;
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    Reply {
        status,
        challenges,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

#[actix_web::test]
async fn each_scheme_alone_authenticates_with_its_strategy() {
    let r = send(&[&bearer()]).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "jwt:ada"));
    let r = send(&[&basic()]).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "basic:ada"));
    // Scheme names are case-insensitive for every strategy.
    let r = send(&[&basic().replacen("Basic", "bAsIc", 1)]).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "basic:ada"));
    let r = send(&[&bearer().replacen("Bearer", "BEARER", 1)]).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "jwt:ada"));
}

#[actix_web::test]
async fn two_authorization_headers_are_400_for_every_strategy() {
    let (bearer, basic) = (bearer(), basic());
    let digest = r#"Digest username="ada", realm="api""#;
    for pair in [
        [bearer.as_str(), basic.as_str()],
        [basic.as_str(), bearer.as_str()],
        [basic.as_str(), basic.as_str()],
        [bearer.as_str(), bearer.as_str()],
        [digest, basic.as_str()],
        ["Other x", "Other y"],
    ] {
        let r = send(&pair).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{pair:?}");
        assert_eq!(
            r.body,
            json!({"error": {"statusCode": 400, "name": "BadRequestError",
                "message": "the request has more than one Authorization header",
                "code": "INVALID_REQUEST"}}),
            "{pair:?}"
        );
        assert!(
            r.challenges
                .iter()
                .any(|c| c.starts_with(r#"Bearer realm="api", error="invalid_request""#)),
            "{pair:?}: {:?}",
            r.challenges
        );
        assert!(!r.text.contains("ada:pw") && !r.text.contains("eyJ"));
    }
}

#[actix_web::test]
async fn a_malformed_header_of_one_scheme_is_400_and_others_say_not_mine() {
    // Bearer's, Basic's and Digest's own malformed values: each strategy
    // answers for its scheme, the others pass.
    for (value, message) in [
        (
            "Bearer a b",
            "the Authorization header value has too many parts: use 'Bearer <token>'",
        ),
        (
            "Basic a b",
            "Authorization header value has too many parts. It must follow the pattern: 'Basic xxyyzz' where xxyyzz is a base64 string.",
        ),
        (
            r#"Digest username="ada", username="bob""#,
            "Authorization header 'Digest' value is malformed: the Authorization parameter 'username' is repeated.",
        ),
        (
            r#"Digest username="ada"#,
            "Authorization header 'Digest' value is malformed: an Authorization parameter has an unterminated quoted-string.",
        ),
    ] {
        let r = send(&[value]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(r.body["error"]["message"], message, "{value}");
    }
    // A scheme nobody registered: 401 with every challenge, never a 400.
    let r = send(&[r#"Negotiate ,="garbage"#]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "USER_PROFILE_NOT_FOUND");
}
