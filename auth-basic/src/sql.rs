//! A user store in SQL: SQLite (an embedded file, created on first use) or
//! PostgreSQL, through one code path (sqlx's `Any` driver).
//!
//! The schema is created and upgraded by the store itself (versioned
//! migrations in a `<prefix>schema_migrations` table). Queries use `$n`
//! placeholders, which both SQLite and PostgreSQL understand, and only types
//! both support (text and 64-bit integers); roles are a JSON array in a text
//! column.
//!
//! Digest `userhash` (RFC 7616 §3.4.4): the client sends
//! `H(username ":" realm)` instead of the username. The store keeps that
//! hash in an indexed `userhash` column next to each HA1 value (written by
//! [`SqlUserStore::set_digest_ha1`], filled in for older rows by
//! [`SqlUserStore::migrate`]), so finding the user is one indexed read. The
//! alternative, hashing every username for each request (what a small
//! users.yml can afford), costs a full table scan and one hash per user per
//! request, which a client could use to load the database; the column costs
//! 64 bytes per HA1 row and stays correct because a username cannot change
//! without its HA1 rows being rewritten (they depend on the username too).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_basic::{NewUser, PasswordAuthenticator, SqlUserStore, UserStore};
//! use auth_basic::{HashParams, HasherConfig, PasswordHasher};
//!
//! let dir = tempfile::tempdir().unwrap();
//! // SQLite: a file path (created with its schema on first use) ...
//! let store = SqlUserStore::sqlite(dir.path().join("users.db")).await.unwrap();
//! // ... or PostgreSQL: SqlUserStore::connect("postgres://user@host/db").await
//!
//! let hasher = PasswordHasher::new(HasherConfig {
//!     params: HashParams::insecure_for_tests(),
//!     ..HasherConfig::default()
//! });
//! let hash = hasher.hash("s3cret").await.unwrap();
//! store.create_user(NewUser::new("ada", hash).with_roles(["admin"])).await.unwrap();
//! assert_eq!(store.find_user("ada").await.unwrap().unwrap().roles, vec!["admin"]);
//!
//! let auth = PasswordAuthenticator::new(store, hasher);
//! let record = auth.verify("ada", "s3cret").await.unwrap();
//! assert_eq!(record.id, "ada");
//! # });
//! ```

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use crate::digest::{DigestAlgorithm, userhash};
use crate::store::{NewUser, StoreError, UserRecord, UserStore};

/// Options for [`SqlUserStore::connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStoreOptions {
    /// Prepended to every table name (`auth_` gives `auth_users`). ASCII
    /// lower-case letters, digits and `_` only. Default: empty.
    pub table_prefix: String,
    /// Pool size. Default 5.
    pub max_connections: u32,
    /// Run the migrations on connect. Default true.
    pub migrate: bool,
    /// How long to wait for a connection before answering 503. Default 5 s.
    pub acquire_timeout: Duration,
}

impl Default for SqlStoreOptions {
    fn default() -> Self {
        SqlStoreOptions {
            table_prefix: String::new(),
            max_connections: 5,
            migrate: true,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Users in SQLite or PostgreSQL (cheap to clone; clones share the pool).
#[derive(Debug, Clone)]
pub struct SqlUserStore {
    pool: AnyPool,
    prefix: String,
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The versioned schema. `{p}` is replaced by the table prefix. Append only:
/// a released migration is never edited.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &["CREATE TABLE IF NOT EXISTS {p}users (
            id VARCHAR(255) PRIMARY KEY,
            username VARCHAR(255) NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            roles TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )"],
    ),
    (
        2,
        &["CREATE TABLE IF NOT EXISTS {p}user_digest (
            username VARCHAR(255) NOT NULL,
            realm VARCHAR(255) NOT NULL,
            algorithm VARCHAR(16) NOT NULL,
            ha1 VARCHAR(128) NOT NULL,
            PRIMARY KEY (username, realm, algorithm)
        )"],
    ),
    (
        // Digest `userhash` (issue 11.8): H(username ":" realm) per HA1 row,
        // indexed, so a hashed username is found with one indexed read.
        // Existing rows are filled in by `migrate` (the hash is computed in
        // Rust: SQLite has no SHA-2 function).
        3,
        &[
            "ALTER TABLE {p}user_digest ADD COLUMN userhash VARCHAR(128)",
            "CREATE INDEX IF NOT EXISTS {p}user_digest_userhash ON {p}user_digest (realm, algorithm, userhash)",
        ],
    ),
];

impl SqlUserStore {
    /// Opens (creating if needed) a SQLite database file and migrates it.
    pub async fn sqlite(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let path = path
            .to_str()
            .ok_or_else(|| StoreError::Invalid("the database path is not UTF-8".into()))?;
        Self::connect(&format!("sqlite://{path}?mode=rwc")).await
    }

    /// Connects by URL (`sqlite://file.db?mode=rwc`, `postgres://…`) and
    /// migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, SqlStoreOptions::default()).await
    }

    /// Connects with options.
    pub async fn connect_with(url: &str, options: SqlStoreOptions) -> Result<Self, StoreError> {
        if !options
            .table_prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Invalid(
                "a table prefix may contain only a-z, 0-9 and '_'".into(),
            ));
        }
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let connect = AnyConnectOptions::from_str(url).map_err(backend)?;
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // A connection to an embedded SQLite file cannot go stale while
            // idle (no server, no network): pinging it before each use is
            // one more hand-off to its worker thread per query for nothing.
            // Server databases keep the check.
            .test_before_acquire(connect.database_url.scheme() != "sqlite")
            .connect_with(connect)
            .await
            .map_err(backend)?;
        let store = SqlUserStore {
            pool,
            prefix: options.table_prefix,
        };
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// The pool, for an application that keeps its own tables in the same
    /// database. On SQLite its connections are not pinged before each use
    /// (an embedded file cannot drop a connection); on a server database
    /// they are.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn sql(&self, text: &str) -> String {
        text.replace("{p}", &self.prefix)
    }

    /// Applies the migrations not applied yet (idempotent; safe to run from
    /// several processes).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(&self.sql(
            "CREATE TABLE IF NOT EXISTS {p}schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        ))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        for (version, statements) in MIGRATIONS {
            let applied = sqlx::query(
                &self.sql("SELECT COUNT(*) AS n FROM {p}schema_migrations WHERE version = $1"),
            )
            .bind(*version)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?
            .try_get::<i64, _>("n")
            .map_err(backend)?;
            if applied > 0 {
                continue;
            }
            let mut tx = self.pool.begin().await.map_err(backend)?;
            for statement in *statements {
                sqlx::query(&self.sql(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            let inserted = sqlx::query(
                &self.sql("INSERT INTO {p}schema_migrations (version, applied_at) VALUES ($1, $2)"),
            )
            .bind(*version)
            .bind(now_secs())
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => tx.commit().await.map_err(backend)?,
                // Another process applied it meanwhile.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    tx.rollback().await.map_err(backend)?
                }
                Err(e) => return Err(backend(e)),
            }
        }
        self.fill_userhashes().await
    }

    /// Computes the `userhash` of HA1 rows written before migration 3 (or by
    /// hand without it). Idempotent; touches nothing when every row has one.
    async fn fill_userhashes(&self) -> Result<(), StoreError> {
        let rows =
            sqlx::query(&self.sql(
                "SELECT username, realm, algorithm FROM {p}user_digest WHERE userhash IS NULL",
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        for row in rows {
            let username: String = row.try_get("username").map_err(backend)?;
            let realm: String = row.try_get("realm").map_err(backend)?;
            let algorithm: String = row.try_get("algorithm").map_err(backend)?;
            let Some(alg) = DigestAlgorithm::parse(&algorithm) else {
                continue;
            };
            sqlx::query(&self.sql(
                "UPDATE {p}user_digest SET userhash = $1 WHERE username = $2 AND realm = $3 AND algorithm = $4",
            ))
            .bind(userhash(alg, &username, &realm))
            .bind(&username)
            .bind(&realm)
            .bind(&algorithm)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    /// Creates a user. The password must already be hashed
    /// ([`PasswordHasher::hash`](auth_password::PasswordHasher::hash)).
    pub async fn create_user(&self, user: NewUser) -> Result<UserRecord, StoreError> {
        let record = user.into_record()?;
        let roles =
            serde_json::to_string(&record.roles).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = now_secs();
        let result = sqlx::query(&self.sql(
            "INSERT INTO {p}users (id, username, password_hash, roles, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        ))
        .bind(&record.id)
        .bind(&record.username)
        .bind(&record.password_hash)
        .bind(roles)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(record),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::Duplicate(record.username))
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn record(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
        let roles: String = row.try_get("roles").map_err(backend)?;
        Ok(UserRecord {
            id: row.try_get("id").map_err(backend)?,
            username: row.try_get("username").map_err(backend)?,
            password_hash: row.try_get("password_hash").map_err(backend)?,
            roles: serde_json::from_str(&roles)
                .map_err(|e| StoreError::Backend(format!("roles column: {e}")))?,
        })
    }

    /// Looks a user up by id.
    pub async fn find_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            &self.sql("SELECT id, username, password_hash, roles FROM {p}users WHERE id = $1"),
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(Self::record).transpose()
    }

    /// Replaces a user's roles.
    pub async fn set_roles(&self, username: &str, roles: &[String]) -> Result<(), StoreError> {
        let roles = serde_json::to_string(roles).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let done = sqlx::query(
            &self.sql("UPDATE {p}users SET roles = $1, updated_at = $2 WHERE username = $3"),
        )
        .bind(roles)
        .bind(now_secs())
        .bind(username)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(username.to_owned()));
        }
        Ok(())
    }

    /// Deletes a user and their Digest HA1 values.
    pub async fn delete_user(&self, username: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(&self.sql("DELETE FROM {p}user_digest WHERE username = $1"))
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query(&self.sql("DELETE FROM {p}users WHERE username = $1"))
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(username.to_owned()));
        }
        tx.commit().await.map_err(backend)
    }

    /// Stores the Digest HA1 of a user for a realm and algorithm
    /// (`"SHA-512-256"`, `"SHA-256"` or `"MD5"`; see [`ha1`](crate::ha1)),
    /// with the user's `userhash` for that realm and algorithm.
    pub async fn set_digest_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: &str,
        ha1: &str,
    ) -> Result<(), StoreError> {
        let alg = DigestAlgorithm::parse(algorithm).ok_or_else(|| {
            StoreError::Invalid(format!(
                "'{algorithm}' is not a Digest algorithm (SHA-512-256, SHA-256, MD5)"
            ))
        })?;
        let algorithm = alg.as_str();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(&self.sql(
            "DELETE FROM {p}user_digest WHERE username = $1 AND realm = $2 AND algorithm = $3",
        ))
        .bind(username)
        .bind(realm)
        .bind(algorithm)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(&self.sql(
            "INSERT INTO {p}user_digest (username, realm, algorithm, ha1, userhash) VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(username)
        .bind(realm)
        .bind(algorithm)
        .bind(ha1.to_ascii_lowercase())
        .bind(userhash(alg, username, realm))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    /// Drops the tables of this store (tests, uninstall).
    pub async fn drop_tables(&self) -> Result<(), StoreError> {
        for table in ["user_digest", "users", "schema_migrations"] {
            sqlx::query(&format!("DROP TABLE IF EXISTS {}{table}", self.prefix))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

#[auth_core::async_trait]
impl UserStore for SqlUserStore {
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            &self
                .sql("SELECT id, username, password_hash, roles FROM {p}users WHERE username = $1"),
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(Self::record).transpose()
    }

    /// Replaces the hash and forgets the user's Digest HA1 values, which were
    /// derived from the old password.
    async fn update_password_hash(&self, username: &str, hash: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query(
            &self
                .sql("UPDATE {p}users SET password_hash = $1, updated_at = $2 WHERE username = $3"),
        )
        .bind(hash)
        .bind(now_secs())
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(username.to_owned()));
        }
        sqlx::query(&self.sql("DELETE FROM {p}user_digest WHERE username = $1"))
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn digest_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(&self.sql(
            "SELECT ha1 FROM {p}user_digest WHERE username = $1 AND realm = $2 AND algorithm = $3",
        ))
        .bind(username)
        .bind(realm)
        .bind(algorithm)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| r.try_get::<String, _>("ha1").map_err(backend))
            .transpose()
    }

    /// One indexed read of the `userhash` column, which holds
    /// `H(username ":" realm)` for every HA1 row (see the module docs for why
    /// a column rather than hashing every username per request).
    async fn username_by_userhash(
        &self,
        userhash: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some(alg) = DigestAlgorithm::parse(algorithm) else {
            return Ok(None);
        };
        let row = sqlx::query(&self.sql(
            "SELECT username FROM {p}user_digest WHERE realm = $1 AND algorithm = $2 AND userhash = $3",
        ))
        .bind(realm)
        .bind(alg.as_str())
        .bind(userhash.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| r.try_get::<String, _>("username").map_err(backend))
            .transpose()
    }
}
