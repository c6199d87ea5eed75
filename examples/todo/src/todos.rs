//! Todos, each owned by the user who made it. Every query is scoped by the
//! owner, so another user's todo is indistinguishable from a missing one (404).

use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

use crate::error::ApiError;

/// A stored todo (LoopBack's `Todo` model, minus the geo fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    /// Identifier.
    pub id: i64,
    /// What to do.
    pub title: String,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// Done?
    pub is_complete: bool,
}

/// The body of `POST /todos` and `PUT /todos/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTodo {
    /// What to do.
    pub title: String,
    /// Details.
    #[serde(default)]
    pub desc: Option<String>,
    /// Done?
    #[serde(default)]
    pub is_complete: bool,
}

/// The body of `PATCH /todos/{id}`: only the fields given change.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TodoPatch {
    /// New title.
    pub title: Option<String>,
    /// New details (`null` clears them).
    #[serde(default, deserialize_with = "present")]
    pub desc: Option<Option<String>>,
    /// New state.
    pub is_complete: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

const MAX_TITLE: usize = 200;
const MAX_DESC: usize = 4000;

fn check(title: Option<&str>, desc: Option<&str>) -> Result<(), ApiError> {
    if let Some(title) = title
        && (title.trim().is_empty() || title.chars().count() > MAX_TITLE)
    {
        return Err(ApiError::unprocessable(
            "INVALID_TITLE",
            format!("title must be 1 to {MAX_TITLE} characters"),
        ));
    }
    if desc.is_some_and(|d| d.chars().count() > MAX_DESC) {
        return Err(ApiError::unprocessable(
            "INVALID_DESC",
            format!("desc must be at most {MAX_DESC} characters"),
        ));
    }
    Ok(())
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Todo, sqlx::Error> {
    Ok(Todo {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        desc: row.try_get("description")?,
        is_complete: row.try_get::<i64, _>("is_complete")? != 0,
    })
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("Entity not found: Todo with id {id}"))
}

/// The todo in `row`, or 404 when the owner-scoped query found none.
fn found(row: Option<sqlx::any::AnyRow>, id: i64) -> Result<Todo, ApiError> {
    match row {
        Some(row) => Ok(from_row(&row)?),
        None => Err(not_found(id)),
    }
}

/// Todo storage on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Todos {
    pool: AnyPool,
}

impl Todos {
    /// Storage on `pool`; run [`migrate`](Self::migrate) first.
    pub fn new(pool: AnyPool) -> Self {
        Todos { pool }
    }

    /// Creates the tables for the backend behind `url`. The schema is
    /// embedded in the binary and every statement is `IF NOT EXISTS`, so this
    /// is safe on every start and from several instances at once.
    pub async fn migrate(&self, url: &str) -> Result<(), sqlx::Error> {
        let postgres = url.starts_with("postgres");
        if !postgres {
            // Write-ahead logging: readers neither block nor wait for the
            // writer, and a read needs no file lock and no hot-journal check
            // (fewer system calls per query). Persistent in the file: every
            // later connection, from any process, uses it.
            sqlx::query("PRAGMA journal_mode=WAL")
                .fetch_optional(&self.pool)
                .await?;
        }
        let schema = if postgres {
            include_str!("../migrations/postgres/0001_todos.sql")
        } else {
            include_str!("../migrations/sqlite/0001_todos.sql")
        };
        for statement in schema.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            // Comment-only chunks are skipped: not every backend accepts them.
            if statement
                .lines()
                .all(|l| l.trim().is_empty() || l.trim().starts_with("--"))
            {
                continue;
            }
            sqlx::query(statement).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// All of `owner`'s todos, oldest first.
    pub async fn list(&self, owner: &str) -> Result<Vec<Todo>, ApiError> {
        let rows = sqlx::query(
            "SELECT id, title, description, is_complete FROM todos WHERE owner_id = $1 ORDER BY id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// How many todos `owner` has.
    pub async fn count(&self, owner: &str) -> Result<i64, ApiError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM todos WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// How many todos exist in all (the admin route).
    pub async fn count_all(&self) -> Result<i64, ApiError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM todos")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One of `owner`'s todos.
    pub async fn get(&self, owner: &str, id: i64) -> Result<Todo, ApiError> {
        let row = sqlx::query(
            "SELECT id, title, description, is_complete FROM todos WHERE owner_id = $1 AND id = $2",
        )
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found(row, id)
    }

    /// Creates a todo for `owner`.
    pub async fn create(&self, owner: &str, new: NewTodo) -> Result<Todo, ApiError> {
        check(Some(&new.title), new.desc.as_deref())?;
        let row = sqlx::query(
            "INSERT INTO todos (owner_id, title, description, is_complete) VALUES ($1, $2, $3, $4) \
             RETURNING id, title, description, is_complete",
        )
        .bind(owner)
        .bind(new.title.trim().to_owned())
        .bind(new.desc)
        .bind(i64::from(new.is_complete))
        .fetch_one(&self.pool)
        .await?;
        Ok(from_row(&row)?)
    }

    /// Replaces one of `owner`'s todos.
    pub async fn replace(&self, owner: &str, id: i64, new: NewTodo) -> Result<Todo, ApiError> {
        check(Some(&new.title), new.desc.as_deref())?;
        let row = sqlx::query(
            "UPDATE todos SET title = $1, description = $2, is_complete = $3 \
             WHERE owner_id = $4 AND id = $5 RETURNING id, title, description, is_complete",
        )
        .bind(new.title.trim().to_owned())
        .bind(new.desc)
        .bind(i64::from(new.is_complete))
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found(row, id)
    }

    /// Changes the given fields of one of `owner`'s todos.
    pub async fn patch(&self, owner: &str, id: i64, patch: TodoPatch) -> Result<Todo, ApiError> {
        check(
            patch.title.as_deref(),
            patch.desc.as_ref().and_then(|d| d.as_deref()),
        )?;
        let current = self.get(owner, id).await?;
        self.replace(
            owner,
            id,
            NewTodo {
                title: patch.title.unwrap_or(current.title),
                desc: patch.desc.unwrap_or(current.desc),
                is_complete: patch.is_complete.unwrap_or(current.is_complete),
            },
        )
        .await
    }

    /// Deletes one of `owner`'s todos.
    pub async fn delete(&self, owner: &str, id: i64) -> Result<(), ApiError> {
        let done = sqlx::query("DELETE FROM todos WHERE owner_id = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
