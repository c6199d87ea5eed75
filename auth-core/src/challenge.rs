//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1).

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::AuthError;

/// One authentication challenge, e.g. `Bearer realm="api", error="invalid_token"`.
///
/// Parameter values are emitted as quoted strings with `"` and `\` escaped;
/// control characters and non-ASCII characters are dropped so that a header
/// value can always be built.
///
/// ```
/// use auth_core::Challenge;
///
/// let c = Challenge::new("Basic").param("realm", "api").param("charset", "UTF-8");
/// assert_eq!(c.to_string(), r#"Basic realm="api", charset="UTF-8""#);
///
/// let d = Challenge::new("Digest").param("realm", "api").token_param("algorithm", "SHA-256");
/// assert_eq!(d.to_string(), r#"Digest realm="api", algorithm=SHA-256"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: Cow<'static, str>,
    params: Vec<(Cow<'static, str>, Cow<'static, str>, bool)>,
}

impl Challenge {
    /// A challenge for `scheme` with no parameters.
    pub fn new(scheme: impl Into<Cow<'static, str>>) -> Self {
        Challenge {
            scheme: scheme.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter sent as a quoted string.
    pub fn param(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.params.push((name.into(), value.into(), true));
        self
    }

    /// Adds a parameter sent as a bare token (e.g. Digest's `algorithm=SHA-256`
    /// or `stale=true`). The value must be an RFC 9110 token.
    pub fn token_param(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.params.push((name.into(), value.into(), false));
        self
    }

    /// The auth scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether `other` asks the client for the same credentials: the same
    /// scheme (case-insensitive) and the same parameters, apart from those
    /// that report an error (`error`, `error_description`, `error_uri`).
    pub(crate) fn same_question(&self, other: &Challenge) -> bool {
        let asked = |c: &Challenge| {
            c.params
                .iter()
                .filter(|(name, ..)| {
                    !matches!(name.as_ref(), "error" | "error_description" | "error_uri")
                })
                .map(|(name, value, _)| (name.to_ascii_lowercase(), value.clone()))
                .collect::<Vec<_>>()
        };
        self.scheme.eq_ignore_ascii_case(&other.scheme) && asked(self) == asked(other)
    }

    /// The value of parameter `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v, _)| v.as_ref())
    }

    /// A `Bearer` challenge for `realm` that describes `failure` as RFC 6750 §3
    /// asks: no `error` when no credentials were sent, `invalid_request` for
    /// 400, `invalid_token` for 401 and `insufficient_scope` (with `scope`) for
    /// 403. Every bearer-token strategy can use this for its challenge.
    ///
    /// ```
    /// use auth_core::{AuthError, Challenge};
    ///
    /// let none = Challenge::bearer("api", None);
    /// assert_eq!(none.to_string(), r#"Bearer realm="api""#);
    ///
    /// let bad = Challenge::bearer("api", Some(&AuthError::invalid_token("token expired")));
    /// assert_eq!(
    ///     bad.to_string(),
    ///     r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
    /// );
    /// ```
    pub fn bearer(realm: &str, failure: Option<&AuthError>) -> Self {
        let challenge = Challenge::new("Bearer").param("realm", realm.to_owned());
        let (error, scope) = match failure {
            None | Some(AuthError::NoCredentials { .. }) => return challenge,
            Some(AuthError::InvalidRequest { .. }) => ("invalid_request", None),
            Some(AuthError::InvalidCredentials { .. }) => ("invalid_token", None),
            Some(AuthError::Forbidden { scope, .. }) => ("insufficient_scope", scope.clone()),
            Some(_) => return challenge,
        };
        let mut challenge = challenge.param("error", error);
        if let Some(failure) = failure {
            challenge = challenge.param("error_description", failure.public_message().into_owned());
        }
        if let Some(scope) = scope {
            challenge = challenge.param("scope", scope);
        }
        challenge
    }
}

impl std::fmt::Display for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (name, value, quoted)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            f.write_str(name)?;
            f.write_char('=')?;
            if *quoted {
                f.write_char('"')?;
                write_quoted(f, value)?;
                f.write_char('"')?;
            } else {
                f.write_str(value)?;
            }
        }
        Ok(())
    }
}

/// The inside of a quoted-string (RFC 9110 §5.6.4): `"` and `\\` escaped,
/// only visible ASCII and spaces kept (RFC 9110 §5.5: anything else a
/// client could mis-parse is dropped, every byte of a multi-byte character
/// included). Runs of plain bytes are written at once, not character by
/// character: every 401 formats its challenge.
fn write_quoted(f: &mut std::fmt::Formatter<'_>, value: &str) -> std::fmt::Result {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let plain = (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\';
        if plain {
            continue;
        }
        // Bytes `start..i` are plain ASCII, so both ends are char
        // boundaries; `start == i` may sit inside a dropped character.
        if start < i {
            f.write_str(&value[start..i])?;
        }
        if b == b'"' || b == b'\\' {
            f.write_char('\\')?;
            f.write_char(char::from(b))?;
        }
        start = i + 1;
        // Skip the rest of a multi-byte character: its bytes are >= 0x80
        // and dropped like its first one.
    }
    f.write_str(&value[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-by-character definition `write_quoted` must match.
    fn quoted_by_chars(value: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                ' '..='~' => out.push(c),
                _ => {}
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn quoting_keeps_escapes_and_drops_exactly_what_the_definition_does(
            value in "(\\PC|[\"\\\\ \t\r\n\u{7f}\u{e9}\u{20ac}\u{1f600}a-z]){0,40}"
        ) {
            let c = Challenge::new("Bearer").param("error_description", value.clone());
            proptest::prop_assert_eq!(
                c.to_string(),
                format!("Bearer error_description=\"{}\"", quoted_by_chars(&value))
            );
        }
    }

    #[test]
    fn quotes_and_escapes_values() {
        let c = Challenge::new("Bearer").param("error_description", "bad \"token\" \\ \n\u{e9}");
        assert_eq!(
            c.to_string(),
            r#"Bearer error_description="bad \"token\" \\ ""#
        );
    }

    #[test]
    fn bearer_for_each_failure() {
        assert_eq!(
            Challenge::bearer("api", Some(&AuthError::invalid_request("two tokens"))).to_string(),
            r#"Bearer realm="api", error="invalid_request", error_description="two tokens""#
        );
        assert_eq!(
            Challenge::bearer("api", Some(&AuthError::insufficient_scope("todos:write")))
                .to_string(),
            r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope: requires todos:write", scope="todos:write""#
        );
        assert_eq!(
            Challenge::bearer("api", Some(&AuthError::no_credentials("none"))).to_string(),
            r#"Bearer realm="api""#
        );
    }
}
