//! Where a bearer-style token is read from: the `Authorization` header, a
//! cookie, the query string (opt-in) or a WebSocket handshake; shared by
//! every strategy that takes a token.

use std::borrow::Cow;

use actix_web::http::header::{AUTHORIZATION, HeaderMap, SEC_WEBSOCKET_PROTOCOL};
use actix_web::{HttpMessage, HttpRequest};
use serde_json::Value;

use crate::credentials::{Authorization, CredentialsData, CredentialsError};
use crate::{AuthError, QueryCredential};

/// A place a token may be read from. Sources are tried in the configured
/// order by [`find_token`]; a request carrying tokens in two configured
/// places is refused (RFC 6750 §2).
///
/// ```
/// use auth_core::TokenSource;
/// let sources = [TokenSource::Bearer, TokenSource::Cookie("session".into())];
/// # let _ = sources;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`, scheme case-insensitive; the token
    /// must be a token68 (RFC 6750 §2.1).
    Bearer,
    /// A cookie with this name.
    Cookie(String),
    /// The `access_token` query parameter (RFC 6750 §2.3). Off by default:
    /// URLs end up in logs and `Referer` headers. A request authenticated
    /// from it is marked with [`QueryCredential`] (see
    /// [`FoundToken::mark_request`]), so the response is `Cache-Control:
    /// private`.
    Query,
    /// The `Sec-WebSocket-Protocol` header of a browser WebSocket upgrade,
    /// which cannot set `Authorization`: the token is the protocol entry that
    /// follows an entry equal to this marker (e.g. `access_token, eyJ...`).
    /// See [`select_websocket_protocol`] for the handshake's answer.
    WebSocketProtocol(String),
}

impl TokenSource {
    /// The token this source finds in `req`: `Ok(None)` when it carries
    /// none here, `Err` (400) when it carries a malformed one.
    ///
    /// ```
    /// use actix_web::test::TestRequest;
    /// use auth_core::TokenSource;
    ///
    /// let req = TestRequest::default()
    ///     .insert_header(("authorization", "Bearer abc.def.ghi"))
    ///     .to_http_request();
    /// assert_eq!(TokenSource::Bearer.read(&req).unwrap().as_deref(), Some("abc.def.ghi"));
    /// assert_eq!(TokenSource::Query.read(&req).unwrap(), None);
    /// ```
    pub fn read<'r>(&self, req: &'r HttpRequest) -> Result<Option<Cow<'r, str>>, AuthError> {
        Ok(match self {
            TokenSource::Bearer => bearer_token(req.headers())?.map(Cow::Borrowed),
            TokenSource::Cookie(name) => req.cookie(name).map(|c| c.value().to_owned().into()),
            TokenSource::Query => query_token(req.query_string())?.map(Cow::Owned),
            TokenSource::WebSocketProtocol(marker) => {
                ws_protocol_token(req.headers(), marker)?.map(Cow::Owned)
            }
        })
    }
}

/// A token found by [`find_token`], and where.
///
/// `Debug` never shows the token.
pub struct FoundToken<'r> {
    token: Cow<'r, str>,
    source: TokenSource,
}

impl std::fmt::Debug for FoundToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundToken")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<'r> FoundToken<'r> {
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The source it came from.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Whether it came from the URL query string.
    pub fn from_query(&self) -> bool {
        self.source == TokenSource::Query
    }

    /// Call once the token authenticated the request: a token from the
    /// query string marks the request with [`QueryCredential`], so that
    /// `#[authenticate]` and the middleware answer `Cache-Control: private`
    /// (RFC 6750 §2.3).
    ///
    /// ```
    /// use actix_web::{test::TestRequest, HttpMessage};
    /// use auth_core::{find_token, QueryCredential, TokenSource};
    ///
    /// let req = TestRequest::get().uri("/?access_token=abc").to_http_request();
    /// let found = find_token(&req, &[TokenSource::Bearer, TokenSource::Query]).unwrap().unwrap();
    /// assert_eq!(found.token(), "abc");
    /// found.mark_request(&req);
    /// assert!(req.extensions().contains::<QueryCredential>());
    /// ```
    pub fn mark_request(&self, req: &HttpRequest) {
        if self.from_query() {
            req.extensions_mut().insert(QueryCredential);
        }
    }
}

/// The token of `req` from the first of `sources` that has one.
///
/// `Ok(None)`: none of them carries a token. `Err` (400): a source carries a
/// malformed one, or two sources carry one (RFC 6750 §2: one method per
/// request).
///
/// ```
/// use actix_web::test::TestRequest;
/// use auth_core::{find_token, TokenSource};
///
/// let sources = [TokenSource::Bearer, TokenSource::Cookie("session".into())];
/// let req = TestRequest::default()
///     .cookie(actix_web::cookie::Cookie::new("session", "abc"))
///     .to_http_request();
/// assert_eq!(find_token(&req, &sources).unwrap().unwrap().token(), "abc");
///
/// let req = TestRequest::default()
///     .cookie(actix_web::cookie::Cookie::new("session", "abc"))
///     .insert_header(("authorization", "Bearer abc"))
///     .to_http_request();
/// assert_eq!(find_token(&req, &sources).unwrap_err().status(), 400);
/// ```
pub fn find_token<'r>(
    req: &'r HttpRequest,
    sources: &[TokenSource],
) -> Result<Option<FoundToken<'r>>, AuthError> {
    let mut found: Option<FoundToken<'r>> = None;
    for source in sources {
        if let Some(token) = source.read(req)? {
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "the request carries an access token in more than one place",
                ));
            }
            found = Some(FoundToken {
                token,
                source: source.clone(),
            });
        }
    }
    Ok(found)
}

/// The bytes after `Bearer ` (the scheme in any case, then one space) in
/// the request's only `Authorization` header, unparsed and unchecked; `None`
/// when there is no such header, or more than one.
///
/// A shortcut for strategies whose tokens have a fixed alphabet, so the
/// full RFC 9110 parse of [`bearer_token`] can be skipped on the hot path:
/// when these bytes are a token the strategy can recognise by itself and
/// that is one non-empty token68 (letters, digits, `-._~+/`, with `=` only
/// at the end: e.g. a JWT it verified before, or a 43-character base64url
/// opaque token), they are exactly the token [`bearer_token`] returns for
/// the same headers. Anything else must go through
/// [`bearer_token`] (or [`find_token`]), which answers a malformed header
/// with 400.
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
/// use auth_core::{bearer_candidate, bearer_token};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc.def"));
/// assert_eq!(bearer_candidate(&headers), Some(&b"abc.def"[..]));
/// assert_eq!(bearer_token(&headers).unwrap(), Some("abc.def"));
/// // Unchecked: not a token68, which the full parse refuses.
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a b"));
/// assert_eq!(bearer_candidate(&headers), Some(&b"a b"[..]));
/// assert_eq!(bearer_token(&headers).unwrap_err().status(), 400);
/// // Two headers: no candidate.
/// headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
/// assert_eq!(bearer_candidate(&headers), None);
/// ```
pub fn bearer_candidate(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.as_bytes().split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1):
/// `Ok(None)` without one or with another scheme; 400 when there are
/// several `Authorization` headers or the bearer credentials are not one
/// token68.
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
/// use auth_core::bearer_token;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc.def"));
/// assert_eq!(bearer_token(&headers).unwrap(), Some("abc.def"));
/// headers.insert(AUTHORIZATION, HeaderValue::from_static(r#"Bearer token="abc""#));
/// assert_eq!(bearer_token(&headers).unwrap_err().status(), 400);
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic QWxhZGRpbg=="));
/// assert_eq!(bearer_token(&headers).unwrap(), None);
/// ```
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(auth) = Authorization::from_headers(headers)? else {
        return Ok(None);
    };
    // RFC 7235 §2.1 / RFC 6750 §2.1: `b64token` (token68) is the only form
    // of bearer credentials. The auth-param form (`token="..."`, `a=b, c=d`)
    // is a malformed request, not a token that failed to verify.
    match auth.parse_scheme("bearer") {
        Ok(None) => Ok(None),
        Ok(Some(creds)) => match creds.data() {
            CredentialsData::Token68(token) => Ok(Some(token)),
            CredentialsData::Empty => Err(AuthError::invalid_request(
                "the Authorization header has an empty bearer token",
            )),
            _ => Err(not_token68()),
        },
        Err(CredentialsError::TooManyParts) => Err(AuthError::invalid_request(
            "the Authorization header value has too many parts: use 'Bearer <token>'",
        )),
        Err(CredentialsError::DuplicateHeader) => Err(CredentialsError::DuplicateHeader.into()),
        Err(_) => Err(not_token68()),
    }
}

fn not_token68() -> AuthError {
    AuthError::invalid_request(
        "the bearer credentials are not a token68 (auth-parameters such as token=\"...\" are not allowed): use 'Bearer <token>'",
    )
}

fn query_token(query: &str) -> Result<Option<String>, AuthError> {
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "access_token" {
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "access_token is given more than once",
                ));
            }
            if v.is_empty() {
                return Err(AuthError::invalid_request("access_token is empty"));
            }
            // JWTs are base64url and dots: nothing to percent-decode.
            found = Some(v.to_owned());
        }
    }
    Ok(found)
}

/// The `Sec-WebSocket-Protocol` entries, over every field of that name
/// (RFC 6455 §11.3.4: several fields are one list); `None` when there is
/// no such field or one is not visible ASCII.
fn ws_protocols(headers: &HeaderMap) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        items.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    (!items.is_empty()).then_some(items)
}

fn ws_protocol_token(headers: &HeaderMap, marker: &str) -> Result<Option<String>, AuthError> {
    let Some(items) = ws_protocols(headers) else {
        return Ok(None);
    };
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        if item == marker {
            return match items.next() {
                Some(t) if !t.is_empty() => Ok(Some(t.to_owned())),
                _ => Err(AuthError::invalid_request(
                    "Sec-WebSocket-Protocol names the token marker but carries no token",
                )),
            };
        }
    }
    Ok(None)
}

/// The subprotocol a WebSocket handshake response must select when the
/// client sent its token in `Sec-WebSocket-Protocol` after `marker`
/// ([`TokenSource::WebSocketProtocol`]); `None` when the request offers no
/// protocol list with that marker.
///
/// A browser closes the connection when the response selects no protocol,
/// or one it did not offer (RFC 6455 §4.1), so the handshake must echo one.
/// The convention chosen here:
///
/// 1. the first offered protocol that is neither the marker nor the token,
///    i.e. the application's real subprotocol (`graphql-transport-ws`,
///    `v1.chat`, ...), so subprotocol negotiation keeps working; else
/// 2. the marker itself (`access_token`), which the client offered.
///
/// Never the token: a response header is logged and cached by proxies that
/// never see request headers' secrets in their logs, and echoing the token
/// would publish it. An application that supports only some
/// subprotocols checks the returned one against its list.
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_PROTOCOL};
/// use auth_core::select_websocket_protocol;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("access_token, eyJ.x.y, v1.chat"));
/// assert_eq!(select_websocket_protocol(&headers, "access_token").as_deref(), Some("v1.chat"));
///
/// headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("access_token, eyJ.x.y"));
/// assert_eq!(select_websocket_protocol(&headers, "access_token").as_deref(), Some("access_token"));
/// ```
pub fn select_websocket_protocol(headers: &HeaderMap, marker: &str) -> Option<String> {
    let items = ws_protocols(headers)?;
    let at = items.iter().position(|item| *item == marker)?;
    items
        .iter()
        .enumerate()
        .find(|(i, item)| *i != at && *i != at + 1 && !item.is_empty())
        .map(|(_, item)| (*item).to_owned())
        .or_else(|| Some(marker.to_owned()))
}

/// Reads the token Space Cloud-style WebSocket messages carry at
/// `data.token`, for a strategy to verify after the handshake.
///
/// ```
/// let msg = serde_json::json!({"type": "subscribe", "data": {"token": "abc"}});
/// assert_eq!(auth_core::token_from_ws_message(&msg), Some("abc"));
/// ```
pub fn token_from_ws_message(message: &Value) -> Option<&str> {
    message.get("data")?.get("token")?.as_str()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::AUTHORIZATION;
    use actix_web::test::TestRequest;

    use super::*;

    fn bearer(value: &str) -> Result<Option<String>, AuthError> {
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        bearer_token(req.headers()).map(|t| t.map(str::to_owned))
    }

    #[test]
    fn bearer_messages_say_what_to_write() {
        assert_eq!(bearer("Bearer a.b.c").unwrap().as_deref(), Some("a.b.c"));
        assert_eq!(bearer("Basic QWxh").unwrap(), None);
        assert_eq!(bearer("Bearer\ta").unwrap(), None);
        let message = |v: &str| bearer(v).unwrap_err().public_message().into_owned();
        assert_eq!(
            message("Bearer a b"),
            "the Authorization header value has too many parts: use 'Bearer <token>'"
        );
        assert_eq!(
            message("Bearer"),
            "the Authorization header has an empty bearer token"
        );
        for shape in [
            r#"Bearer token="x""#,
            "Bearer a=b, c=d",
            "Bearer a,",
            "Bearer ==",
            "Bearer t\u{f6}k",
        ] {
            assert!(message(shape).contains("not a token68"), "{shape}");
        }
    }

    #[test]
    fn two_sources_with_a_token_are_refused() {
        let req = TestRequest::get()
            .uri("/?access_token=abc")
            .insert_header((AUTHORIZATION, "Bearer abc"))
            .to_http_request();
        let sources = [TokenSource::Bearer, TokenSource::Query];
        assert_eq!(find_token(&req, &sources).unwrap_err().status(), 400);
        // Only the configured sources count.
        let found = find_token(&req, &[TokenSource::Bearer]).unwrap().unwrap();
        assert!(!found.from_query());
        found.mark_request(&req);
        assert!(!req.extensions().contains::<QueryCredential>());
    }

    #[test]
    fn query_tokens_once_and_not_empty() {
        assert_eq!(
            query_token("a=1&access_token=x").unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(query_token("access_token_x=1").unwrap(), None);
        assert!(query_token("access_token=").is_err());
        assert!(query_token("access_token").is_err());
        assert!(query_token("access_token=a&access_token=b").is_err());
    }

    #[test]
    fn websocket_protocol_tokens_follow_the_marker() {
        let req = |v: &'static str| {
            TestRequest::default()
                .insert_header((SEC_WEBSOCKET_PROTOCOL, v))
                .to_http_request()
        };
        let source = TokenSource::WebSocketProtocol("access_token".into());
        let r = req("v1, access_token, abc");
        assert_eq!(source.read(&r).unwrap().as_deref(), Some("abc"));
        assert_eq!(source.read(&req("v1, v2")).unwrap(), None);
        assert!(source.read(&req("access_token")).is_err());
        assert!(source.read(&req("access_token, ")).is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, "Bearer s3cr3t"))
            .to_http_request();
        let found = find_token(&req, &[TokenSource::Bearer]).unwrap().unwrap();
        assert!(!format!("{found:?}").contains("s3cr3t"));
    }
}
