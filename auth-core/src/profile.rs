//! The authenticated principal: [`UserProfile`] and [`PrincipalKind`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whether a profile stands for a person or for another service.
///
/// Service-to-service tokens produce [`PrincipalKind::Service`]; a handler can
/// require one kind with `#[authenticate("jwt", principal = "service")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A human user (the default).
    #[default]
    User,
    /// A machine caller, such as another service of the same system.
    Service,
}

impl PrincipalKind {
    /// The lower-case name used in the attribute and in serialized profiles.
    ///
    /// ```
    /// use auth_core::PrincipalKind;
    /// assert_eq!(PrincipalKind::Service.as_str(), "service");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Service => "service",
        }
    }
}

/// The profile a strategy produces on success, LoopBack's `UserProfile`.
///
/// `id` is LoopBack's `securityId` (and is serialized under that name). The
/// remaining claims of a token, or any attributes a store knows, live in
/// `claims`.
///
/// ```
/// use auth_core::{PrincipalKind, UserProfile};
///
/// let profile = UserProfile::new("42")
///     .with_name("Ada")
///     .with_roles(["admin"])
///     .with_scopes(["todos:read"]);
/// assert!(profile.has_role("admin"));
/// assert!(profile.has_scope("todos:read"));
/// assert_eq!(profile.kind, PrincipalKind::User);
/// let json = serde_json::to_value(&profile).unwrap();
/// assert_eq!(json["securityId"], "42");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserProfile {
    /// The stable identifier of the principal (LoopBack's `securityId`).
    #[serde(rename = "securityId")]
    pub id: String,
    /// A display or login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An e-mail address, when the source knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Roles granted to the principal.
    #[serde(default)]
    pub roles: Vec<String>,
    /// OAuth-style scopes granted to the credential.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A user or a service.
    #[serde(default)]
    pub kind: PrincipalKind,
    /// The name of the strategy that produced this profile.
    #[serde(default)]
    pub strategy: String,
    /// Everything else the credential carried (token claims, store attributes).
    ///
    /// Shared, so that cloning a profile (the extractor hands each handler its
    /// own copy) never copies the claims; [`UserProfile::with_claim`] and
    /// [`Arc::make_mut`] write to a private copy.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub claims: Arc<Map<String, Value>>,
}

impl UserProfile {
    /// A profile for the principal `id`, with no roles, scopes or claims.
    pub fn new(id: impl Into<String>) -> Self {
        UserProfile {
            id: id.into(),
            ..UserProfile::default()
        }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the e-mail address.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Replaces the roles.
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the principal kind.
    pub fn with_kind(mut self, kind: PrincipalKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds one claim.
    pub fn with_claim(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        Arc::make_mut(&mut self.claims).insert(key.into(), value.into());
        self
    }

    /// Sets the name of the producing strategy. The sequence fills this in
    /// when a strategy leaves it empty.
    pub fn with_strategy(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = strategy.into();
        self
    }

    /// Whether the profile holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the profile holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// `skip_serializing_if` for the shared claims.
fn is_empty(claims: &Arc<Map<String, Value>>) -> bool {
    claims.is_empty()
}
