//! Revoked tokens stop working at once, cache hits included; a subject's
//! revocation ends its refresh-token families too.

mod fixtures;

use std::sync::Arc;

use auth_core::{MemoryStore, RevocationOptions, Revocations, StateStore, UserProfile};
use auth_jwt::{Algorithm, IssueError, JwtStrategy, SigningKey, TokenService, VerifyingKey};
use auth_test_support::now;
use serde_json::{Value, json};

const SECRET: &[u8] = b"a revocation test secret, 32+ bytes long";

async fn setup(issued_at: u64) -> (Arc<Revocations>, JwtStrategy, TokenService) {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let revocations = Revocations::start(Arc::clone(&store), RevocationOptions::default())
        .await
        .unwrap();
    let strategy = JwtStrategy::builder()
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .revocations(Arc::clone(&revocations))
        .build()
        .unwrap();
    let tokens = TokenService::new(SigningKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .store(store)
        .revocations(Arc::clone(&revocations))
        .clock(move || issued_at);
    (revocations, strategy, tokens)
}

fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[actix_web::test]
async fn a_revoked_jti_is_refused_even_from_the_cache() {
    let (revocations, strategy, tokens) = setup(now()).await;
    let ada = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    let other = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    // Twice: the second is a cache hit.
    for _ in 0..2 {
        strategy
            .authenticate_token(&ada.access_token)
            .await
            .unwrap();
    }
    let c = claims(&ada.access_token);
    revocations
        .revoke_token(c["jti"].as_str().unwrap(), c["exp"].as_u64().unwrap())
        .await
        .unwrap();
    for _ in 0..2 {
        let err = strategy
            .authenticate_token(&ada.access_token)
            .await
            .unwrap_err();
        assert_eq!((err.status().as_u16(), err.code()), (401, "INVALID_TOKEN"));
    }
    strategy
        .authenticate_token(&other.access_token)
        .await
        .unwrap();
}

#[actix_web::test]
async fn logging_out_everywhere_ends_access_tokens_and_refresh_families() {
    let issued_at = now() - 60;
    let (revocations, strategy, tokens) = setup(issued_at).await;
    let ada = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    let bob = tokens.issue(&UserProfile::new("bob")).await.unwrap();
    strategy
        .authenticate_token(&ada.access_token)
        .await
        .unwrap();
    revocations
        .revoke_subject("ada", issued_at + 1)
        .await
        .unwrap();
    assert!(
        strategy
            .authenticate_token(&ada.access_token)
            .await
            .is_err()
    );
    assert!(matches!(
        tokens.refresh(ada.refresh_token.as_deref().unwrap()).await,
        Err(IssueError::InvalidRefreshToken)
    ));
    // Another subject is untouched.
    strategy
        .authenticate_token(&bob.access_token)
        .await
        .unwrap();
    let rotated = tokens
        .refresh(bob.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    strategy
        .authenticate_token(&rotated.access_token)
        .await
        .unwrap();
    // A login after the revocation works again.
    let (_, _, later) = (
        revocations.clone(),
        (),
        tokens.clone().clock(move || issued_at + 2),
    );
    let fresh = later.issue(&UserProfile::new("ada")).await.unwrap();
    strategy
        .authenticate_token(&fresh.access_token)
        .await
        .unwrap();
    later
        .refresh(fresh.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
}

/// The claims a revocation reads (`jti`, `sub` as text or number, `iat` or
/// none) give the same verdicts cold, from the cache, from a full cache that
/// turns first-seen tokens away, and with the cache off, before and after
/// the revocations; on a strategy that cached the tokens before them and on
/// one that sees them first after them.
#[actix_web::test]
async fn revocation_reads_the_same_claims_cold_cached_and_uncached() {
    let t = now();
    // (claims, refused once "42" is revoked from t, refused once jti "j-1" is revoked)
    let cases: Vec<(Value, bool, bool)> = vec![
        (json!({"sub": "42", "iat": t - 5}), true, false),
        (json!({"sub": 42, "iat": t - 5}), true, false),
        (json!({"sub": 42}), true, false),
        (json!({"sub": "42", "iat": t + 5}), false, false),
        (json!({"sub": 42, "iat": t + 5, "jti": "j-1"}), false, true),
        (
            json!({"sub": "43", "iat": t - 5, "jti": "j-1"}),
            false,
            true,
        ),
        (json!({"sub": "43", "jti": "j-2"}), false, false),
        (json!({"sub": "42.5", "iat": t - 5}), false, false),
        (json!({"sub": 42.0, "iat": t - 5}), false, false),
        (json!({"sub": 42, "iat": t - 5, "jti": 1}), true, false),
    ];
    let tokens: Vec<String> = cases
        .iter()
        .map(|(claims, _, _)| {
            let mut claims = claims.clone();
            claims["exp"] = json!(t + 600);
            fixtures::hs256(&claims)
        })
        .collect();
    // 1: full after the first token, so the others are turned away once.
    for capacity in [10_000, 1, 0] {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let revocations = Revocations::start(store, RevocationOptions::default())
            .await
            .unwrap();
        let strategy = || {
            JwtStrategy::builder()
                .key(VerifyingKey::hmac(fixtures::SECRET, Algorithm::HS256).unwrap())
                .revocations(Arc::clone(&revocations))
                .cache_capacity(capacity)
                .build()
                .unwrap()
        };
        let early = strategy();
        let none = vec![false; cases.len()];
        assert_eq!(refusals(&early, &tokens).await, none, "{capacity}");
        revocations.revoke_subject("42", t).await.unwrap();
        let expected: Vec<bool> = cases.iter().map(|c| c.1).collect();
        assert_eq!(refusals(&early, &tokens).await, expected, "{capacity}");
        assert_eq!(refusals(&strategy(), &tokens).await, expected, "{capacity}");
        revocations.revoke_token("j-1", t + 600).await.unwrap();
        let expected: Vec<bool> = cases.iter().map(|c| c.1 || c.2).collect();
        assert_eq!(refusals(&early, &tokens).await, expected, "{capacity}");
        assert_eq!(refusals(&strategy(), &tokens).await, expected, "{capacity}");
    }
}

/// Which of `tokens` `strategy` refuses, each asked three times (cold, then
/// from the cache when it has room or when a full one took it on its second
/// miss) with the same answer every time.
async fn refusals(strategy: &JwtStrategy, tokens: &[String]) -> Vec<bool> {
    let mut refused = Vec::new();
    for token in tokens {
        let first = strategy.authenticate_token(token).await.is_err();
        for _ in 0..2 {
            let again = strategy.authenticate_token(token).await.is_err();
            assert_eq!(first, again, "cold and cached disagree on {token}");
        }
        refused.push(first);
    }
    refused
}
