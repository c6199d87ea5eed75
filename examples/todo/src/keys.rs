//! The signing key: given by configuration, or generated once and kept in
//! the data directory with owner-only permissions. Nothing is compiled in.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// The file the generated secret is stored in, inside the data directory.
pub const KEY_FILE: &str = "jwt-secret.b64";

/// Where the secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `JWT_SECRET` or the config file.
    Configured,
    /// The key file written by an earlier start.
    Stored,
    /// Generated now and written to the key file.
    Generated,
}

/// Returns the HMAC secret bytes and where they came from.
///
/// A configured secret is used as base64 when it decodes to at least 32
/// bytes, else as raw text; either way it must be at least 32 bytes, the
/// HS256 output size, or start-up fails.
pub fn load_or_create(
    configured: Option<&str>,
    data_dir: &Path,
) -> std::io::Result<(Vec<u8>, KeySource)> {
    if let Some(secret) = configured {
        let bytes = STANDARD
            .decode(secret.trim())
            .ok()
            .filter(|b| b.len() >= 32)
            .unwrap_or_else(|| secret.as_bytes().to_vec());
        if bytes.len() < 32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "JWT_SECRET must hold at least 32 bytes (base64 or text)",
            ));
        }
        return Ok((bytes, KeySource::Configured));
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = STANDARD.decode(text.trim()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not base64", path.display()),
                )
            })?;
            if bytes.len() < 32 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} holds fewer than 32 bytes", path.display()),
                ));
            }
            Ok((bytes, KeySource::Stored))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)?;
            let mut bytes = vec![0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            write_private(&path, STANDARD.encode(&bytes).as_bytes())?;
            Ok((bytes, KeySource::Generated))
        }
        Err(e) => Err(e),
    }
}

/// Creates `path` readable and writable by the owner only; fails if it exists.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested");
        let (first, source) = load_or_create(None, &data).unwrap();
        assert_eq!(source, KeySource::Generated);
        assert_eq!(first.len(), 64);
        let (second, source) = load_or_create(None, &data).unwrap();
        assert_eq!(source, KeySource::Stored);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_secret_wins_and_must_be_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, source) =
            load_or_create(Some("a-configured-secret-of-thirty-two+"), dir.path()).unwrap();
        assert_eq!(source, KeySource::Configured);
        assert_eq!(bytes, b"a-configured-secret-of-thirty-two+");
        assert!(!dir.path().join(KEY_FILE).exists());
        assert!(load_or_create(Some("short"), dir.path()).is_err());
    }
}
