//! `jwt keygen`: fresh keys from the operating system's CSPRNG, printed as
//! private JWKs that `--jwk` loads for both `mint` and `verify`.

use auth_jwt::{JwsAlgorithm, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use clap::{Args, ValueEnum};
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde_json::{Map, Value, json};

use super::keys::parse_alg;
use crate::error::CliError;

/// Kinds of key `keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyType {
    /// An HMAC secret (`oct`), as long as the hash output.
    Hmac,
    /// An EC key pair, P-256 (ES256), P-384 (ES384) or P-521 (ES512).
    Ec,
    /// An Ed25519 key pair (EdDSA).
    Ed25519,
}

/// Arguments of `jwt keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// The kind of key.
    #[arg(long = "type", value_enum)]
    key_type: KeyType,
    /// The algorithm [default: HS256 for hmac, ES256 for ec (ES384 and ES512
    /// choose P-384 and P-521), EdDSA for ed25519].
    #[arg(long, value_parser = parse_alg)]
    alg: Option<JwsAlgorithm>,
    /// The key id to put in the JWK.
    #[arg(long)]
    kid: Option<String>,
}

fn wrong(alg: JwsAlgorithm, key_type: KeyType) -> CliError {
    // The name as typed on the command line (`ec`), not the Rust variant.
    let name = key_type
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    CliError::new(
        "INVALID_ARGUMENT",
        format!("--alg {alg} cannot be used with --type {name}"),
    )
}

/// Builds the private JWK for the arguments.
fn generate(args: &KeygenArgs) -> Result<Map<String, Value>, CliError> {
    let mut rng = OsRng;
    let jwk = match args.key_type {
        KeyType::Hmac => {
            let alg = args.alg.unwrap_or(JwsAlgorithm::HS256);
            // RFC 7518 §3.2: at least the hash output; exactly that is enough.
            let len = match alg {
                JwsAlgorithm::HS256 => 32,
                JwsAlgorithm::HS384 => 48,
                JwsAlgorithm::HS512 => 64,
                other => return Err(wrong(other, args.key_type)),
            };
            let mut secret = vec![0u8; len];
            rng.fill_bytes(&mut secret);
            json!({"kty": "oct", "alg": alg.to_string(), "use": "sig", "k": B64.encode(&secret)})
        }
        KeyType::Ec => match args.alg.unwrap_or(JwsAlgorithm::ES256) {
            JwsAlgorithm::ES256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint as _;
                let secret = p256::SecretKey::random(&mut rng);
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(CliError::new("INTERNAL", "generated an identity point"));
                };
                json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                       "x": B64.encode(x), "y": B64.encode(y), "d": B64.encode(secret.to_bytes())})
            }
            JwsAlgorithm::ES384 => {
                use p384::elliptic_curve::sec1::ToEncodedPoint as _;
                let secret = p384::SecretKey::random(&mut rng);
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(CliError::new("INTERNAL", "generated an identity point"));
                };
                json!({"kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig",
                       "x": B64.encode(x), "y": B64.encode(y), "d": B64.encode(secret.to_bytes())})
            }
            JwsAlgorithm::ES512 => {
                use p521::elliptic_curve::sec1::ToEncodedPoint as _;
                let secret = p521::SecretKey::random(&mut rng);
                // Uncompressed SEC1 and `to_bytes` keep leading zeros: x, y
                // and d are the full 66 bytes RFC 7518 §6.2.1.2 asks for.
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(CliError::new("INTERNAL", "generated an identity point"));
                };
                json!({"kty": "EC", "crv": "P-521", "alg": "ES512", "use": "sig",
                       "x": B64.encode(x), "y": B64.encode(y), "d": B64.encode(secret.to_bytes())})
            }
            other => return Err(wrong(other, args.key_type)),
        },
        KeyType::Ed25519 => match args.alg.unwrap_or(JwsAlgorithm::EdDSA) {
            JwsAlgorithm::EdDSA => {
                let secret = ed25519_dalek::SigningKey::generate(&mut rng);
                json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                       "x": B64.encode(secret.verifying_key().as_bytes()),
                       "d": B64.encode(secret.to_bytes())})
            }
            other => return Err(wrong(other, args.key_type)),
        },
    };
    let Value::Object(mut jwk) = jwk else {
        return Err(CliError::new("INTERNAL", "JWK is not an object"));
    };
    if let Some(kid) = &args.kid {
        jwk.insert("kid".into(), kid.clone().into());
    }
    Ok(jwk)
}

/// Runs `jwt keygen`.
pub(crate) fn run(args: KeygenArgs) -> Result<(), CliError> {
    let jwk = serde_json::to_string_pretty(&Value::Object(generate(&args)?))
        .map_err(|e| CliError::new("INTERNAL", e.to_string()))?;
    // Load it back the way `--jwk` will, so a key that `mint` or `verify`
    // would refuse is never printed.
    SigningKey::from_jwk_json(&jwk)?;
    super::write_stdout(format!("{jwk}\n").as_bytes())
}
