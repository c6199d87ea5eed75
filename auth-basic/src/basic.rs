//! The HTTP Basic strategy (RFC 7617).

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Authorization, Challenge, Credentials,
    CredentialsData, CredentialsError, StrategyOptions, UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::authenticator::Authenticator;
use auth_core::BruteForceGuard;

/// LoopBack's message when the value is not `Basic <one token>`.
pub const MSG_TOO_MANY_PARTS: &str = "Authorization header value has too many parts. It must follow the pattern: 'Basic xxyyzz' where xxyyzz is a base64 string.";
/// LoopBack's message when the decoded value has no `:`.
pub const MSG_NO_COLON: &str =
    "Authorization header 'Basic' value does not contain two parts separated by ':'.";
/// The message when the token is not standard, padded base64.
pub const MSG_BAD_BASE64: &str = "Authorization header 'Basic' value is not valid base64.";
/// The message when the decoded credentials are not UTF-8.
pub const MSG_NOT_UTF8: &str = "Authorization header 'Basic' value is not valid UTF-8.";
/// The message when the user-id or password contains control characters.
pub const MSG_CONTROL: &str = "Authorization header 'Basic' value contains control characters.";

/// Credentials taken from a Basic `Authorization` header.
///
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user-id (everything before the first colon).
    pub username: String,
    /// The password (everything after it; may contain colons).
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses an `Authorization` header value.
///
/// `Ok(None)`: not the Basic scheme (another strategy's). `Err`: the Basic
/// scheme, but malformed (400).
///
/// ```
/// use auth_basic::parse_basic;
/// // RFC 7617 §2
/// let c = parse_basic(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap().unwrap();
/// assert_eq!((c.username.as_str(), c.password.as_str()), ("Aladdin", "open sesame"));
/// assert!(parse_basic(b"Bearer abc").unwrap().is_none());
/// assert_eq!(parse_basic(b"basic Zm9v").unwrap_err().status().as_u16(), 400);
/// ```
pub fn parse_basic(value: &[u8]) -> Result<Option<BasicCredentials>, AuthError> {
    decode(Authorization::from_bytes(value).parse_scheme("basic"))
}

/// The Basic credentials in what `auth-core`'s `Authorization` parser read,
/// with LoopBack's messages for the malformed cases.
fn decode(
    parsed: Result<Option<Credentials<'_>>, CredentialsError>,
) -> Result<Option<BasicCredentials>, AuthError> {
    // RFC 9110: `credentials = auth-scheme [ 1*SP token68 ]`; several spaces
    // are tolerated, a second token is not.
    let token = match parsed {
        Ok(None) => return Ok(None),
        Ok(Some(creds)) => match creds.data() {
            CredentialsData::Token68(token) => *token,
            CredentialsData::Empty => return Err(AuthError::invalid_request(MSG_TOO_MANY_PARTS)),
            _ => return Err(AuthError::invalid_request(MSG_BAD_BASE64)),
        },
        Err(CredentialsError::TooManyParts) => {
            return Err(AuthError::invalid_request(MSG_TOO_MANY_PARTS));
        }
        Err(e @ CredentialsError::DuplicateHeader) => return Err(e.into()),
        Err(_) => return Err(AuthError::invalid_request(MSG_BAD_BASE64)),
    };
    // RFC 7617 uses base64 with padding (RFC 4648 §4); the STANDARD engine
    // rejects the URL-safe alphabet, missing padding and trailing bits.
    let decoded = STANDARD
        .decode(token)
        .map_err(|_| AuthError::invalid_request(MSG_BAD_BASE64))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| AuthError::invalid_request(MSG_NOT_UTF8))?;
    // RFC 7617 §2: split at the first colon; the password may contain colons.
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(AuthError::invalid_request(MSG_NO_COLON));
    };
    // RFC 7617 §2: user-id and password MUST NOT contain control characters.
    if username
        .chars()
        .chain(password.chars())
        .any(char::is_control)
    {
        return Err(AuthError::invalid_request(MSG_CONTROL));
    }
    Ok(Some(BasicCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
    }))
}

/// HTTP Basic authentication: reads `Authorization: Basic …`, asks an
/// [`Authenticator`], and answers with `Basic realm="…", charset="UTF-8"`.
///
/// ```
/// use auth_basic::{BasicStrategy, invalid_credentials};
/// use auth_core::{StrategyRegistry, UserProfile};
///
/// let basic = BasicStrategy::new("api", |user: String, password: String| async move {
///     if user == "admin" && password == "s3cret" {
///         Ok(UserProfile::new("admin"))
///     } else {
///         Err(invalid_credentials())
///     }
/// });
/// let registry = StrategyRegistry::builder().register(basic).build().unwrap();
/// # let _ = registry;
/// ```
pub struct BasicStrategy {
    name: Cow<'static, str>,
    realm: Cow<'static, str>,
    authenticator: Arc<dyn Authenticator>,
    guard: Option<BruteForceGuard>,
}

impl std::fmt::Debug for BasicStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicStrategy")
            .field("name", &self.name)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl BasicStrategy {
    /// A strategy named `"basic"` for `realm`.
    pub fn new(realm: impl Into<Cow<'static, str>>, authenticator: impl Authenticator) -> Self {
        BasicStrategy {
            name: Cow::Borrowed("basic"),
            realm: realm.into(),
            authenticator: Arc::new(authenticator),
            guard: None,
        }
    }

    /// Registers under another name (e.g. two Basic realms).
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Counts failures and answers 429 past the guard's limit.
    pub fn with_guard(mut self, guard: BruteForceGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

#[auth_core::async_trait(?Send)]
impl AuthenticationStrategy for BasicStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `http` `basic`.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        Some(SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)))
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(auth) = Authorization::from_request(req)? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some(credentials) = decode(auth.parse_scheme("basic"))? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let attempt = match &self.guard {
            Some(guard) => Some(guard.check(req, Some(&credentials.username)).await?),
            None => None,
        };
        // The hashing pool gives each client its share; the client is the
        // one the guard counts (trusted proxies applied), else the peer.
        let client = match &attempt {
            Some(attempt) => attempt.client(),
            None => req.peer_addr().map(|a| a.ip()),
        };
        let result = self
            .authenticator
            .authenticate_from(client, &credentials.username, &credentials.password)
            .await;
        if let Some(attempt) = attempt {
            attempt.record(&result).await;
        }
        let profile: UserProfile = result?;
        let profile = if profile.strategy.is_empty() {
            profile.with_strategy(self.name.clone().into_owned())
        } else {
            profile
        };
        Ok(AuthOutcome::Authenticated(profile))
    }

    fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
        Some(
            Challenge::new("Basic")
                .param("realm", self.realm.clone())
                .param("charset", "UTF-8"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s.as_bytes())
    }

    fn ok(v: &str) -> (String, String) {
        let c = parse_basic(v.as_bytes()).unwrap().unwrap();
        (c.username, c.password)
    }

    fn err(v: &[u8]) -> String {
        match parse_basic(v) {
            Err(e) => {
                assert_eq!(e.status().as_u16(), 400);
                e.to_string()
            }
            Ok(o) => panic!("expected an error, got {o:?}"),
        }
    }

    #[test]
    fn rfc7617_examples() {
        assert_eq!(
            ok("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            ("Aladdin".into(), "open sesame".into())
        );
        // §2.1: "test" / "123£" in UTF-8.
        assert_eq!(ok("Basic dGVzdDoxMjPCow=="), ("test".into(), "123£".into()));
    }

    #[test]
    fn scheme_is_case_insensitive_and_others_are_not_mine() {
        assert!(
            parse_basic(b"BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
                .unwrap()
                .is_some()
        );
        assert!(
            parse_basic(b"bAsIc QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
                .unwrap()
                .is_some()
        );
        assert!(
            parse_basic(b"Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
                .unwrap()
                .is_none()
        );
        assert!(parse_basic(b"Basicx QWxh").unwrap().is_none());
        assert!(parse_basic("Digest \u{e9}".as_bytes()).unwrap().is_none());
    }

    #[test]
    fn splits_at_the_first_colon() {
        assert_eq!(
            ok(&format!("Basic {}", b64("user:pa:ss:"))),
            ("user".into(), "pa:ss:".into())
        );
        assert_eq!(ok(&format!("Basic {}", b64(":"))), ("".into(), "".into()));
    }

    #[test]
    fn malformed_values() {
        assert_eq!(err(b"Basic"), MSG_TOO_MANY_PARTS);
        assert_eq!(err(b"Basic "), MSG_TOO_MANY_PARTS);
        assert_eq!(err(b"Basic a b"), MSG_TOO_MANY_PARTS);
        assert_eq!(
            err(format!("Basic {}", b64("nocolon")).as_bytes()),
            MSG_NO_COLON
        );
        // Missing padding, URL-safe alphabet, junk.
        assert_eq!(err(b"Basic dGVzdDoxMjPCow"), MSG_BAD_BASE64);
        // "a:\xfb\xff" is "YTr7/w==" in the standard alphabet.
        assert_eq!(err(b"Basic YTr7_w=="), MSG_BAD_BASE64);
        assert_eq!(err(b"Basic !!!!"), MSG_BAD_BASE64);
        let latin1 = STANDARD.encode(b"test:123\xa3");
        assert_eq!(err(format!("Basic {latin1}").as_bytes()), MSG_NOT_UTF8);
        assert_eq!(
            err(format!("Basic {}", b64("us\ter:pw")).as_bytes()),
            MSG_CONTROL
        );
        assert_eq!(
            err(format!("Basic {}", b64("user:p\nw")).as_bytes()),
            MSG_CONTROL
        );
        assert_eq!(
            err(format!("Basic {}", b64("user:p\u{7f}w")).as_bytes()),
            MSG_CONTROL
        );
        assert_eq!(
            err(format!("Basic {}", b64("user:p\u{85}w")).as_bytes()),
            MSG_CONTROL
        );
    }

    #[test]
    fn extra_spaces_are_tolerated() {
        assert_eq!(
            ok("Basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  "),
            ("Aladdin".into(), "open sesame".into())
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse_basic(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
            .unwrap()
            .unwrap();
        assert!(!format!("{c:?}").contains("sesame"));
    }
}
