//! The authentication sequence: ordered strategies, first success wins.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use tracing::Instrument;

use crate::render::error_response;
use crate::{
    AuthError, AuthOutcome, AuthPolicy, AuthenticationStrategy, Challenge, Redirect,
    StrategyRegistry, UserProfile,
};

/// How a sequence ended when it did not reject the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SequenceOutcome {
    /// A strategy authenticated the request.
    Authenticated(UserProfile),
    /// The policy is optional and no strategy found credentials.
    Anonymous,
    /// A strategy asked for a redirect.
    Redirect(Redirect),
}

/// A rejected request: the error to report and the challenges to send with it.
#[derive(Debug, Clone)]
pub struct Rejection {
    error: AuthError,
    challenges: Vec<Challenge>,
}

impl Rejection {
    /// A rejection with explicit challenges.
    pub fn new(error: AuthError, challenges: Vec<Challenge>) -> Self {
        Rejection { error, challenges }
    }

    /// The error reported.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The `WWW-Authenticate` challenges, one per strategy that has one.
    pub fn challenges(&self) -> &[Challenge] {
        &self.challenges
    }

    /// The complete response (see [`error_response`]).
    pub fn into_response(self, req: &HttpRequest) -> HttpResponse {
        error_response(req, &self.error, &self.challenges)
    }
}

/// Runs `policy`'s strategies against `req` with LoopBack's semantics, made
/// stricter (see the crate docs):
///
/// 1. every name must be registered, or the answer is a 500 naming it;
/// 2. strategies run in the declared order; the first profile wins; "not
///    applicable" moves on; an error is remembered and the sequence moves on,
///    unless `fail_on_error`;
/// 3. when none succeeded, the first error is reported, or, when none failed,
///    a 401 `USER_PROFILE_NOT_FOUND` with one challenge per strategy tried.
///
/// This runs authentication only; [`authorize`] applies roles, scopes and the
/// principal kind.
pub async fn run_sequence(
    registry: &StrategyRegistry,
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<SequenceOutcome, Rejection> {
    // How many strategies ran; the failure paths below look them up again
    // for their challenges, so the success path allocates nothing here.
    let mut tried = 0;
    let mut first_error: Option<(usize, AuthError)> = None;

    for spec in policy.strategies() {
        let Some(strategy) = registry.get(spec.name()) else {
            return Err(Rejection::new(
                AuthError::UnknownStrategy {
                    name: spec.name().to_owned(),
                },
                Vec::new(),
            ));
        };
        tried += 1;
        let span = tracing::debug_span!(
            "auth.strategy",
            strategy = spec.name(),
            outcome = tracing::field::Empty
        );
        let result = strategy
            .authenticate(req, spec.options())
            .instrument(span.clone())
            .await;
        match result {
            Ok(AuthOutcome::Authenticated(mut profile)) => {
                span.record("outcome", "authenticated");
                spec.name().clone_into(&mut profile.strategy);
                return Ok(SequenceOutcome::Authenticated(profile));
            }
            Ok(AuthOutcome::NotApplicable) => {
                span.record("outcome", "not_applicable");
            }
            Ok(AuthOutcome::Redirect(redirect)) => {
                span.record("outcome", "redirect");
                return Ok(SequenceOutcome::Redirect(redirect));
            }
            Err(error) => {
                span.record("outcome", error.code());
                if first_error.is_none() {
                    first_error = Some((tried - 1, error));
                }
                if policy.is_fail_on_error() {
                    break;
                }
            }
        }
    }

    let tried: Vec<&Arc<dyn AuthenticationStrategy>> = policy.strategies()[..tried]
        .iter()
        .filter_map(|spec| registry.get(spec.name()))
        .collect();
    match first_error {
        Some((index, error)) => {
            let challenges = match error.status().as_u16() {
                // 401: the client may switch to any strategy tried, so offer
                // all of them; the failing one describes its failure.
                401 => tried
                    .iter()
                    .enumerate()
                    .flat_map(|(i, s)| s.challenges((i == index).then_some(&error)))
                    .collect(),
                400 | 403 => tried[index].challenges(Some(&error)),
                _ => Vec::new(),
            };
            Err(Rejection::new(error, challenges))
        }
        None if policy.is_optional() && !policy.has_requirements() => {
            Ok(SequenceOutcome::Anonymous)
        }
        None => {
            let names: Vec<&str> = policy.strategies().iter().map(|s| s.name()).collect();
            let error = AuthError::no_credentials(format!(
                "no credentials found (tried: {})",
                names.join(", ")
            ));
            let challenges = tried.iter().flat_map(|s| s.challenges(None)).collect();
            Err(Rejection::new(error, challenges))
        }
    }
}

/// Applies `policy`'s roles (any of), scopes (all of) and principal kind to an
/// authenticated profile. A failure is a 403 whose challenge comes from the
/// strategy that produced the profile.
pub fn authorize(
    registry: Option<&StrategyRegistry>,
    profile: &UserProfile,
    policy: &AuthPolicy,
) -> Result<(), Rejection> {
    let error = if let Some(kind) = policy
        .required_principal()
        .filter(|kind| *kind != profile.kind)
    {
        // Its own code: a token of the wrong kind of principal cannot be
        // fixed by asking for more scope.
        Some(AuthError::Forbidden {
            code: std::borrow::Cow::Borrowed("WRONG_PRINCIPAL_KIND"),
            message: format!(
                "this resource requires a {} principal, not a {}",
                kind.as_str(),
                profile.kind.as_str()
            )
            .into(),
            scope: None,
        })
    } else if !policy.required_roles().is_empty()
        && !policy.required_roles().iter().any(|r| profile.has_role(r))
    {
        Some(AuthError::forbidden(format!(
            "access denied: requires one of the roles {}",
            policy.required_roles().join(", ")
        )))
    } else if policy
        .required_scopes()
        .iter()
        .any(|s| !profile.has_scope(s))
    {
        Some(AuthError::insufficient_scope(
            policy.required_scopes().join(" "),
        ))
    } else {
        None
    };
    match error {
        None => Ok(()),
        Some(error) => {
            let challenges = registry
                .and_then(|r| r.get(&profile.strategy))
                .map(|s| s.challenges(Some(&error)))
                .unwrap_or_default();
            Err(Rejection::new(error, challenges))
        }
    }
}

/// Authenticates and authorizes `req` for `policy`, as `#[authenticate]` and
/// [`AuthenticationMiddleware`](crate::AuthenticationMiddleware) do.
///
/// A profile already placed in the request by an enclosing middleware is
/// reused when one of `policy`'s strategies produced it, so strategies never
/// run twice. On success the profile is stored in the request extensions,
/// where the [`UserProfile`] extractor finds it. On failure the complete
/// error (or redirect) response is returned.
pub async fn authenticate(
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<Option<UserProfile>, HttpResponse> {
    if authenticate_in_place(req, policy).await? {
        Ok(req.extensions().get::<UserProfile>().cloned())
    } else {
        Ok(None)
    }
}

/// [`authenticate`] without handing back a copy of the profile: `Ok(true)`
/// when an authorized profile is in the request extensions. The attribute
/// and the middleware use this, so a request copies its profile only when
/// a handler extracts it.
pub(crate) async fn authenticate_in_place(
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<bool, HttpResponse> {
    mark_ran(req);
    if policy.is_skip() {
        return Ok(false);
    }
    let registry = StrategyRegistry::of(req);
    let reused = req
        .extensions()
        .get::<UserProfile>()
        .is_some_and(|p| policy.strategies().iter().any(|s| s.name() == p.strategy));
    if !reused {
        let Some(registry) = registry else {
            return Err(missing_registry(req));
        };
        match run_sequence(registry, req, policy).await {
            Ok(SequenceOutcome::Authenticated(profile)) => {
                req.extensions_mut().insert(profile);
            }
            Ok(SequenceOutcome::Anonymous) => return Ok(false),
            Ok(SequenceOutcome::Redirect(redirect)) => {
                return Err(redirect_response(&redirect));
            }
            Err(rejection) => return Err(rejection.into_response(req)),
        }
    }
    // The extensions borrow ends before a response is built from `req`.
    let verdict = match req.extensions().get::<UserProfile>() {
        Some(profile) => authorize(registry, profile, policy),
        None => Err(Rejection::new(
            AuthError::internal("the authenticated profile left the request"),
            Vec::new(),
        )),
    };
    match verdict {
        Ok(()) => Ok(true),
        Err(rejection) => Err(rejection.into_response(req)),
    }
}

/// Recorded in the request extensions when `#[authenticate]` (including
/// `skip`) or [`AuthenticationMiddleware`](crate::AuthenticationMiddleware)
/// handled the request, so that an extractor finding no profile can tell a
/// forgotten attribute from an anonymous request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthenticationRan;

pub(crate) fn mark_ran(req: &HttpRequest) {
    req.extensions_mut().insert(AuthenticationRan);
}

pub(crate) fn authentication_ran(req: &HttpRequest) -> bool {
    req.extensions().contains::<AuthenticationRan>()
}

const MISSING_REGISTRY_HINT: &str = "auth-core: no StrategyRegistry in app_data, so every \
authenticated request is answered 500. Add `.app_data(registry.clone())` or \
`.app_data(web::Data::new(registry))` to the App, and call `auth_core::check_app` at start-up \
to catch this before serving.";

/// The 500 for an application without a registry. The hint goes to the log
/// and, once per process, to stderr: a misconfiguration must be visible even
/// when no `tracing` subscriber is installed. The body names no internals.
fn missing_registry(req: &HttpRequest) -> HttpResponse {
    static STDERR_ONCE: std::sync::Once = std::sync::Once::new();
    STDERR_ONCE.call_once(|| eprintln!("{MISSING_REGISTRY_HINT}"));
    error_response(req, &AuthError::internal(MISSING_REGISTRY_HINT), &[])
}

fn redirect_response(redirect: &Redirect) -> HttpResponse {
    let mut builder = HttpResponse::build(redirect.status());
    builder
        .insert_header((header::LOCATION, redirect.location()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for (name, value) in redirect.headers() {
        builder.append_header((name.as_str(), value.as_str()));
    }
    builder.finish()
}
