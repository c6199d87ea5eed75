//! The application's own errors, answered in LoopBack's error shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An error a todo handler answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that is well-formed but unacceptable (422).
    #[error("{message}")]
    Unprocessable {
        /// Stable code, e.g. `WEAK_PASSWORD`.
        code: &'static str,
        /// Client-safe explanation.
        message: String,
    },
    /// A unique value already exists (409).
    #[error("{0}")]
    Conflict(String),
    /// Nothing there, or not the caller's (404).
    #[error("{0}")]
    NotFound(String),
    /// The database failed (500; details are logged, not sent).
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (name, code, message) = match self {
            ApiError::Unprocessable { code, message } => {
                ("UnprocessableEntityError", *code, message.clone())
            }
            ApiError::Conflict(m) => ("ConflictError", "CONFLICT", m.clone()),
            ApiError::NotFound(m) => ("NotFoundError", "ENTITY_NOT_FOUND", m.clone()),
            ApiError::Database(source) => {
                tracing::error!(error = %source, "database error");
                (
                    "InternalServerError",
                    "INTERNAL_SERVER_ERROR",
                    "Internal Server Error".to_owned(),
                )
            }
        };
        HttpResponse::build(self.status_code()).json(json!({
            "error": {"statusCode": self.status_code().as_u16(), "name": name, "message": message, "code": code}
        }))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Database(Box::new(e))
    }
}
