//! The error taxonomy: every way authentication can fail, with its status and code.

use std::borrow::Cow;
use std::time::Duration;

use actix_web::http::StatusCode;

/// Why authentication (or the authorization check that follows it) failed.
///
/// Each variant knows its HTTP status, its LoopBack error `name`, a stable
/// machine-readable `code`, and a message that is safe to send to the client.
/// Messages never contain a credential: strategies must not put the token or
/// the password into them.
///
/// | variant | status | default code |
/// |---|---|---|
/// | [`InvalidRequest`](AuthError::InvalidRequest) | 400 | `INVALID_REQUEST` |
/// | [`NoCredentials`](AuthError::NoCredentials) | 401 | `USER_PROFILE_NOT_FOUND` |
/// | [`InvalidCredentials`](AuthError::InvalidCredentials) | 401 | chosen by the strategy, e.g. `INVALID_TOKEN` |
/// | [`Forbidden`](AuthError::Forbidden) | 403 | `ACCESS_DENIED`, `INSUFFICIENT_SCOPE` or `WRONG_PRINCIPAL_KIND` |
/// | [`TooManyRequests`](AuthError::TooManyRequests) | 429 | `TOO_MANY_REQUESTS` |
/// | [`Unavailable`](AuthError::Unavailable) | 503 | `SERVICE_UNAVAILABLE` |
/// | [`UnknownStrategy`](AuthError::UnknownStrategy) | 500 | `AUTHENTICATION_STRATEGY_NOT_FOUND` |
/// | [`Internal`](AuthError::Internal) | 500 | `INTERNAL_SERVER_ERROR` |
/// | [`Rejected`](AuthError::Rejected) | 4xx | chosen by the caller, e.g. `VALIDATION_FAILED` |
///
/// ```
/// use actix_web::http::StatusCode;
/// use auth_core::AuthError;
///
/// let err = AuthError::invalid_token("token expired");
/// assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(err.code(), "INVALID_TOKEN");
/// assert_eq!(err.public_message(), "token expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carries credentials in a form that cannot be understood
    /// (RFC 6750 §3.1 `invalid_request`): 400.
    #[error("{message}")]
    InvalidRequest {
        /// Client-safe explanation.
        message: Cow<'static, str>,
    },
    /// No strategy found credentials of its kind: 401 without an `error=`
    /// parameter in the challenge (RFC 6750 §3.1).
    #[error("{message}")]
    NoCredentials {
        /// Client-safe explanation.
        message: Cow<'static, str>,
    },
    /// Credentials were presented but are wrong, expired or badly signed: 401
    /// (`invalid_token` for bearer schemes).
    #[error("{message}")]
    InvalidCredentials {
        /// Stable machine-readable code, e.g. `INVALID_TOKEN`.
        code: Cow<'static, str>,
        /// Client-safe explanation.
        message: Cow<'static, str>,
    },
    /// Authenticated, but the roles, scopes or principal kind do not suffice: 403.
    #[error("{message}")]
    Forbidden {
        /// Stable machine-readable code.
        code: Cow<'static, str>,
        /// Client-safe explanation.
        message: Cow<'static, str>,
        /// The scopes that would have been sufficient, for the `scope=` challenge
        /// parameter (RFC 6750 §3).
        scope: Option<String>,
    },
    /// Too many failed attempts from this client: 429 with `Retry-After`.
    #[error("too many failed authentication attempts")]
    TooManyRequests {
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// The strategy's backend (key server, database, cache) cannot answer, or
    /// the server sheds load: 503, fail closed.
    #[error("{message}")]
    Unavailable {
        /// Client-safe explanation.
        message: Cow<'static, str>,
        /// Optional `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A handler names a strategy that is not registered: 500.
    #[error("authentication strategy '{name}' is not registered")]
    UnknownStrategy {
        /// The unknown name.
        name: String,
    },
    /// A bug or misconfiguration: 500. The message is logged, never sent.
    #[error("{message}")]
    Internal {
        /// Operator-facing explanation; not sent to the client.
        message: Cow<'static, str>,
    },
    /// Not an authentication failure: the request's body, query string or
    /// path could not be read (a 4xx such as 400, 413, 415 or 422), answered
    /// in the same shape as authentication errors, without a challenge. See
    /// [`json_error_handler`](crate::json_error_handler).
    #[error("{message}")]
    Rejected {
        /// A client-error status (4xx).
        status: StatusCode,
        /// Stable machine-readable code, e.g. `VALIDATION_FAILED`.
        code: Cow<'static, str>,
        /// Client-safe explanation.
        message: Cow<'static, str>,
    },
}

impl AuthError {
    /// A [`Rejected`](AuthError::Rejected) request: `status` must be a client
    /// error (4xx); any other status becomes 400.
    ///
    /// ```
    /// use actix_web::http::StatusCode;
    /// use auth_core::AuthError;
    ///
    /// let err = AuthError::rejected(StatusCode::PAYLOAD_TOO_LARGE, "ENTITY_TOO_LARGE", "too big");
    /// assert_eq!((err.status().as_u16(), err.name()), (413, "PayloadTooLargeError"));
    /// assert!(!err.carries_challenge());
    /// let clamped = AuthError::rejected(StatusCode::OK, "X", "not an error status");
    /// assert_eq!(clamped.status(), StatusCode::BAD_REQUEST);
    /// ```
    pub fn rejected(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        AuthError::Rejected {
            status: if status.is_client_error() {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 400 `invalid_request` error.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::InvalidRequest {
            message: message.into(),
        }
    }

    /// A 401 carrying code `USER_PROFILE_NOT_FOUND`: nothing to authenticate with.
    pub fn no_credentials(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::NoCredentials {
            message: message.into(),
        }
    }

    /// A 401 `invalid_token` with code `INVALID_TOKEN`.
    pub fn invalid_token(message: impl Into<Cow<'static, str>>) -> Self {
        Self::invalid_credentials("INVALID_TOKEN", message)
    }

    /// A 401 with the given code.
    pub fn invalid_credentials(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        AuthError::InvalidCredentials {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 403 with code `ACCESS_DENIED`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::Forbidden {
            code: Cow::Borrowed("ACCESS_DENIED"),
            message: message.into(),
            scope: None,
        }
    }

    /// A 403 with code `INSUFFICIENT_SCOPE` naming the scopes required.
    pub fn insufficient_scope(scope: impl Into<String>) -> Self {
        let scope = scope.into();
        AuthError::Forbidden {
            code: Cow::Borrowed("INSUFFICIENT_SCOPE"),
            message: Cow::Owned(format!("insufficient scope: requires {scope}")),
            scope: Some(scope),
        }
    }

    /// A 429 asking the client to wait `retry_after`.
    pub fn too_many_requests(retry_after: Duration) -> Self {
        AuthError::TooManyRequests { retry_after }
    }

    /// A 503: the backend the strategy needs is not available.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::Unavailable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 500 whose message is logged but never sent.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::Internal {
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            AuthError::NoCredentials { .. } | AuthError::InvalidCredentials { .. } => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AuthError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::UnknownStrategy { .. } | AuthError::Internal { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AuthError::Rejected { status, .. } => *status,
        }
    }

    /// The stable machine-readable code, e.g. `INVALID_TOKEN`.
    pub fn code(&self) -> &str {
        match self {
            AuthError::InvalidRequest { .. } => "INVALID_REQUEST",
            AuthError::NoCredentials { .. } => "USER_PROFILE_NOT_FOUND",
            AuthError::InvalidCredentials { code, .. }
            | AuthError::Forbidden { code, .. }
            | AuthError::Rejected { code, .. } => code,
            AuthError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            AuthError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
            AuthError::UnknownStrategy { .. } => "AUTHENTICATION_STRATEGY_NOT_FOUND",
            AuthError::Internal { .. } => "INTERNAL_SERVER_ERROR",
        }
    }

    /// LoopBack's error `name` for the status, e.g. `UnauthorizedError`.
    pub fn name(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "BadRequestError",
            StatusCode::UNAUTHORIZED => "UnauthorizedError",
            StatusCode::FORBIDDEN => "ForbiddenError",
            StatusCode::NOT_FOUND => "NotFoundError",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowedError",
            StatusCode::NOT_ACCEPTABLE => "NotAcceptableError",
            StatusCode::CONFLICT => "ConflictError",
            StatusCode::LENGTH_REQUIRED => "LengthRequiredError",
            StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLargeError",
            StatusCode::URI_TOO_LONG => "URITooLongError",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaTypeError",
            StatusCode::UNPROCESSABLE_ENTITY => "UnprocessableEntityError",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequestsError",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
            status if status.is_client_error() => "BadRequestError",
            _ => "InternalServerError",
        }
    }

    /// The message that may be sent to the client. Internal errors answer with
    /// a generic text; their real message is only logged.
    pub fn public_message(&self) -> Cow<'_, str> {
        // Borrowed wherever the text is a field or a literal (every refusal
        // of a flood renders one): the same text `Display` writes.
        match self {
            AuthError::Internal { .. } => Cow::Borrowed("Internal Server Error"),
            AuthError::InvalidRequest { message, .. }
            | AuthError::NoCredentials { message, .. }
            | AuthError::InvalidCredentials { message, .. }
            | AuthError::Forbidden { message, .. }
            | AuthError::Unavailable { message, .. }
            | AuthError::Rejected { message, .. } => Cow::Borrowed(message),
            AuthError::TooManyRequests { .. } => {
                Cow::Borrowed("too many failed authentication attempts")
            }
            other => Cow::Owned(other.to_string()),
        }
    }

    /// The `Retry-After` the response should carry, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthError::TooManyRequests { retry_after } => Some(*retry_after),
            AuthError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this error is answered with `WWW-Authenticate` challenges
    /// (400, 401 and 403; never 429, 503 or 500). A 403 for the wrong
    /// principal kind (`WRONG_PRINCIPAL_KIND`) carries none: RFC 6750's
    /// `insufficient_scope` means "more privileges", and a user token on a
    /// service-only route is not short of privileges but the wrong kind of
    /// caller; the body says so.
    pub fn carries_challenge(&self) -> bool {
        match self {
            AuthError::Forbidden { code, .. } => code != "WRONG_PRINCIPAL_KIND",
            AuthError::InvalidRequest { .. }
            | AuthError::NoCredentials { .. }
            | AuthError::InvalidCredentials { .. } => true,
            _ => false,
        }
    }
}

/// A problem with the configuration found at start-up: a duplicate strategy
/// name, a handler that names a strategy the registry does not hold, or an
/// application without a registry (see [`check_app`](crate::check_app)).
///
/// ```
/// use auth_core::ConfigError;
/// let err = ConfigError::DuplicateStrategy { name: "jwt".into() };
/// assert_eq!(err.to_string(), "strategy 'jwt' is registered twice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two strategies were registered under one name.
    #[error("strategy '{name}' is registered twice")]
    DuplicateStrategy {
        /// The name.
        name: String,
    },
    /// A strategy name is empty or contains characters other than ASCII
    /// letters, digits, `-`, `_`, `.` and `:`.
    #[error("strategy name '{name}' is not valid: use ASCII letters, digits, '-', '_', '.' or ':'")]
    InvalidStrategyName {
        /// The name.
        name: String,
    },
    /// Handlers name strategies that are not registered.
    #[error("{}", unknown_list(.missing))]
    UnknownStrategies {
        /// `(handler, strategy)` pairs, e.g. `("todo::list", "jwt")`.
        missing: Vec<(String, String)>,
    },
    /// The application holds no [`StrategyRegistry`](crate::StrategyRegistry)
    /// in its `app_data`, so every authenticated route would answer 500.
    #[error(
        "no StrategyRegistry in the App's app_data: add `.app_data(registry.clone())` \
         (or `.app_data(web::Data::new(registry))`) to the App"
    )]
    MissingRegistry,
    /// The application could not be started for the check (one of its
    /// `data_factory` initialisers or services failed).
    #[error("the App failed to initialise, so its configuration could not be checked")]
    AppInit,
}

fn unknown_list(missing: &[(String, String)]) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|(handler, name)| {
            format!("handler `{handler}` uses strategy '{name}', which is not registered")
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_message_is_what_display_writes_except_for_internal_errors() {
        let every_kind = [
            AuthError::invalid_request("bad header"),
            AuthError::no_credentials("no token"),
            AuthError::invalid_token("token expired"),
            AuthError::invalid_credentials("WRONG", "wrong password"),
            AuthError::forbidden("no"),
            AuthError::insufficient_scope("todos:write"),
            AuthError::too_many_requests(Duration::from_secs(3)),
            AuthError::unavailable("store down"),
            AuthError::UnknownStrategy { name: "jvt".into() },
            AuthError::rejected(StatusCode::PAYLOAD_TOO_LARGE, "BIG", "too big"),
        ];
        for error in &every_kind {
            assert_eq!(error.public_message(), error.to_string(), "{error:?}");
        }
        let internal = AuthError::internal("connection string postgres://secret@db");
        assert_eq!(internal.public_message(), "Internal Server Error");
        assert!(internal.to_string().contains("secret"));
    }
}
