//! Claim-to-profile mapping: which claims give the user id, roles, scopes
//! and principal kind of a verified token.

use std::sync::Arc;

use auth_core::{AuthError, PrincipalKind, UserProfile};
use serde_json::{Map, Value};

/// A function deciding the principal kind from verified claims; `None`
/// leaves the decision to the next rule. Made by [`PrincipalRule::custom`].
///
/// ```
/// use auth_core::PrincipalKind;
/// let rule: auth_jwt::PrincipalClassifier = std::sync::Arc::new(|claims| {
///     claims.contains_key("azp").then_some(PrincipalKind::Service)
/// });
/// # let _ = auth_jwt::PrincipalRule::Custom(rule);
/// ```
pub type PrincipalClassifier =
    Arc<dyn Fn(&Map<String, Value>) -> Option<PrincipalKind> + Send + Sync>;

/// One rule of the principal-kind mapping (issue 18.11). The strategy tries
/// its rules in order; the first that decides wins; when none does, the
/// principal is a [`PrincipalKind::User`].
///
/// The default list is `[KindClaim, ClientCredentials]`; see
/// [`JwtStrategyBuilder::principal_rules`](crate::JwtStrategyBuilder::principal_rules) and
/// [`JwtStrategyBuilder::principal_rule`](crate::JwtStrategyBuilder::principal_rule).
///
/// ```
/// use auth_core::PrincipalKind;
/// use auth_jwt::{PrincipalRule, JwtStrategy};
///
/// // Azure AD app-only tokens carry `idtyp: "app"`.
/// let app_only = PrincipalRule::custom(|claims| {
///     (claims.get("idtyp").and_then(|v| v.as_str()) == Some("app"))
///         .then_some(PrincipalKind::Service)
/// });
/// let strategy = JwtStrategy::builder()
///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
///     .principal_rules([app_only, PrincipalRule::KindClaim, PrincipalRule::ClientCredentials])
///     .build()
///     .unwrap();
/// # let _ = strategy;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum PrincipalRule {
    /// This crate's own service tokens: the [`KIND_CLAIM`](crate::KIND_CLAIM)
    /// claim, `"service"` or `"user"`. Other values decide nothing.
    KindClaim,
    /// RFC 9068 §2.2: a token from the client-credentials grant has no
    /// resource owner, and its `sub` is the client's own `client_id`; such a
    /// token is a [`PrincipalKind::Service`].
    ClientCredentials,
    /// A rule of the application's own.
    Custom(PrincipalClassifier),
}

impl PrincipalRule {
    /// A custom rule from a closure.
    ///
    /// ```
    /// use auth_core::PrincipalKind;
    /// let rule = auth_jwt::PrincipalRule::custom(|claims| {
    ///     claims.contains_key("azp").then_some(PrincipalKind::Service)
    /// });
    /// # let _ = rule;
    /// ```
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(&Map<String, Value>) -> Option<PrincipalKind> + Send + Sync + 'static,
    {
        PrincipalRule::Custom(Arc::new(f))
    }

    fn decide(&self, claims: &Map<String, Value>) -> Option<PrincipalKind> {
        match self {
            PrincipalRule::KindClaim => {
                match claims.get(crate::issue::KIND_CLAIM).and_then(Value::as_str) {
                    Some("service") => Some(PrincipalKind::Service),
                    Some("user") => Some(PrincipalKind::User),
                    _ => None,
                }
            }
            PrincipalRule::ClientCredentials => {
                match (claims.get("sub"), claims.get("client_id")) {
                    (Some(Value::String(sub)), Some(Value::String(client)))
                        if !sub.is_empty() && sub == client =>
                    {
                        Some(PrincipalKind::Service)
                    }
                    _ => None,
                }
            }
            PrincipalRule::Custom(f) => f(claims),
        }
    }
}

impl std::fmt::Debug for PrincipalRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrincipalRule::KindClaim => f.write_str("KindClaim"),
            PrincipalRule::ClientCredentials => f.write_str("ClientCredentials"),
            PrincipalRule::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// How a [`JwtStrategy`](crate::JwtStrategy) turns verified claims into a
/// [`UserProfile`]; set through its builder.
pub(crate) struct ClaimMapping {
    pub(crate) username_claim: String,
    /// `None`: no roles are read from tokens (`no_claim_roles`).
    pub(crate) roles_claim: Option<String>,
    pub(crate) fixed_roles: Vec<String>,
    pub(crate) scopes_claim: Option<String>,
    pub(crate) principal_rules: Vec<PrincipalRule>,
    pub(crate) accept_sender_constrained: bool,
}

impl ClaimMapping {
    pub(crate) fn profile(
        &self,
        claims: Arc<Map<String, Value>>,
        strategy: &str,
    ) -> Result<UserProfile, AuthError> {
        // SAFETY-NOTE (issue 18.12): a sender-constrained token is only as
        // good as the proof of possession that goes with it (DPoP, RFC 9449;
        // mTLS, RFC 8705), which this strategy does not verify. Accepting it
        // as a bearer token would make a stolen bound token usable.
        if claims.contains_key("cnf") && !self.accept_sender_constrained {
            return Err(AuthError::invalid_token(
                "token is sender-constrained (cnf) and needs a proof of possession this service does not verify",
            ));
        }
        let id = match claims.get(&self.username_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(AuthError::invalid_token(format!(
                    "token lacks the {} claim",
                    self.username_claim
                )));
            }
        };
        let mut profile = UserProfile::new(id).with_strategy(strategy);
        if let Some(name) = claims
            .get("name")
            .or_else(|| claims.get("preferred_username"))
            .and_then(Value::as_str)
        {
            profile = profile.with_name(name);
        }
        if let Some(email) = claims.get("email").and_then(Value::as_str) {
            profile = profile.with_email(email);
        }
        let mut roles = match &self.roles_claim {
            Some(path) => strings(claim_path(claims.as_ref(), path)),
            None => Vec::new(),
        };
        for r in &self.fixed_roles {
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
        profile.roles = roles;
        profile.scopes = self.scopes(&claims)?;
        profile.kind = self
            .principal_rules
            .iter()
            .find_map(|rule| rule.decide(&claims))
            .unwrap_or(PrincipalKind::User);
        profile.claims = claims;
        Ok(profile)
    }

    /// The granted scopes (issue 11.4). SAFETY-NOTE: a claim of the wrong
    /// type is an invalid token, never "no scopes" and never a list of
    /// grants: `"scope": ["admin"]` must not grant `admin` to a verifier
    /// that reads it as an array while the issuer meant something else.
    fn scopes(&self, claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
        let split = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        // `scope` is one space-delimited string (RFC 8693 §4.2, RFC 9068
        // §2.2.3), whichever claim the scopes are configured to come from.
        let scope = match claims.get("scope") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(AuthError::invalid_token(
                    "token has an invalid scope claim: scope must be one space-delimited string",
                ));
            }
        };
        let name = match self.scopes_claim.as_deref() {
            None | Some("scope") => return Ok(scope.map(|s| split(s)).unwrap_or_default()),
            Some(name) => name,
        };
        match claims.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(split(s)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(AuthError::invalid_token(format!(
                        "token has an invalid {name} claim: every scope must be a string"
                    ))),
                })
                .collect(),
            Some(_) => Err(AuthError::invalid_token(format!(
                "token has an invalid {name} claim: scopes must be a string or an array of strings"
            ))),
        }
    }
}

fn claim_path<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
