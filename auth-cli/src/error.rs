//! The one error type every command returns: a stable code and a message.

use std::fmt;

/// A failed command: printed as `<CODE>: <message>` on stderr, exit 1.
///
/// Messages are built from error types that never carry key material or
/// tokens (`KeyError`, `VerifyError`, I/O errors naming a path), so nothing
/// secret reaches the terminal.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// A file that could not be read; the path is not secret, the content
    /// is never shown.
    pub(crate) fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        CliError::new(
            "IO_ERROR",
            format!("cannot read {what} {}: {e}", path.display()),
        )
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<auth_jwt::KeyError> for CliError {
    fn from(e: auth_jwt::KeyError) -> Self {
        CliError::new("INVALID_KEY", e.to_string())
    }
}

impl From<auth_jwt::VerifyError> for CliError {
    fn from(e: auth_jwt::VerifyError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}
