//! `Cache-Control: private` for responses to requests whose credential came
//! from the URL query string (RFC 6750 §2.3): [`QueryCredential`].

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};

/// Marks a request authenticated by a credential read from the URL query
/// string, such as RFC 6750's `access_token` parameter.
///
/// A strategy that authenticated from the query string inserts it in the
/// request's extensions; `#[authenticate]` and
/// [`AuthenticationMiddleware`](crate::AuthenticationMiddleware) then give the
/// response `Cache-Control: private`, as RFC 6750 §2.3 asks, so that a shared
/// cache never serves one user's answer to the holder of another URL. A
/// stricter directive the handler set (`no-store`, or `private` itself) is
/// kept; `public` is replaced.
///
/// ```
/// use actix_web::{HttpMessage, HttpRequest};
/// use auth_core::{AuthError, AuthOutcome, QueryCredential, UserProfile};
///
/// fn authenticated_from_query(req: &HttpRequest, profile: UserProfile)
///     -> Result<AuthOutcome, AuthError>
/// {
///     req.extensions_mut().insert(QueryCredential);
///     Ok(AuthOutcome::Authenticated(profile))
/// }
/// # let req = actix_web::test::TestRequest::default().to_http_request();
/// # authenticated_from_query(&req, UserProfile::new("u")).unwrap();
/// # assert!(req.extensions().contains::<QueryCredential>());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryCredential;

/// Applies `Cache-Control: private` to `headers` when `req` carries the
/// [`QueryCredential`] marker.
pub(crate) fn apply(req: &HttpRequest, headers: &mut HeaderMap) {
    if req.extensions().contains::<QueryCredential>() {
        make_private(headers);
    }
}

/// Rewrites `Cache-Control` so that no shared cache may store the response.
///
/// Written by hand because it is a few lines over the directive list
/// (RFC 9111 §5.2): `no-store` and an unqualified `private` already forbid
/// shared caching and are kept as they are; otherwise `private` is added in
/// front, and `public` (which would contradict it) is dropped.
fn make_private(headers: &mut HeaderMap) {
    let mut directives: Vec<String> = Vec::new();
    for value in headers.get_all(header::CACHE_CONTROL) {
        // A value that is not visible ASCII cannot be understood; dropping
        // it leaves only `private`, the safe reading.
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let name = directive.split('=').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("no-store")
                || (name.eq_ignore_ascii_case("private") && !directive.contains('='))
            {
                return;
            }
            if !name.eq_ignore_ascii_case("public") {
                directives.push(directive.to_owned());
            }
        }
    }
    directives.insert(0, "private".to_owned());
    if let Ok(value) = HeaderValue::from_str(&directives.join(", ")) {
        headers.insert(header::CACHE_CONTROL, value);
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(values: &[&str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        make_private(&mut headers);
        headers
            .get_all(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn adds_private_and_keeps_stricter_directives() {
        assert_eq!(private(&[]), ["private"]);
        assert_eq!(private(&["max-age=60"]), ["private, max-age=60"]);
        assert_eq!(
            private(&["public, max-age=60", "must-revalidate"]),
            ["private, max-age=60, must-revalidate"]
        );
        assert_eq!(private(&["PUBLIC"]), ["private"]);
        assert_eq!(private(&["no-store"]), ["no-store"]);
        assert_eq!(private(&["max-age=0, No-Store"]), ["max-age=0, No-Store"]);
        assert_eq!(private(&["private"]), ["private"]);
        // A qualified `private="set-cookie"` lets shared caches keep the
        // rest of the response: it is not enough.
        assert_eq!(
            private(&[r#"private="set-cookie""#]),
            [r#"private, private="set-cookie""#]
        );
    }
}
