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
    /// The database is overloaded: no connection became free in time (503
    /// with `Retry-After`, like the password pool's shedding).
    #[error("database busy")]
    Busy,
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
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::Busy => (
                "ServiceUnavailableError",
                "SERVICE_UNAVAILABLE",
                "The server is busy, retry shortly".to_owned(),
            ),
            ApiError::Database(source) => {
                tracing::error!(error = %source, "database error");
                (
                    "InternalServerError",
                    "INTERNAL_SERVER_ERROR",
                    "Internal Server Error".to_owned(),
                )
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Busy) {
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        response.json(json!({
            "error": {"statusCode": self.status_code().as_u16(), "name": name, "message": message, "code": code}
        }))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => ApiError::Busy,
            e => ApiError::Database(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeout_is_503_with_retry_after_and_other_errors_500() {
        let busy = ApiError::from(sqlx::Error::PoolTimedOut).error_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers().get("retry-after").unwrap(), "1");
        let broken = ApiError::from(sqlx::Error::RowNotFound).error_response();
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(broken.headers().get("retry-after").is_none());
    }
}
