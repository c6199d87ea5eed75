//! The strategies that read [`TokenManager`] tokens back: RESTHeart's
//! token-basic form and an opaque Bearer token.

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, StrategyOptions, credentials_for,
};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::TokenManager;
// A token's shape: anything else is another credential, not ours.
use crate::manager::Shaped;

fn invalid() -> AuthError {
    AuthError::invalid_credentials("INVALID_AUTH_TOKEN", "invalid or expired auth token")
}

/// `Authorization: Basic base64(id:auth-token)`, as RESTHeart's
/// token-basic mechanism: the user id and a token the [`TokenManager`]
/// issued to that user. A Basic header whose password is not shaped like a
/// token is "not mine", so the password strategy after it in the same
/// `#[authenticate("token-basic", "basic")]` still runs.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{MemoryStore, StrategyRegistry};
/// use auth_token::{TokenBasicStrategy, TokenManager};
///
/// let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
/// let registry = StrategyRegistry::builder()
///     .register(TokenBasicStrategy::new("token-basic", tokens))
///     .build()
///     .unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug, Clone)]
pub struct TokenBasicStrategy {
    name: String,
    tokens: TokenManager,
    realm: String,
}

impl TokenBasicStrategy {
    /// A strategy named `name` (realm `api`).
    pub fn new(name: impl Into<String>, tokens: TokenManager) -> Self {
        TokenBasicStrategy {
            name: name.into(),
            tokens,
            realm: "api".into(),
        }
    }

    /// The challenge's realm.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for TokenBasicStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `http` `basic` (the user name and the auth token as password).
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
        let Some(credentials) = credentials_for(req, "Basic")? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some(decoded) = credentials
            .token68()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .and_then(|b| String::from_utf8(b).ok())
        else {
            // Malformed Basic credentials are the password strategy's to report.
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some((id, token)) = decoded.split_once(':') else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some(token) = Shaped::new(token) else {
            return Ok(AuthOutcome::NotApplicable);
        };
        match self.tokens.lookup(token).await? {
            Some(live) if bool::from(live.record.owner.as_bytes().ct_eq(id.as_bytes())) => {
                Ok(AuthOutcome::Authenticated(live.profile(&self.name)))
            }
            _ => Err(invalid()),
        }
    }

    fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::new("Basic").param("realm", self.realm.clone()))
    }
}

/// `Authorization: Bearer <auth-token>` with a [`TokenManager`] token. A
/// Bearer value not shaped like one (a JWT has dots) is "not mine", so a JWT
/// strategy after it still runs.
#[derive(Debug, Clone)]
pub struct OpaqueBearerStrategy {
    name: String,
    tokens: TokenManager,
    realm: String,
}

impl OpaqueBearerStrategy {
    /// A strategy named `name` (realm `api`).
    pub fn new(name: impl Into<String>, tokens: TokenManager) -> Self {
        OpaqueBearerStrategy {
            name: name.into(),
            tokens,
            realm: "api".into(),
        }
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for OpaqueBearerStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `http` `bearer` (an opaque token, no `bearerFormat`).
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        Some(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        // A token of this manager's shape (43 base64url characters, all
        // token68) after `Bearer ` is what the full parse would return: take
        // it without the parse. Any other header goes through the parse,
        // which answers a malformed one with 400.
        let fast = auth_core::bearer_candidate(req.headers()).and_then(Shaped::from_bytes);
        let token = match fast {
            Some(token) => token,
            None => match credentials_for(req, "Bearer")?
                .and_then(|c| c.token68())
                .and_then(Shaped::new)
            {
                Some(token) => token,
                None => return Ok(AuthOutcome::NotApplicable),
            },
        };
        match self.tokens.lookup(token).await? {
            Some(live) => Ok(AuthOutcome::Authenticated(live.profile(&self.name))),
            None => Err(invalid()),
        }
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.realm, failure))
    }
}
