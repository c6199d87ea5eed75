//! actix-web's own input errors (JSON, form, query string, path) answered in
//! the same shape as authentication errors.
//!
//! actix-web answers a body it cannot read with a plain-text 400 of its own
//! making, and its message can quote the client's input. An API whose
//! authentication errors are JSON in LoopBack's shape (or RFC 9457) should not
//! answer a malformed body in a third shape. These handlers turn each input
//! error into an [`AuthError::Rejected`] and render it with the registry's
//! renderer, so both kinds of error look alike to a client.
//!
//! The statuses and codes are listed on [`input_errors`].

use std::borrow::Cow;

use actix_web::error::{
    InternalError, JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use crate::AuthError;
use crate::render::error_response;

/// The answer for `error`, rendered like an authentication error.
fn reject(
    req: &HttpRequest,
    error: AuthError,
    cause: impl std::fmt::Debug + std::fmt::Display + 'static,
) -> actix_web::Error {
    tracing::debug!(
        status = error.status().as_u16(),
        code = error.code(),
        "request input refused"
    );
    let response = error_response(req, &error, &[]);
    InternalError::from_response(cause, response).into()
}

/// The part of a serde message that is safe to send: the field name of a
/// missing, unknown or duplicate field; `None` for anything that may quote
/// the input.
fn field_message(message: &str) -> Option<&str> {
    const SAFE: [&str; 3] = ["missing field `", "unknown field `", "duplicate field `"];
    let prefix = SAFE.iter().find(|p| message.starts_with(**p))?;
    let rest = &message[prefix.len()..];
    let end = rest.find('`')?;
    Some(&message[..prefix.len() + end + 1])
}

fn too_large(limit: usize) -> AuthError {
    AuthError::rejected(
        StatusCode::PAYLOAD_TOO_LARGE,
        "ENTITY_TOO_LARGE",
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

fn unreadable_body(error: &PayloadError) -> AuthError {
    match error {
        PayloadError::Overflow => AuthError::rejected(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ENTITY_TOO_LARGE",
            "request body is larger than the limit",
        ),
        _ => AuthError::rejected(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            "request body could not be read",
        ),
    }
}

fn json_error(error: &JsonPayloadError) -> AuthError {
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => too_large(*limit),
        JsonPayloadError::ContentType => AuthError::rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "request body must be sent with Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            let (line, column) = (e.line(), e.column());
            if e.is_data() {
                let what = field_message(&e.to_string())
                    .map_or(Cow::Borrowed("a value has the wrong type"), |m| {
                        Cow::Owned(m.to_owned())
                    });
                AuthError::rejected(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    format!(
                        "request body does not have the expected shape: {what} (line {line}, column {column})"
                    ),
                )
            } else {
                AuthError::rejected(
                    StatusCode::BAD_REQUEST,
                    "INVALID_JSON",
                    format!("request body is not valid JSON (line {line}, column {column})"),
                )
            }
        }
        JsonPayloadError::Payload(e) => unreadable_body(e),
        _ => AuthError::rejected(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            "request body could not be read",
        ),
    }
}

fn parameter_error(what: &str, serde_message: &str) -> AuthError {
    let message = match field_message(serde_message) {
        Some(field) => format!("{what}: {field}"),
        None => format!("{what} has a value of the wrong type or format"),
    };
    AuthError::rejected(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

/// A [`JsonConfig`](web::JsonConfig) error handler: a body that `web::Json`
/// cannot read is answered in the registry's error shape (see the
/// [table](input_errors)) instead of actix-web's plain text.
///
/// ```
/// use actix_web::{test, web, App, HttpResponse};
///
/// #[derive(serde::Deserialize)]
/// struct NewTodo { title: String }
///
/// async fn create(todo: web::Json<NewTodo>) -> HttpResponse {
///     HttpResponse::Created().body(todo.into_inner().title)
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(
///     App::new()
///         .app_data(web::JsonConfig::default().limit(4096).error_handler(auth_core::json_error_handler))
///         .route("/todos", web::post().to(create)),
/// )
/// .await;
/// let req = test::TestRequest::post().uri("/todos").set_json(serde_json::json!({"nope": 1}));
/// let body: serde_json::Value = test::call_and_read_body_json(&app, req.to_request()).await;
/// assert_eq!(body["error"]["statusCode"], 422);
/// assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
/// # });
/// ```
pub fn json_error_handler(error: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let rejected = json_error(&error);
    reject(req, rejected, error)
}

/// A [`FormConfig`](web::FormConfig) error handler, like
/// [`json_error_handler`] for `web::Form` bodies.
///
/// ```
/// use actix_web::web;
/// let config = web::FormConfig::default().error_handler(auth_core::form_error_handler);
/// # let _ = config;
/// ```
pub fn form_error_handler(error: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let rejected = match &error {
        UrlencodedError::Overflow { limit, .. } => too_large(*limit),
        UrlencodedError::ContentType => AuthError::rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "request body must be sent with Content-Type: application/x-www-form-urlencoded",
        ),
        UrlencodedError::Payload(e) => unreadable_body(e),
        UrlencodedError::Parse(e) => {
            let mut rejected = parameter_error("form body", &e.to_string());
            if let AuthError::Rejected { code, .. } = &mut rejected {
                *code = Cow::Borrowed("INVALID_FORM");
            }
            rejected
        }
        _ => AuthError::rejected(
            StatusCode::BAD_REQUEST,
            "INVALID_FORM",
            "form body could not be read",
        ),
    };
    reject(req, rejected, error)
}

/// A [`QueryConfig`](web::QueryConfig) error handler: a query string that
/// `web::Query` cannot read is a 400 `INVALID_PARAMETER_VALUE` in the
/// registry's error shape.
///
/// ```
/// use actix_web::web;
/// let config = web::QueryConfig::default().error_handler(auth_core::query_error_handler);
/// # let _ = config;
/// ```
pub fn query_error_handler(error: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    let rejected = match &error {
        QueryPayloadError::Deserialize(e) => parameter_error("query string", &e.to_string()),
        _ => parameter_error("query string", ""),
    };
    reject(req, rejected, error)
}

/// A [`PathConfig`](web::PathConfig) error handler: a path segment that
/// `web::Path` cannot read (`/todos/abc` for an integer id) is a 400
/// `INVALID_PARAMETER_VALUE` in the registry's error shape, as LoopBack
/// answers it (actix-web's own answer is a plain-text 404).
///
/// ```
/// use actix_web::web;
/// let config = web::PathConfig::default().error_handler(auth_core::path_error_handler);
/// # let _ = config;
/// ```
pub fn path_error_handler(error: PathError, req: &HttpRequest) -> actix_web::Error {
    let rejected = match &error {
        PathError::Deserialize(e) => parameter_error("path", &e.to_string()),
        _ => parameter_error("path", ""),
    };
    reject(req, rejected, error)
}

/// The four handlers installed at once: add the result to an `App`, a
/// `Scope` or a `ServiceConfig` with `.configure(...)`, after any
/// configuration of your own limits (a later `app_data` of the same type
/// replaces an earlier one, so set limits here instead).
///
/// The statuses follow LoopBack, whose todo application this project ports:
///
/// | input error | status | code |
/// |---|---|---|
/// | body larger than the configured limit | 413 | `ENTITY_TOO_LARGE` |
/// | wrong or missing `Content-Type` | 415 | `UNSUPPORTED_MEDIA_TYPE` |
/// | body that is not JSON (syntax, truncated) | 400 | `INVALID_JSON` |
/// | JSON of the wrong shape (missing field, wrong type) | 422 | `VALIDATION_FAILED` |
/// | form body that cannot be read | 400 | `INVALID_FORM` |
/// | query string of the wrong shape | 400 | `INVALID_PARAMETER_VALUE` |
/// | path segment of the wrong type (`/todos/abc` for an integer id) | 400 | `INVALID_PARAMETER_VALUE` |
/// | body that cannot be read at all (connection error, bad encoding) | 400 | `INVALID_REQUEST_BODY` |
///
/// Messages never quote a value from the request: serde's messages do
/// (`invalid type: string "hunter2", expected u32`), and a request body can
/// hold a password. Only the names of missing or unknown fields, and the line
/// and column of a JSON error, are passed on.
///
/// ```
/// use actix_web::App;
///
/// let app = App::new().configure(auth_core::input_errors(64 * 1024));
/// # let _ = app;
/// ```
pub fn input_errors(body_limit: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(json_error_handler),
        )
        .app_data(
            web::FormConfig::default()
                .limit(body_limit)
                .error_handler(form_error_handler),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error_handler))
        .app_data(web::PathConfig::default().error_handler(path_error_handler));
    }
}

#[cfg(test)]
mod tests {
    use super::field_message;

    #[test]
    fn only_field_names_pass_from_serde_messages() {
        for (message, expected) in [
            (
                "missing field `title` at line 1 column 10",
                Some("missing field `title`"),
            ),
            ("unknown field `x`, expected `a`", Some("unknown field `x`")),
            ("duplicate field `a`", Some("duplicate field `a`")),
            ("invalid type: string \"hunter2\", expected u32", None),
            ("invalid digit found in string", None),
            ("missing field `unterminated", None),
            ("", None),
        ] {
            assert_eq!(field_message(message), expected, "{message}");
        }
    }
}
