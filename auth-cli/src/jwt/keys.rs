//! Key options shared by the commands, loaded only through auth-jwt's own
//! constructors (`VerifyingKey`, `KeySet`, `JwksKeys`, `SigningKey`) so the CLI
//! accepts and refuses exactly the keys the strategy does.

use std::path::{Path, PathBuf};

use auth_jwt::{Algorithm, JwksKeys, JwsAlgorithm, KeyError, KeySet, SigningKey, VerifyingKey};
use clap::Args;

use crate::error::CliError;

/// Parses `--alg` with the RFC 7518 names (HS256, ES512, EdDSA, ...), exactly
/// as the verifier reads a token's `alg`.
pub(crate) fn parse_alg(s: &str) -> Result<JwsAlgorithm, String> {
    s.parse()
        .map_err(|e: auth_jwt::ParseAlgorithmError| e.to_string())
}

/// Where verification keys come from: exactly one of these.
#[derive(Debug, Args)]
#[group(id = "verification_key", required = true, multiple = false)]
pub(crate) struct VerifyKeyArgs {
    /// HMAC secret, raw bytes of the string (needs --alg HS*). Visible to
    /// other local users in the process list: prefer --jwk.
    #[arg(long, value_name = "SECRET")]
    secret: Option<String>,
    /// HMAC secret in base64 or base64url (needs --alg HS*).
    #[arg(long, value_name = "B64")]
    secret_base64: Option<String>,
    /// Public key file in PEM form, RSA, EC or Ed25519 (needs --alg).
    #[arg(long, value_name = "FILE")]
    pem: Option<PathBuf>,
    /// One JWK file, public or private; the algorithm comes from the key.
    #[arg(long, value_name = "FILE")]
    jwk: Option<PathBuf>,
    /// A JWK Set file; a token's `kid` picks the key.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// A JWK Set URL (https, or http on a loopback host).
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
}

/// Where a signing key comes from: exactly one of these.
#[derive(Debug, Args)]
#[group(id = "signing_key", required = true, multiple = false)]
pub(crate) struct SignKeyArgs {
    /// HMAC secret, raw bytes of the string (needs --alg HS*).
    #[arg(long, value_name = "SECRET")]
    secret: Option<String>,
    /// HMAC secret in base64 or base64url (needs --alg HS*).
    #[arg(long, value_name = "B64")]
    secret_base64: Option<String>,
    /// Private key file in PEM form (needs --alg).
    #[arg(long, value_name = "FILE")]
    pem: Option<PathBuf>,
    /// A private JWK file (e.g. from `jwt keygen`); the algorithm comes from
    /// the key.
    #[arg(long, value_name = "FILE")]
    jwk: Option<PathBuf>,
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::io(what, path, &e))
}

fn read_text(what: &str, path: &Path) -> Result<String, CliError> {
    String::from_utf8(read(what, path)?).map_err(|_| {
        CliError::new(
            "INVALID_KEY",
            format!("{what} {} is not UTF-8", path.display()),
        )
    })
}

/// clap makes --alg required for these sources; this guards the invariant
/// without a panic should the two ever drift apart.
fn need_alg(alg: Option<JwsAlgorithm>, source: &str) -> Result<JwsAlgorithm, CliError> {
    alg.ok_or_else(|| CliError::new("INVALID_ARGUMENT", format!("{source} needs --alg")))
}

/// `--alg` for an HMAC secret. An algorithm jsonwebtoken does not know
/// (ES512) is refused with the words `VerifyingKey::hmac` uses for the others.
fn hmac_alg(alg: Option<JwsAlgorithm>, source: &str) -> Result<Algorithm, CliError> {
    let alg = need_alg(alg, source)?;
    alg.to_jsonwebtoken().ok_or_else(|| {
        CliError::new(
            "INVALID_KEY",
            format!("{source}: a secret can only be used with HS256/384/512, not {alg}"),
        )
    })
}

/// `--alg` with a key that carries its own algorithm must agree with it:
/// silently using another algorithm than the one asked for would hide a
/// mistake.
fn check_alg(alg: Option<JwsAlgorithm>, key: JwsAlgorithm) -> Result<(), CliError> {
    match alg {
        Some(a) if a != key => Err(CliError::new(
            "INVALID_ARGUMENT",
            format!("--alg {a} does not match the key's algorithm {key}"),
        )),
        _ => Ok(()),
    }
}

impl VerifyKeyArgs {
    /// Loads the key set. With a JWK Set, `--alg` keeps only the keys of
    /// that algorithm.
    pub(crate) fn load(&self, alg: Option<JwsAlgorithm>) -> Result<KeySet, CliError> {
        let single = |key: VerifyingKey| KeySet::new([key]).map_err(CliError::from);
        if let Some(secret) = &self.secret {
            return single(VerifyingKey::hmac(
                secret.as_bytes(),
                hmac_alg(alg, "--secret")?,
            )?);
        }
        if let Some(secret) = &self.secret_base64 {
            return single(VerifyingKey::hmac_base64(
                secret,
                hmac_alg(alg, "--secret-base64")?,
            )?);
        }
        if let Some(path) = &self.pem {
            let alg = need_alg(alg, "--pem")?;
            return single(VerifyingKey::from_pem(&read("PEM file", path)?, alg)?);
        }
        if let Some(path) = &self.jwk {
            let text = read_text("JWK file", path)?;
            // A JWK file is the operator's own configuration, so an `oct` JWK
            // in it is a secret given explicitly (JWK Sets never carry one).
            let key = match VerifyingKey::from_jwk_json(&text) {
                Err(KeyError::SymmetricKey { .. }) => VerifyingKey::from_secret_jwk_json(&text)?,
                other => other?,
            };
            check_alg(alg, key.algorithm())?;
            return single(key);
        }
        let set = if let Some(path) = &self.jwks {
            KeySet::from_jwks_json(&read_text("JWK Set file", path)?)?
        } else if let Some(url) = &self.jwks_url {
            fetch_jwks(url)?
        } else {
            return Err(CliError::new("INVALID_ARGUMENT", "no key given"));
        };
        match alg {
            None => Ok(set),
            Some(alg) => KeySet::new(set.keys().iter().filter(|k| k.algorithm() == alg).cloned())
                .map_err(|_| {
                    CliError::new("INVALID_KEY", format!("no key in the JWK Set uses {alg}"))
                }),
        }
    }
}

/// Fetches a JWK Set through `JwksKeys`, the strategy's own client (https
/// only except loopback, no redirects, timeouts, size limit, the same
/// key-set checks).
fn fetch_jwks(url: &str) -> Result<KeySet, CliError> {
    let keys =
        JwksKeys::from_url(url).map_err(|e| CliError::new("INVALID_ARGUMENT", e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new("INTERNAL", format!("cannot start the runtime: {e}")))?;
    let set = runtime
        .block_on(keys.refresh())
        .map_err(|e| CliError::new("SERVICE_UNAVAILABLE", e.to_string()))?;
    Ok((*set).clone())
}

impl SignKeyArgs {
    /// Loads the signing key.
    pub(crate) fn load(&self, alg: Option<JwsAlgorithm>) -> Result<SigningKey, CliError> {
        if let Some(secret) = &self.secret {
            return Ok(SigningKey::hmac(
                secret.as_bytes(),
                hmac_alg(alg, "--secret")?,
            )?);
        }
        if let Some(secret) = &self.secret_base64 {
            let alg = hmac_alg(alg, "--secret-base64")?;
            return Ok(SigningKey::hmac_base64(secret, alg)?);
        }
        if let Some(path) = &self.pem {
            let alg = need_alg(alg, "--pem")?;
            return Ok(SigningKey::from_pem(&read("PEM file", path)?, alg)?);
        }
        if let Some(path) = &self.jwk {
            let key = SigningKey::from_jwk_json(&read_text("JWK file", path)?)?;
            check_alg(alg, key.algorithm())?;
            return Ok(key);
        }
        Err(CliError::new("INVALID_ARGUMENT", "no key given"))
    }
}
