//! [`SqlStore`]: the [`StateStore`] seam on PostgreSQL or SQLite, for teams
//! without Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::{
    Clock, Count, Entry, MemoryStore, StateStore, StoreError, Subscription, SystemClock,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// Expired rows are deleted once every this many writes.
const PURGE_EVERY: u64 = 1000;

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A [`StateStore`] on two tables of a PostgreSQL or SQLite database
/// (sqlx's `Any` driver), created if missing: `auth_state` for entries and
/// `auth_state_members` for sets.
///
/// | operation | one statement |
/// |---|---|
/// | `set_if_absent` | `INSERT .. ON CONFLICT DO UPDATE .. WHERE expired RETURNING` |
/// | `get` | `SELECT .. WHERE state_key = $1 AND expires_at > $now` |
/// | `take` | `DELETE .. RETURNING` |
/// | `delete` | `DELETE .. RETURNING` |
/// | `increment` | `INSERT .. ON CONFLICT DO UPDATE SET counter = CASE WHEN expired THEN 1 ELSE counter + 1 END .. RETURNING` |
/// | `raise` | `INSERT .. ON CONFLICT DO UPDATE .. WHERE expired OR counter < new RETURNING` |
/// | `publish` / `subscribe` | PostgreSQL `pg_notify` / `LISTEN` (sqlx's `PgListener`); SQLite: this process only |
/// | `scan` (resyncing a mirror, never per request) | `SELECT .. WHERE substr(state_key, 1, length($1)) = $1` |
/// | `add_member` / `members` / `remove_member` | table `auth_state_members`, primary key `(set_key, member)`: `INSERT .. ON CONFLICT DO UPDATE`, `SELECT .. WHERE set_key = $1`, `DELETE .. RETURNING` |
///
/// Expiry is decided with the application's [`Clock`] (`expires_at` in
/// milliseconds since the epoch), so SQLite needs no server clock; expired
/// rows are ignored by every statement and purged now and then. Counters
/// are `BIGINT`: values above `i64::MAX` are stored as `i64::MAX`.
///
/// SQLite is one machine's store: publish/subscribe reaches the subscribers
/// of this process only, and mirrors on other processes rely on their
/// periodic resync. PostgreSQL notifications reach every instance; a
/// listener that reconnects reports the gap as [`StoreError::Lagged`].
///
/// ```no_run
/// use std::sync::Arc;
/// use auth_core::StateStore;
/// use auth_store::SqlStore;
///
/// # async fn run() -> Result<(), auth_core::StoreError> {
/// let store: Arc<dyn StateStore> = Arc::new(SqlStore::connect("sqlite://auth.db?mode=rwc").await?);
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// For `LISTEN` connections (PostgreSQL).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    url: Arc<str>,
    clock: Arc<dyn Clock>,
    writes: Arc<AtomicU64>,
    /// Publish/subscribe on SQLite: the stores of this process on the same
    /// URL.
    local: MemoryStore,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut => StoreError::Timeout {
            after: Duration::from_secs(30),
            source: Some(Box::new(e)),
        },
        e => StoreError::unavailable_with("the state database failed", e),
    }
}

fn bad_row(e: sqlx::Error) -> StoreError {
    StoreError::malformed_with("an auth_state row has unexpected columns", e)
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The in-process publish/subscribe of a SQLite database: shared by every
/// `SqlStore` of this process on the same URL.
fn local_channels(url: &str) -> MemoryStore {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CHANNELS: OnceLock<Mutex<HashMap<String, MemoryStore>>> = OnceLock::new();
    CHANNELS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(url.to_owned())
        .or_insert_with(|| MemoryStore::with_capacity(1))
        .clone()
}

impl SqlStore {
    /// Connects to `url` (`postgres://…` or `sqlite://…`), creating the
    /// `auth_state` and `auth_state_members` tables and their indexes when
    /// missing.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Unsupported {
                operation: "this database URL (use postgres:// or sqlite:)",
            });
        };
        if (backend == Backend::Postgres && !cfg!(feature = "postgres"))
            || (backend == Backend::Sqlite && !cfg!(feature = "sqlite"))
        {
            return Err(StoreError::Unsupported {
                operation: "this database: auth-store was built without its feature (postgres or sqlite)",
            });
        }
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(unavailable)?;
        let store = SqlStore {
            pool,
            backend,
            url: Arc::from(url),
            clock: Arc::new(SystemClock),
            writes: Arc::new(AtomicU64::new(0)),
            local: local_channels(url),
        };
        store.create_table().await?;
        Ok(store)
    }

    /// This store reading time from `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let blob = match self.backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        for statement in [
            format!(
                "CREATE TABLE IF NOT EXISTS auth_state (state_key TEXT PRIMARY KEY, \
                 state_value {blob}, counter BIGINT, expires_at BIGINT NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS auth_state_expires_at ON auth_state (expires_at)".into(),
            // Set members (`add_member`): one row each, a set's rows found
            // by the primary key's first column.
            "CREATE TABLE IF NOT EXISTS auth_state_members (set_key TEXT NOT NULL, \
             member TEXT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (set_key, member))"
                .into(),
            "CREATE INDEX IF NOT EXISTS auth_state_members_expires_at \
             ON auth_state_members (expires_at)"
                .into(),
        ] {
            sqlx::query(&statement)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX)
    }

    fn deadline(&self, ttl: Duration) -> i64 {
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.now().saturating_add(ttl)
    }

    fn ttl_left(&self, expires_at: i64) -> Duration {
        Duration::from_millis(u64::try_from(expires_at.saturating_sub(self.now())).unwrap_or(0))
    }

    /// Deletes expired rows now and then; a failure here only delays it.
    async fn maybe_purge(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY != PURGE_EVERY - 1 {
            return;
        }
        for table in ["auth_state", "auth_state_members"] {
            if let Err(e) = sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                .bind(self.now())
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "could not purge expired authentication state");
            }
        }
    }

    /// The value of a row: its bytes, or its counter in ASCII decimal.
    fn value(row: &AnyRow) -> Result<Vec<u8>, StoreError> {
        let counter: Option<i64> = row.try_get("counter").map_err(bad_row)?;
        match counter {
            Some(n) => Ok(n.to_string().into_bytes()),
            None => Ok(row
                .try_get::<Option<Vec<u8>>, _>("state_value")
                .map_err(bad_row)?
                .unwrap_or_default()),
        }
    }
}

#[async_trait::async_trait]
impl StateStore for SqlStore {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.maybe_purge().await;
        // An expired row counts as absent and is replaced in the same statement.
        let row = sqlx::query(
            "INSERT INTO auth_state (state_key, state_value, counter, expires_at) \
             VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (state_key) DO UPDATE SET state_value = excluded.state_value, \
             counter = NULL, expires_at = excluded.expires_at \
             WHERE auth_state.expires_at <= $4 \
             RETURNING state_key",
        )
        .bind(key)
        .bind(value.to_vec())
        .bind(self.deadline(ttl))
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(row.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let row = sqlx::query(
            "SELECT state_value, counter, expires_at FROM auth_state \
             WHERE state_key = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|row| {
            let expires_at: i64 = row.try_get("expires_at").map_err(bad_row)?;
            Ok(Entry::new(Self::value(&row)?, self.ttl_left(expires_at)))
        })
        .transpose()
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM auth_state WHERE state_key = $1 \
             RETURNING state_value, counter, expires_at",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match row {
            Some(row) if row.try_get::<i64, _>("expires_at").map_err(bad_row)? > self.now() => {
                Ok(Some(Self::value(&row)?))
            }
            _ => Ok(None),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("DELETE FROM auth_state WHERE state_key = $1 RETURNING expires_at")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        match row {
            Some(row) => Ok(row.try_get::<i64, _>("expires_at").map_err(bad_row)? > self.now()),
            None => Ok(false),
        }
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError> {
        self.maybe_purge().await;
        let now = self.now();
        // A live row holding bytes is not a counter: no row comes back.
        let row = sqlx::query(
            "INSERT INTO auth_state (state_key, state_value, counter, expires_at) \
             VALUES ($1, NULL, 1, $2) \
             ON CONFLICT (state_key) DO UPDATE SET \
             counter = CASE WHEN auth_state.expires_at <= $3 THEN 1 ELSE auth_state.counter + 1 END, \
             state_value = NULL, \
             expires_at = CASE WHEN auth_state.expires_at <= $4 THEN excluded.expires_at \
             ELSE auth_state.expires_at END \
             WHERE auth_state.counter IS NOT NULL OR auth_state.expires_at <= $5 \
             RETURNING counter, expires_at",
        )
        .bind(key)
        .bind(self.deadline(window))
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::malformed("incremented a value that is not a counter"))?;
        let n: i64 = row.try_get("counter").map_err(bad_row)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(bad_row)?;
        Ok(Count::new(
            u64::try_from(n).unwrap_or(0),
            self.ttl_left(expires_at),
        ))
    }

    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        self.maybe_purge().await;
        let row = sqlx::query(
            "INSERT INTO auth_state (state_key, state_value, counter, expires_at) \
             VALUES ($1, NULL, $2, $3) \
             ON CONFLICT (state_key) DO UPDATE SET counter = excluded.counter, \
             state_value = NULL, expires_at = excluded.expires_at \
             WHERE auth_state.expires_at <= $4 OR auth_state.counter < excluded.counter \
             RETURNING state_key",
        )
        .bind(key)
        .bind(as_i64(value))
        .bind(self.deadline(ttl))
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(row.is_some())
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => self.local.publish(channel, message).await,
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!("refused by SqlStore::connect"),
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(encode(message))
                    .execute(&self.pool)
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
        }
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        match self.backend {
            Backend::Sqlite => self.local.subscribe(channel).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres => listen(&self.url, channel).await,
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => unreachable!("refused by SqlStore::connect"),
        }
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        // substr rather than LIKE, whose wildcards a prefix may contain, or
        // a range, which a linguistic collation would bend. Resyncs only,
        // never on the request path.
        let rows = sqlx::query(
            "SELECT state_key, state_value, counter, expires_at FROM auth_state \
             WHERE substr(state_key, 1, length($1)) = $2 AND expires_at > $3",
        )
        .bind(prefix)
        .bind(prefix)
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("state_key").map_err(bad_row)?;
                let expires_at: i64 = row.try_get("expires_at").map_err(bad_row)?;
                Ok((
                    key,
                    Entry::new(Self::value(row)?, self.ttl_left(expires_at)),
                ))
            })
            .collect()
    }
    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        self.maybe_purge().await;
        sqlx::query(
            "INSERT INTO auth_state_members (set_key, member, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (set_key, member) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(key)
        .bind(member)
        .bind(self.deadline(ttl))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT member FROM auth_state_members WHERE set_key = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| row.try_get("member").map_err(bad_row))
            .collect()
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "DELETE FROM auth_state_members WHERE set_key = $1 AND member = $2 \
             RETURNING expires_at",
        )
        .bind(key)
        .bind(member)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match row {
            Some(row) => {
                let expires_at: i64 = row.try_get("expires_at").map_err(bad_row)?;
                Ok(expires_at > self.now())
            }
            None => Ok(false),
        }
    }
}

/// NOTIFY payloads are text: bytes travel as unpadded base64url.
#[cfg(feature = "postgres")]
fn encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(feature = "postgres")]
fn decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

#[cfg(feature = "postgres")]
/// A `LISTEN` on its own connection; when it drops, sqlx's `PgListener`
/// reconnects on the next receive, and the subscription reports the gap.
async fn listen(url: &str, channel: &str) -> Result<Subscription, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect(url)
        .await
        .map_err(unavailable)?;
    listener.listen(channel).await.map_err(unavailable)?;
    let stream = futures_util::stream::unfold(listener, |mut listener| async move {
        loop {
            // `try_recv` answers `None` once when the connection was lost
            // (it reconnects on the next call): a gap.
            match listener.try_recv().await {
                Ok(Some(notification)) => match decode(notification.payload()) {
                    Some(bytes) => return Some((Ok(bytes), listener)),
                    None => tracing::warn!("ignored a notification that is not base64url"),
                },
                Ok(None) => return Some((Err(StoreError::Lagged { missed: 0 }), listener)),
                Err(e) => {
                    tracing::warn!(error = %e, "state listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return Some((Err(StoreError::Lagged { missed: 0 }), listener));
                }
            }
        }
    });
    Ok(Subscription::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn notification_payloads_round_trip() {
        for bytes in [&b""[..], b"\x00\xff", b"t 1700000000 jti with spaces"] {
            assert_eq!(decode(&encode(bytes)).as_deref(), Some(bytes));
        }
        for junk in ["=", "a", "not base64!", "\u{e9}"] {
            assert_eq!(decode(junk), None, "{junk}");
        }
    }
}
