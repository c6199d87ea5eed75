//! Sign-up input rules. LoopBack's todo-jwt accepts any e-mail and any
//! password; this example refuses what would be a bug in a real service.

use crate::error::ApiError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes: bounds the cost of hashing input an
/// attacker controls.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Normalises and checks an e-mail address (lower-cased, trimmed).
pub fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && email.matches('@').count() == 1
        && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    if valid {
        Ok(email)
    } else {
        Err(ApiError::unprocessable(
            "INVALID_EMAIL",
            "email must be an address like name@example.com",
        ))
    }
}

/// Checks a password's strength; the message says what to change.
pub fn password(password: &str, email: &str) -> Result<(), ApiError> {
    let weak = |message: String| Err(ApiError::unprocessable("WEAK_PASSWORD", message));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return weak(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters long"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return weak(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes long"
        ));
    }
    if password.chars().any(char::is_control) {
        return weak("password must not contain control characters".into());
    }
    let letters = password.chars().any(char::is_alphabetic);
    let others = password.chars().any(|c| !c.is_alphabetic());
    if !(letters && others) {
        return weak("password must mix letters with digits or symbols".into());
    }
    let local = email.split('@').next().unwrap_or_default();
    if local.len() >= 4 && password.to_lowercase().contains(local) {
        return weak("password must not contain the e-mail address".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@example..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("correct horse 9", "ada@example.com").is_ok());
        for bad in [
            "short1",
            "onlyletterslong",
            "1234567890123",
            "ada.lovelace-99",
            "tab\there12345",
        ] {
            assert!(
                password(bad, "ada.lovelace@example.com").is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(password(&"a1".repeat(200), "x@example.com").is_err());
    }
}
