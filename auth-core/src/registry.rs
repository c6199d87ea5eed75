//! [`StrategyRegistry`]: strategies by name, held in `app_data`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, web};

use crate::render::{ErrorRenderer, LoopBackRenderer};
use crate::{AuthPolicy, AuthenticationStrategy, ConfigError};

/// The registered strategies, looked up by name in O(1), plus the error
/// renderer. Cheap to clone (one `Arc`); register it once with
/// `App::app_data(registry.clone())`.
///
/// ```
/// use auth_core::{from_fn, AuthOutcome, StrategyRegistry};
///
/// let registry = StrategyRegistry::builder()
///     .register(from_fn("never", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
///     .build()
///     .expect("valid registry");
/// assert!(registry.get("never").is_some());
/// assert!(registry.get("jwt").is_none());
///
/// let dup = StrategyRegistry::builder()
///     .register(from_fn("x", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
///     .register(from_fn("x", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
///     .build();
/// assert!(dup.is_err());
/// ```
#[derive(Clone)]
pub struct StrategyRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    // Names come from the application, never from a request, so a fast
    // hasher is safe here; the lookup runs for every strategy attempt.
    strategies: HashMap<Box<str>, Arc<dyn AuthenticationStrategy>, foldhash::fast::RandomState>,
    // The same strategies in registration order, for answers that name
    // every strategy (the fail-closed 401 of an extractor outside any policy).
    ordered: Vec<Arc<dyn AuthenticationStrategy>>,
    renderer: Arc<dyn ErrorRenderer>,
}

impl std::fmt::Debug for StrategyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.names().collect();
        names.sort_unstable();
        f.debug_struct("StrategyRegistry")
            .field("strategies", &names)
            .finish()
    }
}

impl StrategyRegistry {
    /// Starts a registry.
    pub fn builder() -> StrategyRegistryBuilder {
        StrategyRegistryBuilder {
            strategies: Vec::new(),
            renderer: None,
        }
    }

    /// The registry of the application serving `req`: the one registered with
    /// `App::app_data(registry)` or wrapped in `web::Data`
    /// (`App::app_data(web::Data::new(registry))`), whichever is present.
    ///
    /// ```
    /// use actix_web::{test::TestRequest, web};
    /// use auth_core::StrategyRegistry;
    ///
    /// let registry = StrategyRegistry::builder().build().unwrap();
    /// let plain = TestRequest::default().app_data(registry.clone()).to_http_request();
    /// assert!(StrategyRegistry::of(&plain).is_some());
    /// let data = TestRequest::default().app_data(web::Data::new(registry)).to_http_request();
    /// assert!(StrategyRegistry::of(&data).is_some());
    /// assert!(StrategyRegistry::of(&TestRequest::default().to_http_request()).is_none());
    /// ```
    pub fn of(req: &HttpRequest) -> Option<&StrategyRegistry> {
        req.app_data::<StrategyRegistry>().or_else(|| {
            req.app_data::<web::Data<StrategyRegistry>>()
                .map(|data| data.get_ref())
        })
    }

    /// The strategies in the order they were registered.
    ///
    /// ```
    /// use auth_core::{from_fn, AuthOutcome, StrategyRegistry};
    ///
    /// let registry = StrategyRegistry::builder()
    ///     .register(from_fn("b", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
    ///     .register(from_fn("a", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
    ///     .build()
    ///     .unwrap();
    /// let names: Vec<&str> = registry.strategies().map(|s| s.name()).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// ```
    pub fn strategies(&self) -> impl Iterator<Item = &Arc<dyn AuthenticationStrategy>> {
        self.inner.ordered.iter()
    }

    /// The strategy registered as `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn AuthenticationStrategy>> {
        self.inner.strategies.get(name)
    }

    /// The registered names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.strategies.keys().map(|k| &**k)
    }

    /// The error body renderer.
    pub fn renderer(&self) -> &dyn ErrorRenderer {
        &*self.inner.renderer
    }

    /// Checks that every strategy `policy` names is registered.
    pub fn verify_policy(&self, policy: &AuthPolicy) -> Result<(), ConfigError> {
        let missing: Vec<(String, String)> = policy
            .strategies()
            .iter()
            .filter(|s| self.get(s.name()).is_none())
            .map(|s| ("<policy>".to_owned(), s.name().to_owned()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::UnknownStrategies { missing })
        }
    }

    /// Checks every handler annotated with `#[authenticate]` in this binary
    /// against the registry. Call it once before starting the server so that a
    /// misspelt strategy name stops start-up with a message naming the handler
    /// and the strategy, instead of failing at the first request.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let registry = auth_core::StrategyRegistry::builder().build()?;
    /// registry.verify_handlers()?; // before HttpServer::new(..)
    /// # Ok(()) }
    /// ```
    pub fn verify_handlers(&self) -> Result<(), ConfigError> {
        self.verify_handlers_in("")
    }

    /// Like [`verify_handlers`](Self::verify_handlers), limited to handlers
    /// whose path (`module::path::handler`) is `module_prefix` or lies in the
    /// module it names (whole `::` segments: `app::v1` covers
    /// `app::v1::list`, not `app::v10::list`), for binaries that hold several
    /// applications (such as test binaries).
    pub fn verify_handlers_in(&self, module_prefix: &str) -> Result<(), ConfigError> {
        let mut missing: Vec<(String, String)> = crate::annotated_handlers()
            .filter(|h| in_module(h.handler(), module_prefix))
            .flat_map(|h| {
                h.policy()
                    .strategies()
                    .iter()
                    .filter(|s| self.get(s.name()).is_none())
                    .map(move |s| (h.handler().to_owned(), s.name().to_owned()))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        Err(ConfigError::UnknownStrategies { missing })
    }
}

/// Whether `path` is `module` or lies in it, on whole `::` segments.
pub(crate) fn in_module(path: &str, module: &str) -> bool {
    match path.strip_prefix(module) {
        Some(rest) => {
            module.is_empty() || module.ends_with("::") || rest.is_empty() || rest.starts_with("::")
        }
        None => false,
    }
}

/// Builds a [`StrategyRegistry`]; see [`StrategyRegistry::builder`].
pub struct StrategyRegistryBuilder {
    strategies: Vec<Arc<dyn AuthenticationStrategy>>,
    renderer: Option<Arc<dyn ErrorRenderer>>,
}

impl std::fmt::Debug for StrategyRegistryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyRegistryBuilder")
            .field("strategies", &self.strategies.len())
            .finish()
    }
}

impl StrategyRegistryBuilder {
    /// Registers a strategy under its [`name`](AuthenticationStrategy::name).
    pub fn register(self, strategy: impl AuthenticationStrategy) -> Self {
        self.register_arc(Arc::new(strategy))
    }

    /// Registers a strategy that is already shared.
    pub fn register_arc(mut self, strategy: Arc<dyn AuthenticationStrategy>) -> Self {
        self.strategies.push(strategy);
        self
    }

    /// Replaces the default LoopBack-style error body renderer.
    pub fn renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Some(Arc::new(renderer));
        self
    }

    /// Finishes the registry; fails on a duplicate or malformed name.
    pub fn build(self) -> Result<StrategyRegistry, ConfigError> {
        let mut strategies =
            HashMap::with_capacity_and_hasher(self.strategies.len(), Default::default());
        let ordered = self.strategies.clone();
        for strategy in self.strategies {
            let name = strategy.name().to_owned();
            if !valid_name(&name) {
                return Err(ConfigError::InvalidStrategyName { name });
            }
            if strategies
                .insert(name.clone().into_boxed_str(), strategy)
                .is_some()
            {
                return Err(ConfigError::DuplicateStrategy { name });
            }
        }
        Ok(StrategyRegistry {
            inner: Arc::new(Inner {
                strategies,
                ordered,
                renderer: self.renderer.unwrap_or_else(|| Arc::new(LoopBackRenderer)),
            }),
        })
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod module_tests {
    use super::in_module;

    #[test]
    fn module_prefixes_match_whole_segments() {
        assert!(in_module("app::v1::list", "app::v1"));
        assert!(in_module("app::v1::list", "app::v1::"));
        assert!(in_module("app::v1::list", "app::v1::list"));
        assert!(in_module("app::v1::list", ""));
        assert!(!in_module("app::v10::list", "app::v1"));
        assert!(!in_module(
            "bundle::__doctest_32::me",
            "bundle::__doctest_3"
        ));
        assert!(!in_module("app::v1", "app::v1::list"));
    }
}
