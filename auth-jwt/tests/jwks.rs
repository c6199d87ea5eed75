//! JWK Set URL: injected fetcher (rotation, cooldown, stale, 503) and one
//! fetch over real HTTP from a server on 127.0.0.1.

mod fixtures;

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_jwt::{Algorithm, JwksFetcher, JwksKeys, JwtStrategy, VerifyError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use fixtures::*;
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::Header;

fn jwks(keys: &[(&str, &[u8])]) -> String {
    let keys: Vec<_> = keys
        .iter()
        .map(|(kid, k)| serde_json::json!({"kty": "oct", "alg": "HS256", "kid": kid, "k": B64.encode(k)}))
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fn token(kid: &str, secret: &[u8]) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.into());
    sign(h, &valid_claims(), secret)
}

/// Serves whatever `doc` holds; `None` means the server is down.
#[derive(Clone)]
struct Scripted {
    doc: Arc<Mutex<Option<String>>>,
}

impl JwksFetcher for Scripted {
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, String>> {
        let doc = self.doc.lock().unwrap().clone();
        Box::pin(async move { doc.ok_or_else(|| "connection refused".to_owned()) })
    }
}

fn strategy_with(keys: Arc<JwksKeys>) -> JwtStrategy {
    JwtStrategy::builder()
        .jwks(keys)
        .any_issuer()
        .any_audience()
        .build()
        .unwrap()
}

#[actix_web::test]
async fn down_with_no_key_is_503_fail_closed() {
    let f = Scripted {
        doc: Arc::new(Mutex::new(None)),
    };
    let app = app(strategy_with(JwksKeys::with_fetcher(f))).await;
    let (status, challenges, body) = call(
        &app,
        "/whoami",
        &[("authorization", &bearer(&token("k1", &[1; 32])))],
    )
    .await;
    assert_eq!(status, 503);
    assert!(challenges.is_empty());
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
}

#[actix_web::test]
async fn rotation_cooldown_and_stale_keys() {
    let doc = Arc::new(Mutex::new(Some(jwks(&[("k1", &[1; 32])]))));
    let keys = JwksKeys::with_fetcher(Scripted { doc: doc.clone() })
        .with_timing(Duration::from_secs(3600), Duration::ZERO);
    let s = strategy_with(keys.clone());
    assert!(s.verify_token(&token("k1", &[1; 32])).await.is_ok());
    assert_eq!(keys.fetch_count(), 1);
    // The issuer rotates to k2: an unknown kid triggers one refresh.
    *doc.lock().unwrap() = Some(jwks(&[("k2", &[2; 32])]));
    assert!(s.verify_token(&token("k2", &[2; 32])).await.is_ok());
    assert_eq!(keys.fetch_count(), 2);
    // The old key is gone, and the cache was emptied with it.
    assert_eq!(
        s.verify_token(&token("k1", &[1; 32])).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    // Server down: known keys keep working (stale).
    *doc.lock().unwrap() = None;
    assert!(s.verify_token(&token("k2", &[2; 32])).await.is_ok());
}

#[actix_web::test]
async fn random_kids_cannot_hammer_the_key_server() {
    let doc = Arc::new(Mutex::new(Some(jwks(&[("k1", &[1; 32])]))));
    let keys = JwksKeys::with_fetcher(Scripted { doc })
        .with_timing(Duration::from_secs(3600), Duration::from_secs(3600));
    let s = strategy_with(keys.clone());
    assert!(s.verify_token(&token("k1", &[1; 32])).await.is_ok());
    for i in 0..50 {
        let t = token(&format!("random-{i}"), &[1; 32]);
        assert_eq!(
            s.verify_token(&t).await.unwrap_err(),
            VerifyError::UnknownKey
        );
    }
    assert_eq!(keys.fetch_count(), 1);
}

/// A one-connection-at-a-time HTTP server on 127.0.0.1 serving `body`.
fn serve(body: String) -> (String, Arc<Mutex<u32>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            *h.lock().unwrap() += 1;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    (format!("http://{addr}/.well-known/jwks.json"), hits)
}

#[actix_web::test]
async fn fetches_from_a_real_local_http_server() {
    let (url, hits) = serve(jwks(&[("k1", &[1; 32])]));
    let s = strategy_with(JwksKeys::from_url(&url).unwrap());
    let p = s.authenticate_token(&token("k1", &[1; 32])).await.unwrap();
    assert_eq!(p.id, "alice");
    assert_eq!(*hits.lock().unwrap(), 1);
    assert!(JwksKeys::from_url("http://example.com/jwks").is_err());
}
