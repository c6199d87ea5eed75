//! Claim-level rules on the wire (issues 11.3, 11.4, 11.5, 11.6, 11.9, 18.11,
//! 18.12): numeric dates, scope types, duplicate members, audience,
//! auth-param bearer credentials, principal kinds, sender-constrained tokens.

mod fixtures;

use actix_web::dev::ServiceResponse;
use actix_web::{HttpResponse, get};
use auth_core::{PrincipalKind, UserProfile};
use auth_jwt::{
    Algorithm, JwksKeys, JwtConfigError, JwtStrategy, KeyError, KeySet, PrincipalRule, SigningKey,
    VerifyError, VerifyingKey,
};
use auth_macros::authenticate;
use auth_test_support::jwks::StaticJwks;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use fixtures::{SECRET, bearer, now};
use serde_json::{Value, json};

const EC_PUB: &[u8] = include_bytes!("keys/ec.pub.pem");
const RSA_PUB: &[u8] = include_bytes!("keys/rsa.pub.pem");

/// Signs `payload` (raw JSON text, so numbers like `1e300` and duplicate
/// members survive exactly as written) under `header` (raw JSON text) with
/// HMAC-SHA256 and the fixture secret.
fn sign_raw(header: &str, payload: &str) -> String {
    auth_test_support::jws::hs256(header, payload, SECRET)
}

fn hs256_raw(payload: &str) -> String {
    sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, payload)
}

fn hs256(claims: &Value) -> String {
    hs256_raw(&claims.to_string())
}

#[get("/whoami")]
#[authenticate("jwt")]
async fn whoami(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id, "scopes": user.scopes, "kind": user.kind,
    }))
}

#[get("/admin")]
#[authenticate("jwt", scopes = ["admin"])]
async fn admin(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/service")]
#[authenticate("jwt", principal = "service")]
async fn service_only(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/user")]
#[authenticate("jwt", principal = "user")]
async fn user_only(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

async fn app(
    strategy: JwtStrategy,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = ServiceResponse,
    Error = actix_web::Error,
> {
    fixtures::app_with(strategy, |cfg| {
        cfg.service(whoami)
            .service(admin)
            .service(service_only)
            .service(user_only);
    })
    .await
}

fn hmac_builder() -> auth_jwt::JwtStrategyBuilder {
    JwtStrategy::builder().key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
}

/// `GET path` with `Authorization: <authorization>`: status, challenges, body.
async fn get<S>(app: &S, path: &str, authorization: &str) -> (u16, Vec<String>, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse,
            Error = actix_web::Error,
        >,
{
    fixtures::call(app, path, &[("authorization", authorization)]).await
}

/// Asserts the wire answer is 401 `invalid_token` with this description.
fn assert_invalid_token(answer: &(u16, Vec<String>, Value), message: &str, what: &str) {
    let (status, challenges, body) = answer;
    assert_eq!(*status, 401, "{what}: {body}");
    assert_eq!(
        challenges,
        &vec![format!(
            r#"Bearer realm="api", error="invalid_token", error_description="{message}""#
        )],
        "{what}"
    );
    assert_eq!(body["error"]["code"], "INVALID_TOKEN", "{what}");
    assert_eq!(body["error"]["message"], message, "{what}");
}

// ---------------------------------------------------------------- 11.3

/// Every NumericDate that is not a JSON number in `0 ..= 253402300799`,
/// in `exp`, `nbf` or `iat`, is an invalid token; before, huge values read
/// as "far future" and the token never expired.
#[actix_web::test]
async fn numeric_dates_outside_the_range_or_not_numbers_are_invalid_tokens() {
    let app = app(hmac_builder().build().unwrap()).await;
    let future = now() + 600;
    let bad_values = [
        "18446744073709551616",
        "1e300",
        "9.3e18",
        "9223372036854775807",
        "253402300800",
        "253402300799.5",
        "-1",
        "-0.5",
        "-1e300",
        "\"1999999999\"",
        "true",
        "null",
        "[1999999999]",
        "{\"t\":1999999999}",
    ];
    for bad in bad_values {
        let token = hs256_raw(&format!(r#"{{"sub":"alice","exp":{bad}}}"#));
        let answer = get(&app, "/whoami", &bearer(&token)).await;
        assert_invalid_token(
            &answer,
            "token has an invalid exp claim",
            &format!("exp {bad}"),
        );
        for claim in ["nbf", "iat"] {
            let token = hs256_raw(&format!(
                r#"{{"sub":"alice","exp":{future},"{claim}":{bad}}}"#
            ));
            let answer = get(&app, "/whoami", &bearer(&token)).await;
            assert_invalid_token(
                &answer,
                &format!("token has an invalid {claim} claim"),
                &format!("{claim} {bad}"),
            );
        }
    }
    // Controls: inside the range, fractions are valid NumericDates (RFC 7519
    // §2), and the last second of year 9999 is still a date.
    let t = now();
    for payload in [
        format!(r#"{{"sub":"alice","exp":{}.5}}"#, t + 600),
        format!(
            r#"{{"sub":"alice","exp":{}.25e0,"nbf":{}.75,"iat":{}.0}}"#,
            t + 600,
            t - 10,
            t
        ),
        r#"{"sub":"alice","exp":253402300799}"#.to_owned(),
        format!(r#"{{"sub":"alice","exp":{},"nbf":0,"iat":0.0}}"#, t + 600),
    ] {
        let (status, _, body) = get(&app, "/whoami", &bearer(&hs256_raw(&payload))).await;
        assert_eq!(status, 200, "{payload}: {body}");
    }
    // A fractional `exp` in the past is expired, not "invalid".
    let payload = format!(r#"{{"sub":"alice","exp":{}.9}}"#, t - 120);
    let (status, _, body) = get(&app, "/whoami", &bearer(&hs256_raw(&payload))).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("TOKEN_EXPIRED"))
    );
}

/// The verified-token cache never holds a token whose dates are out of
/// range, so no hit can ever see a saturated "far future" `exp`; a
/// fractional `exp` it does hold still expires on a hit.
#[actix_web::test]
async fn the_cache_holds_only_in_range_dates_and_expires_them() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let clock = Arc::new(AtomicU64::new(now()));
    let c = clock.clone();
    let s = hmac_builder()
        .leeway(0)
        .clock(move || c.load(Ordering::SeqCst))
        .build()
        .unwrap();
    for bad in ["1e300", "18446744073709551616", "9.3e18", "-5"] {
        let token = hs256_raw(&format!(r#"{{"sub":"alice","exp":{bad}}}"#));
        for _ in 0..2 {
            assert_eq!(
                s.verify_token(&token).await.unwrap_err(),
                VerifyError::InvalidClaim("exp"),
                "{bad}"
            );
        }
        assert_eq!(s.cached_tokens(), 0, "{bad} was cached");
    }
    let t = now();
    let token = hs256_raw(&format!(r#"{{"sub":"alice","exp":{}.5}}"#, t + 100));
    assert!(s.verify_token(&token).await.is_ok());
    assert!(s.verify_token(&token).await.is_ok());
    assert_eq!(s.cached_tokens(), 1);
    clock.store(t + 101, Ordering::SeqCst);
    assert_eq!(
        s.verify_token(&token).await.unwrap_err(),
        VerifyError::Expired
    );
}

// ---------------------------------------------------------------- 11.4

/// `scope` is one space-delimited string: an array (or any other type) is
/// an invalid token, never a list of grants, whichever claim scopes are
/// configured to come from.
#[actix_web::test]
async fn a_scope_claim_that_is_not_a_string_is_an_invalid_token() {
    let message = "token has an invalid scope claim: scope must be one space-delimited string";
    for strategy in [
        hmac_builder().build().unwrap(),
        hmac_builder().scopes_claim("scp").build().unwrap(),
    ] {
        let app = app(strategy).await;
        for scope in [
            json!(["admin"]),
            json!(["admin", "todos:read"]),
            json!([]),
            json!(7),
            json!(true),
            json!(null),
            json!({"admin": true}),
        ] {
            let token =
                hs256(&json!({"sub": "alice", "exp": now() + 600, "scope": scope, "scp": "x"}));
            for path in ["/whoami", "/admin"] {
                let answer = get(&app, path, &bearer(&token)).await;
                assert_invalid_token(&answer, message, &format!("{path} scope {scope}"));
            }
        }
    }
    // Control: the space-delimited string grants exactly its words.
    let app = app(hmac_builder().build().unwrap()).await;
    let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "scope": "todos:read  admin"}));
    let (status, _, body) = get(&app, "/whoami", &bearer(&token)).await;
    assert_eq!(
        (status, &body["scopes"]),
        (200, &json!(["todos:read", "admin"]))
    );
    assert_eq!(get(&app, "/admin", &bearer(&token)).await.0, 200);
}

/// `scp` grants nothing unless configured by name: no silent fallback.
#[actix_web::test]
async fn scp_is_ignored_unless_configured() {
    let app = app(hmac_builder().build().unwrap()).await;
    for scp in [json!(["admin"]), json!("admin")] {
        let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "scp": scp}));
        let (status, _, body) = get(&app, "/whoami", &bearer(&token)).await;
        assert_eq!((status, &body["scopes"]), (200, &json!([])), "scp {scp}");
        let (status, _, body) = get(&app, "/admin", &bearer(&token)).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (403, &json!("INSUFFICIENT_SCOPE"))
        );
    }
}

/// A configured array claim grants its string elements; any other element
/// or type is an invalid token.
#[actix_web::test]
async fn a_configured_scopes_claim_must_hold_strings() {
    let app = app(hmac_builder().scopes_claim("scp").build().unwrap()).await;
    for (scp, scopes) in [
        (
            json!(["admin", "todos:read"]),
            json!(["admin", "todos:read"]),
        ),
        (json!("admin todos:read"), json!(["admin", "todos:read"])),
        (json!([]), json!([])),
    ] {
        let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "scp": scp}));
        let (status, _, body) = get(&app, "/whoami", &bearer(&token)).await;
        assert_eq!((status, &body["scopes"]), (200, &scopes), "scp {scp}");
    }
    for scp in [
        json!(["admin", 1]),
        json!([["admin"]]),
        json!([null]),
        json!([{"scope": "admin"}]),
        json!(5),
        json!({"admin": true}),
    ] {
        let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "scp": scp}));
        for path in ["/whoami", "/admin"] {
            let (status, challenges, body) = get(&app, path, &bearer(&token)).await;
            assert_eq!(status, 401, "scp {scp}");
            assert!(challenges[0].contains(r#"error="invalid_token""#));
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("token has an invalid scp claim"),
                "{body}"
            );
        }
    }
}

// ---------------------------------------------------------------- 11.5

/// A duplicate member name in the header or the claims, at any depth, is
/// an invalid token, even when both values agree.
#[actix_web::test]
async fn duplicate_member_names_in_header_or_claims_are_invalid_tokens() {
    let app = app(hmac_builder()
        .roles_claim("realm_access.roles")
        .build()
        .unwrap())
    .await;
    let exp = now() + 600;
    let past = now() - 600;
    let claims = [
        format!(r#"{{"sub":"alice","sub":"admin","exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","exp":{past},"exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","exp":{exp},"exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","s\u0075b":"admin","exp":{exp}}}"#),
        format!(
            r#"{{"sub":"alice","exp":{exp},"realm_access":{{"roles":["user"],"roles":["admin"]}}}}"#
        ),
        format!(r#"{{"sub":"alice","exp":{exp},"scope":"a","scope":"admin"}}"#),
    ];
    for payload in &claims {
        let token = hs256_raw(payload);
        let answer = get(&app, "/whoami", &bearer(&token)).await;
        assert_invalid_token(
            &answer,
            "malformed token: claims have a duplicate member name",
            payload,
        );
    }
    let payload = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
    for header in [
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
        r#"{"alg":"HS256","x":{"y":1,"y":2}}"#,
    ] {
        let token = sign_raw(header, &payload);
        let answer = get(&app, "/whoami", &bearer(&token)).await;
        assert_invalid_token(
            &answer,
            "malformed token: header has a duplicate member name",
            header,
        );
    }
    // Control: the same claims without the duplicate pass.
    let (status, _, _) = get(&app, "/whoami", &bearer(&hs256_raw(&payload))).await;
    assert_eq!(status, 200);
}

const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

/// The JWK and JWK Set loaders refuse a duplicate name in the set or in
/// any key, naming it and where it is.
#[test]
fn key_loaders_refuse_duplicate_member_names() {
    let ec = &EC_JWK[1..EC_JWK.len() - 1];
    let set_cases = [
        (
            format!(r#"{{"keys":[{{{ec},"kid":"a","kid":"b"}}]}}"#),
            r#"key set: cannot be parsed: duplicate member name "kid" in $.keys[0]"#,
        ),
        (
            format!(r#"{{"keys":[{{{ec},"kid":"a"}},{{{ec},"kid":"b","crv":"P-256"}}]}}"#),
            r#"key set: cannot be parsed: duplicate member name "crv" in $.keys[1]"#,
        ),
        (
            format!(r#"{{"keys":[],"keys":[{{{ec}}}]}}"#),
            r#"key set: cannot be parsed: duplicate member name "keys" in $"#,
        ),
        (
            format!(r#"{{"keys":[{{{ec},"alg":"ES256","alg":"HS256"}}]}}"#),
            r#"key set: cannot be parsed: duplicate member name "alg" in $.keys[0]"#,
        ),
    ];
    for (doc, message) in &set_cases {
        let err = KeySet::from_jwks_json(doc).unwrap_err();
        assert!(matches!(err, KeyError::Parse { .. }), "{doc}");
        assert_eq!(err.to_string(), *message);
    }
    let jwk = format!(r#"{{{ec},"x":"AAAA"}}"#);
    assert_eq!(
        VerifyingKey::from_jwk_json(&jwk).unwrap_err().to_string(),
        r#"key jwk: cannot be parsed: duplicate member name "x" in $"#
    );
    let private = r#"{"kty":"oct","alg":"HS256","kid":"k1","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
    assert_eq!(
        SigningKey::from_jwk_json(private).unwrap_err().to_string(),
        r#"key jwk: cannot be parsed: duplicate member name "k" in $"#
    );
    // Controls: the same documents without the duplicate load.
    assert!(KeySet::from_jwks_json(&format!(r#"{{"keys":[{{{ec},"kid":"a"}}]}}"#)).is_ok());
    assert!(VerifyingKey::from_jwk_json(EC_JWK).is_ok());
}

/// A JWK Set URL serving a set with a duplicate member is refused like a
/// down key server: 503, fail closed, never a key.
#[actix_web::test]
async fn a_fetched_jwk_set_with_a_duplicate_member_is_refused() {
    let ec = &EC_JWK[1..EC_JWK.len() - 1];
    for doc in [
        format!(r#"{{"keys":[{{{ec},"kid":"k1","kid":"k2"}}]}}"#),
        format!(r#"{{"keys":[{{{ec},"kid":"k1"}}],"keys":[]}}"#),
        format!(r#"{{"keys":[{{{ec},"kid":"k1","use":"sig","use":"enc"}}]}}"#),
    ] {
        let keys = JwksKeys::with_fetcher(StaticJwks::new(doc.clone()));
        let err = keys.refresh().await.unwrap_err().to_string();
        assert!(err.contains("duplicate member name"), "{err}");
        let s = JwtStrategy::builder()
            .jwks(keys)
            .any_issuer()
            .any_audience()
            .build()
            .unwrap();
        // The signature does not matter: no key may come out of this set.
        let token = format!(
            "{}.{}.{}",
            B64.encode(r#"{"alg":"ES256","kid":"k1"}"#),
            B64.encode(format!(r#"{{"sub":"alice","exp":{}}}"#, now() + 600)),
            B64.encode([7u8; 64])
        );
        let (status, _, body) = get(&app(s).await, "/whoami", &bearer(&token)).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("SERVICE_UNAVAILABLE")),
            "{doc}"
        );
    }
}

/// A header with two `kid`s names no key: it cannot make the JWK Set client
/// fetch on its behalf (an unknown-`kid` refresh), and it is refused.
#[actix_web::test]
async fn a_duplicate_kid_triggers_no_key_fetch() {
    let ec = &EC_JWK[1..EC_JWK.len() - 1];
    let keys = JwksKeys::with_fetcher(StaticJwks::new(format!(
        r#"{{"keys":[{{{ec},"kid":"k1"}}]}}"#
    )))
    .with_timing(
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
    );
    let s = JwtStrategy::builder()
        .jwks(keys.clone())
        .any_issuer()
        .any_audience()
        .build()
        .unwrap();
    let app = app(s).await;
    let forged = |header: &str| {
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(format!(r#"{{"sub":"alice","exp":{}}}"#, now() + 600)),
            B64.encode([7u8; 64])
        )
    };
    // Loads the set once (the signature is wrong: 401).
    let (status, _, _) = get(
        &app,
        "/whoami",
        &bearer(&forged(r#"{"alg":"ES256","kid":"k1"}"#)),
    )
    .await;
    assert_eq!(status, 401);
    let fetched = keys.fetch_count();
    assert_eq!(fetched, 1);
    for (i, header) in [
        r#"{"alg":"ES256","kid":"k1","kid":"k9"}"#,
        r#"{"alg":"ES256","kid":"k8","kid":"k1"}"#,
        r#"{"kid":"k7","alg":"ES256","kid":"k7"}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let answer = get(&app, "/whoami", &bearer(&forged(header))).await;
        assert_invalid_token(
            &answer,
            "malformed token: header has a duplicate member name",
            header,
        );
        assert_eq!(
            keys.fetch_count(),
            fetched,
            "case {i}: {header} made a fetch"
        );
    }
    // Control: an unknown `kid` without a duplicate does refresh.
    get(
        &app,
        "/whoami",
        &bearer(&forged(r#"{"alg":"ES256","kid":"k9"}"#)),
    )
    .await;
    assert_eq!(keys.fetch_count(), fetched + 1);
}

// ---------------------------------------------------------------- 11.6

/// With no audience configured, a token naming any audience is refused
/// (RFC 7519 §4.1.3); `any_audience()` says otherwise explicitly.
#[actix_web::test]
async fn a_token_with_an_audience_is_refused_when_none_is_configured() {
    let strict = app(hmac_builder().build().unwrap()).await;
    let hs = app(JwtStrategy::hs256(SECRET).unwrap()).await;
    let any = app(hmac_builder().any_audience().build().unwrap()).await;
    let configured = app(hmac_builder().audience("todo").build().unwrap()).await;
    for aud in [
        json!("billing"),
        json!(["billing", "todo"]),
        json!(""),
        json!([]),
        json!(5),
    ] {
        let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "aud": aud}));
        for app in [&strict, &hs] {
            let answer = get(app, "/whoami", &bearer(&token)).await;
            assert_invalid_token(
                &answer,
                "token names an audience but this service accepts none",
                &aud.to_string(),
            );
        }
        assert_eq!(get(&any, "/whoami", &bearer(&token)).await.0, 200, "{aud}");
        let want = if aud == json!(["billing", "todo"]) {
            200
        } else {
            401
        };
        assert_eq!(
            get(&configured, "/whoami", &bearer(&token)).await.0,
            want,
            "{aud}"
        );
    }
    // No `aud` at all: fine without an audience, refused with one.
    let token = hs256(&json!({"sub": "alice", "exp": now() + 600}));
    assert_eq!(get(&strict, "/whoami", &bearer(&token)).await.0, 200);
    assert_eq!(get(&configured, "/whoami", &bearer(&token)).await.0, 401);
}

/// Public keys and JWK Sets need an audience and an issuer, or the explicit
/// `any_audience()` / `any_issuer()`; the error names the missing setting.
#[test]
fn public_keys_need_an_audience_and_an_issuer_to_build() {
    let ec = || VerifyingKey::from_pem(EC_PUB, Algorithm::ES256).unwrap();
    let rsa = || VerifyingKey::from_pem(RSA_PUB, Algorithm::RS256).unwrap();
    let set = || KeySet::from_jwks_json(&format!(r#"{{"keys":[{EC_JWK}]}}"#)).unwrap();
    let jwks = || JwksKeys::with_fetcher(StaticJwks::new(format!(r#"{{"keys":[{EC_JWK}]}}"#)));
    type MakeBuilder = Box<dyn Fn() -> auth_jwt::JwtStrategyBuilder>;
    let builders: Vec<(&str, MakeBuilder)> = vec![
        ("ec", Box::new(move || JwtStrategy::builder().key(ec()))),
        ("rsa", Box::new(move || JwtStrategy::builder().key(rsa()))),
        (
            "set",
            Box::new(move || JwtStrategy::builder().key_set(set())),
        ),
        (
            "jwks",
            Box::new(move || JwtStrategy::builder().jwks(jwks())),
        ),
        (
            "hmac + ec",
            Box::new(move || {
                JwtStrategy::builder()
                    .key(
                        VerifyingKey::hmac(SECRET, Algorithm::HS256)
                            .unwrap()
                            .with_kid("h"),
                    )
                    .key(ec().with_kid("e"))
            }),
        ),
    ];
    for (what, b) in &builders {
        let err = b().build().unwrap_err();
        assert_eq!(err, JwtConfigError::MissingAudience, "{what}");
        assert!(err.to_string().contains(".audience("), "{err}");
        assert!(err.to_string().contains(".any_audience()"), "{err}");
        let err = b().issuer("https://idp.example").build().unwrap_err();
        assert_eq!(err, JwtConfigError::MissingAudience, "{what}");
        let err = b().audience("todo").build().unwrap_err();
        assert_eq!(err, JwtConfigError::MissingIssuer, "{what}");
        assert!(err.to_string().contains(".issuer("), "{err}");
        assert!(err.to_string().contains(".any_issuer()"), "{err}");
        let err = b().any_audience().build().unwrap_err();
        assert_eq!(err, JwtConfigError::MissingIssuer, "{what}");
        assert!(
            b().audience("todo")
                .issuer("https://idp.example")
                .build()
                .is_ok(),
            "{what}"
        );
        assert!(b().any_audience().any_issuer().build().is_ok(), "{what}");
        assert!(b().audience("todo").any_issuer().build().is_ok(), "{what}");
    }
    // A shared secret alone builds without either.
    assert!(hmac_builder().build().is_ok());
    assert!(JwtStrategy::hs256(SECRET).is_ok());
}

// ---------------------------------------------------------------- 11.9

/// Bearer credentials in auth-param form are a malformed request (400
/// `invalid_request`), not a token that failed to verify.
#[actix_web::test]
async fn bearer_credentials_in_auth_param_form_are_400_invalid_request() {
    let app = app(hmac_builder().build().unwrap()).await;
    let jwt = hs256(&json!({"sub": "alice", "exp": now() + 600}));
    let shapes = [
        format!(r#"Bearer token="{jwt}""#),
        format!("Bearer token={jwt}"),
        format!("Bearer access_token={jwt}"),
        "Bearer token=x".to_owned(),
        r#"Bearer token="x""#.to_owned(),
        "Bearer a=b,c=d".to_owned(),
        "Bearer a=b, c=d".to_owned(),
        format!("Bearer {jwt},"),
        format!(r#"Bearer "{jwt}""#),
        r#"Bearer token="a b""#.to_owned(),
        "Bearer x=y=".to_owned(),
        "Bearer ==".to_owned(),
        "Bearer !!!.###.$$$".to_owned(),
        format!("Bearer {jwt};"),
    ];
    for header in &shapes {
        let (status, challenges, body) = get(&app, "/whoami", header).await;
        assert_eq!(status, 400, "{header}");
        assert!(
            challenges[0].starts_with(r#"Bearer realm="api", error="invalid_request""#),
            "{header}: {challenges:?}"
        );
        assert_eq!(body["error"]["code"], "INVALID_REQUEST", "{header}");
        assert!(
            !body.to_string().contains(&jwt),
            "the body echoes the token"
        );
    }
    // Controls: legal token68 values, `=` padding included, still reach the
    // verifier (200 for the good token, 401 invalid_token for the others).
    assert_eq!(get(&app, "/whoami", &bearer(&jwt)).await.0, 200);
    for token in [
        "abc==",
        "a.b.c=",
        "a+b/c~d-e_f.g=",
        &format!("{jwt}="),
        &format!("{jwt}=="),
    ] {
        let (status, challenges, _) = get(&app, "/whoami", &bearer(token)).await;
        assert_eq!(status, 401, "{token}");
        assert!(
            challenges[0].contains(r#"error="invalid_token""#),
            "{token}"
        );
    }
}

// ---------------------------------------------------------------- 18.11

/// RFC 9068 client-credentials tokens (`sub` == `client_id`) and the
/// project's `kind: service` tokens are services; a user token is a user.
#[actix_web::test]
async fn client_credentials_and_kind_claim_tokens_are_service_principals() {
    let app = app(hmac_builder().build().unwrap()).await;
    let exp = now() + 600;
    for (claims, kind) in [
        (
            json!({"sub": "svc-42", "client_id": "svc-42", "exp": exp}),
            "service",
        ),
        (
            json!({"sub": "reporting", "client_id": "reporting", "scope": "a", "exp": exp}),
            "service",
        ),
        (
            json!({"sub": "billing", "kind": "service", "exp": exp}),
            "service",
        ),
        (
            json!({"sub": "alice", "client_id": "spa", "exp": exp}),
            "user",
        ),
        (json!({"sub": "alice", "exp": exp}), "user"),
        (json!({"sub": "alice", "client_id": 7, "exp": exp}), "user"),
        // The project's own claim decides before the RFC 9068 rule.
        (
            json!({"sub": "svc", "client_id": "svc", "kind": "user", "exp": exp}),
            "user",
        ),
    ] {
        let token = hs256(&claims);
        let (status, _, body) = get(&app, "/whoami", &bearer(&token)).await;
        assert_eq!((status, &body["kind"]), (200, &json!(kind)), "{claims}");
        let (service, user) = if kind == "service" {
            (200, 403)
        } else {
            (403, 200)
        };
        assert_eq!(
            get(&app, "/service", &bearer(&token)).await.0,
            service,
            "{claims}"
        );
        assert_eq!(
            get(&app, "/user", &bearer(&token)).await.0,
            user,
            "{claims}"
        );
    }
}

/// A 403 for the wrong principal kind says so, with its own code, not
/// `insufficient_scope`.
#[actix_web::test]
async fn the_wrong_principal_kind_is_a_403_that_says_so() {
    let app = app(hmac_builder().build().unwrap()).await;
    let exp = now() + 600;
    let client = hs256(&json!({"sub": "svc-42", "client_id": "svc-42", "exp": exp}));
    let user = hs256(&json!({"sub": "alice", "client_id": "spa", "exp": exp}));
    for (token, path, message) in [
        (
            &client,
            "/user",
            "this resource requires a user principal, not a service",
        ),
        (
            &user,
            "/service",
            "this resource requires a service principal, not a user",
        ),
    ] {
        let (status, challenges, body) = get(&app, path, &bearer(token)).await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            json!({"error": {"statusCode": 403, "name": "ForbiddenError", "message": message, "code": "WRONG_PRINCIPAL_KIND"}})
        );
        // RFC 6750's insufficient_scope means "more privileges"; the wrong
        // kind of caller is not that, so no challenge claims it.
        assert!(challenges.is_empty(), "{challenges:?}");
    }
}

/// The rules are configurable: custom rules first, then the built-ins,
/// which can be replaced.
#[actix_web::test]
async fn principal_kind_rules_are_configurable() {
    let exp = now() + 600;
    let azure_app = hs256(&json!({"sub": "x", "idtyp": "app", "exp": exp}));
    let client = hs256(&json!({"sub": "svc", "client_id": "svc", "exp": exp}));
    let kind_user = hs256(&json!({"sub": "svc", "client_id": "svc", "kind": "user", "exp": exp}));
    let custom = app(hmac_builder()
        .principal_rule(|claims| {
            (claims.get("idtyp").and_then(Value::as_str) == Some("app"))
                .then_some(PrincipalKind::Service)
        })
        .principal_rule(|claims| {
            claims
                .contains_key("client_id")
                .then_some(PrincipalKind::Service)
        })
        .build()
        .unwrap())
    .await;
    assert_eq!(
        get(&custom, "/whoami", &bearer(&azure_app)).await.2["kind"],
        "service"
    );
    // The custom client_id rule beats the built-in `kind` claim.
    assert_eq!(
        get(&custom, "/whoami", &bearer(&kind_user)).await.2["kind"],
        "service"
    );
    let kind_only = app(hmac_builder()
        .principal_rules([PrincipalRule::KindClaim])
        .build()
        .unwrap())
    .await;
    assert_eq!(
        get(&kind_only, "/whoami", &bearer(&client)).await.2["kind"],
        "user"
    );
    assert_eq!(
        get(&kind_only, "/whoami", &bearer(&azure_app)).await.2["kind"],
        "user"
    );
    let none = app(hmac_builder().principal_rules([]).build().unwrap()).await;
    let service = hs256(&json!({"sub": "billing", "kind": "service", "exp": exp}));
    assert_eq!(
        get(&none, "/whoami", &bearer(&service)).await.2["kind"],
        "user"
    );
}

// ---------------------------------------------------------------- 18.12

/// A sender-constrained token (any `cnf`) presented as a plain bearer token
/// is refused by default; the opt-out is explicit.
#[actix_web::test]
async fn sender_constrained_tokens_are_refused_unless_dangerously_accepted() {
    let strict = app(hmac_builder().build().unwrap()).await;
    let hs = app(JwtStrategy::hs256(SECRET).unwrap()).await;
    let lax = app(hmac_builder()
        .dangerously_accept_sender_constrained_tokens()
        .build()
        .unwrap())
    .await;
    let message = "token is sender-constrained (cnf) and needs a proof of possession this service does not verify";
    for cnf in [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}}),
        json!({}),
        json!("jkt"),
    ] {
        let token = hs256(&json!({"sub": "alice", "exp": now() + 600, "cnf": cnf}));
        for app in [&strict, &hs] {
            let answer = get(app, "/whoami", &bearer(&token)).await;
            assert_invalid_token(&answer, message, &cnf.to_string());
        }
        assert_eq!(get(&lax, "/whoami", &bearer(&token)).await.0, 200, "{cnf}");
    }
}
