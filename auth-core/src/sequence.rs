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
    /// A rejection with explicit challenges. Two strategies of one scheme
    /// and realm (a JWT and an opaque-token strategy, both `Bearer
    /// realm="api"`) would ask the client the same thing twice: of the
    /// challenges that ask the same (same scheme and parameters, apart from
    /// `error`, `error_description` and `error_uri`), only the first one
    /// that reports an error is kept, else the first. Challenges that
    /// differ otherwise (Digest's one per algorithm) all stay.
    pub fn new(error: AuthError, challenges: Vec<Challenge>) -> Self {
        let mut kept: Vec<Challenge> = Vec::with_capacity(challenges.len());
        for challenge in challenges {
            match kept.iter_mut().find(|k| k.same_question(&challenge)) {
                Some(k) => {
                    if k.get("error").is_none() && challenge.get("error").is_some() {
                        *k = challenge;
                    }
                }
                None => kept.push(challenge),
            }
        }
        Rejection {
            error,
            challenges: kept,
        }
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
        // Made only when a subscriber may take debug spans: the same level
        // check `debug_span!` makes first, through tracing's public API.
        // Without a global subscriber, a disabled span still builds its
        // fields for the `log` crate (actix enables tracing's `log`
        // feature), checks the logger's level, and does so again when it
        // is dropped: 145 instructions of a cached-token request
        // (callgrind). Nor is a disabled span entered around every poll or
        // its field looked up by name to record the outcome.
        let span = if tracing::level_filters::STATIC_MAX_LEVEL >= tracing::Level::DEBUG
            && tracing::level_filters::LevelFilter::current() >= tracing::Level::DEBUG
        {
            tracing::debug_span!(
                "auth.strategy",
                strategy = spec.name(),
                outcome = tracing::field::Empty
            )
        } else {
            tracing::Span::none()
        };
        let traced = !span.is_disabled();
        let outcome = |value: &str| {
            if traced {
                span.record("outcome", value);
            }
        };
        let authenticating = strategy.authenticate(req, spec.options());
        let result = if traced {
            authenticating.instrument(span.clone()).await
        } else {
            authenticating.await
        };
        match result {
            Ok(AuthOutcome::Authenticated(mut profile)) => {
                outcome("authenticated");
                // Written only when it differs: a cached profile is shared,
                // and a write would copy it.
                if profile.strategy != spec.name() {
                    spec.name().clone_into(&mut profile.strategy);
                }
                return Ok(SequenceOutcome::Authenticated(profile));
            }
            Ok(AuthOutcome::NotApplicable) => {
                outcome("not_applicable");
            }
            Ok(AuthOutcome::Redirect(redirect)) => {
                outcome("redirect");
                return Ok(SequenceOutcome::Redirect(redirect));
            }
            Err(error) => {
                outcome(error.code());
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

/// [`authenticate`] without handing back the profile: `Ok(true)` when an
/// authorized profile is in the request extensions. The attribute and the
/// middleware use this; a handler that extracts the profile shares it.
pub(crate) async fn authenticate_in_place(
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<bool, HttpResponse> {
    authenticate_in_place_marked(req, policy, false).await
}

/// [`authenticate_in_place`] for a declared (`#[authenticate]`) handler:
/// also records that one answers ([`DefaultPolicy`](crate::DefaultPolicy)
/// checks it after routing), in the same write to the request's marks.
pub(crate) async fn authenticate_declared(
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<bool, HttpResponse> {
    authenticate_in_place_marked(req, policy, true).await
}

async fn authenticate_in_place_marked(
    req: &HttpRequest,
    policy: &AuthPolicy,
    declared: bool,
) -> Result<bool, HttpResponse> {
    mark(req, |m| {
        m.ran = true;
        m.declared |= declared;
    });
    let verdict = authenticate_in_place_unmarked(req, policy).await;
    if verdict.is_err() {
        crate::default_policy::mark_refused(req);
    }
    verdict
}

async fn authenticate_in_place_unmarked(
    req: &HttpRequest,
    policy: &AuthPolicy,
) -> Result<bool, HttpResponse> {
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

/// What the authentication layers recorded about a request, in its
/// extensions: one value rather than one per fact, because each insert into
/// the extensions' map costs a hash and, for the first ones, a resize.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Marks {
    /// `#[authenticate]` (including `skip`) or
    /// [`AuthenticationMiddleware`](crate::AuthenticationMiddleware) handled
    /// the request, so that an extractor finding no profile can tell a
    /// forgotten attribute from an anonymous request.
    pub(crate) ran: bool,
    /// A declared (`#[authenticate]`) handler is answering
    /// ([`DefaultPolicy`](crate::DefaultPolicy)).
    pub(crate) declared: bool,
    /// A policy refused the request.
    pub(crate) refused: bool,
    /// `AuthenticationMiddleware` decided the request before routing.
    pub(crate) scope_middleware: bool,
}

/// Sets marks of `req`.
pub(crate) fn mark(req: &HttpRequest, set: impl FnOnce(&mut Marks)) {
    let mut ext = req.extensions_mut();
    match ext.get_mut::<Marks>() {
        Some(marks) => set(marks),
        None => {
            let mut marks = Marks::default();
            set(&mut marks);
            ext.insert(marks);
        }
    }
}

/// The marks of `req` (all unset when none was recorded).
pub(crate) fn marks(req: &HttpRequest) -> Marks {
    req.extensions().get::<Marks>().copied().unwrap_or_default()
}

pub(crate) fn mark_ran(req: &HttpRequest) {
    mark(req, |m| m.ran = true);
}

pub(crate) fn authentication_ran(req: &HttpRequest) -> bool {
    marks(req).ran
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

#[cfg(test)]
mod tests {
    //! The sequence's rules, one by one, without HTTP: strategies that
    //! answer as scripted and count their runs.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::test::TestRequest;

    use super::*;
    use crate::{PrincipalKind, StrategyOptions};

    #[derive(Clone)]
    enum Script {
        Profile,
        NotApplicable,
        Fail(AuthError),
        Redirect,
    }

    struct Scripted {
        name: &'static str,
        script: Script,
        runs: Arc<AtomicUsize>,
    }

    #[async_trait::async_trait(?Send)]
    impl AuthenticationStrategy for Scripted {
        fn name(&self) -> &str {
            self.name
        }

        async fn authenticate(
            &self,
            _: &HttpRequest,
            _: &StrategyOptions,
        ) -> Result<AuthOutcome, AuthError> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            match &self.script {
                Script::Profile => Ok(AuthOutcome::Authenticated(
                    UserProfile::new(format!("user-of-{}", self.name))
                        .with_roles(["reader"])
                        .with_scopes(["todo:read", "todo:write"]),
                )),
                Script::NotApplicable => Ok(AuthOutcome::NotApplicable),
                Script::Fail(e) => Err(e.clone()),
                Script::Redirect => Ok(AuthOutcome::Redirect(Redirect::to("/login"))),
            }
        }

        fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
            let challenge = Challenge::new(self.name);
            Some(match failure {
                Some(e) => challenge.param("error", e.code().to_owned()),
                None => challenge,
            })
        }
    }

    /// A registry of scripted strategies and their run counters.
    fn registry(scripts: &[(&'static str, Script)]) -> (StrategyRegistry, Vec<Arc<AtomicUsize>>) {
        let mut builder = StrategyRegistry::builder();
        let mut counters = Vec::new();
        for (name, script) in scripts {
            let runs = Arc::new(AtomicUsize::new(0));
            counters.push(Arc::clone(&runs));
            builder = builder.register(Scripted {
                name,
                script: script.clone(),
                runs,
            });
        }
        (builder.build().unwrap(), counters)
    }

    fn runs(counters: &[Arc<AtomicUsize>]) -> Vec<usize> {
        counters.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }

    fn policy(names: &[&'static str]) -> AuthPolicy {
        names
            .iter()
            .fold(AuthPolicy::new(), |p, name| p.strategy(*name))
    }

    fn schemes(rejection: &Rejection) -> Vec<String> {
        rejection
            .challenges()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    async fn run(
        scripts: &[(&'static str, Script)],
        policy: &AuthPolicy,
    ) -> (Result<SequenceOutcome, Rejection>, Vec<usize>) {
        let (registry, counters) = registry(scripts);
        let req = TestRequest::default().to_http_request();
        let outcome = run_sequence(&registry, &req, policy).await;
        (outcome, runs(&counters))
    }

    fn bad() -> AuthError {
        AuthError::invalid_token("bad signature")
    }

    #[actix_web::test]
    async fn the_first_profile_wins_and_later_strategies_never_run() {
        for (scripts, expected_user, expected_runs) in [
            (
                vec![("a", Script::Profile), ("b", Script::Profile)],
                "user-of-a",
                vec![1, 0],
            ),
            (
                vec![("a", Script::NotApplicable), ("b", Script::Profile)],
                "user-of-b",
                vec![1, 1],
            ),
            (
                vec![("a", Script::Fail(bad())), ("b", Script::Profile)],
                "user-of-b",
                vec![1, 1],
            ),
            (
                vec![
                    ("a", Script::NotApplicable),
                    ("b", Script::NotApplicable),
                    ("c", Script::Profile),
                ],
                "user-of-c",
                vec![1, 1, 1],
            ),
        ] {
            let names: Vec<&'static str> = scripts.iter().map(|(n, _)| *n).collect();
            let (outcome, ran) = run(&scripts, &policy(&names)).await;
            match outcome {
                Ok(SequenceOutcome::Authenticated(profile)) => {
                    assert_eq!(profile.id, expected_user);
                    // The profile names the strategy that produced it.
                    assert_eq!(
                        profile.strategy,
                        expected_user.trim_start_matches("user-of-")
                    );
                }
                other => panic!("{names:?}: {other:?}"),
            }
            assert_eq!(ran, expected_runs, "{names:?}");
        }
    }

    #[actix_web::test]
    async fn an_unknown_name_is_a_500_before_anything_runs() {
        for names in [vec!["ghost"], vec!["ghost", "a"], vec!["a", "ghost"]] {
            let (outcome, ran) = run(&[("a", Script::NotApplicable)], &policy(&names)).await;
            let rejection = outcome.unwrap_err();
            assert_eq!(
                rejection.error().code(),
                "AUTHENTICATION_STRATEGY_NOT_FOUND"
            );
            assert_eq!(rejection.error().status(), 500);
            // A known strategy before the unknown one ran; none after it.
            assert_eq!(ran, vec![usize::from(names[0] == "a")], "{names:?}");
        }
    }

    #[actix_web::test]
    async fn with_no_credentials_anywhere_the_answer_is_401_with_every_challenge_in_order() {
        let scripts = [
            ("a", Script::NotApplicable),
            ("b", Script::NotApplicable),
            ("c", Script::NotApplicable),
        ];
        for names in [vec!["a"], vec!["b", "a"], vec!["c", "a", "b"]] {
            let (outcome, ran) = run(&scripts, &policy(&names)).await;
            let rejection = outcome.unwrap_err();
            assert_eq!(rejection.error().code(), "USER_PROFILE_NOT_FOUND");
            assert_eq!(schemes(&rejection), names, "{names:?}");
            assert_eq!(ran.iter().sum::<usize>(), names.len());
        }
    }

    #[test]
    fn challenges_of_one_scheme_and_realm_are_sent_once() {
        let plain = || Challenge::new("Bearer").param("realm", "api");
        let failed = || {
            Challenge::new("Bearer")
                .param("realm", "api")
                .param("error", "invalid_token")
        };
        let schemes = |r: &Rejection| {
            r.challenges()
                .iter()
                .map(|c| format!("{} {:?} {:?}", c.scheme(), c.get("realm"), c.get("error")))
                .collect::<Vec<_>>()
        };
        for (given, expected) in [
            (vec![plain(), plain()], vec!["Bearer Some(\"api\") None"]),
            (
                vec![plain(), failed()],
                vec!["Bearer Some(\"api\") Some(\"invalid_token\")"],
            ),
            (
                vec![failed(), plain()],
                vec!["Bearer Some(\"api\") Some(\"invalid_token\")"],
            ),
            (
                vec![
                    plain(),
                    Challenge::new("bearer").param("realm", "api"),
                    Challenge::new("Basic").param("realm", "api"),
                ],
                vec!["Bearer Some(\"api\") None", "Basic Some(\"api\") None"],
            ),
            (
                vec![plain(), Challenge::new("Bearer").param("realm", "admin")],
                vec!["Bearer Some(\"api\") None", "Bearer Some(\"admin\") None"],
            ),
            // Digest offers one challenge per algorithm: all stay.
            (
                vec![
                    Challenge::new("Digest")
                        .param("realm", "api")
                        .token_param("algorithm", "SHA-256"),
                    Challenge::new("Digest")
                        .param("realm", "api")
                        .token_param("algorithm", "MD5"),
                ],
                vec!["Digest Some(\"api\") None", "Digest Some(\"api\") None"],
            ),
        ] {
            let rejection = Rejection::new(AuthError::invalid_token("x"), given);
            assert_eq!(schemes(&rejection), expected);
        }
    }

    #[actix_web::test]
    async fn the_first_error_is_reported_and_its_status_chooses_the_challenges() {
        let forbidden = AuthError::forbidden("no");
        let unavailable = AuthError::unavailable("down");
        let malformed = AuthError::invalid_request("two headers");
        for (second, expected_code, expected_challenges) in [
            // 401: every strategy tried, the failing one describing its failure.
            (
                bad(),
                "INVALID_TOKEN",
                vec!["a", "b error=\"INVALID_TOKEN\"", "c"],
            ),
            // 400 and 403: only the failing strategy's challenge.
            (
                malformed,
                "INVALID_REQUEST",
                vec!["b error=\"INVALID_REQUEST\""],
            ),
            (
                forbidden,
                "ACCESS_DENIED",
                vec!["b error=\"ACCESS_DENIED\""],
            ),
            // 5xx: none.
            (unavailable, "SERVICE_UNAVAILABLE", vec![]),
        ] {
            let scripts = [
                ("a", Script::NotApplicable),
                ("b", Script::Fail(second)),
                ("c", Script::Fail(AuthError::invalid_token("later error"))),
            ];
            let (outcome, ran) = run(&scripts, &policy(&["a", "b", "c"])).await;
            let rejection = outcome.unwrap_err();
            assert_eq!(rejection.error().code(), expected_code);
            assert_eq!(schemes(&rejection), expected_challenges, "{expected_code}");
            assert_eq!(ran, vec![1, 1, 1], "an error moves on to the next strategy");
        }
    }

    #[actix_web::test]
    async fn fail_on_error_stops_at_the_first_error() {
        let scripts = [
            ("a", Script::NotApplicable),
            ("b", Script::Fail(bad())),
            ("c", Script::Profile),
        ];
        let (outcome, ran) = run(&scripts, &policy(&["a", "b", "c"]).fail_on_error(true)).await;
        assert_eq!(outcome.unwrap_err().error().code(), "INVALID_TOKEN");
        assert_eq!(ran, vec![1, 1, 0]);
        // Without it, c's profile wins.
        let (outcome, _) = run(&scripts, &policy(&["a", "b", "c"])).await;
        assert!(matches!(outcome, Ok(SequenceOutcome::Authenticated(_))));
    }

    #[actix_web::test]
    async fn optional_means_anonymous_only_without_credentials_and_requirements() {
        let none = [("a", Script::NotApplicable)];
        let (outcome, _) = run(&none, &policy(&["a"]).optional(true)).await;
        assert!(matches!(outcome, Ok(SequenceOutcome::Anonymous)));
        // Wrong credentials are still refused.
        let (outcome, _) = run(
            &[("a", Script::Fail(bad()))],
            &policy(&["a"]).optional(true),
        )
        .await;
        assert_eq!(outcome.unwrap_err().error().status(), 401);
        // A policy with requirements is never optional.
        for strict in [
            policy(&["a"]).optional(true).roles(["admin"]),
            policy(&["a"]).optional(true).scopes(["todo:read"]),
        ] {
            let (outcome, _) = run(&none, &strict).await;
            assert_eq!(
                outcome.unwrap_err().error().code(),
                "USER_PROFILE_NOT_FOUND"
            );
        }
    }

    #[actix_web::test]
    async fn a_redirect_ends_the_sequence() {
        let scripts = [("a", Script::Redirect), ("b", Script::Profile)];
        let (outcome, ran) = run(&scripts, &policy(&["a", "b"])).await;
        assert!(matches!(outcome, Ok(SequenceOutcome::Redirect(r)) if r.location() == "/login"));
        assert_eq!(ran, vec![1, 0]);
    }

    #[test]
    fn authorization_checks_kind_then_roles_any_of_then_scopes_all_of() {
        let (registry, _) = registry(&[("a", Script::Profile)]);
        let user = UserProfile::new("ada")
            .with_roles(["reader", "writer"])
            .with_scopes(["todo:read", "todo:write"])
            .with_strategy("a");
        let service = user.clone().with_kind(PrincipalKind::Service);
        for (profile, policy, expected) in [
            (&user, AuthPolicy::new(), None),
            (&user, AuthPolicy::new().roles(["admin", "writer"]), None),
            (
                &user,
                AuthPolicy::new().roles(["admin"]),
                Some("ACCESS_DENIED"),
            ),
            (
                &user,
                AuthPolicy::new().scopes(["todo:read", "todo:write"]),
                None,
            ),
            (
                &user,
                AuthPolicy::new().scopes(["todo:read", "todo:delete"]),
                Some("INSUFFICIENT_SCOPE"),
            ),
            (
                &user,
                AuthPolicy::new().principal(PrincipalKind::Service),
                Some("WRONG_PRINCIPAL_KIND"),
            ),
            (
                &service,
                AuthPolicy::new().principal(PrincipalKind::Service),
                None,
            ),
            // The kind is checked first: its own code, not a scope problem.
            (
                &service,
                AuthPolicy::new()
                    .principal(PrincipalKind::User)
                    .scopes(["missing"]),
                Some("WRONG_PRINCIPAL_KIND"),
            ),
            // Roles before scopes.
            (
                &user,
                AuthPolicy::new().roles(["admin"]).scopes(["missing"]),
                Some("ACCESS_DENIED"),
            ),
        ] {
            let verdict = authorize(Some(&registry), profile, &policy);
            assert_eq!(
                verdict.as_ref().err().map(|r| r.error().code()),
                expected,
                "{policy:?}"
            );
            if let Err(rejection) = verdict {
                assert_eq!(rejection.error().status(), 403);
                // The challenge is the producing strategy's, except for the
                // wrong kind, which carries none on the wire.
                assert_eq!(schemes(&rejection).len(), 1);
            }
        }
    }
}
