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
/// The fields are those of [`ProfileData`], read through `Deref`
/// (`user.id`, `user.roles`), and written through `DerefMut`
/// (`user.roles.push(..)`). The profile itself is a shared pointer: the
/// verified-token cache, the request and each handler argument hold the
/// same one, so handing a profile to a handler costs a reference count, not
/// a copy of its strings. A write copies the fields first when the profile
/// is shared (copy on write), so every holder keeps the value it saw. To
/// own a field, clone it (`user.id.clone()`) or take the whole data with
/// [`into_data`](Self::into_data).
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
///
/// // Copy on write: the clone keeps its roles.
/// let mut promoted = profile.clone();
/// promoted.roles.push("owner".into());
/// assert_eq!(profile.roles, ["admin"]);
/// assert_eq!(promoted.roles, ["admin", "owner"]);
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserProfile(Arc<ProfileData>);

/// The fields of a [`UserProfile`], which derefs to it.
///
/// ```
/// use auth_core::{ProfileData, UserProfile};
///
/// let user = UserProfile::new("42").with_roles(["admin"]);
/// let data: ProfileData = user.into_data();
/// assert_eq!(UserProfile::from(data.clone()).roles, data.roles);
/// let id: String = data.id; // owned
/// assert_eq!(id, "42");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProfileData {
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
    /// Shared, so that copying the fields ([`UserProfile::into_data`] of a
    /// shared profile, a write to one) never copies the claims;
    /// [`UserProfile::with_claim`] and [`Arc::make_mut`] write to a private
    /// copy.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub claims: Arc<Map<String, Value>>,
}

impl std::ops::Deref for UserProfile {
    type Target = ProfileData;

    fn deref(&self) -> &ProfileData {
        &self.0
    }
}

impl std::ops::DerefMut for UserProfile {
    /// Copies the fields first when another holder shares them.
    fn deref_mut(&mut self) -> &mut ProfileData {
        Arc::make_mut(&mut self.0)
    }
}

impl std::fmt::Debug for UserProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<ProfileData> for UserProfile {
    fn from(data: ProfileData) -> Self {
        UserProfile(Arc::new(data))
    }
}

impl UserProfile {
    /// A profile for the principal `id`, with no roles, scopes or claims.
    pub fn new(id: impl Into<String>) -> Self {
        UserProfile::from(ProfileData {
            id: id.into(),
            ..ProfileData::default()
        })
    }

    /// The fields, owned: moved out when this is the only holder, copied
    /// otherwise (the claims stay shared either way).
    pub fn into_data(self) -> ProfileData {
        Arc::unwrap_or_clone(self.0)
    }

    /// Whether `self` and `other` are the same shared profile (not merely
    /// equal ones).
    ///
    /// ```
    /// use auth_core::UserProfile;
    /// let a = UserProfile::new("42");
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&UserProfile::new("42")));
    /// ```
    pub fn ptr_eq(&self, other: &UserProfile) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
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
        Arc::make_mut(&mut Arc::make_mut(&mut self.0).claims).insert(key.into(), value.into());
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
