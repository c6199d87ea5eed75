//! Refresh tokens in the application's database, so that they survive a
//! restart and several instances behind a load balancer agree on rotation
//! and reuse.

use auth_jwt::{IssueError, RefreshRecord, RefreshStore, RefreshUse};
use sqlx::{AnyPool, Row};

/// A [`RefreshStore`] on the todo database (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub struct SqlRefreshStore {
    pool: AnyPool,
}

impl SqlRefreshStore {
    /// A store on `pool` (the tables come with the todo migrations).
    pub fn new(pool: AnyPool) -> Self {
        SqlRefreshStore { pool }
    }
}

fn store_err(e: impl std::fmt::Display) -> IssueError {
    IssueError::Store(e.to_string())
}

fn record(row: &sqlx::any::AnyRow) -> Result<RefreshRecord, IssueError> {
    let profile: String = row.try_get("profile").map_err(store_err)?;
    Ok(RefreshRecord {
        family: row.try_get("family").map_err(store_err)?,
        profile: serde_json::from_str(&profile).map_err(store_err)?,
        expires_at: u64::try_from(row.try_get::<i64, _>("expires_at").map_err(store_err)?)
            .unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl RefreshStore for SqlRefreshStore {
    async fn insert(&self, hash: String, record: RefreshRecord) -> Result<(), IssueError> {
        let profile = serde_json::to_string(&record.profile).map_err(store_err)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, profile, expires_at, used) \
             VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(hash)
        .bind(record.family)
        .bind(profile)
        .bind(i64::try_from(record.expires_at).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn use_token(&self, hash: &str) -> Result<RefreshUse, IssueError> {
        // One conditional UPDATE marks the token spent: of two concurrent
        // refreshes with the same token, exactly one sees it unused.
        let fresh = sqlx::query(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = $1 AND used = 0 \
             RETURNING family, profile, expires_at",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_err)?;
        let (row, was_fresh) = match fresh {
            Some(row) => (row, true),
            None => {
                let spent = sqlx::query(
                    "SELECT family, profile, expires_at FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_err)?;
                match spent {
                    Some(row) => (row, false),
                    None => return Ok(RefreshUse::Unknown),
                }
            }
        };
        let rec = record(&row)?;
        let revoked = sqlx::query("SELECT 1 AS one FROM revoked_families WHERE family = $1")
            .bind(&rec.family)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?
            .is_some();
        Ok(match (revoked, was_fresh) {
            (true, _) => RefreshUse::Revoked,
            (false, true) => RefreshUse::Fresh(rec),
            (false, false) => RefreshUse::Reused(rec),
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<(), IssueError> {
        let exists = sqlx::query("SELECT 1 AS one FROM revoked_families WHERE family = $1")
            .bind(family)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?
            .is_some();
        if !exists {
            sqlx::query("INSERT INTO revoked_families (family) VALUES ($1)")
                .bind(family)
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
        }
        Ok(())
    }

    async fn family_of(&self, hash: &str) -> Result<Option<String>, IssueError> {
        let row = sqlx::query("SELECT family FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_err)?;
        row.map(|r| r.try_get("family").map_err(store_err))
            .transpose()
    }
}
