//! HTTP Digest authentication (RFC 7616): hashing helpers.

use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256 (preferred, offered first).
    Sha256,
    /// MD5 (for older clients).
    Md5,
}

impl DigestAlgorithm {
    /// The name used on the wire and in stores: `"SHA-256"` or `"MD5"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else if name.eq_ignore_ascii_case("MD5") {
            Some(DigestAlgorithm::Md5)
        } else {
            None
        }
    }

    /// `H(data)` as lower-case hex.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Sha256 => to_hex(&Sha256::digest(data)),
            DigestAlgorithm::Md5 => to_hex(&Md5::digest(data)),
        }
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `HA1 = H(username:realm:password)` (RFC 7616 §3.4.2), what a store keeps
/// for Digest instead of the password.
///
/// ```
/// use auth_basic::digest::{ha1, DigestAlgorithm};
/// assert_eq!(
///     ha1(DigestAlgorithm::Md5, "Mufasa", "http-auth@example.org", "Circle of Life"),
///     "3d78807defe7de2157e2b0b6573a855f"
/// );
/// ```
pub fn ha1(algorithm: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex(format!("{username}:{realm}:{password}").as_bytes())
}
