//! The [`UserStore`] trait, the stored [`UserRecord`], and an in-memory store.

use std::collections::HashMap;
use std::sync::RwLock;

use auth_core::{AuthError, UserProfile};

/// What a user store fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A user with this username (or id) exists already.
    #[error("user '{0}' already exists")]
    Duplicate(String),
    /// No such user.
    #[error("user '{0}' does not exist")]
    NotFound(String),
    /// The store cannot do this (e.g. a read-only file store).
    #[error("the user store does not support {0}")]
    Unsupported(&'static str),
    /// The backend (database, file) failed.
    #[error("user store unavailable: {0}")]
    Backend(String),
    /// The input is not acceptable (e.g. an empty username).
    #[error("invalid user data: {0}")]
    Invalid(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            // The backend's own text may name tables or hosts: log it, send a
            // generic message (fail closed, 503).
            StoreError::Backend(detail) => {
                tracing::warn!(%detail, "user store unavailable");
                AuthError::unavailable("the user store is unavailable")
            }
            other => AuthError::internal(other.to_string()),
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserRecord {
    /// Stable identifier (the profile's `id` / LoopBack `securityId`).
    pub id: String,
    /// Login name.
    pub username: String,
    /// argon2 PHC string or bcrypt hash.
    pub password_hash: String,
    /// Roles.
    pub roles: Vec<String>,
}

impl UserRecord {
    /// A record.
    pub fn new(
        id: impl Into<String>,
        username: impl Into<String>,
        password_hash: impl Into<String>,
        roles: Vec<String>,
    ) -> Self {
        UserRecord {
            id: id.into(),
            username: username.into(),
            password_hash: password_hash.into(),
            roles,
        }
    }

    /// The profile a successful login produces: id, name and roles.
    pub fn profile(&self) -> UserProfile {
        UserProfile::new(self.id.clone())
            .with_name(self.username.clone())
            .with_roles(self.roles.iter().cloned())
    }
}

/// A user to create. The id defaults to the username.
///
/// ```
/// use auth_basic::NewUser;
/// let u = NewUser::new("ada", "$argon2id$...").with_id("42").with_roles(["admin"]);
/// assert_eq!(u.id.as_deref(), Some("42"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewUser {
    /// Optional explicit id.
    pub id: Option<String>,
    /// Login name.
    pub username: String,
    /// A hash made by [`PasswordHasher::hash`](auth_password::PasswordHasher::hash).
    pub password_hash: String,
    /// Roles.
    pub roles: Vec<String>,
}

impl NewUser {
    /// A user with no roles.
    pub fn new(username: impl Into<String>, password_hash: impl Into<String>) -> Self {
        NewUser {
            id: None,
            username: username.into(),
            password_hash: password_hash.into(),
            roles: Vec::new(),
        }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the roles.
    pub fn with_roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the username as every store does before writing it:
    /// non-empty, no `:` (RFC 7617 §2: such a user-id cannot be sent), no
    /// control characters.
    ///
    /// ```
    /// use auth_basic::NewUser;
    /// assert!(NewUser::new("ada", "").validate().is_ok());
    /// assert!(NewUser::new("a:da", "").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.username.is_empty() || self.username.contains(':') {
            return Err(StoreError::Invalid(
                "a username must be non-empty and contain no ':'".into(),
            ));
        }
        if self.username.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "a username must not contain control characters".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn into_record(self) -> Result<UserRecord, StoreError> {
        self.validate()?;
        Ok(UserRecord {
            id: self.id.unwrap_or_else(|| self.username.clone()),
            username: self.username,
            password_hash: self.password_hash,
            roles: self.roles,
        })
    }
}

/// Where users live: a file, a database, memory.
///
/// Implementations are shared by all workers. `find_user` returning
/// `Ok(None)` means "no such user"; an `Err` means the backend failed (503).
#[auth_core::async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Looks a user up by username.
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Replaces a user's password hash (password change, rehash on login).
    async fn update_password_hash(&self, username: &str, hash: &str) -> Result<(), StoreError> {
        let _ = (username, hash);
        Err(StoreError::Unsupported("changing passwords"))
    }

    /// The Digest HA1 (`H(username:realm:password)`, lower-case hex) for a
    /// realm and algorithm (`"SHA-512-256"`, `"SHA-256"` or `"MD5"`), if the
    /// store keeps one.
    async fn digest_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        let _ = (username, realm, algorithm);
        Ok(None)
    }

    /// The username whose Digest `userhash` (`H(username:realm)`, lower-case
    /// hex, compared case-insensitively) is `userhash` for this realm and
    /// algorithm, if the store can tell (RFC 7616 §3.4.4). Find it with a
    /// lookup (an index, a map), not by hashing every username per request:
    /// the userhash is not a secret, but a scan is a cost any client can
    /// trigger.
    async fn username_by_userhash(
        &self,
        userhash: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        let _ = (userhash, realm, algorithm);
        Ok(None)
    }
}

/// A user store in memory (tests, demos, a fixed set of service accounts).
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    users: RwLock<HashMap<String, UserRecord>>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a user.
    ///
    /// # Panics
    /// When the username is empty or contains `:` or control characters.
    pub fn insert(&self, user: NewUser) {
        let record = user.into_record().expect("a valid username");
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.username.clone(), record);
    }
}

#[auth_core::async_trait]
impl UserStore for MemoryUserStore {
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .cloned())
    }

    async fn update_password_hash(&self, username: &str, hash: &str) -> Result<(), StoreError> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        match users.get_mut(username) {
            Some(u) => {
                u.password_hash = hash.to_owned();
                Ok(())
            }
            None => Err(StoreError::NotFound(username.to_owned())),
        }
    }
}
