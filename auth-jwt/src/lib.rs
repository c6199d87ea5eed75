//! The `jwt` strategy for the actix-web authentication framework: verifies
//! bearer JWTs (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512,
//! EdDSA) against pinned keys, maps claims to a [`auth_core::UserProfile`],
//! and issues access and refresh tokens with [`TokenService`].
//!
//! # Getting started
//!
//! ```
//! use actix_web::{get, App, HttpResponse};
//! use auth_core::{StrategyRegistry, UserProfile};
//! use auth_jwt::{Algorithm, VerifyingKey, JwtStrategy, SigningKey, TokenService};
//!
//! #[get("/todos")]
//! #[auth_macros::authenticate("jwt")]
//! async fn todos(user: UserProfile) -> HttpResponse {
//!     HttpResponse::Ok().body(user.id.clone())
//! }
//!
//! let secret = b"load me from the environment, 32+ bytes";
//! let strategy = JwtStrategy::builder()
//!     .key(VerifyingKey::hmac(secret, Algorithm::HS256).unwrap())
//!     .issuer("todo")
//!     .audience("todo-api")
//!     .roles_claim("realm_access.roles")
//!     .build()
//!     .unwrap();
//! let tokens = TokenService::new(SigningKey::hmac(secret, Algorithm::HS256).unwrap())
//!     .issuer("todo")
//!     .audience("todo-api")
//!     .roles_claim("realm_access.roles");
//! let registry = StrategyRegistry::builder().register(strategy).build().unwrap();
//! let app = App::new().app_data(registry).app_data(actix_web::web::Data::new(tokens)).service(todos);
//! # let _ = app;
//! ```
//!
//! # Algorithms
//!
//! Each key verifies (or signs with) exactly one algorithm, a
//! [`JwsAlgorithm`]; a token's `alg` header only has to agree with it.
//!
//! | `alg` | key | verified and signed by | PEM | JWK |
//! |---|---|---|---|---|
//! | HS256, HS384, HS512 | secret of at least 32/48/64 bytes | jsonwebtoken | — | `oct` with `alg` |
//! | RS256/384/512, PS256/384/512 | RSA, modulus ≥ 2048 bits | jsonwebtoken | SPKI or PKCS#1 public, PKCS#1/PKCS#8 private | `RSA` with `alg` (verification; sign with PEM) |
//! | ES256 | EC P-256 | jsonwebtoken | SPKI public, PKCS#8 private | `EC`, `crv: P-256` |
//! | ES384 | EC P-384 | jsonwebtoken | SPKI public, PKCS#8 private | `EC`, `crv: P-384` |
//! | ES512 | EC P-521 | this crate (jsonwebtoken has no ES512): signed with RustCrypto `p521`; verified on aws-lc's P-521 on the default backend, with `p521` on `rust-crypto` | SPKI public, PKCS#8 private | `EC`, `crv: P-521`, `x`/`y` (and `d`) of exactly 66 bytes |
//! | EdDSA | Ed25519 | jsonwebtoken | SPKI public, PKCS#8 private | `OKP`, `crv: Ed25519` |
//!
//! `none` is never accepted, in any spelling. ES512 follows the same rules as
//! the others: the key pins it (an ES512 token never verifies with a P-256
//! key, nor an ES256 token with a P-521 key), its signature is exactly
//! R‖S in 132 bytes (RFC 7518 §3.4; DER, any other length, and R or S that
//! is zero or not below the group order are an invalid signature), and a
//! verified token goes through the same claim checks and verified-token
//! cache. S above n/2 is valid ECDSA and accepted, as for ES256/ES384 (other
//! implementations produce it half of the time). A P-521 JWK may omit `alg`
//! or say `ES512`; any other `alg` on it, or `ES512` on another key type, is
//! refused at load. `SigningKey` signs ES512 with a fresh random nonce from
//! the operating system (p521 0.13 offers no RFC 6979 for P-521).
//!
//! ```
//! use auth_jwt::{JwsAlgorithm, VerifyingKey, KeySet, verify_jws};
//! // RFC 7515 appendix A.4.
//! let jwk = r#"{"kty":"EC","crv":"P-521",
//!   "x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
//!   "y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#;
//! let key = VerifyingKey::from_jwk_json(jwk).unwrap();
//! assert_eq!(key.algorithm(), JwsAlgorithm::ES512);
//! let jws = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
//! let verified = verify_jws(jws, &KeySet::new([key]).unwrap(), 8192).unwrap();
//! assert_eq!(verified.payload, b"Payload");
//! ```
//!
//! # Cargo features
//!
//! | feature | default? | what |
//! |---|---|---|
//! | `aws-lc-rs` | yes | the crypto backend: aws-lc-rs verifies and signs jsonwebtoken's algorithms (HS*, RS*, PS*, ES256, ES384, EdDSA) and runs the JWK Set client's TLS |
//! | `rust-crypto` | no | the pure-Rust backend instead: RustCrypto (`rsa`, `p256`, `p384`, `ed25519-dalek`, `hmac`) for signatures; the JWK Set client's TLS then uses ring |
//! | `openapi` | no | `AuthenticationStrategy::security_scheme`: `http` `bearer`, `bearerFormat: JWT` (auth-core's `openapi`) |
//! | `config` | no | `JwtConfig` and `JwtFactory`: a strategy and its `TokenService` from one table of a TOML or YAML file (`docs/configuration.md`); keys and the revocation list the application holds are added to the `JwtConfig` once, for both sides |
//!
//! ## Crypto backend
//!
//! The backend is chosen at compile time, by feature:
//!
//! - **`aws-lc-rs`, the default.** One RS256 verification is about 9× faster
//!   than on RustCrypto and one ES256 verification about 4×; a request with a
//!   token not yet cached about 3.3× (docs/BENCHMARKS.md, "Crypto
//!   backends"). EdDSA is about the same; HS256 a little slower. And the build contains no `rsa` crate, so RSA private keys
//!   are never handled by code with RUSTSEC-2023-0071 (docs/ADVISORIES.md).
//!   The build needs a C compiler (`cc`); not cmake, not bindgen, not Go or
//!   Perl on the usual targets (aws-lc-sys ships generated sources); a cold
//!   debug build takes about 15–20 s more CPU time.
//! - **`rust-crypto`**: `default-features = false, features =
//!   ["rust-crypto"]`. RustCrypto for the signatures; ring (also C) for the
//!   JWK Set client's TLS, as before.
//! - **Both on** (e.g. `--all-features`, or two dependents asking for one
//!   each): aws-lc-rs is used. **Neither**: a `compile_error!` names the two
//!   features.
//!
//! ES512 (which jsonwebtoken lacks) is signed with RustCrypto's `p521`
//! whatever the backend, and verified on aws-lc's P-521 with `aws-lc-rs`,
//! with `p521` otherwise.
//!
//! On `aws-lc-rs`, every [`VerifyingKey`] is parsed (or, for HMAC, keyed)
//! once for aws-lc when it is built, and verification uses that prepared key
//! rather than jsonwebtoken's `crypto::verify`, which parses the key again
//! on every call (issue 17.2; same library, same parameters). Building a key
//! therefore installs the provider, as building a strategy does.
//!
//! At start-up the backend is installed as jsonwebtoken's process-wide
//! provider (unless the application installed one first, which is then
//! kept) and checked with known-answer tests: [`check_crypto_provider`],
//! which [`JwtStrategyBuilder::build`] runs, so a wrong or missing provider
//! fails the build of the first strategy with
//! [`JwtConfigError::CryptoProvider`] instead of panicking, or accepting
//! forged tokens, at the first request. After a failed check no token
//! verifies and nothing signs. [`CryptoBackend::SELECTED`] says which
//! backend a build chose.
//!
//! # What a token must be
//!
//! These rules hold on every path (uncached, cache hit, `auth-cli jwt
//! verify`); each failure is a 401 `invalid_token` unless said otherwise.
//!
//! - **Strict JSON.** A JOSE header or claim set with a duplicate member
//!   name, at any depth (`sub` twice, `exp` past then future, two `alg`s),
//!   is refused, not resolved "last wins": two parsers that disagree on
//!   duplicates are an identity-confusion attack. The JWK and JWK Set
//!   loaders ([`KeySet::from_jwks_json`], [`VerifyingKey::from_jwk_json`],
//!   [`SigningKey::from_jwk_json`], every JWK Set URL refresh) refuse a
//!   duplicate in the set or any key, naming it and where it is. Each part
//!   is still parsed once.
//! - **NumericDates.** `exp`, `nbf` and `iat` must be JSON numbers in
//!   `0 ..= 253402300799` (9999-12-31T23:59:59Z, [`MAX_NUMERIC_DATE`]);
//!   anything else (`1e300`, `18446744073709551616`, negative, a string,
//!   `null`) is an invalid token, never "far future". Fractions inside the
//!   range are valid (RFC 7519 §2) and rounded down. The verified-token cache
//!   holds only dates that passed this check.
//! - **Audience (RFC 7519 §4.1.3).** With [`audience`](JwtStrategyBuilder::audience)
//!   configured, `aud` must name one. Without one, a token that carries `aud`
//!   is refused, unless [`any_audience`](JwtStrategyBuilder::any_audience)
//!   was said explicitly. A strategy with public keys (RSA, EC, EdDSA) or a
//!   JWK Set URL does not build without an audience and an issuer, or the
//!   explicit `any_audience()` / [`any_issuer`](JwtStrategyBuilder::any_issuer):
//!   the key's owner mints tokens for every service it serves. A shared
//!   HMAC secret is shared with this service alone, so an HMAC strategy
//!   builds without them (and then checks no `iss`; see
//!   [`JwtStrategy::hs256`] for exactly what it checks).
//! - **Scopes.** `scope` is one space-delimited string (RFC 8693 §4.2,
//!   RFC 9068): any other type is an invalid token, never a list of grants.
//!   An array claim such as `scp` is read only when named with
//!   [`scopes_claim`](JwtStrategyBuilder::scopes_claim), and then every
//!   element must be a string. No claim is a silent fallback for another.
//! - **Sender-constrained tokens.** A token carrying `cnf` (DPoP `jkt`,
//!   RFC 9449; mTLS `x5t#S256`, RFC 8705) is refused as a bearer token: no
//!   proof of possession is verified here. The opt-out is
//!   [`dangerously_accept_sender_constrained_tokens`](JwtStrategyBuilder::dangerously_accept_sender_constrained_tokens).
//! - **Bearer credentials** are one token68 (RFC 6750 §2.1): the auth-param
//!   form (`Bearer token="..."`, `Bearer a=b, c=d`) is a 400
//!   `invalid_request`, like two tokens. Trailing `=` padding is token68 and
//!   goes to the verifier. The header is read by `auth-core`'s one
//!   `Authorization` parser ([`auth_core::bearer_token`]): a request with two
//!   `Authorization` headers is a 400 for every strategy, whatever their
//!   schemes. The token sources ([`TokenSource`]) live in `auth-core` too
//!   and are re-exported here.
//!
//! # Principal kinds
//!
//! A profile is a [`PrincipalKind::Service`](auth_core::PrincipalKind) or a
//! user, decided by [`PrincipalRule`]s tried in order (first decision wins,
//! default user): custom rules added with
//! [`principal_rule`](JwtStrategyBuilder::principal_rule), then by default
//! [`PrincipalRule::KindClaim`] (this crate's service tokens, `"kind":
//! "service"`) and [`PrincipalRule::ClientCredentials`] (RFC 9068: `sub`
//! equal to `client_id`, a client-credentials token with no user). A handler
//! that requires the other kind answers 403 with code `WRONG_PRINCIPAL_KIND`.
//!
//! # WebSocket
//!
//! With [`TokenSource::WebSocketProtocol`], a browser sends
//! `Sec-WebSocket-Protocol: access_token, <jwt>[, <app protocol>]`. The
//! handshake response must select an offered protocol or the browser drops
//! the connection: [`JwtStrategy::websocket_protocol`] (or
//! [`select_websocket_protocol`]) returns the client's own application
//! protocol when it offered one besides the marker and the token, else the
//! marker; never the token, which must not appear in a response header.
//! `examples/websocket.rs` upgrades with `actix-ws`.
//!
//! # Decisions where the specification is silent
//!
//! - The algorithm always comes from the key: a JWK's `alg`, or the
//!   algorithm passed with a secret or PEM. RSA and `oct` JWKs without
//!   `alg` are refused at load rather than guessed (in a JWK Set an RSA key
//!   without `alg` is ignored, unless the configuration pins one with
//!   [`JwksOptions::default_rsa_algorithm`] or
//!   [`JwksKeys::default_rsa_algorithm`]); EC (P-256, P-384, P-521) and
//!   Ed25519 keys derive it from their curve. `alg: "Ed25519"` (RFC 9864) is
//!   read as `EdDSA`.
//! - `crit` is rejected whenever present (no extension is implemented).
//! - Default leeway 30 s; default size limit 8 KiB; `exp` required.
//! - Token sources default to `Authorization: Bearer` only. The WebSocket
//!   protocol source reads the entry after a marker entry (e.g.
//!   `Sec-WebSocket-Protocol: access_token, <jwt>`).
//! - Profile: `id` from `sub` (configurable), `name` from `name` or
//!   `preferred_username`, `email`, roles from `roles` (dot path
//!   configurable), scopes from `scope` (or the claim named by
//!   `scopes_claim`); the principal kind as above. On-behalf-of service
//!   tokens name the user and carry the service in `act.sub` (RFC 8693).
//! - Refresh tokens are opaque random strings; only their SHA-256 is stored.
//! - The verified-token cache is bounded in entries and bytes and evicts
//!   its oldest entry. Once full, it caches a token on its second
//!   verification only, so tokens sent once each cannot push out the ones
//!   in use (see [`JwtStrategyBuilder::cache_capacity`]). An entry
//!   counts only while the key that verified it is in the current key set
//!   (a token without `kid`: while every key of its algorithm is), so a
//!   key that leaves the set takes its cached tokens with it;
//!   [`JwtStrategy::set_keys`] empties it. The extra verifier runs on cache
//!   hits too.
//! - A JWK Set URL must be `https`, except for loopback hosts.
//!
//! # Key sets
//!
//! - **A published key set carries public keys only.** A JWK Set, whether
//!   loaded with [`KeySet::from_jwks_json`] or fetched by [`JwksKeys`], is
//!   refused whole when any key in it is symmetric (`kty: oct`) or carries
//!   a private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`), naming the
//!   key by `kid` or `#index`; a refresh that brings one keeps the last good
//!   set and logs why. An HMAC key comes only from explicit configuration:
//!   [`VerifyingKey::hmac`], [`VerifyingKey::hmac_base64`], or
//!   [`VerifyingKey::from_secret_jwk_json`] for a secret JWK file;
//!   [`VerifyingKey::from_jwk`] and [`VerifyingKey::from_jwk_json`] refuse `oct`
//!   ([`VerifyingKey::from_jwk_json`] is one key of the application's own
//!   configuration, so it keeps only the public half of a private EC, OKP
//!   or RSA JWK).
//! - **Weak RSA keys are refused on every load path** (PEM, JWK, JWK Set),
//!   naming the key: modulus under [`MIN_RSA_BITS`], public exponent even or
//!   below 3, or a modulus with the ROCA fingerprint (CVE-2017-15361).
//! - **Keys not understood are ignored** (RFC 7517 §5): unknown `kty`,
//!   curve (P-521, X25519, ...) or `alg`, `use: "enc"`, missing members, RSA
//!   without `alg` and no configured default. The rest of the set works;
//!   [`KeySet::ignored`] lists them and a `warn` line names each (once per
//!   key for [`JwksKeys`]). A set with no usable key is refused. The dangerous
//!   cases above ([`KeyError::refuses_the_set`]) still refuse the whole set.
//!
//! # JWK Set URL
//!
//! [`JwksKeys`] fetches the set on first use and again when it is older
//! than `refresh_every` (10 min). That deadline is checked on every request,
//! cache hits included: the first request past it refreshes (the others
//! keep using the current set meanwhile), so a retired key stops working
//! within `refresh_every` even when no new token arrives. A token with an
//! unknown `kid` asks for a refresh, at most once per `cooldown` (30 s,
//! counted from the start of the last attempt). Fetching is single flight:
//! one fetch runs at a time, bounded by the fetch timeout (5 s), and every
//! request that needs keys meanwhile waits for it and uses its result. The
//! token whose `kid` brought a new set is cached like any other.
//!
//! | situation | answer |
//! |---|---|
//! | no set ever fetched, provider down | 503, `Retry-After` |
//! | unknown `kid`, the refresh fails, or the cooldown after a failed attempt blocks it | 503, `Retry-After` (the kid may be a rotation made during the outage) |
//! | unknown `kid`, provider up, the fresh set lacks it | 401 `invalid_token` |
//! | known `kid`, provider down | verified against the last good set |
//!
//! `Retry-After` is the time left until the client will ask the provider
//! again (at least 1 s).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod backend;
mod cache;
mod claims;
#[cfg(feature = "config")]
mod config;
mod es512;
mod issue;
mod json;
mod jwks;
mod key;
#[cfg(feature = "aws-lc-rs")]
mod prepared;
mod signing;
mod strategy;
mod verify;

pub use algorithm::{JwsAlgorithm, KeyFamily, ParseAlgorithmError};
/// The token sources live in `auth-core`, shared by every strategy; they
/// are re-exported here so that `auth_jwt::TokenSource` and friends keep
/// working.
pub use auth_core::{TokenSource, select_websocket_protocol, token_from_ws_message};
pub use backend::{
    CryptoBackend, CryptoProviderError, check_crypto_provider, ensure_crypto_provider,
};
pub use claims::{PrincipalClassifier, PrincipalRule};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::{JwtConfig, JwtFactory};
pub use issue::{IssueError, KIND_CLAIM, TokenResponse, TokenService};
pub use jsonwebtoken::Algorithm;
pub use jwks::{HttpFetcher, JwksError, JwksFetcher, JwksKeys};
#[allow(deprecated)]
pub use key::JwtKey;
pub use key::{JwksOptions, KeyError, KeySet, MIN_RSA_BITS, VerifyingKey};
pub use signing::SigningKey;
pub use strategy::{ExtraVerifier, JwtConfigError, JwtStrategy, JwtStrategyBuilder, to_auth_error};
pub use verify::{
    ClaimRules, DEFAULT_MAX_TOKEN_LEN, MAX_NUMERIC_DATE, VerifiedJws, VerifiedToken, VerifyError,
    verify_jws, verify_jwt,
};
