//! A token the verified-token cache holds is read from `Authorization`
//! without the full RFC 9110 parse (issue 17.3). Whatever the header looks
//! like, the answer must be the one the full parse gives when nothing is
//! cached.

mod fixtures;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_jwt::{Algorithm, JwtStrategy, TokenSource, VerifyingKey};
use fixtures::{SECRET, app_with, hs256, now, valid_claims, whoami};
use serde_json::{Value, json};

type Headers = Vec<(&'static str, String)>;

/// Sends `GET /whoami` with `headers` (repeated names kept); status and
/// body.
async fn send<S>(app: &S, headers: &Headers) -> (u16, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let mut req = actix_web::test::TestRequest::get().uri("/whoami");
    for (name, value) in headers {
        req = req.append_header((*name, value.as_str()));
    }
    let resp = actix_web::test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    let body = actix_web::test::read_body(resp).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn auth(value: String) -> Headers {
    vec![("Authorization", value)]
}

#[actix_web::test]
async fn a_cached_token_gets_the_answer_of_the_full_parse_in_every_header_form() {
    let t = hs256(&valid_claims());
    let other = hs256(&json!({"sub": "bob", "exp": now() + 600}));
    // (what, headers, the status the full parse gives)
    let forms: Vec<(&str, Headers, u16)> = vec![
        ("the plain form", auth(format!("Bearer {t}")), 200),
        ("scheme in lower case", auth(format!("bearer {t}")), 200),
        ("scheme in upper case", auth(format!("BEARER {t}")), 200),
        ("two spaces", auth(format!("Bearer  {t}")), 200),
        ("a tab", auth(format!("Bearer\t{t}")), 401),
        ("padding after it", auth(format!("Bearer {t}=")), 401),
        ("a second token", auth(format!("Bearer {t} {t}")), 400),
        ("an auth-param", auth(format!("Bearer token={t}")), 400),
        (
            "a quoted auth-param",
            auth(format!("Bearer token=\"{t}\"")),
            400,
        ),
        ("a comma after it", auth(format!("Bearer {t},")), 400),
        ("another scheme", auth(format!("Basic {t}")), 401),
        ("a longer scheme name", auth(format!("Bearerx {t}")), 401),
        ("no space", auth(format!("Bearer{t}")), 401),
        ("the token alone", auth(t.clone()), 401),
        ("the scheme alone", auth("Bearer".into()), 400),
        (
            "two Authorization headers with the same token",
            vec![
                ("Authorization", format!("Bearer {t}")),
                ("Authorization", format!("Bearer {t}")),
            ],
            400,
        ),
        (
            "two Authorization headers, another token second",
            vec![
                ("Authorization", format!("Bearer {t}")),
                ("Authorization", format!("Bearer {other}")),
            ],
            400,
        ),
        (
            "two Authorization headers, Basic second",
            vec![
                ("Authorization", format!("Bearer {t}")),
                ("Authorization", "Basic YWxpY2U6c2VjcmV0".into()),
            ],
            400,
        ),
    ];
    for (what, headers, expected) in forms {
        // Nothing cached: the full parse.
        let cold = app_with(fixtures::strategy(), |cfg| {
            cfg.service(whoami);
        })
        .await;
        let uncached = send(&cold, &headers).await;
        assert_eq!(uncached.0, expected, "{what}, uncached: {uncached:?}");

        // The same token verified and cached first.
        let warm = app_with(fixtures::strategy(), |cfg| {
            cfg.service(whoami);
        })
        .await;
        let first = send(&warm, &auth(format!("Bearer {t}"))).await;
        assert_eq!(first.0, 200);
        assert_eq!(first.1["id"], "alice");
        let cached = send(&warm, &headers).await;
        assert_eq!(
            cached, uncached,
            "{what}: cached and uncached answers differ"
        );
    }
}

#[actix_web::test]
async fn a_token_in_the_header_and_a_cookie_is_refused_even_when_cached() {
    let t = hs256(&valid_claims());
    let strategy = JwtStrategy::builder()
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .sources([TokenSource::Bearer, TokenSource::Cookie("at".into())])
        .build()
        .unwrap();
    let app = app_with(strategy, |cfg| {
        cfg.service(whoami);
    })
    .await;
    assert_eq!(send(&app, &auth(format!("Bearer {t}"))).await.0, 200);
    let both = vec![
        ("Authorization", format!("bearer {t}")),
        ("Cookie", format!("at={t}")),
    ];
    let (status, body) = send(&app, &both).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_REQUEST", "{body}");
}

#[actix_web::test]
async fn a_cached_token_read_from_the_header_expires_on_time() {
    let clock = Arc::new(AtomicU64::new(now()));
    let strategy = fixtures::hs256_on(&clock).build().unwrap();
    let app = app_with(strategy, |cfg| {
        cfg.service(whoami);
    })
    .await;
    let exp = clock.load(Ordering::SeqCst) + 60;
    let t = hs256(&json!({"sub": "alice", "exp": exp}));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        assert_eq!(send(&app, &auth(format!("{scheme} {t}"))).await.0, 200);
    }
    clock.store(exp, Ordering::SeqCst);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, body) = send(&app, &auth(format!("{scheme} {t}"))).await;
        assert_eq!(status, 401, "{scheme}: {body}");
        assert_eq!(body["error"]["code"], "TOKEN_EXPIRED", "{scheme}: {body}");
    }
}
