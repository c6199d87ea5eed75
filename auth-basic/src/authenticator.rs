//! The [`Authenticator`] trait: username + password → profile, and the
//! store-backed [`PasswordAuthenticator`].

use std::future::Future;
use std::sync::Arc;

use auth_core::{AuthError, UserProfile};

use crate::cache::VerificationCache;
use crate::password::{PasswordHasher, Verification};
use crate::store::{UserRecord, UserStore};

/// The one message for a wrong username and for a wrong password, so a client
/// cannot tell which one it got wrong.
pub const INVALID_CREDENTIALS_MESSAGE: &str = "Invalid username or password.";

/// The 401 for a wrong username or password (code `INVALID_CREDENTIALS`).
///
/// ```
/// let e = auth_basic::invalid_credentials();
/// assert_eq!(e.status().as_u16(), 401);
/// assert_eq!(e.code(), "INVALID_CREDENTIALS");
/// ```
pub fn invalid_credentials() -> AuthError {
    AuthError::invalid_credentials("INVALID_CREDENTIALS", INVALID_CREDENTIALS_MESSAGE)
}

/// Checks a username and password and returns the user's profile.
///
/// Return [`invalid_credentials()`] for a wrong user or password (one error
/// for both), [`AuthError::Unavailable`] when the backend is down. Never put
/// the password into an error message.
///
/// Any `Fn(String, String) -> impl Future<Output = Result<UserProfile, AuthError>>`
/// is an authenticator:
///
/// ```
/// use auth_basic::{Authenticator, invalid_credentials};
/// use auth_core::UserProfile;
///
/// let auth = |user: String, password: String| async move {
///     if user == "Aladdin" && password == "open sesame" {
///         Ok(UserProfile::new("aladdin").with_roles(["genie"]))
///     } else {
///         Err(invalid_credentials())
///     }
/// };
/// # futures_executor(async {
/// let profile = auth.authenticate("Aladdin", "open sesame").await.unwrap();
/// assert_eq!(profile.id, "aladdin");
/// # });
/// # fn futures_executor(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[auth_core::async_trait(?Send)]
pub trait Authenticator: Send + Sync + 'static {
    /// Verifies the credentials.
    async fn authenticate(&self, username: &str, password: &str) -> Result<UserProfile, AuthError>;
}

#[auth_core::async_trait(?Send)]
impl<F, Fut> Authenticator for F
where
    F: Fn(String, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<UserProfile, AuthError>> + 'static,
{
    async fn authenticate(&self, username: &str, password: &str) -> Result<UserProfile, AuthError> {
        self(username.to_owned(), password.to_owned()).await
    }
}

#[auth_core::async_trait(?Send)]
impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    async fn authenticate(&self, username: &str, password: &str) -> Result<UserProfile, AuthError> {
        (**self).authenticate(username, password).await
    }
}

/// Verifies passwords against a [`UserStore`] on a [`PasswordHasher`].
///
/// - an unknown user is verified against a dummy hash (same cost as a wrong
///   password) and gets the same error;
/// - with [`rehash_on_login`](Self::rehash_on_login), a successful login with
///   an outdated hash (bcrypt, older argon2 parameters) stores a fresh argon2id
///   hash; failures to store it are logged and do not fail the login;
/// - with [`with_cache`](Self::with_cache), successful verifications are
///   remembered for a while.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_basic::{Authenticator, PasswordAuthenticator, MemoryUserStore, NewUser};
/// use auth_basic::password::{HashParams, HasherConfig, PasswordHasher};
///
/// let hasher = PasswordHasher::new(HasherConfig {
///     params: HashParams::insecure_for_tests(),
///     ..HasherConfig::default()
/// });
/// let store = MemoryUserStore::new();
/// store.insert(NewUser::new("ada", hasher.hash("pw").await.unwrap()).with_roles(["admin"]));
/// let auth = PasswordAuthenticator::new(store, hasher);
/// let profile = auth.authenticate("ada", "pw").await.unwrap();
/// assert_eq!(profile.roles, vec!["admin".to_string()]);
/// assert_eq!(auth.authenticate("ada", "nope").await.unwrap_err().status().as_u16(), 401);
/// # });
/// ```
pub struct PasswordAuthenticator<S> {
    store: Arc<S>,
    hasher: PasswordHasher,
    rehash: bool,
    cache: Option<VerificationCache>,
}

impl<S> std::fmt::Debug for PasswordAuthenticator<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordAuthenticator")
            .field("rehash", &self.rehash)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> Clone for PasswordAuthenticator<S> {
    fn clone(&self) -> Self {
        PasswordAuthenticator {
            store: Arc::clone(&self.store),
            hasher: self.hasher.clone(),
            rehash: self.rehash,
            cache: self.cache.clone(),
        }
    }
}

impl<S: UserStore> PasswordAuthenticator<S> {
    /// An authenticator over `store`, hashing on `hasher`.
    pub fn new(store: S, hasher: PasswordHasher) -> Self {
        Self::from_arc(Arc::new(store), hasher)
    }

    /// Like [`new`](Self::new), sharing a store the application also uses.
    pub fn from_arc(store: Arc<S>, hasher: PasswordHasher) -> Self {
        PasswordAuthenticator {
            store,
            hasher,
            rehash: false,
            cache: None,
        }
    }

    /// Replace outdated hashes on successful login (off by default).
    pub fn rehash_on_login(mut self, on: bool) -> Self {
        self.rehash = on;
        self
    }

    /// Remember successful verifications in `cache` (off by default). Share
    /// the same cache with the code that changes passwords, or call
    /// [`VerificationCache::invalidate_user`] there.
    pub fn with_cache(mut self, cache: VerificationCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The cache, if enabled.
    pub fn cache(&self) -> Option<&VerificationCache> {
        self.cache.as_ref()
    }

    /// Hashes `new_password`, stores it, and empties the cache for the user.
    pub async fn change_password(
        &self,
        username: &str,
        new_password: &str,
    ) -> Result<(), AuthError> {
        let hash = self.hasher.hash(new_password).await?;
        self.store
            .update_password_hash(username, &hash)
            .await
            .map_err(AuthError::from)?;
        if let Some(cache) = &self.cache {
            cache.invalidate_user(username);
        }
        Ok(())
    }

    /// Verifies and returns the stored record (for a login handler that
    /// needs more than the profile).
    pub async fn verify(&self, username: &str, password: &str) -> Result<UserRecord, AuthError> {
        if let Some(cache) = &self.cache
            && let Some(record) = cache.get(username, password)
        {
            return Ok(record);
        }
        let record = self
            .store
            .find_user(username)
            .await
            .map_err(AuthError::from)?;
        let verification = self
            .hasher
            .verify(password, record.as_ref().map(|r| r.password_hash.as_str()))
            .await?;
        let (record, needs_rehash) = match (record, verification) {
            (Some(record), Verification::Match { needs_rehash }) => (record, needs_rehash),
            _ => return Err(invalid_credentials()),
        };
        if needs_rehash && self.rehash {
            match self.hasher.hash(password).await {
                Ok(fresh) => {
                    if let Err(e) = self.store.update_password_hash(username, &fresh).await {
                        tracing::warn!(error = %e, "could not store a rehashed password");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not rehash a password"),
            }
        }
        if let Some(cache) = &self.cache {
            cache.insert(username, password, record.clone());
        }
        Ok(record)
    }
}

#[auth_core::async_trait(?Send)]
impl<S: UserStore> Authenticator for PasswordAuthenticator<S> {
    async fn authenticate(&self, username: &str, password: &str) -> Result<UserProfile, AuthError> {
        self.verify(username, password).await.map(|r| r.profile())
    }
}
