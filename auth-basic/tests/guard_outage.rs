//! Basic and Digest behind a brute-force guard whose shared counter store
//! goes down and comes back, under both failure policies, on the wire.

mod common;

use std::sync::Arc;

use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{
    BasicStrategy, DigestAlgorithm, DigestStrategy, FileStoreOptions, FileUserStore,
    PasswordAuthenticator, digest_response, ha1, parse_digest_params,
};
use auth_core::testing::FlakyStore;
use auth_core::{
    BruteForceGuard, GuardConfig, GuardFailurePolicy, MemoryStore, StateStore, StrategyRegistry,
    UserProfile,
};
use auth_macros::authenticate;
use base64::Engine as _;

const REALM: &str = "api";
const PASSWORD: &str = "right password";

#[get("/basic")]
#[authenticate("basic")]
async fn basic(user: UserProfile) -> String {
    user.id.clone()
}

#[get("/digest")]
#[authenticate("digest")]
async fn digest(user: UserProfile) -> String {
    user.id.clone()
}

use actix_web::dev::{Service, ServiceResponse};

struct Fixture<S> {
    _dir: tempfile::TempDir,
    store: FlakyStore,
    app: S,
}

/// Basic and Digest sharing one guard (3 failures per user) on a
/// [`FlakyStore`]; Digest keeps its nonce counts in `nonce_counts` (the
/// flaky store itself when `None`).
async fn fixture(
    policy: GuardFailurePolicy,
    nonce_counts: Option<MemoryStore>,
) -> Fixture<impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>>
{
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    for user in ["ada", "bob", "eve"] {
        common::put_user(
            &file,
            user,
            &["user"],
            PASSWORD,
            REALM,
            &[DigestAlgorithm::Sha256],
        );
    }
    let users = Arc::new(FileUserStore::load(&file, FileStoreOptions::default()).unwrap());
    let store = FlakyStore::new();
    let guard = BruteForceGuard::with_store(
        GuardConfig {
            max_failures_per_user: 3,
            max_failures_per_client: 100,
            on_store_error: policy,
            ..GuardConfig::default()
        },
        Arc::new(store.clone()),
    );
    let counts: Arc<dyn StateStore> = match nonce_counts {
        Some(memory) => Arc::new(memory),
        None => Arc::new(store.clone()),
    };
    let registry = StrategyRegistry::builder()
        .register(
            BasicStrategy::new(
                REALM,
                PasswordAuthenticator::from_arc(users.clone(), common::hasher()),
            )
            .with_guard(guard.clone()),
        )
        .register(
            DigestStrategy::new(REALM, users)
                .with_store(counts)
                .with_guard(guard),
        )
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(basic).service(digest)).await;
    Fixture {
        _dir: dir,
        store,
        app,
    }
}

impl<S> Fixture<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    async fn call(&self, req: at::TestRequest) -> (u16, Option<String>, String) {
        let req = req.peer_addr("192.0.2.7:5000".parse().unwrap());
        let resp = at::call_service(&self.app, req.to_request()).await;
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
        (status, retry, body)
    }

    async fn basic(&self, user: &str, password: &str) -> (u16, Option<String>, String) {
        let value = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.call(
            at::TestRequest::get()
                .uri("/basic")
                .insert_header(("authorization", format!("Basic {value}"))),
        )
        .await
    }

    /// A Digest request with a fresh nonce (asked for first, with the store
    /// up or down: challenges need no store).
    async fn digest(&self, user: &str, password: &str) -> (u16, Option<String>, String) {
        let challenge = at::call_service(
            &self.app,
            at::TestRequest::get().uri("/digest").to_request(),
        )
        .await;
        assert_eq!(challenge.status(), 401);
        let value = challenge
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap();
        let params = parse_digest_params(value.strip_prefix("Digest ").unwrap()).unwrap();
        let alg = DigestAlgorithm::Sha256;
        let h1 = ha1(alg, user, REALM, password);
        let nonce = &params["nonce"];
        let response = digest_response(
            alg, &h1, nonce, "00000001", "c0ffee", "auth", "GET", "/digest",
        );
        let header = format!(
            r#"Digest username="{user}", realm="{REALM}", uri="/digest", algorithm=SHA-256, nonce="{nonce}", nc=00000001, cnonce="c0ffee", qop=auth, response="{response}""#
        );
        self.call(
            at::TestRequest::get()
                .uri("/digest")
                .insert_header(("authorization", header)),
        )
        .await
    }
}

#[actix_web::test]
async fn fail_closed_refuses_basic_and_digest_with_503_while_down_and_recovers() {
    let f = fixture(GuardFailurePolicy::FailClosed, Some(MemoryStore::new())).await;
    f.store.go_down();
    for (what, (status, retry, body)) in [
        ("basic, right", f.basic("ada", PASSWORD).await),
        ("basic, wrong", f.basic("ada", "guess").await),
        ("digest, right", f.digest("bob", PASSWORD).await),
        ("digest, wrong", f.digest("bob", "guess").await),
    ] {
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(retry.as_deref(), Some("1"), "{what}");
    }
    f.store.come_back();
    assert_eq!(f.basic("ada", PASSWORD).await.0, 200);
    assert_eq!(f.digest("bob", PASSWORD).await.0, 200);
    for _ in 0..3 {
        assert_eq!(f.digest("eve", "guess").await.0, 401);
    }
    assert_eq!(f.basic("eve", PASSWORD).await.0, 429);
}

#[actix_web::test]
async fn local_fallback_keeps_basic_and_digest_working_with_per_instance_limits() {
    let f = fixture(GuardFailurePolicy::LocalFallback, Some(MemoryStore::new())).await;
    f.store.go_down();
    assert_eq!(f.basic("ada", PASSWORD).await.0, 200);
    assert_eq!(f.digest("bob", PASSWORD).await.0, 200);
    // Failures of both strategies count against one local limit per user.
    assert_eq!(f.basic("eve", "guess 1").await.0, 401);
    assert_eq!(f.digest("eve", "guess 2").await.0, 401);
    assert_eq!(f.basic("eve", "guess 3").await.0, 401);
    for (what, (status, retry, body)) in [
        ("basic", f.basic("eve", PASSWORD).await),
        ("digest", f.digest("eve", PASSWORD).await),
    ] {
        assert_eq!(status, 429, "{what}: {body}");
        assert!(retry.is_some(), "{what}");
    }
    // Nothing was written to the shared store meanwhile.
    assert!(f.store.memory().is_empty());
    f.store.come_back();
    assert_eq!(f.basic("ada", "guess").await.0, 401);
    assert_eq!(
        f.store
            .memory()
            .get("guard:user:ada")
            .await
            .unwrap()
            .unwrap()
            .as_count()
            .unwrap(),
        1
    );
    // eve stays locked out on this instance until her window ends.
    assert_eq!(f.basic("eve", PASSWORD).await.0, 429);
}

#[actix_web::test]
async fn digest_nonce_counts_fail_closed_whatever_the_guard_policy() {
    let f = fixture(GuardFailurePolicy::LocalFallback, None).await;
    f.store.go_down();
    let (status, retry, body) = f.digest("ada", PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    // Basic keeps no state but the guard's: it works on local limits.
    assert_eq!(f.basic("ada", PASSWORD).await.0, 200);
    f.store.come_back();
    assert_eq!(f.digest("ada", PASSWORD).await.0, 200);
}
