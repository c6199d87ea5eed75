//! [`BasicFactory`] and [`DigestFactory`]: `type = "basic"` and
//! `type = "digest"` strategies from a configuration file, with their user
//! store, the application's one brute-force guard and one hashing pool.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthConfigError, AuthenticationStrategy, BruteForceGuard, GuardConfig, MemoryStore,
    StateStore, StrategyFactory, StrategySection,
};
use auth_password::{HashParams, HasherConfig, PasswordHasher, VerificationCache};
use base64::Engine as _;
use serde::Deserialize;

use crate::{
    BasicStrategy, DigestAlgorithm, DigestStrategy, PasswordAuthenticator, StoreError, UserRecord,
    UserStore,
};

const BASIC: &str = "basic";
const DIGEST: &str = "digest";
/// The top-level tables both factories read.
const TABLES: &[&str] = &["guard", "password_hasher"];

/// `[strategies.NAME]` with `type = "basic"`, as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicOptions {
    realm: Option<String>,
    store: Option<StoreOptions>,
    #[serde(default)]
    rehash_on_login: bool,
    verification_cache: Option<CacheOptions>,
    #[serde(default)]
    dangerously_disable_guard: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheOptions {
    ttl_secs: u64,
    capacity: Option<usize>,
}

/// `[strategies.NAME]` with `type = "digest"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestOptions {
    realm: Option<String>,
    store: Option<StoreOptions>,
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    dangerously_allow_md5: bool,
    nonce_ttl_secs: Option<u64>,
    #[serde(default)]
    userhash: bool,
    nonce_key_env: Option<String>,
    nonce_key_file: Option<String>,
    #[serde(default)]
    nonce_key_encoding: SecretEncoding,
    /// Refused with an explanation: secrets do not belong in the file.
    nonce_key: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    dangerously_disable_guard: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SecretEncoding {
    #[default]
    Raw,
    Base64,
}

/// The `store` table: exactly one source, and the options of its kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreOptions {
    users_file: Option<String>,
    dangerously_allow_plaintext: Option<bool>,
    sqlite_file: Option<String>,
    url: Option<String>,
    url_env: Option<String>,
    url_file: Option<String>,
    table_prefix: Option<String>,
    max_connections: Option<u32>,
    migrate: Option<bool>,
    acquire_timeout_secs: Option<u64>,
    provided: Option<String>,
}

/// The top-level `[password_hasher]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HasherOptions {
    threads: Option<usize>,
    queue: Option<usize>,
    per_client: Option<usize>,
    retry_after_secs: Option<u64>,
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    #[serde(default)]
    dangerously_weak_params: bool,
}

/// Which store kinds this build of auth-basic has. A parameter rather than
/// `cfg!` at the call site, so the error for a kind whose feature is off can
/// be tested in a build that has every feature.
#[derive(Debug, Clone, Copy)]
struct Features {
    file_store: bool,
    sqlite: bool,
    postgres: bool,
}

const FEATURES: Features = Features {
    file_store: cfg!(feature = "file-store"),
    sqlite: cfg!(feature = "sqlite"),
    postgres: cfg!(feature = "postgres"),
};

/// What a `store` table describes, checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StoreKind {
    UsersFile,
    Sqlite,
    Postgres,
    Provided,
}

/// The feature a store kind needs, if this build lacks it.
fn missing_feature(kind: &StoreKind, features: Features) -> Option<&'static str> {
    match kind {
        StoreKind::UsersFile if !features.file_store => Some("file-store"),
        StoreKind::Sqlite if !features.sqlite => Some("sqlite"),
        StoreKind::Postgres if !features.postgres => Some("postgres"),
        _ => None,
    }
}

fn feature_error(kind: &StoreKind, feature: &str) -> String {
    let what = match kind {
        StoreKind::UsersFile => "a users file",
        StoreKind::Sqlite => "SQLite",
        StoreKind::Postgres => "PostgreSQL",
        StoreKind::Provided => "a provided store",
    };
    format!(
        "{what} needs auth-basic's `{feature}` cargo feature, which this build leaves out: \
         add it to the dependency (features = [\"{feature}\"])"
    )
}

/// The kind a database URL names, from its scheme.
fn url_kind(url: &str) -> Result<StoreKind, String> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "sqlite" => Ok(StoreKind::Sqlite),
        "postgres" | "postgresql" => Ok(StoreKind::Postgres),
        "" => Err("is not a database URL (sqlite://file.db?mode=rwc or postgres://host/db)".into()),
        other => Err(format!(
            "unsupported database `{other}`: use a sqlite: or postgres: URL"
        )),
    }
}

/// Whether a URL carries a password (`user:password@host`, or a `password`
/// query parameter), which belongs in `url_env` or `url_file`.
fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let in_query = query.split('&').any(|pair| {
        pair.split_once('=')
            .map_or(pair, |(name, _)| name)
            .eq_ignore_ascii_case("password")
    });
    in_userinfo || in_query
}

/// A user store shared between strategies, usable where a sized
/// [`UserStore`] is wanted ([`PasswordAuthenticator`]).
struct SharedStore(Arc<dyn UserStore>);

#[auth_core::async_trait]
impl UserStore for SharedStore {
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.0.find_user(username).await
    }

    async fn update_password_hash(&self, username: &str, hash: &str) -> Result<(), StoreError> {
        self.0.update_password_hash(username, hash).await
    }

    async fn digest_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        self.0.digest_ha1(username, realm, algorithm).await
    }

    async fn username_by_userhash(
        &self,
        userhash: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        self.0
            .username_by_userhash(userhash, realm, algorithm)
            .await
    }
}

/// What the strategies built by one factory (and its
/// [`digest`](BasicFactory::digest) twin) share: the state store, the
/// guard, the hashing pool and the user stores, each built once per
/// distinct configuration.
struct Shared {
    state: Arc<dyn StateStore>,
    provided: Mutex<HashMap<String, Arc<dyn UserStore>>>,
    guards: Mutex<Vec<BruteForceGuard>>,
    hashers: Mutex<Vec<(HasherConfig, PasswordHasher)>>,
    /// Opened stores by what opened them (path or URL and options).
    stores: Mutex<HashMap<String, Arc<dyn UserStore>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(state: Arc<dyn StateStore>) -> Arc<Self> {
        Arc::new(Shared {
            state,
            provided: Mutex::new(HashMap::new()),
            guards: Mutex::new(Vec::new()),
            hashers: Mutex::new(Vec::new()),
            stores: Mutex::new(HashMap::new()),
        })
    }

    fn guard(&self, config: &AuthConfig) -> Result<BruteForceGuard, AuthConfigError> {
        let wanted = GuardConfig::from_config(config)?;
        let mut guards = lock(&self.guards);
        if let Some(guard) = guards.iter().find(|g| *g.config() == wanted) {
            return Ok(guard.clone());
        }
        let guard = BruteForceGuard::with_store(wanted, Arc::clone(&self.state));
        guards.push(guard.clone());
        Ok(guard)
    }

    fn hasher(&self, config: &AuthConfig) -> Result<PasswordHasher, AuthConfigError> {
        let wanted = hasher_config(config)?;
        let mut hashers = lock(&self.hashers);
        if let Some((_, hasher)) = hashers.iter().find(|(c, _)| *c == wanted) {
            return Ok(hasher.clone());
        }
        let hasher = PasswordHasher::new(wanted.clone());
        hashers.push((wanted, hasher.clone()));
        Ok(hasher)
    }

    /// The store a strategy's `store` table describes.
    async fn user_store(
        &self,
        section: &StrategySection<'_>,
        options: Option<&StoreOptions>,
        features: Features,
    ) -> Result<Arc<dyn UserStore>, AuthConfigError> {
        let Some(o) = options else {
            return Err(section.error(
                "store",
                "missing: say where users live, e.g. store = { users_file = \"users.yml\" }, \
                 { sqlite_file = \"users.db\" }, { url_env = \"DATABASE_URL\" } or \
                 { provided = \"NAME\" }",
            ));
        };
        let sources = [
            ("users_file", o.users_file.is_some()),
            ("sqlite_file", o.sqlite_file.is_some()),
            ("url", o.url.is_some()),
            ("url_env", o.url_env.is_some()),
            ("url_file", o.url_file.is_some()),
            ("provided", o.provided.is_some()),
        ];
        let given: Vec<&str> = sources.iter().filter(|s| s.1).map(|s| s.0).collect();
        let field = match given.as_slice() {
            [one] => format!("store.{one}"),
            _ => {
                return Err(section.error(
                    "store",
                    format!(
                        "give exactly one of users_file, sqlite_file, url, url_env, url_file or \
                         provided{}",
                        if given.is_empty() {
                            String::new()
                        } else {
                            format!(" (found {})", given.join(", "))
                        }
                    ),
                ));
            }
        };
        let config = section.config();
        // The SQL URL, read now for a variable or a file (it may hold a
        // password, which is why it is not written in the file).
        let url = if let Some(url) = &o.url {
            if url_has_password(url) {
                return Err(section.error(
                    &field,
                    "the URL holds a password, and secrets are not written in the \
                     configuration: use url_env or url_file",
                ));
            }
            Some(url.clone())
        } else if let Some(var) = &o.url_env {
            Some(std::env::var(var).map_err(|_| {
                section.error(
                    &field,
                    format!("the environment variable {var} is not set (or not UTF-8)"),
                )
            })?)
        } else if let Some(file) = &o.url_file {
            let path = config.resolve_path(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                section.error(&field, format!("cannot read {}: {e}", path.display()))
            })?;
            Some(text.trim().to_owned())
        } else {
            None
        };
        let kind = if o.users_file.is_some() {
            StoreKind::UsersFile
        } else if o.sqlite_file.is_some() {
            StoreKind::Sqlite
        } else if o.provided.is_some() {
            StoreKind::Provided
        } else {
            // A URL from a variable or a file is not echoed: it may hold a
            // password.
            url_kind(url.as_deref().unwrap_or_default()).map_err(|e| {
                section.error(&field, if o.url.is_some() { e } else { strip_value(&e) })
            })?
        };
        if let Some(feature) = missing_feature(&kind, features) {
            return Err(section.error(&field, feature_error(&kind, feature)));
        }
        let sql = matches!(kind, StoreKind::Sqlite | StoreKind::Postgres);
        for (name, set) in [
            ("table_prefix", o.table_prefix.is_some()),
            ("max_connections", o.max_connections.is_some()),
            ("migrate", o.migrate.is_some()),
            ("acquire_timeout_secs", o.acquire_timeout_secs.is_some()),
        ] {
            if set && !sql {
                return Err(section.error(
                    &format!("store.{name}"),
                    "applies to SQL stores only (sqlite_file, url, url_env, url_file)",
                ));
            }
        }
        if o.dangerously_allow_plaintext.is_some() && kind != StoreKind::UsersFile {
            return Err(section.error(
                "store.dangerously_allow_plaintext",
                "applies to users_file only",
            ));
        }
        match kind {
            StoreKind::Provided => {
                let name = o.provided.as_deref().unwrap_or_default();
                let provided = lock(&self.provided);
                provided.get(name).cloned().ok_or_else(|| {
                    let mut known: Vec<&str> = provided.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    section.error(
                        &field,
                        format!(
                            "no store named `{name}` was provided: the application passes it \
                             with with_user_store(\"{name}\", store) (provided: {})",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    )
                })
            }
            StoreKind::UsersFile => {
                let path = config.resolve_path(o.users_file.as_deref().unwrap_or_default());
                let allow = o.dangerously_allow_plaintext.unwrap_or(false);
                // Plaintext passwords are hashed with the file's parameters;
                // no pool is started for that.
                let params = hasher_config(config)?.params;
                let key = format!("file:{allow}:{params:?}:{}", path.display());
                if let Some(store) = lock(&self.stores).get(&key) {
                    return Ok(Arc::clone(store));
                }
                let store =
                    open_users_file(&path, allow, params).map_err(|e| section.error(&field, e))?;
                Ok(Arc::clone(lock(&self.stores).entry(key).or_insert(store)))
            }
            StoreKind::Sqlite | StoreKind::Postgres => {
                let url = match (&o.sqlite_file, url) {
                    (Some(file), _) => {
                        let path = config.resolve_path(file);
                        let path = path.to_str().ok_or_else(|| {
                            section.error(&field, "the database path is not UTF-8")
                        })?;
                        format!("sqlite://{path}?mode=rwc")
                    }
                    (None, Some(url)) => url,
                    // A SQL kind comes from a path or a URL; kept as an
                    // error rather than a panic.
                    (None, None) => {
                        return Err(section.error(&field, "no database path or URL"));
                    }
                };
                if o.max_connections == Some(0) {
                    return Err(section.error("store.max_connections", "must be at least 1"));
                }
                if o.acquire_timeout_secs == Some(0) {
                    return Err(
                        section.error("store.acquire_timeout_secs", "must be at least 1 second")
                    );
                }
                let sql = SqlOptions {
                    table_prefix: o.table_prefix.clone().unwrap_or_default(),
                    max_connections: o.max_connections,
                    migrate: o.migrate,
                    acquire_timeout_secs: o.acquire_timeout_secs,
                };
                let key = format!("sql:{sql:?}:{url}");
                if let Some(store) = lock(&self.stores).get(&key) {
                    return Ok(Arc::clone(store));
                }
                let store = open_sql(&url, &sql).await.map_err(|e| {
                    let field = if e.prefix {
                        "store.table_prefix"
                    } else {
                        &field
                    };
                    section.error(field, e.message)
                })?;
                Ok(Arc::clone(lock(&self.stores).entry(key).or_insert(store)))
            }
        }
    }
}

/// An error about a URL from a variable or a file, without the value.
fn strip_value(message: &str) -> String {
    if message.starts_with("unsupported database") {
        "the URL names an unsupported database: use a sqlite: or postgres: URL".into()
    } else {
        "the value is not a database URL (sqlite://file.db?mode=rwc or postgres://host/db)".into()
    }
}

#[derive(Debug)]
// Read only by the SQL stores, which a build may leave out.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
struct SqlOptions {
    table_prefix: String,
    max_connections: Option<u32>,
    migrate: Option<bool>,
    acquire_timeout_secs: Option<u64>,
}

struct OpenError {
    /// The table prefix was refused (the error is about that field).
    prefix: bool,
    message: String,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn open_sql(url: &str, o: &SqlOptions) -> Result<Arc<dyn UserStore>, OpenError> {
    let defaults = crate::SqlStoreOptions::default();
    let options = crate::SqlStoreOptions {
        table_prefix: o.table_prefix.clone(),
        max_connections: o.max_connections.unwrap_or(defaults.max_connections),
        migrate: o.migrate.unwrap_or(defaults.migrate),
        acquire_timeout: o
            .acquire_timeout_secs
            .map_or(defaults.acquire_timeout, Duration::from_secs),
    };
    crate::SqlUserStore::connect_with(url, options)
        .await
        .map(|store| Arc::new(store) as Arc<dyn UserStore>)
        .map_err(|e| OpenError {
            prefix: matches!(e, StoreError::Invalid(_)) && !o.table_prefix.is_empty(),
            message: format!("cannot open the user store: {e}"),
        })
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
async fn open_sql(_: &str, _: &SqlOptions) -> Result<Arc<dyn UserStore>, OpenError> {
    // `missing_feature` refused the SQL kinds before this point.
    Err(OpenError {
        prefix: false,
        message: "SQL stores need auth-basic's `sqlite` or `postgres` feature".into(),
    })
}

#[cfg(feature = "file-store")]
fn open_users_file(
    path: &std::path::Path,
    allow_plaintext: bool,
    params: HashParams,
) -> Result<Arc<dyn UserStore>, String> {
    let options = crate::FileStoreOptions {
        allow_plaintext,
        params,
    };
    crate::FileUserStore::load(path, options)
        .map(|store| Arc::new(store) as Arc<dyn UserStore>)
        .map_err(|e| format!("cannot load the users file: {e}"))
}

#[cfg(not(feature = "file-store"))]
fn open_users_file(
    _: &std::path::Path,
    _: bool,
    _: HashParams,
) -> Result<Arc<dyn UserStore>, String> {
    // `missing_feature` refused the kind before this point.
    Err("users files need auth-basic's `file-store` feature".into())
}

/// OWASP's argon2id minimums (Password Storage Cheat Sheet): memory in KiB
/// for a number of passes; more passes allow less memory.
const OWASP_ARGON2ID: [(u32, u32); 5] = [
    (1, 47_104),
    (2, 19_456),
    (3, 12_288),
    (4, 9_216),
    (5, 7_168),
];

fn strong_enough(p: &HashParams) -> bool {
    OWASP_ARGON2ID
        .iter()
        .any(|&(t, m)| p.iterations >= t && p.memory_kib >= m)
}

/// The `[password_hasher]` table, checked.
fn hasher_config(config: &AuthConfig) -> Result<HasherConfig, AuthConfigError> {
    let o: HasherOptions = config.table("password_hasher")?;
    let err = |field: &str, message: &str| {
        config.error_at(&format!("password_hasher.{field}"), None, message)
    };
    let defaults = HasherConfig::default();
    let threads = match o.threads {
        Some(0) => return Err(err("threads", "must be at least 1")),
        Some(n) => n,
        None => defaults.threads,
    };
    let per_client = match o.per_client {
        Some(0) => return Err(err("per_client", "must be at least 1")),
        Some(n) => n,
        None => defaults.per_client,
    };
    let retry_after = match o.retry_after_secs {
        Some(0) => return Err(err("retry_after_secs", "must be at least 1 second")),
        Some(secs) => Duration::from_secs(secs),
        None => defaults.retry_after,
    };
    let params = HashParams {
        memory_kib: o.memory_kib.unwrap_or(defaults.params.memory_kib),
        iterations: o.iterations.unwrap_or(defaults.params.iterations),
        parallelism: o.parallelism.unwrap_or(defaults.params.parallelism),
    };
    // argon2's own limits (RFC 9106 §3.1), checked here so that a bad value
    // stops the start instead of failing every hash later.
    if params.iterations == 0 {
        return Err(err("iterations", "must be at least 1"));
    }
    if params.parallelism == 0 || params.parallelism > 0x00FF_FFFF {
        return Err(err("parallelism", "must be between 1 and 16777215"));
    }
    if params.memory_kib < 8 * params.parallelism {
        return Err(err(
            "memory_kib",
            "must be at least 8 KiB per lane (8 × parallelism)",
        ));
    }
    if !o.dangerously_weak_params && !strong_enough(&params) {
        return Err(config.error_at(
            "password_hasher",
            None,
            format!(
                "argon2id with {} KiB and {} pass(es) is below OWASP's minimum (19456 KiB with \
                 2 passes, 12288 with 3, 9216 with 4, 7168 with 5, or 47104 with 1); raise \
                 memory_kib or iterations, or set dangerously_weak_params = true",
                params.memory_kib, params.iterations
            ),
        ));
    }
    Ok(HasherConfig {
        params,
        threads,
        queue: o.queue.unwrap_or(threads * 4),
        per_client,
        retry_after,
    })
}

/// A realm goes into a quoted-string of the challenge: no control
/// characters.
fn realm(
    section: &StrategySection<'_>,
    realm: Option<String>,
    default: Option<&str>,
) -> Result<String, AuthConfigError> {
    let realm = match (realm, default) {
        (Some(realm), _) => realm,
        (None, Some(default)) => default.to_owned(),
        (None, None) => {
            return Err(section.error(
                "realm",
                "missing: a Digest realm is part of every stored HA1 value, so it is never \
                 implied (e.g. realm = \"api\")",
            ));
        }
    };
    if realm.chars().any(char::is_control) {
        return Err(section.error("realm", "must not contain control characters"));
    }
    Ok(realm)
}

/// Reads the Digest nonce key from its variable or file; `None` without one.
fn nonce_key(
    section: &StrategySection<'_>,
    o: &DigestOptions,
) -> Result<Option<[u8; 32]>, AuthConfigError> {
    if o.nonce_key.is_some() {
        return Err(section.error(
            "nonce_key",
            "secrets are not written in the configuration: use nonce_key_env or nonce_key_file",
        ));
    }
    let (field, raw) = match (&o.nonce_key_env, &o.nonce_key_file) {
        (Some(_), Some(_)) => {
            return Err(section.error(
                "nonce_key_env",
                "give nonce_key_env or nonce_key_file, not both",
            ));
        }
        (Some(var), None) => (
            "nonce_key_env",
            std::env::var(var).map_err(|_| {
                section.error(
                    "nonce_key_env",
                    format!("the environment variable {var} is not set (or not UTF-8)"),
                )
            })?,
        ),
        (None, Some(file)) => {
            let path = section.config().resolve_path(file);
            (
                "nonce_key_file",
                std::fs::read_to_string(&path).map_err(|e| {
                    section.error(
                        "nonce_key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?,
            )
        }
        (None, None) => return Ok(None),
    };
    let raw = raw.trim_end_matches(['\r', '\n']);
    let bytes = match o.nonce_key_encoding {
        SecretEncoding::Raw => raw.as_bytes().to_vec(),
        SecretEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .map_err(|_| section.error("nonce_key_encoding", "the key is not valid base64"))?,
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| {
            section.error(
                field,
                format!(
                    "the key must be exactly 32 bytes, not {} (e.g. `openssl rand -base64 32` with \
                 nonce_key_encoding = \"base64\")",
                    bytes.len()
                ),
            )
        })
}

/// The algorithms a Digest table offers besides SHA-256, checked.
fn digest_algorithms(
    section: &StrategySection<'_>,
    o: &DigestOptions,
) -> Result<Vec<DigestAlgorithm>, AuthConfigError> {
    let mut chosen = Vec::new();
    let names = o
        .algorithms
        .clone()
        .unwrap_or_else(|| vec!["SHA-256".into()]);
    for (i, name) in names.iter().enumerate() {
        let field = format!("algorithms[{i}]");
        match DigestAlgorithm::parse(name) {
            Some(DigestAlgorithm::Md5) => {
                return Err(section.error(
                    &field,
                    "MD5 is broken and its stored HA1 values are cheap to attack: it is not \
                     listed but enabled with dangerously_allow_md5 = true, for old clients only",
                ));
            }
            Some(alg) => chosen.push(alg),
            None => {
                return Err(section.error(
                    &field,
                    format!(
                        "unknown Digest algorithm `{name}`: use \"SHA-256\" or \"SHA-512-256\" \
                         (no -sess variants)"
                    ),
                ));
            }
        }
    }
    if !chosen.contains(&DigestAlgorithm::Sha256) {
        return Err(section.error(
            "algorithms",
            "SHA-256 is always offered (every RFC 7616 client has it): list \"SHA-256\"",
        ));
    }
    Ok(chosen)
}

/// Builds `type = "basic"` strategies for
/// [`StrategyRegistry::from_config`](auth_core::StrategyRegistry::from_config)
/// (cargo feature `config`).
///
/// Every key is documented in `docs/configuration.md`:
///
/// ```toml
/// [guard]                            # one guard for every password strategy
/// max_failures_per_user = 5
///
/// [strategies.admin]                 # #[authenticate("admin")]
/// type = "basic"
/// realm = "admin area"
/// store = { users_file = "users.yml" }
/// ```
///
/// The factory holds what its strategies share, each built once per
/// distinct configuration: the application's [`StateStore`] (the guard's
/// counters and Digest's nonce counts live there; a [`MemoryStore`] with
/// [`BasicFactory::default`]), the one [`BruteForceGuard`] of the `[guard]`
/// table, the one [`PasswordHasher`] pool of `[password_hasher]`, and the
/// user stores. Its [`digest`](Self::digest) twin shares all of them, so a
/// Basic and a Digest strategy over one users.yml count failures in one
/// guard and read one loaded file. Give a login handler the same guard and
/// pool with [`guard`](Self::guard) and [`hasher`](Self::hasher).
///
/// ```
/// use std::sync::Arc;
/// use auth_basic::BasicFactory;
/// use auth_core::{AuthConfig, MemoryStore, StrategyRegistry};
///
/// # actix_web::rt::System::new().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("users.yml"), "users: []\n").unwrap();
/// std::fs::write(dir.path().join("auth.toml"), r#"
///     [guard]
///     max_failures_per_user = 3
///
///     [strategies.basic]
///     type = "basic"
///     realm = "api"
///     store = { users_file = "users.yml" }
///
///     [strategies.digest]
///     type = "digest"
///     realm = "api"
///     store = { users_file = "users.yml" }
/// "#).unwrap();
/// let config = AuthConfig::from_file(dir.path().join("auth.toml")).unwrap().with_env("AUTH").unwrap();
///
/// let basic = BasicFactory::new(Arc::new(MemoryStore::new())); // or a shared store
/// let registry = StrategyRegistry::from_config(&config, &[&basic, &basic.digest()])
///     .await
///     .unwrap();
/// assert!(registry.get("basic").is_some() && registry.get("digest").is_some());
/// // The guard both strategies count in, for a login handler.
/// assert_eq!(basic.guard(&config).unwrap().config().max_failures_per_user, 3);
///
/// let typo = AuthConfig::from_toml_str("auth.toml", "[strategies.basic]\ntype = \"basic\"\nrelam = \"x\"\n").unwrap();
/// let err = StrategyRegistry::from_config(&typo, &[&basic]).await.unwrap_err();
/// assert!(err.to_string().starts_with("auth.toml: strategies.basic.relam (strategy 'basic'): unknown field"), "{err}");
/// # });
/// ```
#[derive(Clone)]
pub struct BasicFactory {
    shared: Arc<Shared>,
}

/// Builds `type = "digest"` strategies (cargo feature `config`); see
/// [`BasicFactory`] for what a factory shares and
/// `docs/configuration.md` for the keys.
///
/// ```
/// use std::sync::Arc;
/// use auth_basic::DigestFactory;
/// use auth_core::{AuthConfig, MemoryStore, StrategyRegistry};
///
/// # actix_web::rt::System::new().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.digest]
///     type = "digest"
///     realm = "api"
///     algorithms = ["SHA-512-256", "SHA-1"]
///     store = { provided = "users" }
/// "#).unwrap();
/// let digest = DigestFactory::new(Arc::new(MemoryStore::new()))
///     .with_user_store("users", Arc::new(auth_basic::MemoryUserStore::new()));
/// let err = StrategyRegistry::from_config(&config, &[&digest]).await.unwrap_err();
/// assert!(err.to_string().contains("strategies.digest.algorithms[1] (strategy 'digest'): unknown Digest algorithm `SHA-1`"), "{err}");
/// # });
/// ```
#[derive(Clone)]
pub struct DigestFactory {
    shared: Arc<Shared>,
}

impl fmt::Debug for BasicFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicFactory").finish_non_exhaustive()
    }
}

impl fmt::Debug for DigestFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestFactory").finish_non_exhaustive()
    }
}

impl Default for BasicFactory {
    /// Counters and nonce counts in a [`MemoryStore`] of this process.
    fn default() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }
}

impl Default for DigestFactory {
    /// Counters and nonce counts in a [`MemoryStore`] of this process.
    fn default() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }
}

impl BasicFactory {
    /// A factory keeping the guard's counters in `state` (one shared by
    /// every instance makes them agree).
    pub fn new(state: Arc<dyn StateStore>) -> Self {
        BasicFactory {
            shared: Shared::new(state),
        }
    }

    /// Makes `store` available to the file as `store = { provided = "NAME" }`,
    /// e.g. a SQL store whose pool the application also uses.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_basic::{BasicFactory, MemoryUserStore, UserStore};
    /// use auth_core::{AuthConfig, StrategyRegistry};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new()); // the application's own
    /// let basic = BasicFactory::default().with_user_store("users", users);
    /// let config = AuthConfig::from_toml_str("auth.toml", r#"
    ///     [strategies.basic]
    ///     type = "basic"
    ///     store = { provided = "users" }
    /// "#).unwrap();
    /// StrategyRegistry::from_config(&config, &[&basic]).await.unwrap();
    /// # });
    /// ```
    pub fn with_user_store(self, name: impl Into<String>, store: Arc<dyn UserStore>) -> Self {
        lock(&self.shared.provided).insert(name.into(), store);
        self
    }

    /// A factory of `type = "digest"` strategies sharing this one's state
    /// store, guard, hashing pool, user stores and provided stores.
    pub fn digest(&self) -> DigestFactory {
        DigestFactory {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The guard of `config`'s `[guard]` table: the very one its strategies
    /// count in, for a login handler that should share their counters and
    /// limits.
    pub fn guard(&self, config: &AuthConfig) -> Result<BruteForceGuard, AuthConfigError> {
        self.shared.guard(config)
    }

    /// The hashing pool of `config`'s `[password_hasher]` table: the one its
    /// Basic strategies verify on, so that a login handler hashing on it
    /// stays inside the same bound.
    ///
    /// ```
    /// use auth_basic::{BasicFactory, MemoryUserStore, PasswordAuthenticator};
    /// use auth_core::AuthConfig;
    ///
    /// let config = AuthConfig::from_toml_str("auth.toml", "[password_hasher]\nper_client = 3\n").unwrap();
    /// let basic = BasicFactory::default();
    /// let hasher = basic.hasher(&config).unwrap();
    /// let login = PasswordAuthenticator::new(MemoryUserStore::new(), hasher);
    /// # let _ = login;
    /// // Weak parameters are refused unless said so.
    /// let weak = AuthConfig::from_toml_str("auth.toml", "[password_hasher]\nmemory_kib = 1024\n").unwrap();
    /// assert!(basic.hasher(&weak).unwrap_err().to_string().contains("dangerously_weak_params"));
    /// ```
    pub fn hasher(&self, config: &AuthConfig) -> Result<PasswordHasher, AuthConfigError> {
        self.shared.hasher(config)
    }
}

impl DigestFactory {
    /// A factory keeping the guard's counters and the nonce counts in
    /// `state`.
    pub fn new(state: Arc<dyn StateStore>) -> Self {
        DigestFactory {
            shared: Shared::new(state),
        }
    }

    /// As [`BasicFactory::with_user_store`].
    pub fn with_user_store(self, name: impl Into<String>, store: Arc<dyn UserStore>) -> Self {
        lock(&self.shared.provided).insert(name.into(), store);
        self
    }

    /// A factory of `type = "basic"` strategies sharing everything with this
    /// one.
    pub fn basic(&self) -> BasicFactory {
        BasicFactory {
            shared: Arc::clone(&self.shared),
        }
    }

    /// As [`BasicFactory::guard`].
    pub fn guard(&self, config: &AuthConfig) -> Result<BruteForceGuard, AuthConfigError> {
        self.shared.guard(config)
    }
}

/// Checks the section's type, and the shared tables even where this
/// strategy does not use them (a guard it disables, a pool Digest never
/// needs), so that a mistake in them is found at start-up all the same.
fn check_kind(section: &StrategySection<'_>, kind: &str) -> Result<(), AuthConfigError> {
    if section.kind() != kind {
        return Err(section.error("type", format!("is `{}`, not `{kind}`", section.kind())));
    }
    GuardConfig::from_config(section.config())?;
    hasher_config(section.config())?;
    Ok(())
}

#[auth_core::async_trait]
impl StrategyFactory for BasicFactory {
    fn kind(&self) -> &str {
        BASIC
    }

    fn tables(&self) -> &[&str] {
        TABLES
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        check_kind(section, BASIC)?;
        let o: BasicOptions = section.parse()?;
        let config = section.config();
        let realm = realm(section, o.realm, Some("api"))?;
        let store = self
            .shared
            .user_store(section, o.store.as_ref(), FEATURES)
            .await?;
        let hasher = self.shared.hasher(config)?;
        let mut passwords = PasswordAuthenticator::new(SharedStore(store), hasher)
            .rehash_on_login(o.rehash_on_login);
        if let Some(cache) = o.verification_cache {
            if cache.ttl_secs == 0 {
                return Err(section.error(
                    "verification_cache.ttl_secs",
                    "must be at least 1 second (leave the table out for no cache)",
                ));
            }
            passwords = passwords.with_cache(VerificationCache::with_capacity(
                Duration::from_secs(cache.ttl_secs),
                cache.capacity.unwrap_or(10_000),
            ));
        }
        let mut strategy =
            BasicStrategy::new(realm, passwords).with_name(section.name().to_owned());
        if !o.dangerously_disable_guard {
            strategy = strategy.with_guard(self.shared.guard(config)?);
        }
        Ok(Arc::new(strategy))
    }
}

#[auth_core::async_trait]
impl StrategyFactory for DigestFactory {
    fn kind(&self) -> &str {
        DIGEST
    }

    fn tables(&self) -> &[&str] {
        TABLES
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        check_kind(section, DIGEST)?;
        let o: DigestOptions = section.parse()?;
        let config = section.config();
        let algorithms = digest_algorithms(section, &o)?;
        let key = nonce_key(section, &o)?;
        let nonce_ttl = match o.nonce_ttl_secs {
            Some(0) => return Err(section.error("nonce_ttl_secs", "must be at least 1 second")),
            Some(secs) => Some(Duration::from_secs(secs)),
            None => None,
        };
        let realm = realm(section, o.realm.clone(), None)?;
        let store = self
            .shared
            .user_store(section, o.store.as_ref(), FEATURES)
            .await?;
        let mut strategy = DigestStrategy::new(realm, store)
            .with_name(section.name().to_owned())
            .with_store(Arc::clone(&self.shared.state))
            .with_userhash(o.userhash);
        if let Some(key) = key {
            strategy = strategy.with_key(key);
        }
        if let Some(ttl) = nonce_ttl {
            strategy = strategy.with_nonce_ttl(ttl);
        }
        if algorithms.contains(&DigestAlgorithm::Sha512_256) {
            strategy = strategy.with_sha512_256();
        }
        if o.dangerously_allow_md5 {
            strategy = strategy.dangerously_allow_md5();
        }
        if !o.dangerously_disable_guard {
            strategy = strategy.with_guard(self.shared.guard(config)?);
        }
        Ok(Arc::new(strategy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_kind_whose_feature_is_off_names_the_feature() {
        let none = Features {
            file_store: false,
            sqlite: false,
            postgres: false,
        };
        for (kind, feature) in [
            (StoreKind::UsersFile, "file-store"),
            (StoreKind::Sqlite, "sqlite"),
            (StoreKind::Postgres, "postgres"),
        ] {
            assert_eq!(missing_feature(&kind, none), Some(feature), "{kind:?}");
            let text = feature_error(&kind, feature);
            assert!(
                text.contains(&format!("auth-basic's `{feature}` cargo feature")),
                "{text}"
            );
            assert!(
                text.contains(&format!("features = [\"{feature}\"]")),
                "{text}"
            );
        }
        assert_eq!(missing_feature(&StoreKind::Provided, none), None);
        let all = Features {
            file_store: true,
            sqlite: true,
            postgres: true,
        };
        for kind in [StoreKind::UsersFile, StoreKind::Sqlite, StoreKind::Postgres] {
            assert_eq!(missing_feature(&kind, all), None);
        }
        // Only the missing one is named.
        let no_postgres = Features {
            postgres: false,
            ..all
        };
        assert_eq!(missing_feature(&StoreKind::Sqlite, no_postgres), None);
        assert_eq!(
            missing_feature(&StoreKind::Postgres, no_postgres),
            Some("postgres")
        );
    }

    #[test]
    fn urls_with_a_password_are_recognised() {
        for url in [
            "postgres://app:s3cret@db.example/users",
            "postgresql://app:@db/users",
            "postgres://db/users?password=s3cret",
            "postgres://db/users?sslmode=disable&PASSWORD=x",
            "postgres://a:b@c:5432/d?x=y",
        ] {
            assert!(url_has_password(url), "{url}");
        }
        for url in [
            "postgres://app@db.example/users",
            "postgres://db.example:5432/users",
            "sqlite://data/users.db?mode=rwc",
            "sqlite::memory:",
            "postgres://db/users?passwordless=1",
            "postgres://db/path:with@odd/chars",
        ] {
            assert!(!url_has_password(url), "{url}");
        }
    }

    #[test]
    fn url_schemes_pick_the_store_kind() {
        assert_eq!(url_kind("sqlite://x.db"), Ok(StoreKind::Sqlite));
        assert_eq!(url_kind("SQLite::memory:"), Ok(StoreKind::Sqlite));
        assert_eq!(url_kind("postgres://h/d"), Ok(StoreKind::Postgres));
        assert_eq!(url_kind("postgresql://h/d"), Ok(StoreKind::Postgres));
        assert!(url_kind("mysql://h/d").unwrap_err().contains("`mysql`"));
        assert!(
            url_kind("users.db")
                .unwrap_err()
                .contains("not a database URL")
        );
    }

    #[test]
    fn owasp_minimums() {
        let p = |memory_kib, iterations| HashParams {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        assert!(strong_enough(&HashParams::default()));
        for ok in [
            p(47_104, 1),
            p(19_456, 2),
            p(12_288, 3),
            p(9_216, 4),
            p(7_168, 5),
            p(7_168, 9),
        ] {
            assert!(strong_enough(&ok), "{ok:?}");
        }
        for weak in [
            p(47_103, 1),
            p(19_455, 2),
            p(12_287, 3),
            p(64, 1),
            p(7_167, 10),
        ] {
            assert!(!strong_enough(&weak), "{weak:?}");
        }
    }

    /// In a build without some store feature (e.g. `--no-default-features
    /// --features config,file-store`), the file asking for that store gets
    /// the error naming the feature.
    #[test]
    fn a_build_without_a_store_feature_refuses_that_store_by_name() {
        let cases = [
            (
                FEATURES.file_store,
                "store = { users_file = \"users.yml\" }",
                "users_file",
                "file-store",
            ),
            (
                FEATURES.sqlite,
                "store = { sqlite_file = \"users.db\" }",
                "sqlite_file",
                "sqlite",
            ),
            (
                FEATURES.sqlite,
                "store = { url = \"sqlite://users.db\" }",
                "url",
                "sqlite",
            ),
            (
                FEATURES.postgres,
                "store = { url = \"postgres://db/users\" }",
                "url",
                "postgres",
            ),
        ];
        for (enabled, store, field, feature) in cases {
            if enabled {
                continue;
            }
            let text = format!("[strategies.s]\ntype = \"basic\"\n{store}\n");
            let config = AuthConfig::from_toml_str("auth.toml", &text).unwrap();
            let err = actix_web::rt::System::new()
                .block_on(auth_core::StrategyRegistry::from_config(
                    &config,
                    &[&BasicFactory::default()],
                ))
                .unwrap_err();
            assert!(
                err.to_string().starts_with(&format!(
                    "auth.toml: strategies.s.store.{field} (strategy 's'): "
                )),
                "{err}"
            );
            assert!(
                err.message
                    .contains(&format!("auth-basic's `{feature}` cargo feature")),
                "{err}"
            );
        }
    }
}
