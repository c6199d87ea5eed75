//! JWK Set URL: an injected fetcher we control (rotation, cooldown, stale
//! keys, outage, stampede), and a real HTTP provider on 127.0.0.1.

mod fixtures;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServiceResponse;
use auth_jwt::{JwksError, JwksFetcher, JwksKeys, JwtStrategy, SigningKey, VerifyError};
use auth_test_support::jwks::JwksServer;
use fixtures::*;
use futures_util::future::{LocalBoxFuture, join_all};
use serde_json::{Value, json};

/// A key set provider under the test's control: serves `doc` (None: down),
/// after `stall`, and counts the fetches.
#[derive(Clone, Default)]
struct Provider {
    doc: Arc<Mutex<Option<String>>>,
    stall: Arc<Mutex<Duration>>,
    calls: Arc<AtomicUsize>,
}

impl Provider {
    fn serving(doc: String) -> Self {
        let p = Provider::default();
        p.set(Some(doc));
        p
    }
    fn set(&self, doc: Option<String>) {
        *self.doc.lock().unwrap() = doc;
    }
    fn stall(&self, d: Duration) {
        *self.stall.lock().unwrap() = d;
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for Provider {
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, auth_jwt::JwksError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let stall = *self.stall.lock().unwrap();
        let doc = self.doc.clone();
        Box::pin(async move {
            if !stall.is_zero() {
                tokio::time::sleep(stall).await;
            }
            doc.lock()
                .unwrap()
                .clone()
                .ok_or_else(|| auth_jwt::JwksError::fetcher("connection refused"))
        })
    }
}

/// Signing keys k1.. with their public JWKs.
fn keys(n: u8) -> Vec<(SigningKey, Value)> {
    (1..=n).map(|i| ec_key(&format!("k{i}"), i)).collect()
}

fn set_of(keys: &[&(SigningKey, Value)]) -> String {
    jwk_set(&keys.iter().map(|(_, jwk)| jwk).collect::<Vec<_>>())
}

fn strategy_with(keys: Arc<JwksKeys>) -> JwtStrategy {
    JwtStrategy::builder()
        .jwks(keys)
        .any_issuer()
        .any_audience()
        .build()
        .unwrap()
}

/// Sends a token; returns status, `Retry-After` (seconds) and body.
async fn send<S>(app: &S, token: &str) -> (u16, Option<u64>, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let req = actix_web::test::TestRequest::get()
        .uri("/whoami")
        .insert_header(("authorization", bearer(token)))
        .to_request();
    let resp = actix_web::test::call_service(app, req).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body = actix_web::test::read_body(resp).await;
    (
        status,
        retry,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn down_with_no_key_is_503_with_retry_after_fail_closed() {
    let provider = Provider::default();
    let jwks = JwksKeys::with_fetcher(provider.clone())
        .with_timing(Duration::from_secs(600), Duration::from_secs(30));
    let app = app(strategy_with(jwks)).await;
    let k = keys(1);
    for (i, token) in [signed(&k[0].0), signed(&k[0].0), hs256(&valid_claims())]
        .iter()
        .enumerate()
    {
        let (status, retry, body) = send(&app, token).await;
        assert_eq!(status, 503, "request {i}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        let retry = retry.expect("503 without Retry-After");
        assert!((1..=30).contains(&retry), "Retry-After {retry}");
    }
    // One attempt; the others fell inside the cooldown.
    assert_eq!(provider.calls(), 1);
    // A malformed header is still the client's fault (400), keys or not.
    for malformed in ["a b", "token=abc", "abc def ghi"] {
        let (status, _, body) = send(&app, malformed).await;
        assert_eq!(status, 400, "Bearer {malformed}: {body}");
        assert_eq!(
            body["error"]["code"], "INVALID_REQUEST",
            "Bearer {malformed}"
        );
    }
}

#[actix_web::test]
async fn rotation_cooldown_and_stale_keys() {
    let k = keys(2);
    let provider = Provider::serving(set_of(&[&k[0]]));
    let jwks = JwksKeys::with_fetcher(provider.clone())
        .with_timing(Duration::from_secs(3600), Duration::ZERO);
    let s = strategy_with(jwks.clone());
    assert!(s.verify_token(&signed(&k[0].0)).await.is_ok());
    assert_eq!(jwks.fetch_count(), 1);
    // The issuer rotates to k2: an unknown kid triggers one refresh.
    provider.set(Some(set_of(&[&k[1]])));
    assert!(s.verify_token(&signed(&k[1].0)).await.is_ok());
    assert_eq!(jwks.fetch_count(), 2);
    // The old key is gone, and its cached token with it.
    assert_eq!(
        s.verify_token(&signed(&k[0].0)).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    // Server down: known keys keep working (stale).
    provider.set(None);
    assert!(s.verify_token(&signed(&k[1].0)).await.is_ok());
}

#[actix_web::test]
async fn random_kids_cannot_hammer_the_key_server() {
    let k = keys(1);
    let provider = Provider::serving(set_of(&[&k[0]]));
    let jwks = JwksKeys::with_fetcher(provider.clone())
        .with_timing(Duration::from_secs(3600), Duration::from_secs(3600));
    let s = strategy_with(jwks.clone());
    assert!(s.verify_token(&signed(&k[0].0)).await.is_ok());
    for i in 0..50 {
        let t = signed(&k[0].0.clone().with_kid(format!("random-{i}")));
        assert_eq!(
            s.verify_token(&t).await.unwrap_err(),
            VerifyError::UnknownKey
        );
    }
    assert_eq!(jwks.fetch_count(), 1);
}

/// Issue 11.7: a key that leaves the set takes its cached tokens with it
/// once `refresh_every` has passed, even when every request is a cache hit;
/// a key that stays keeps its tokens.
#[actix_web::test]
async fn a_retired_key_is_refused_on_its_next_cached_use() {
    let k = keys(3);
    let provider = Provider::serving(set_of(&[&k[0], &k[1], &k[2]]));
    let every = Duration::from_millis(300);
    let jwks =
        JwksKeys::with_fetcher(provider.clone()).with_timing(every, Duration::from_millis(100));
    let s = strategy_with(jwks.clone());
    let app = app(s.clone()).await;
    let retired = signed(&k[0].0);
    let kept = signed(&k[1].0);
    // No kid: verified by whichever ES256 key matches (k1 here).
    let no_kid = {
        let mut h = jsonwebtoken::Header::new(auth_jwt::Algorithm::ES256);
        h.kid = None;
        let private = SigningKey::from_jwk_json(&{
            let mut v = k[0].1.clone();
            v.as_object_mut().unwrap().remove("kid");
            v["d"] = private_d(1).into();
            v.to_string()
        })
        .unwrap();
        signed(&private)
    };
    // Same kid, new material: k3 is replaced by another key named k3.
    let replaced = signed(&k[2].0);
    let new_k3 = ec_key("k3", 9);
    for t in [&retired, &kept, &no_kid, &replaced] {
        assert_eq!(send(&app, t).await.0, 200);
    }
    assert_eq!(s.cached_tokens(), 4);
    provider.set(Some(set_of(&[&k[1], &new_k3])));
    tokio::time::sleep(every + Duration::from_millis(50)).await;
    // Every request from here on is for a cached token.
    for t in [&retired, &no_kid, &replaced] {
        assert_eq!(send(&app, t).await.0, 401);
    }
    assert_eq!(send(&app, &kept).await.0, 200);
    assert_eq!(jwks.fetch_count(), 2);
    assert_eq!(s.cached_tokens(), 1);
    // Several refresh periods of hits only: each deadline is honoured, and
    // a refresh that keeps the key keeps the token cached.
    for round in 0..3 {
        if round == 2 {
            provider.set(Some(set_of(&[&new_k3])));
        }
        tokio::time::sleep(every + Duration::from_millis(50)).await;
        let want = if round == 2 { 401 } else { 200 };
        assert_eq!(send(&app, &kept).await.0, want, "round {round}");
        assert_eq!(s.cached_tokens(), usize::from(round < 2), "round {round}");
    }
    assert_eq!(jwks.fetch_count(), 5);
}

fn private_d(seed: u8) -> String {
    use base64::Engine as _;
    let secret = p256::SecretKey::from_slice(&[seed; 32]).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.to_bytes())
}

/// Issue 11.7: the refresh a cache hit starts runs once, and other hits do
/// not wait for it.
#[actix_web::test]
async fn the_periodic_refresh_on_hits_is_single_flight_and_does_not_hold_other_hits() {
    let k = keys(1);
    let provider = Provider::serving(set_of(&[&k[0]]));
    let every = Duration::from_millis(200);
    let jwks = JwksKeys::with_fetcher(provider.clone()).with_timing(every, Duration::ZERO);
    let app = app(strategy_with(jwks.clone())).await;
    let token = signed(&k[0].0);
    assert_eq!(send(&app, &token).await.0, 200);
    provider.stall(Duration::from_millis(800));
    tokio::time::sleep(every + Duration::from_millis(50)).await;
    let timed = |_| async {
        let t = Instant::now();
        let status = send(&app, &token).await.0;
        (status, t.elapsed())
    };
    let results = join_all((0..6).map(timed)).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(jwks.fetch_count(), 2, "one refresh for six hits");
    let quick = results
        .iter()
        .filter(|(_, d)| *d < Duration::from_millis(300))
        .count();
    assert_eq!(quick, 5, "only the refreshing request waits: {results:?}");
}

/// Issue 18.9: an unknown kid while the provider cannot be asked is 503 with
/// `Retry-After`, whatever the failure; once it answers, 200; with the
/// provider up and the kid still unknown, 401.
#[actix_web::test]
async fn unknown_kid_while_the_provider_is_down_is_503_with_retry_after() {
    let k = keys(3);
    let cooldown = Duration::from_millis(800);
    let secret_set = jwk_set(&[
        &k[0].1,
        &k[1].1,
        &json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}),
    ]);
    type Failure = Box<dyn Fn(&Provider)>;
    let failures: [(&str, Failure); 4] = [
        ("refused connection", Box::new(|p: &Provider| p.set(None))),
        (
            "stall past the fetch timeout",
            Box::new(|p: &Provider| p.stall(Duration::from_secs(3))),
        ),
        (
            "a set that is refused",
            Box::new(move |p: &Provider| p.set(Some(secret_set.clone()))),
        ),
        (
            "an empty body",
            Box::new(|p: &Provider| p.set(Some(String::new()))),
        ),
    ];
    for (what, fail) in failures {
        let provider = Provider::serving(set_of(&[&k[0]]));
        let jwks = JwksKeys::with_fetcher(provider.clone())
            .with_timing(Duration::from_secs(3600), cooldown)
            .with_fetch_timeout(Duration::from_millis(300));
        let app = app(strategy_with(jwks.clone())).await;
        assert_eq!(send(&app, &signed(&k[0].0)).await.0, 200, "{what}");
        fail(&provider);
        tokio::time::sleep(cooldown).await;
        // The refresh runs and fails: 503, not 401.
        let (status, retry, body) = send(&app, &signed(&k[1].0)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("SERVICE_UNAVAILABLE")),
            "{what}"
        );
        assert!(retry.is_some_and(|r| r >= 1), "{what}: {retry:?}");
        assert_eq!(jwks.fetch_count(), 2, "{what}");
        // Inside the cooldown after the failure: still 503, no new fetch.
        for t in [signed(&k[1].0), signed(&k[2].0)] {
            let (status, retry, _) = send(&app, &t).await;
            assert_eq!((status, retry.is_some()), (503, true), "{what}");
        }
        assert_eq!(jwks.fetch_count(), 2, "{what}");
        // The known key keeps working from the last good set.
        assert_eq!(send(&app, &signed(&k[0].0)).await.0, 200, "{what}");
        // The provider is back with k2: after the cooldown, 200.
        provider.stall(Duration::ZERO);
        provider.set(Some(set_of(&[&k[0], &k[1]])));
        tokio::time::sleep(cooldown).await;
        assert_eq!(send(&app, &signed(&k[1].0)).await.0, 200, "{what}");
        // Up, and the fresh set lacks k3: 401, refresh or not.
        tokio::time::sleep(cooldown).await;
        let (status, retry, body) = send(&app, &signed(&k[2].0)).await;
        assert_eq!((status, retry), (401, None), "{what}: {body}");
        assert_eq!(send(&app, &signed(&k[2].0)).await.0, 401, "{what}");
        assert_eq!(jwks.fetch_count(), 4, "{what}");
    }
}

/// Issue 18.10: requests that need keys while the provider stalls share one
/// fetch and wait for it together, not one after another.
#[actix_web::test]
async fn a_stalled_provider_gets_one_fetch_for_concurrent_requests() {
    let k = keys(1);
    for (stall, timeout, want) in [
        (Duration::from_millis(500), Duration::from_secs(5), 200),
        (Duration::from_secs(3), Duration::from_millis(400), 503),
    ] {
        let provider = Provider::serving(set_of(&[&k[0]]));
        provider.stall(stall);
        let jwks = JwksKeys::with_fetcher(provider.clone()).with_fetch_timeout(timeout);
        let app = app(strategy_with(jwks.clone())).await;
        let token = signed(&k[0].0);
        let results = join_all((0..4).map(|_| async {
            let t = Instant::now();
            let (status, retry, _) = send(&app, &token).await;
            (status, retry, t.elapsed())
        }))
        .await;
        assert_eq!(provider.calls(), 1, "{results:?}");
        let bound = stall.min(timeout) + Duration::from_millis(400);
        for (status, retry, took) in &results {
            assert_eq!(*status, want, "{results:?}");
            assert_eq!(retry.is_some(), want == 503, "{results:?}");
            assert!(*took < bound, "{took:?} >= {bound:?}: {results:?}");
        }
    }
}

/// Issue 18.10: twenty forged kids arriving together cause one fetch.
#[actix_web::test]
async fn twenty_concurrent_forged_kids_cause_one_fetch() {
    let k = keys(1);
    let provider = Provider::serving(set_of(&[&k[0]]));
    let cooldown = Duration::from_millis(300);
    let jwks =
        JwksKeys::with_fetcher(provider.clone()).with_timing(Duration::from_secs(3600), cooldown);
    let app = app(strategy_with(jwks.clone())).await;
    assert_eq!(send(&app, &signed(&k[0].0)).await.0, 200);
    provider.stall(Duration::from_millis(200));
    for round in 1..=2 {
        tokio::time::sleep(cooldown).await;
        let forged: Vec<String> = (0..20)
            .map(|i| signed(&k[0].0.clone().with_kid(format!("forged-{round}-{i}"))))
            .collect();
        let statuses = join_all(forged.iter().map(|t| send(&app, t))).await;
        assert!(statuses.iter().all(|(s, _, _)| *s == 401), "{statuses:?}");
        assert_eq!(provider.calls(), 1 + round, "round {round}");
    }
}

/// Issue 18.10: the token whose unknown kid brought a new set is cached,
/// and so are the tokens of keys the refresh kept.
#[actix_web::test]
async fn the_token_that_triggered_a_refresh_is_cached() {
    let k = keys(3);
    let provider = Provider::serving(set_of(&[&k[0]]));
    let jwks = JwksKeys::with_fetcher(provider.clone())
        .with_timing(Duration::from_secs(3600), Duration::ZERO);
    let s = strategy_with(jwks.clone());
    let first = signed(&k[0].0);
    assert!(s.verify_token(&first).await.is_ok());
    for (i, key) in k.iter().enumerate().skip(1) {
        provider.set(Some(set_of(&k.iter().take(i + 1).collect::<Vec<_>>())));
        let token = signed(&key.0);
        assert!(s.verify_token(&token).await.is_ok());
        assert_eq!(s.cached_tokens(), i + 1, "after the refresh for k{}", i + 1);
        assert!(s.verify_token(&token).await.is_ok());
        assert_eq!(jwks.fetch_count() as usize, i + 1, "a hit needs no fetch");
    }
}

/// Issue 11.1 at refresh time: a set that brings a secret is refused, the
/// last good set stays, and the log says so, naming the key; keys that are
/// only not understood are logged once.
#[actix_web::test]
async fn a_refresh_that_brings_a_secret_keeps_the_last_good_set() {
    let (log, _guard) = Log::capture();
    let k = keys(2);
    let k256 = json!({"kty": "EC", "kid": "k256", "crv": "secp256k1", "x": "AA", "y": "AA"});
    let provider = Provider::serving(jwk_set(&[&k[0].1, &k256]));
    let jwks = JwksKeys::with_fetcher(provider.clone())
        .with_timing(Duration::from_secs(3600), Duration::ZERO);
    let app = app(strategy_with(jwks.clone())).await;
    assert_eq!(send(&app, &signed(&k[0].0)).await.0, 200);
    let secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let leaked = json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": secret});
    let mut private = k[1].1.clone();
    private["d"] = private_d(2).into();
    for bad in [&leaked, &private] {
        provider.set(Some(jwk_set(&[&k[0].1, &k[1].1, bad, &k256])));
        let err = jwks.refresh().await.unwrap_err();
        assert!(matches!(err, auth_jwt::JwksError::Refused(_)), "{err}");
        assert!(err.to_string().contains("refused"), "{err}");
        // The last good set is in force: k1 verifies, k2 is not trusted.
        assert_eq!(send(&app, &signed(&k[0].0)).await.0, 200);
        assert_ne!(send(&app, &signed(&k[1].0)).await.0, 200);
    }
    // A token minted with the leaked secret is never accepted.
    let mut h = jsonwebtoken::Header::new(auth_jwt::Algorithm::HS256);
    h.kid = Some("hs".into());
    let forged = sign(h, &valid_claims(), b"0123456789abcdef0123456789abcdef");
    assert_ne!(send(&app, &forged).await.0, 200);
    let text = log.text();
    assert!(
        text.contains("key 'hs': a symmetric (oct) key")
            && text.contains("keeping the last good key set"),
        "{text}"
    );
    assert!(
        text.contains("key 'k2': carries the private member 'd'"),
        "{text}"
    );
    assert!(!text.contains(secret), "secret in the log");
    assert_eq!(text.matches("key 'k256': ").count(), 1, "{text}");
}

#[actix_web::test]
async fn fetches_from_a_real_local_http_server() {
    let k = keys(1);
    let server = JwksServer::serve(set_of(&[&k[0]]));
    let s = strategy_with(JwksKeys::from_url(server.url()).unwrap());
    let p = s.authenticate_token(&signed(&k[0].0)).await.unwrap();
    assert_eq!(p.id, "alice");
    assert_eq!(server.hits(), 1);
    assert!(JwksKeys::from_url("http://example.com/jwks").is_err());
}

/// A key set served without a length and without an end is cut off at the
/// bound (`TooLarge`), not read until the request times out.
#[actix_web::test]
async fn an_endless_key_set_is_too_large_not_a_timeout() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = start_provider(Arc::new(Mutex::new(Mode::Endless)), hits.clone()).await;
    let keys = JwksKeys::from_url(&url).unwrap();
    match keys.refresh().await {
        Err(JwksError::TooLarge) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// What the real provider does: serve the set, fail with 500, or stall.
#[derive(Clone)]
enum Mode {
    Up(String),
    Error,
    Stall(Duration, String),
    /// A body without a length that never ends.
    Endless,
}

/// A JWK Set provider on 127.0.0.1: an actix-web server whose behaviour the
/// test switches, counting requests.
async fn start_provider(mode: Arc<Mutex<Mode>>, hits: Arc<AtomicUsize>) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let (mode, hits) = (mode.clone(), hits.clone());
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let (mode, hits) = (mode.clone(), hits.clone());
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let now = mode.lock().unwrap().clone();
                    match now {
                        Mode::Up(doc) => HttpResponse::Ok()
                            .content_type("application/json")
                            .body(doc),
                        Mode::Error => HttpResponse::InternalServerError().finish(),
                        Mode::Stall(d, doc) => {
                            actix_web::rt::time::sleep(d).await;
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(doc)
                        }
                        Mode::Endless => {
                            let chunk = web::Bytes::from(vec![b' '; 4096]);
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .streaming(futures_util::stream::repeat_with(move || {
                                    Ok::<_, actix_web::Error>(chunk.clone())
                                }))
                        }
                    }
                }
            }),
        )
    })
    .workers(2)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}/jwks.json")
}

/// Rotation and outage against a real provider over HTTP: fetch counts,
/// statuses and `Retry-After` on the wire.
#[actix_web::test]
async fn rotation_and_outage_against_a_real_provider() {
    let k = keys(3);
    let mode = Arc::new(Mutex::new(Mode::Up(set_of(&[&k[0]]))));
    let hits = Arc::new(AtomicUsize::new(0));
    let url = start_provider(mode.clone(), hits.clone()).await;
    let every = Duration::from_millis(1200);
    let cooldown = Duration::from_millis(600);
    let jwks = JwksKeys::from_url(&url)
        .unwrap()
        .with_timing(every, cooldown)
        .with_fetch_timeout(Duration::from_millis(400));
    let app = app(strategy_with(jwks.clone())).await;
    let (t1, t2, t3) = (signed(&k[0].0), signed(&k[1].0), signed(&k[2].0));
    let started = Instant::now();

    assert_eq!(send(&app, &t1).await.0, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Rotation k1 -> k2: the new kid brings the new set, the old key's
    // cached token is refused at once (its key left the set).
    *mode.lock().unwrap() = Mode::Up(set_of(&[&k[1]]));
    tokio::time::sleep(cooldown).await;
    assert_eq!(send(&app, &t2).await.0, 200);
    assert_eq!(send(&app, &t1).await.0, 401);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Outage (500), and the provider rotated to k3 meanwhile: 503 with
    // Retry-After for k3, k2 keeps working.
    *mode.lock().unwrap() = Mode::Error;
    tokio::time::sleep(cooldown).await;
    let (status, retry, _) = send(&app, &t3).await;
    assert_eq!((status, retry.is_some()), (503, true));
    assert_eq!(send(&app, &t2).await.0, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // Four concurrent k3 requests inside the cooldown: 503 each, no fetch.
    let results = join_all((0..4).map(|_| send(&app, &t3))).await;
    assert!(
        results.iter().all(|(s, r, _)| *s == 503 && r.is_some()),
        "{results:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // A stalled provider: four concurrent k3 requests share one fetch that
    // times out, and all get 503 + Retry-After within the fetch timeout.
    *mode.lock().unwrap() = Mode::Stall(Duration::from_secs(3), set_of(&[&k[1], &k[2]]));
    tokio::time::sleep(cooldown).await;
    let before = Instant::now();
    let results = join_all((0..4).map(|_| send(&app, &t3))).await;
    assert!(
        results.iter().all(|(s, r, _)| *s == 503 && r.is_some()),
        "{results:?}"
    );
    assert!(
        before.elapsed() < Duration::from_millis(1500),
        "{:?}",
        before.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4);

    // Back up with k2 and k3: k3 is 200 after the cooldown.
    *mode.lock().unwrap() = Mode::Up(set_of(&[&k[1], &k[2]]));
    tokio::time::sleep(cooldown).await;
    assert_eq!(send(&app, &t3).await.0, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 5);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The strategy served by a real multi-worker actix-web server on
/// 127.0.0.1 (each worker its own thread and runtime, one `JwksKeys`).
fn serve_app(strategy: JwtStrategy) -> String {
    use actix_web::{App, HttpServer};
    let server = HttpServer::new(move || {
        let registry = auth_core::StrategyRegistry::builder()
            .register(strategy.clone())
            .build()
            .unwrap();
        App::new().app_data(registry).service(whoami)
    })
    .workers(4)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}/whoami")
}

/// Issue 18.10 across threads: concurrent requests on different workers
/// share one fetch of a stalled provider, and twenty forged kids on
/// different workers cause one fetch per cooldown.
#[actix_web::test]
async fn single_flight_holds_across_server_workers() {
    let k = keys(1);
    let provider = Provider::serving(set_of(&[&k[0]]));
    provider.stall(Duration::from_millis(500));
    let cooldown = Duration::from_millis(800);
    let jwks =
        JwksKeys::with_fetcher(provider.clone()).with_timing(Duration::from_secs(3600), cooldown);
    let url = serve_app(strategy_with(jwks.clone()));
    // Building an `HttpFetcher` installs the crate's rustls provider, which
    // the test's own client needs too.
    auth_jwt::HttpFetcher::new(&url).unwrap();
    let client = reqwest::Client::new();
    let get = |token: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let t = Instant::now();
            let resp = client.get(&url).bearer_auth(token).send().await.unwrap();
            (resp.status().as_u16(), t.elapsed())
        }
    };
    let token = signed(&k[0].0);
    let results = join_all((0..8).map(|_| get(token.clone()))).await;
    assert_eq!(provider.calls(), 1, "{results:?}");
    for (status, took) in &results {
        assert_eq!(*status, 200, "{results:?}");
        assert!(*took < Duration::from_millis(1200), "{results:?}");
    }
    tokio::time::sleep(cooldown).await;
    let forged = (0..20).map(|i| get(signed(&k[0].0.clone().with_kid(format!("forged-{i}")))));
    let results = join_all(forged).await;
    assert!(results.iter().all(|(s, _)| *s == 401), "{results:?}");
    assert_eq!(provider.calls(), 2, "{results:?}");
}
