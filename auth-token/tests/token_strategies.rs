//! Tokens read back: token-basic (`Basic base64(id:token)`) and an opaque
//! Bearer token.

use std::sync::Arc;

use actix_web::{App, HttpResponse, test, web};
use auth_core::{MemoryStore, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_token::{OpaqueBearerStrategy, TokenBasicStrategy, TokenManager};

#[authenticate("token-basic", "opaque")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", auth_test_support::basic_credentials(id, secret))
}

async fn call(tokens: &TokenManager, headers: &[&str]) -> (u16, String, String) {
    let registry = StrategyRegistry::builder()
        .register(TokenBasicStrategy::new("token-basic", tokens.clone()))
        .register(OpaqueBearerStrategy::new("opaque", tokens.clone()))
        .build()
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(me)),
    )
    .await;
    let mut req = test::TestRequest::get().uri("/me");
    for value in headers {
        req = req.append_header(("Authorization", *value));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, body, code)
}

#[actix_web::test]
async fn a_token_authenticates_its_owner_in_both_forms_and_nothing_else_does() {
    let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
    let ada = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    let eve = tokens.issue(&UserProfile::new("eve")).await.unwrap();
    for header in [basic("ada", &ada.token), format!("Bearer {}", ada.token)] {
        let (status, body, _) = call(&tokens, &[&header]).await;
        assert_eq!((status, body.as_str()), (200, "ada"), "{header}");
    }
    // Another user's token, or a token with the wrong id: refused.
    for header in [
        basic("ada", &eve.token),
        basic("eve", &ada.token),
        basic("", &ada.token),
    ] {
        let (status, body, code) = call(&tokens, &[&header]).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "INVALID_AUTH_TOKEN"),
            "{body}"
        );
        assert!(!body.contains(&ada.token) && !body.contains(&eve.token));
    }
    // Guessed tokens of the right shape: refused alike.
    let last = if ada.token.ends_with('A') { 'B' } else { 'A' };
    for guess in ["A".repeat(43), format!("{}{last}", &ada.token[..42])] {
        for header in [basic("ada", &guess), format!("Bearer {guess}")] {
            let (status, _, code) = call(&tokens, &[&header]).await;
            assert_eq!(
                (status, code.as_str()),
                (401, "INVALID_AUTH_TOKEN"),
                "{header}"
            );
        }
    }
    // Not shaped like a token (a password, a JWT): not these strategies'.
    for header in [
        basic("ada", "correct horse battery staple"),
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2ln".to_owned(),
        "Digest username=\"ada\"".to_owned(),
    ] {
        let (status, _, code) = call(&tokens, &[&header]).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "USER_PROFILE_NOT_FOUND"),
            "{header}"
        );
    }
    // Two Authorization headers: 400.
    let header = format!("Bearer {}", ada.token);
    assert_eq!(call(&tokens, &[&header, &header]).await.0, 400);
    // Revoked: refused in both forms.
    tokens.revoke("ada", &ada.record.id).await.unwrap();
    for header in [basic("ada", &ada.token), format!("Bearer {}", ada.token)] {
        assert_eq!(call(&tokens, &[&header]).await.0, 401);
    }
}

/// The opaque strategy takes a token of its shape straight from `Bearer `
/// (issue 17.3); every header form must get what the full parse
/// (`credentials_for`) decides: 400 for a malformed header, 401 when it
/// holds no token of this shape (or an unknown one), 200 for the issued
/// token.
#[actix_web::test]
async fn every_bearer_header_form_gets_the_answer_of_the_full_parse() {
    let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
    let t = tokens.issue(&UserProfile::new("ada")).await.unwrap().token;
    let registry = StrategyRegistry::builder()
        .register(OpaqueBearerStrategy::new("opaque", tokens.clone()))
        .build()
        .unwrap();
    #[authenticate("opaque")]
    async fn opaque_only(user: UserProfile) -> HttpResponse {
        HttpResponse::Ok().body(user.id.clone())
    }
    let app = test::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(opaque_only)),
    )
    .await;
    let forms: Vec<Vec<String>> = vec![
        vec![format!("Bearer {t}")],
        vec![format!("bearer {t}")],
        vec![format!("BEARER {t}")],
        vec![format!("Bearer  {t}")],
        vec![format!("Bearer\t{t}")],
        vec![format!("Bearer {t}=")],
        vec![format!("Bearer {t}A")],
        vec![format!("Bearer {}", &t[..42])],
        vec![format!("Bearer {t} {t}")],
        vec![format!("Bearer token={t}")],
        vec![format!("Bearer {t},")],
        vec![format!("Bearer{t}")],
        vec![format!("Bearerx {t}")],
        vec![t.clone()],
        vec!["Bearer".into()],
        vec![format!("Bearer {}", "A".repeat(43))],
        vec![format!("Bearer {t}"), format!("Bearer {t}")],
        vec![format!("Bearer {t}"), "Basic YWRhOnNlY3JldA==".into()],
    ];
    let mut seen = std::collections::BTreeSet::new();
    for headers in forms {
        let mut req = test::TestRequest::get().uri("/me");
        let mut reference = test::TestRequest::get().uri("/me");
        for value in &headers {
            req = req.append_header(("Authorization", value.as_str()));
            reference = reference.append_header(("Authorization", value.as_str()));
        }
        // The full parse's verdict, from auth-core's own parser.
        let shaped = |s: &str| {
            s.len() == 43
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let reference = reference.to_http_request();
        let expected = match auth_core::credentials_for(&reference, "Bearer") {
            Err(_) => 400,
            Ok(Some(c)) if c.token68().is_some_and(|k| shaped(k) && k == t) => 200,
            Ok(_) => 401,
        };
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status().as_u16();
        let body = test::read_body(resp).await;
        assert_eq!(status, expected, "{headers:?}: {body:?}");
        if status == 200 {
            assert_eq!(body, "ada");
        }
        seen.insert(status);
    }
    // The forms cover all three answers.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [200, 400, 401]);
}
