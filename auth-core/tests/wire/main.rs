//! Wire tests of auth-core: requests through actix-web test services.

mod challenges;
mod default_policy;
mod encoded_paths;
mod fixtures;
#[cfg(feature = "testing")]
mod guard_fixtures;
#[cfg(feature = "testing")]
mod guard_lockouts;
#[cfg(feature = "testing")]
mod guard_outage;
mod input_errors;
mod misconfiguration;
#[cfg(feature = "openapi")]
mod openapi;
mod query_credentials;
