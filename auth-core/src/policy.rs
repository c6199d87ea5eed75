//! What a handler or scope requires: [`AuthPolicy`].

use std::borrow::Cow;

use crate::{PrincipalKind, StrategyOptions};

/// One strategy named by a policy, with the options the handler gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategySpec {
    name: Cow<'static, str>,
    options: StrategyOptions,
}

impl StrategySpec {
    /// The strategy's registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The per-handler options.
    pub fn options(&self) -> &StrategyOptions {
        &self.options
    }
}

/// The authentication metadata of one handler or scope, LoopBack's
/// `AuthenticationMetadata` plus the authorization checks that follow it.
///
/// `#[authenticate(..)]` builds one of these once per handler; the scope
/// middleware takes one directly.
///
/// - strategies run in order; the first success wins;
/// - `fail_on_error`: the first strategy error ends the sequence;
/// - `optional`: no credentials at all lets the request through anonymously
///   (the handler asked for `Option<UserProfile>`); bad credentials are still
///   rejected;
/// - `roles`: the profile must hold at least one of them (403 otherwise);
/// - `scopes`: the profile must hold all of them (403 `insufficient_scope`);
/// - `principal`: the profile must be of this kind (403 otherwise).
///
/// ```
/// use auth_core::{AuthPolicy, PrincipalKind};
///
/// let policy = AuthPolicy::new()
///     .strategy("jwt")
///     .strategy_with("basic", serde_json::json!({"realm": "admin"}))
///     .roles(["admin"])
///     .principal(PrincipalKind::User);
/// let names: Vec<&str> = policy.strategies().iter().map(|s| s.name()).collect();
/// assert_eq!(names, ["jwt", "basic"]);
/// assert_eq!(policy.strategies()[1].options().get_str("realm"), Some("admin"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthPolicy {
    strategies: Vec<StrategySpec>,
    skip: bool,
    fail_on_error: bool,
    optional: bool,
    roles: Vec<String>,
    scopes: Vec<String>,
    principal: Option<PrincipalKind>,
}

impl AuthPolicy {
    /// An empty policy; add strategies with [`strategy`](Self::strategy).
    pub fn new() -> Self {
        AuthPolicy::default()
    }

    /// A policy that authenticates nothing (`#[authenticate(skip)]`).
    pub fn skip() -> Self {
        AuthPolicy {
            skip: true,
            ..AuthPolicy::default()
        }
    }

    /// Appends a strategy without options.
    pub fn strategy(self, name: impl Into<Cow<'static, str>>) -> Self {
        self.strategy_with(name, serde_json::Value::Null)
    }

    /// Appends a strategy with options (a JSON object).
    pub fn strategy_with(
        mut self,
        name: impl Into<Cow<'static, str>>,
        options: serde_json::Value,
    ) -> Self {
        self.strategies.push(StrategySpec {
            name: name.into(),
            options: StrategyOptions::from_json(options),
        });
        self
    }

    /// Ends the sequence at the first strategy error.
    pub fn fail_on_error(mut self, yes: bool) -> Self {
        self.fail_on_error = yes;
        self
    }

    /// Lets requests without any credentials through without a profile.
    pub fn optional(mut self, yes: bool) -> Self {
        self.optional = yes;
        self
    }

    /// Requires at least one of these roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Requires all of these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Requires this principal kind.
    pub fn principal(mut self, kind: PrincipalKind) -> Self {
        self.principal = Some(kind);
        self
    }

    /// The strategies, in the order they run.
    pub fn strategies(&self) -> &[StrategySpec] {
        &self.strategies
    }

    /// Whether authentication is skipped.
    pub fn is_skip(&self) -> bool {
        self.skip
    }

    /// Whether the first error ends the sequence.
    pub fn is_fail_on_error(&self) -> bool {
        self.fail_on_error
    }

    /// Whether anonymous requests are let through.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// Roles of which one is required.
    pub fn required_roles(&self) -> &[String] {
        &self.roles
    }

    /// Scopes all of which are required.
    pub fn required_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The required principal kind.
    pub fn required_principal(&self) -> Option<PrincipalKind> {
        self.principal
    }

    /// Whether any authorization check follows authentication.
    pub(crate) fn has_requirements(&self) -> bool {
        !self.roles.is_empty() || !self.scopes.is_empty() || self.principal.is_some()
    }
}

/// One line for logs and the start-up report ([`policy_report`](crate::policy_report)):
/// the strategies in order, then what follows authentication.
///
/// ```
/// use auth_core::{AuthPolicy, PrincipalKind};
///
/// let policy = AuthPolicy::new().strategy("jwt").strategy("basic")
///     .roles(["admin"]).scopes(["todo:read", "todo:write"]).principal(PrincipalKind::Service);
/// assert_eq!(policy.to_string(),
///            "jwt, basic; roles: any of admin; scopes: todo:read todo:write; principal: service");
/// assert_eq!(AuthPolicy::skip().to_string(), "public (skip)");
/// ```
impl std::fmt::Display for AuthPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.skip {
            return f.write_str("public (skip)");
        }
        let names: Vec<&str> = self.strategies.iter().map(StrategySpec::name).collect();
        f.write_str(&names.join(", "))?;
        if self.fail_on_error {
            f.write_str("; fail on error")?;
        }
        if self.optional {
            f.write_str("; optional")?;
        }
        if !self.roles.is_empty() {
            write!(f, "; roles: any of {}", self.roles.join(" "))?;
        }
        if !self.scopes.is_empty() {
            write!(f, "; scopes: {}", self.scopes.join(" "))?;
        }
        if let Some(kind) = self.principal {
            write!(f, "; principal: {}", kind.as_str())?;
        }
        Ok(())
    }
}
