//! Test support shared by the workspace's test suites, its benchmark tools
//! and its fuzz targets, so that each piece exists once instead of being
//! copied between `tests/` folders or included with `#[path]`.
//!
//! Library crates take it as a dev-dependency by path, without a version
//! (`auth-test-support = { path = "../auth-test-support" }`): `cargo publish`
//! drops such dev-dependencies, so this crate is never published. Helpers
//! that only one suite uses stay in that suite.
//!
//! | module / item | what |
//! |---|---|
//! | [`keys`] | the PEM test keys of `auth-jwt/tests/keys` and the fixed key set (`jwt` feature) |
//! | [`jws`] | compact HS256 JWS over raw header and payload bytes |
//! | [`jwks`] | a fake JWK Set server on 127.0.0.1 and a static fetcher (`jwt` feature) |
//! | `log::Log` | what `tracing` logged during a test, as text (`log` feature) |
//! | [`process`] | a child process's output, line by line |
//! | [`now`], [`ready`], [`postgres_url`], [`basic_credentials`], [`www_authenticate`] | small helpers |
//!
//! ```
//! let token = auth_test_support::jws::hs256(br#"{"alg":"HS256"}"#, br#"{"sub":"ada"}"#, b"secret");
//! assert_eq!(token.split('.').count(), 3);
//! assert!(auth_test_support::now() > 1_700_000_000);
//! ```

pub mod jwks;
pub mod jws;
pub mod keys;
#[cfg(feature = "log")]
pub mod log;
pub mod process;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use actix_web::http::header::{HeaderMap, WWW_AUTHENTICATE};
use base64::Engine as _;

/// Seconds since the Unix epoch, for `iat`/`exp`/`nbf` claims.
///
/// ```
/// let exp = auth_test_support::now() + 600;
/// assert!(exp > auth_test_support::now());
/// ```
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Polls a future that must be ready at once (verification with static
/// keys never waits), so no runtime is needed: the parser property tests
/// and the fuzz targets measure the parser, not an executor.
///
/// # Panics
///
/// If the future is pending.
///
/// ```
/// assert_eq!(auth_test_support::ready(async { 7 }), 7);
/// ```
pub fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a static-key verification waited"),
    }
}

/// The PostgreSQL URL of the test database (`AUTH_TEST_POSTGRES_URL`, set
/// by `.ci/services.sh`; empty counts as unset), or `None` with a line on stderr, so that a test
/// without it is skipped; under `CI=true` a missing URL is a failure.
///
/// # Panics
///
/// Under `CI=true` when `AUTH_TEST_POSTGRES_URL` is not set.
///
/// ```no_run
/// let Some(url) = auth_test_support::postgres_url() else { return };
/// assert!(url.starts_with("postgres"));
/// ```
pub fn postgres_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but AUTH_TEST_POSTGRES_URL is not set: source .ci/services.sh")
        }
        _ => {
            eprintln!("skipping PostgreSQL test: AUTH_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// The credentials of an HTTP Basic header: base64 of `user:password`
/// (without the `Basic ` scheme).
///
/// ```
/// assert_eq!(auth_test_support::basic_credentials("ada", "pw"), "YWRhOnB3");
/// ```
pub fn basic_credentials(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Every `WWW-Authenticate` value of a response, in order.
///
/// # Panics
///
/// If a value is not visible ASCII.
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
/// let mut headers = HeaderMap::new();
/// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"api\""));
/// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
/// assert_eq!(
///     auth_test_support::www_authenticate(&headers),
///     ["Basic realm=\"api\"", "Bearer realm=\"api\""]
/// );
/// ```
pub fn www_authenticate(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
