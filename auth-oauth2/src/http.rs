//! oauth2's [`AsyncHttpClient`] over auth-core's outbound reqwest client,
//! and a size-limited body reader shared with discovery.
//!
//! Written here rather than taken from oauth2's `reqwest` feature: that
//! feature pulls reqwest 0.12 with its own TLS set-up, a second HTTP stack
//! next to the workspace's reqwest 0.13.

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest response body read from a token endpoint or a discovery
/// document, in bytes.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// Why an outbound request failed (no URL query, no body, no secret in it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("the request could not be built: {0}")]
    Build(String),
    #[error("{}", chain(.0))]
    Request(#[source] reqwest::Error),
    #[error("the response is larger than {MAX_BODY} bytes")]
    TooLarge,
}

/// Reads the body of `resp`, refusing more than [`MAX_BODY`] bytes
/// (auth-core's `read_body`).
pub(crate) async fn read_limited(resp: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    auth_core::outbound::read_body(resp, MAX_BODY)
        .await
        .map_err(|e| match e {
            auth_core::outbound::BodyError::Read(e) => HttpError::Request(e),
            _ => HttpError::TooLarge,
        })
}

/// The client oauth2 sends its requests through.
#[derive(Clone)]
pub(crate) struct OutboundHttp(pub(crate) reqwest::Client);

impl<'c> AsyncHttpClient<'c> for OutboundHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError::Build(e.without_url().to_string()))?;
            let resp = self
                .0
                .execute(request)
                .await
                .map_err(|e| HttpError::Request(e.without_url()))?;
            let mut builder = http::Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let body = read_limited(resp).await?;
            builder
                .body(body)
                .map_err(|e| HttpError::Build(e.to_string()))
        })
    }
}

/// An error and its sources, as one line (reqwest's own message is only
/// "error sending request"; the cause is in the sources). URLs are removed
/// by the callers first.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
