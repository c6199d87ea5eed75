//! The HTTP client every strategy uses to reach another server (a JWK Set,
//! an introspection or token endpoint): one set of rules, in one place.
//!
//! - `https` only, except `http` to a loopback host (`127.0.0.1`,
//!   `localhost`, `[::1]`: tests and sidecars);
//! - no redirects (a redirect to an internal address is the classic
//!   server-side request forgery);
//! - a 2 s connect and a 5 s total timeout, so a slow server costs a bounded
//!   wait and then a 503, never a hung worker;
//! - rustls, with the crypto provider the application installed, else
//!   aws-lc-rs (auth-jwt's default backend too: one native crypto library).

use std::time::Duration;

/// Why an outbound URL or client cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// Not a URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// `http` to a host that is not loopback, or another scheme.
    #[error("the URL must be https (http only to 127.0.0.1, localhost or [::1])")]
    NotHttps,
    /// The client could not be built (TLS set-up).
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The server sent (or announced) more than the reader takes.
    #[error("the response is larger than {max} bytes")]
    TooLarge {
        /// The bound.
        max: usize,
    },
    /// The connection failed while the body was read (or timed out).
    #[error("the response could not be read")]
    Read(#[source] reqwest::Error),
}

/// Reads the body of `resp`, refusing more than `max` bytes: the announced
/// length is checked first, then the bytes as they arrive, so a server that
/// sends a long body without announcing it (chunked) is cut off at `max`
/// rather than read whole within the request timeout.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use auth_core::outbound::{client, read_body};
///
/// let resp = client()?.get("https://login.example/jwks").send().await?;
/// let body = read_body(resp, 64 * 1024).await?;
/// # let _ = body; Ok(()) }
/// ```
pub async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge { max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses `url` and checks the scheme rule: `https`, or `http` to a
/// loopback host.
///
/// ```
/// use auth_core::outbound::{checked_url, OutboundError};
///
/// assert!(checked_url("https://login.example/oauth/introspect").is_ok());
/// assert!(checked_url("http://127.0.0.1:8080/introspect").is_ok());
/// for bad in ["http://login.example/x", "ftp://127.0.0.1/x", "file:///etc/passwd"] {
///     assert!(matches!(checked_url(bad), Err(OutboundError::NotHttps)), "{bad}");
/// }
/// assert!(matches!(checked_url("not a url"), Err(OutboundError::InvalidUrl(_))));
/// ```
pub fn checked_url(url: &str) -> Result<reqwest::Url, OutboundError> {
    let url = reqwest::Url::parse(url).map_err(|e| OutboundError::InvalidUrl(Box::new(e)))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
        Ok(url)
    } else {
        Err(OutboundError::NotHttps)
    }
}

/// Connect timeout of [`client`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Total timeout of one request of [`client`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A client with the rules of this module. Build one per strategy and keep
/// it: it holds the connection pool.
///
/// ```
/// let client = auth_core::outbound::client().unwrap();
/// # let _ = client;
/// ```
pub fn client() -> Result<reqwest::Client, OutboundError> {
    // reqwest is built without a bundled crypto provider; install aws-lc-rs
    // unless the application (or auth-jwt's backend) chose one first.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(OutboundError::Client)
}
