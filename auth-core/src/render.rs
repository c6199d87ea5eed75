//! Error responses: the pluggable body renderer and the headers around it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::{AuthError, Challenge, StrategyRegistry};

/// Renders the body of an authentication error response.
///
/// The status, `WWW-Authenticate`, `Cache-Control` and `Retry-After` headers
/// are set by the framework afterwards; a renderer only chooses the body and
/// its content type. Built in: [`LoopBackRenderer`] (the default) and
/// [`ProblemJsonRenderer`]. Set one with
/// [`StrategyRegistryBuilder::renderer`](crate::StrategyRegistryBuilder::renderer).
///
/// ```
/// use actix_web::{HttpRequest, HttpResponse};
/// use auth_core::{AuthError, ErrorRenderer, StrategyRegistry};
///
/// struct PlainText;
/// impl ErrorRenderer for PlainText {
///     fn render(&self, _req: &HttpRequest, error: &AuthError) -> HttpResponse {
///         HttpResponse::build(error.status())
///             .content_type("text/plain; charset=utf-8")
///             .body(format!("{}: {}", error.code(), error.public_message()))
///     }
/// }
/// let registry = StrategyRegistry::builder().renderer(PlainText).build().unwrap();
/// # let _ = registry;
/// ```
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The response for `error`; its status should be `error.status()`.
    fn render(&self, req: &HttpRequest, error: &AuthError) -> HttpResponse;
}

/// LoopBack's error shape:
/// `{"error":{"statusCode":401,"name":"UnauthorizedError","message":"...","code":"..."}}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopBackRenderer;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoopBackBody<'a> {
    error: LoopBackError<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoopBackError<'a> {
    status_code: u16,
    name: &'a str,
    message: &'a str,
    code: &'a str,
}

impl ErrorRenderer for LoopBackRenderer {
    fn render(&self, _req: &HttpRequest, error: &AuthError) -> HttpResponse {
        loopback_response(error)
    }
}

fn loopback_response(error: &AuthError) -> HttpResponse {
    let message = error.public_message();
    let body = LoopBackBody {
        error: LoopBackError {
            status_code: error.status().as_u16(),
            name: error.name(),
            message: &message,
            code: error.code(),
        },
    };
    json_response(error.status(), &body, "application/json", message.len())
}

/// `value` as JSON with `content_type`, into a buffer sized for the body
/// once (the fixed text of these bodies is under 100 bytes plus the
/// message): every refusal of a flood passes here.
fn json_response<T: Serialize>(
    status: StatusCode,
    value: &T,
    content_type: &'static str,
    message_len: usize,
) -> HttpResponse {
    let mut body = Vec::with_capacity(128 + message_len);
    // Serializing these structs of strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut body, value);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .body(body)
}

/// RFC 9457 problem details, `application/problem+json`:
/// `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"...","code":"..."}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJsonRenderer;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl ErrorRenderer for ProblemJsonRenderer {
    fn render(&self, _req: &HttpRequest, error: &AuthError) -> HttpResponse {
        let status = error.status();
        let message = error.public_message();
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: &message,
            code: error.code(),
        };
        json_response(status, &problem, "application/problem+json", message.len())
    }
}

/// Whether the client asked not to be challenged, so that browsers show no
/// pop-up: a `No-Auth-Challenge` header or a `noauthchallenge` query
/// parameter (name case-insensitive, value percent-decoded) whose value
/// does not say "no".
///
/// | value | suppresses? |
/// |---|---|
/// | absent parameter/header | no |
/// | empty (`?noauthchallenge`, `No-Auth-Challenge:`), `true`, `1`, `yes`, `on` | yes |
/// | `false`, `0`, `no`, `off` (any case, surrounding spaces ignored) | no |
/// | anything else | yes: the field's presence is the request |
///
/// Several fields or parameters: one that suppresses is enough. Suppression
/// applies to 401 answers only; a 400 or 403 keeps its challenge, whose
/// `error=` and `scope=` parameters (RFC 6750 §3) tell the client what to fix.
///
/// ```
/// use actix_web::test::TestRequest;
/// use auth_core::challenge_suppressed;
///
/// let on = TestRequest::default().insert_header(("No-Auth-Challenge", "1")).to_http_request();
/// assert!(challenge_suppressed(&on));
/// let off = TestRequest::default().insert_header(("No-Auth-Challenge", "FALSE")).to_http_request();
/// assert!(!challenge_suppressed(&off));
/// let query = TestRequest::with_uri("/x?noauthchallenge").to_http_request();
/// assert!(challenge_suppressed(&query));
/// let query_off = TestRequest::with_uri("/x?noauthchallenge=off").to_http_request();
/// assert!(!challenge_suppressed(&query_off));
/// ```
pub fn challenge_suppressed(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(NO_AUTH_CHALLENGE)
        .any(|value| suppresses(value.as_bytes()))
        || (!req.query_string().is_empty()
            && form_urlencoded::parse(req.query_string().as_bytes()).any(|(key, value)| {
                key.eq_ignore_ascii_case("noauthchallenge") && suppresses(value.as_bytes())
            }))
}

/// The header's name, parsed once (a lookup by `&str` parses it on every
/// refusal).
const NO_AUTH_CHALLENGE: header::HeaderName = header::HeaderName::from_static("no-auth-challenge");

/// Whether one `No-Auth-Challenge` value asks for suppression: every value
/// but the four spellings of "no".
fn suppresses(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    !["false", "0", "no", "off"]
        .iter()
        .any(|no| value.eq_ignore_ascii_case(no.as_bytes()))
}

/// The challenge of last resort for a 401 that no strategy described: every
/// 401 carries at least one (RFC 7235 §3.1), and RFC 6750's `Bearer` is
/// the scheme this project's tokens use.
fn last_resort_challenge() -> Challenge {
    Challenge::new("Bearer")
}

/// The challenges of every registered strategy, in registration order, for
/// a 401 that was not produced by a policy (an extractor that found no
/// profile); `Bearer` when the registry has none (or there is no registry).
pub(crate) fn registry_challenges(req: &HttpRequest) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = StrategyRegistry::of(req)
        .map(|registry| {
            registry
                .strategies()
                .flat_map(|s| s.challenges(None))
                .collect()
        })
        .unwrap_or_default();
    if challenges.is_empty() {
        challenges.push(last_resort_challenge());
    }
    challenges
}

/// The complete error response for `error`: the registry's renderer (or
/// LoopBack's when no registry is configured), `WWW-Authenticate` with each of
/// `challenges` (400/401/403 only), `Cache-Control: no-store`, and
/// `Retry-After` where the error carries one.
///
/// A 401 always carries a challenge (RFC 7235 §3.1): when `challenges` is
/// empty, those of every registered strategy are sent, or `Bearer` when no
/// strategy has one. A client that asked not to be challenged (see
/// [`challenge_suppressed`]) gets none on a 401; a 400 or 403 keeps its
/// challenge.
///
/// Strategy crates and application handlers (a login route, say) use this to
/// answer exactly like the sequence does.
///
/// ```
/// use actix_web::test::TestRequest;
/// use auth_core::{error_response, AuthError, Challenge};
///
/// let req = TestRequest::default().to_http_request();
/// let resp = error_response(&req, &AuthError::invalid_token("bad signature"),
///                           &[Challenge::new("Bearer").param("realm", "api")]);
/// assert_eq!(resp.status(), 401);
/// assert_eq!(resp.headers().get("www-authenticate").unwrap(), r#"Bearer realm="api""#);
/// assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
/// ```
pub fn error_response(
    req: &HttpRequest,
    error: &AuthError,
    challenges: &[Challenge],
) -> HttpResponse {
    match error {
        AuthError::Internal { message } => {
            tracing::error!(code = error.code(), %message, "authentication failed with an internal error");
        }
        AuthError::UnknownStrategy { name } => {
            tracing::error!(strategy = %name, "handler names an unregistered authentication strategy");
        }
        AuthError::Unavailable { message, .. } => {
            tracing::warn!(code = error.code(), %message, "authentication backend unavailable");
        }
        _ => {}
    }
    let resp = match StrategyRegistry::of(req) {
        Some(registry) => registry.renderer().render(req, error),
        None => LoopBackRenderer.render(req, error),
    };
    let unauthorized = error.status() == StatusCode::UNAUTHORIZED;
    // SAFETY-style note: No-Auth-Challenge only hides the pop-up a browser
    // shows for a 401; a 400/403 challenge is the RFC 6750 §3.1 error report.
    if unauthorized && challenge_suppressed(req) {
        return with_headers(resp, error, &[]);
    }
    if unauthorized && challenges.is_empty() {
        return with_headers(resp, error, &registry_challenges(req));
    }
    with_headers(resp, error, challenges)
}

fn with_headers(
    mut resp: HttpResponse,
    error: &AuthError,
    challenges: &[Challenge],
) -> HttpResponse {
    let headers = resp.headers_mut();
    if error.carries_challenge() {
        for challenge in challenges {
            // The formatted String becomes the header's bytes (no copy).
            if let Ok(value) = HeaderValue::try_from(challenge.to_string()) {
                headers.append(header::WWW_AUTHENTICATE, value);
            }
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(retry) = error.retry_after() {
        // Round up: a client told to retry after 0 s would hammer us.
        let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    resp
}

impl actix_web::ResponseError for AuthError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.status()
    }

    /// Renders with LoopBack's body; a 401 carries the last-resort `Bearer`
    /// challenge. Inside a request, prefer [`error_response`], which honours
    /// the registry's renderer and the strategies' challenges.
    fn error_response(&self) -> HttpResponse {
        let challenges: &[Challenge] = if self.status() == StatusCode::UNAUTHORIZED {
            &[last_resort_challenge()]
        } else {
            &[]
        };
        with_headers(loopback_response(self), self, challenges)
    }
}
