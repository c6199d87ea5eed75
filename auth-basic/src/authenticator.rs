//! The [`Authenticator`] trait: username + password → profile, and the
//! store-backed [`PasswordAuthenticator`].

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use auth_core::{AuthError, UserProfile};

use crate::store::{UserRecord, UserStore};
use auth_password::VerificationCache;
use auth_password::{PasswordHasher, Verification};

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

    /// Verifies the credentials on behalf of `client` (the address the
    /// [`BruteForceGuard`](crate::BruteForceGuard) counts), so that work
    /// shared between clients, such as the hashing pool, can give each
    /// client only its share. [`BasicStrategy`](crate::BasicStrategy) calls
    /// this. The default ignores the client and calls
    /// [`authenticate`](Self::authenticate); [`PasswordAuthenticator`]
    /// passes it to [`PasswordHasher::verify_for`].
    async fn authenticate_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<UserProfile, AuthError> {
        let _ = client;
        self.authenticate(username, password).await
    }
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

    async fn authenticate_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<UserProfile, AuthError> {
        (**self).authenticate_from(client, username, password).await
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
///   remembered for a while, each bound to the stored hash it was checked
///   against: the store is read on every request and a changed hash (by
///   whatever means) misses the cache;
/// - [`verify_from`](Self::verify_from) / [`authenticate_from`](Authenticator::authenticate_from)
///   hash within the client's share of the pool
///   ([`HasherConfig::per_client`](auth_password::HasherConfig::per_client)).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_basic::{Authenticator, PasswordAuthenticator, MemoryUserStore, NewUser};
/// use auth_basic::{HashParams, HasherConfig, PasswordHasher};
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

    /// Remember successful verifications in `cache` (off by default). An
    /// entry only matches while the store still holds the hash it was
    /// verified against, so a password changed anywhere (this
    /// authenticator, the store directly, the CLI and a reload) takes effect
    /// on the next request.
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

    /// Hashes `new_password`, stores it, and drops the user's cache entry
    /// (which would no longer match the stored hash anyway).
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
    /// needs more than the profile). Not attributed to a client: a login
    /// handler should call [`verify_from`](Self::verify_from) with
    /// [`Attempt::client`](crate::Attempt::client).
    pub async fn verify(&self, username: &str, password: &str) -> Result<UserRecord, AuthError> {
        self.verify_from(None, username, password).await
    }

    /// [`verify`](Self::verify) on behalf of `client`: the hash runs within
    /// the client's share of the pool, and a client that has its share in
    /// flight already gets 429 at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_basic::{MemoryUserStore, NewUser, PasswordAuthenticator};
    /// use auth_basic::{HashParams, HasherConfig, PasswordHasher};
    ///
    /// let hasher = PasswordHasher::new(HasherConfig {
    ///     params: HashParams::insecure_for_tests(),
    ///     ..HasherConfig::default()
    /// });
    /// let store = MemoryUserStore::new();
    /// store.insert(NewUser::new("ada", hasher.hash("pw").await.unwrap()));
    /// let auth = PasswordAuthenticator::new(store, hasher);
    /// let client = Some("192.0.2.1".parse().unwrap());
    /// assert_eq!(auth.verify_from(client, "ada", "pw").await.unwrap().username, "ada");
    /// # });
    /// ```
    pub async fn verify_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<UserRecord, AuthError> {
        // The store is read on every request, cached or not: a cache entry is
        // only good for the hash it was verified against (issue 18.2).
        let record = self
            .store
            .find_user(username)
            .await
            .map_err(AuthError::from)?;
        if let (Some(cache), Some(record)) = (&self.cache, &record)
            && cache.is_verified(&record.username, &record.password_hash, password)
        {
            return Ok(record.clone());
        }
        let verification = self
            .hasher
            .verify_for(
                client,
                password,
                record.as_ref().map(|r| r.password_hash.as_str()),
            )
            .await?;
        let (mut record, needs_rehash) = match (record, verification) {
            (Some(record), Verification::Match { needs_rehash }) => (record, needs_rehash),
            _ => return Err(invalid_credentials()),
        };
        if needs_rehash && self.rehash {
            match self.hasher.hash(password).await {
                Ok(fresh) => match self.store.update_password_hash(username, &fresh).await {
                    Ok(()) => record.password_hash = fresh,
                    Err(e) => tracing::warn!(error = %e, "could not store a rehashed password"),
                },
                Err(e) => tracing::warn!(error = %e, "could not rehash a password"),
            }
        }
        if let Some(cache) = &self.cache {
            cache.insert(&record.username, &record.password_hash, password);
        }
        Ok(record)
    }
}

#[auth_core::async_trait(?Send)]
impl<S: UserStore> Authenticator for PasswordAuthenticator<S> {
    async fn authenticate(&self, username: &str, password: &str) -> Result<UserProfile, AuthError> {
        self.verify(username, password).await.map(|r| r.profile())
    }

    async fn authenticate_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<UserProfile, AuthError> {
        self.verify_from(client, username, password)
            .await
            .map(|r| r.profile())
    }
}
