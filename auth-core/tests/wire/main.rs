//! Wire tests of auth-core: requests through actix-web test services.

mod challenges;
mod encoded_paths;
mod fixtures;
mod misconfiguration;
mod query_credentials;
