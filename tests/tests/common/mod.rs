//! Fixtures shared by the workspace tests: scripted strategies that record
//! the order in which they were called, the real todo server (`server`),
//! the OpenID provider (`oidc`) and a headless browser (`browser`). What
//! other crates' tests also need lives in `auth-test-support`.

#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod oidc;
pub mod server;

use std::sync::{Arc, Mutex};

use auth_core::{
    AuthError, AuthOutcome, Challenge, FnStrategy, StrategyRegistry, UserProfile, from_fn,
};

/// The calls made to scripted strategies, in order.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn push(&self, name: &str) {
        self.0.lock().unwrap().push(name.to_owned());
    }
}

/// What a scripted strategy answers.
#[derive(Clone)]
pub enum Script {
    Succeed(&'static str),
    NotMine,
    Fail(AuthError),
}

/// A strategy named `name` that answers `script` and logs each call. It
/// offers a Bearer-style challenge with realm `name`.
pub fn scripted(name: &'static str, script: Script, log: &CallLog) -> FnStrategy {
    let log = log.clone();
    from_fn(name, move |_req, _opts| {
        log.push(name);
        let script = script.clone();
        async move {
            match script {
                Script::Succeed(id) => Ok(AuthOutcome::Authenticated(
                    UserProfile::new(id)
                        .with_roles(["user"])
                        .with_scopes(["todos:read"]),
                )),
                Script::NotMine => Ok(AuthOutcome::NotApplicable),
                Script::Fail(err) => Err(err),
            }
        }
    })
    .with_challenge(Challenge::new("Bearer").param("realm", name))
}

/// A registry holding `strategies`.
pub fn registry(strategies: Vec<FnStrategy>) -> StrategyRegistry {
    strategies
        .into_iter()
        .fold(StrategyRegistry::builder(), |b, s| b.register(s))
        .build()
        .expect("valid registry")
}

/// The `WWW-Authenticate` values of a response, in order.
pub fn challenges(resp: &actix_web::dev::ServiceResponse) -> Vec<String> {
    auth_test_support::www_authenticate(resp.headers())
}
