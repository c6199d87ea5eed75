//! [`JwtAuthority`]: auth-jwt's access and refresh tokens at the
//! introspection and revocation endpoints.

use std::sync::Arc;

use auth_core::{AuthError, Revocations};
use auth_jwt::{IssueError, JwtStrategy, TokenService, VerifyError};
use serde_json::{Map, Value};

use crate::TokenAuthority;

/// The access tokens a [`JwtStrategy`] accepts and the refresh tokens a
/// [`TokenService`] issued, for [`TokenEndpoints`](crate::TokenEndpoints).
///
/// - A JWT is introspected exactly as a request would be authenticated:
///   signature, claims, and the service's [`Revocations`] (a stale deny
///   list is a 503, not a guess). Its standard claims are the members.
/// - A JWT is revoked by its `jti` until its `exp` on every instance
///   sharing the revocations. Without revocations (or without `jti`) it
///   cannot be, and the endpoint answers RFC 7009's 400
///   `unsupported_token_type` instead of pretending.
/// - Anything else is tried as a refresh token: introspected with
///   [`TokenService::inspect_refresh_token`], revoked with its family.
///
/// ```
/// use auth_jwt::{Algorithm, JwtStrategy, SigningKey, TokenService, VerifyingKey};
/// use auth_token::{JwtAuthority, TokenEndpoints};
///
/// let secret = [7u8; 32];
/// let strategy = JwtStrategy::builder()
///     .key(VerifyingKey::hmac(&secret, Algorithm::HS256).unwrap())
///     .issuer("api")
///     .audience("api")
///     .build()
///     .unwrap();
/// let tokens = TokenService::new(SigningKey::hmac(&secret, Algorithm::HS256).unwrap())
///     .issuer("api")
///     .audience("api");
/// let endpoints = TokenEndpoints::new()
///     .client("gateway", "a-long-random-client-secret")
///     .authority(JwtAuthority::new(strategy, tokens));
/// # let _ = endpoints;
/// ```
#[derive(Debug, Clone)]
pub struct JwtAuthority {
    strategy: JwtStrategy,
    tokens: TokenService,
    revocations: Option<Arc<Revocations>>,
}

impl JwtAuthority {
    /// Introspects and revokes what `strategy` accepts and `tokens` issued;
    /// access tokens are revoked in the service's
    /// [revocations](TokenService::revocations), if it has them.
    pub fn new(strategy: JwtStrategy, tokens: TokenService) -> Self {
        let revocations = tokens.revocation_list().cloned();
        JwtAuthority {
            strategy,
            tokens,
            revocations,
        }
    }
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

fn from_issue(e: IssueError) -> AuthError {
    match e {
        IssueError::Store(e) => e.into(),
        other => AuthError::internal(other.to_string()),
    }
}

/// The RFC 7662 members copied from a JWT's claims.
const MEMBERS: [&str; 9] = [
    "sub",
    "scope",
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "jti",
    "client_id",
];

#[async_trait::async_trait(?Send)]
impl TokenAuthority for JwtAuthority {
    async fn introspect(&self, token: &str) -> Result<Option<Map<String, Value>>, AuthError> {
        if looks_like_jwt(token) {
            let verified = match self.strategy.verify_token(token).await {
                Ok(verified) => verified,
                Err(VerifyError::KeysUnavailable) => {
                    return Err(AuthError::unavailable(
                        "the signing keys cannot be fetched now",
                    ));
                }
                Err(_) => return Ok(None),
            };
            let claims = &verified.claims;
            if let Some(revocations) = &self.revocations {
                let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
                match revocations.check(
                    claims.get("jti").and_then(Value::as_str),
                    subject,
                    claims.get("iat").and_then(Value::as_u64),
                ) {
                    Ok(()) => {}
                    Err(e) if e.status().as_u16() == 503 => return Err(e),
                    Err(_) => return Ok(None),
                }
            }
            let mut members: Map<String, Value> = MEMBERS
                .iter()
                .filter_map(|m| claims.get(*m).map(|v| ((*m).to_owned(), v.clone())))
                .collect();
            members.insert("token_type".into(), "Bearer".into());
            return Ok(Some(members));
        }
        let Some((profile, exp)) = self
            .tokens
            .inspect_refresh_token(token)
            .await
            .map_err(from_issue)?
        else {
            return Ok(None);
        };
        let mut members = Map::new();
        members.insert("sub".into(), profile.id.clone().into());
        members.insert("scope".into(), profile.scopes.join(" ").into());
        members.insert("exp".into(), exp.into());
        members.insert("token_type".into(), "refresh_token".into());
        Ok(Some(members))
    }

    async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        if looks_like_jwt(token) {
            let Ok(verified) = self.strategy.verify_token(token).await else {
                // Not ours, expired or forged: nothing to revoke.
                return Ok(());
            };
            let claims = &verified.claims;
            let (Some(revocations), Some(jti), Some(exp)) = (
                &self.revocations,
                claims.get("jti").and_then(Value::as_str),
                claims.get("exp").and_then(Value::as_u64),
            ) else {
                return Err(crate::endpoints::unsupported_token_type());
            };
            revocations.revoke_token(jti, exp).await?;
            return Ok(());
        }
        self.tokens.revoke(token).await.map_err(from_issue)
    }
}
