//! Test helpers (feature `testing`): an identity strategy and a one-call test app.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, web};

use crate::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, PrincipalKind, StrategyOptions,
    StrategyRegistry, UserProfile,
};

/// A strategy that authenticates every request as one configured principal
/// (RESTHeart's `identityAuthMechanism`). For tests and local development
/// only: it checks nothing.
///
/// ```
/// use auth_core::testing::IdentityStrategy;
/// use auth_core::StrategyRegistry;
///
/// let registry = StrategyRegistry::builder()
///     .register(IdentityStrategy::new("identity", "alice").roles(["admin"]))
///     .build()
///     .unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug, Clone)]
pub struct IdentityStrategy {
    name: String,
    profile: UserProfile,
}

impl IdentityStrategy {
    /// Authenticates as user `id`, registered under `name`.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        IdentityStrategy {
            name: name.into(),
            profile: UserProfile::new(id),
        }
    }

    /// Sets the roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile = self.profile.with_roles(roles);
        self
    }

    /// Sets the scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile = self.profile.with_scopes(scopes);
        self
    }

    /// Sets the principal kind.
    pub fn kind(mut self, kind: PrincipalKind) -> Self {
        self.profile = self.profile.with_kind(kind);
        self
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for IdentityStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authenticate(
        &self,
        _req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        Ok(AuthOutcome::Authenticated(self.profile.clone()))
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.name, failure))
    }
}

/// Builds an in-process test service with `registry` in `app_data` and the
/// routes `configure` adds.
///
/// ```
/// use actix_web::{test, web, HttpResponse};
/// use auth_core::testing::{init_service, IdentityStrategy};
/// use auth_core::{StrategyRegistry, UserProfile};
///
/// # actix_web::rt::System::new().block_on(async {
/// let registry = StrategyRegistry::builder()
///     .register(IdentityStrategy::new("identity", "alice"))
///     .build()
///     .unwrap();
/// let app = init_service(registry, |cfg| {
///     cfg.route("/", web::get().to(|| async { HttpResponse::Ok().finish() }));
/// })
/// .await;
/// let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(resp.status(), 200);
/// # });
/// ```
pub async fn init_service(
    registry: StrategyRegistry,
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    actix_web::test::init_service(App::new().app_data(registry).configure(configure)).await
}

/// A [`StateStore`](crate::StateStore) double that can be taken down and
/// brought back: a [`MemoryStore`](crate::MemoryStore) while up; while down,
/// every operation fails with [`StoreError::Unavailable`](crate::StoreError)
/// as a backend outage does. Clones share the switch and the entries, so a
/// test keeps one to flip while the app under test holds another.
///
/// ```
/// use std::time::Duration;
/// use auth_core::testing::FlakyStore;
/// use auth_core::StateStore;
///
/// # actix_web::rt::System::new().block_on(async {
/// let store = FlakyStore::new();
/// assert!(store.set_if_absent("k", b"v", Duration::from_secs(9)).await.unwrap());
/// store.go_down();
/// assert!(store.get("k").await.unwrap_err().is_transient());
/// store.come_back();
/// assert_eq!(store.get("k").await.unwrap().unwrap().value, b"v");
/// # });
/// ```
///
/// It also counts the reads ([`get`](crate::StateStore::get)) asked of it,
/// so a test can tell a cache hit from a store read, and its
/// publish/subscribe alone can be cut ([`cut_pubsub`](Self::cut_pubsub)),
/// as when a subscription's connection drops while the store answers.
#[derive(Clone, Default)]
pub struct FlakyStore {
    inner: crate::MemoryStore,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failures: std::sync::Arc<std::sync::atomic::AtomicU64>,
    reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// `true` while publish/subscribe is cut; live subscriptions watch it.
    pubsub_cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl std::fmt::Debug for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlakyStore")
            .field("down", &self.is_down())
            .finish_non_exhaustive()
    }
}

impl FlakyStore {
    /// An empty store that is up.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same (empty) store on `clock`, to move its expiry by hand:
    /// call it first, before the store is cloned or used.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use auth_core::testing::FlakyStore;
    /// use auth_core::{ManualClock, StateStore};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let clock = ManualClock::new(0);
    /// let store = FlakyStore::new().with_clock(Arc::new(clock.clone()));
    /// store.set_if_absent("k", b"v", Duration::from_secs(2)).await.unwrap();
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(store.get("k").await.unwrap(), None);
    /// # });
    /// ```
    pub fn with_clock(self, clock: std::sync::Arc<dyn crate::Clock>) -> Self {
        FlakyStore {
            inner: self.inner.with_clock(clock),
            ..self
        }
    }

    /// Every operation fails from now on.
    pub fn go_down(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Operations work again, on the entries kept before the outage.
    pub fn come_back(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether operations fail.
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many operations failed because the store was down.
    pub fn failures(&self) -> u64 {
        self.failures.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many [`get`](crate::StateStore::get)s were asked, failed ones
    /// included.
    ///
    /// ```
    /// use auth_core::testing::FlakyStore;
    /// use auth_core::StateStore;
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let store = FlakyStore::new();
    /// assert_eq!(store.get("k").await.unwrap(), None);
    /// store.go_down();
    /// assert!(store.get("k").await.is_err());
    /// assert_eq!(store.reads(), 2);
    /// # });
    /// ```
    pub fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Cuts publish/subscribe only, as a dropped subscription connection
    /// does: every live subscription reports a gap
    /// ([`StoreError::Lagged`](crate::StoreError::Lagged)), and `publish`
    /// and `subscribe` fail as unavailable until
    /// [`restore_pubsub`](Self::restore_pubsub); then the live
    /// subscriptions receive messages again, as Redis subscriptions do
    /// after they reconnect. Other operations go on.
    ///
    /// ```
    /// use auth_core::testing::FlakyStore;
    /// use auth_core::{StateStore, StoreError};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let store = FlakyStore::new();
    /// let mut subscription = store.subscribe("news").await.unwrap();
    /// store.cut_pubsub();
    /// assert!(matches!(subscription.recv().await, Some(Err(StoreError::Lagged { .. }))));
    /// assert!(store.subscribe("news").await.unwrap_err().is_transient());
    /// assert!(store.publish("news", b"lost").await.unwrap_err().is_transient());
    /// store.restore_pubsub();
    /// assert!(store.subscribe("news").await.is_ok());
    /// store.publish("news", b"hello").await.unwrap();
    /// assert_eq!(subscription.recv().await.unwrap().unwrap(), b"hello");
    /// # });
    /// ```
    pub fn cut_pubsub(&self) {
        self.pubsub_cut.send_replace(true);
    }

    /// Publish/subscribe works again.
    pub fn restore_pubsub(&self) {
        self.pubsub_cut.send_replace(false);
    }

    fn pubsub_up(&self) -> Result<&crate::MemoryStore, crate::StoreError> {
        let store = self.up()?;
        if *self.pubsub_cut.borrow() {
            return Err(crate::StoreError::unavailable(
                "publish/subscribe is cut (testing::FlakyStore)",
            ));
        }
        Ok(store)
    }

    /// The entries, reachable whatever the switch says (to inspect counts).
    pub fn memory(&self) -> &crate::MemoryStore {
        &self.inner
    }

    fn up(&self) -> Result<&crate::MemoryStore, crate::StoreError> {
        if self.is_down() {
            self.failures
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(crate::StoreError::unavailable(
                "the store is down (testing::FlakyStore)",
            ));
        }
        Ok(&self.inner)
    }
}

#[async_trait::async_trait]
impl crate::StateStore for FlakyStore {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<bool, crate::StoreError> {
        self.up()?.set_if_absent(key, value, ttl).await
    }

    async fn get(&self, key: &str) -> Result<Option<crate::Entry>, crate::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.up()?.get(key).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, crate::StoreError> {
        self.up()?.take(key).await
    }

    async fn delete(&self, key: &str) -> Result<bool, crate::StoreError> {
        self.up()?.delete(key).await
    }

    async fn increment(
        &self,
        key: &str,
        window: std::time::Duration,
    ) -> Result<crate::Count, crate::StoreError> {
        self.up()?.increment(key, window).await
    }

    async fn raise(
        &self,
        key: &str,
        value: u64,
        ttl: std::time::Duration,
    ) -> Result<bool, crate::StoreError> {
        self.up()?.raise(key, value, ttl).await
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), crate::StoreError> {
        self.pubsub_up()?.publish(channel, message).await
    }

    async fn subscribe(&self, channel: &str) -> Result<crate::Subscription, crate::StoreError> {
        let inner = self.pubsub_up()?.subscribe(channel).await?;
        let mut cut = self.pubsub_cut.subscribe();
        cut.mark_unchanged();
        // A gap when cut, then on as a subscription that reconnected.
        Ok(crate::Subscription::new(futures_util::stream::unfold(
            (inner, cut),
            |(mut inner, mut cut)| async move {
                loop {
                    let changed = tokio::select! {
                        message = inner.recv() => return message.map(|m| (m, (inner, cut))),
                        changed = cut.changed() => changed,
                    };
                    if changed.is_err() {
                        return None; // the store is gone
                    }
                    if *cut.borrow_and_update() {
                        let gap = Err(crate::StoreError::Lagged { missed: 0 });
                        return Some((gap, (inner, cut)));
                    }
                }
            },
        )))
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, crate::Entry)>, crate::StoreError> {
        self.up()?.scan(prefix).await
    }

    async fn add_member(
        &self,
        key: &str,
        member: &str,
        ttl: std::time::Duration,
    ) -> Result<(), crate::StoreError> {
        self.up()?.add_member(key, member, ttl).await
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, crate::StoreError> {
        self.up()?.members(key).await
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, crate::StoreError> {
        self.up()?.remove_member(key, member).await
    }
}
