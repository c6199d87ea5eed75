//! `jwt` and `jws` commands: verify, mint, keygen.
//!
//! Verification goes through `auth_jwt::verify_jwt` / `verify_jws` with a
//! `ClaimRules` built like the strategy's, so a token this tool accepts is a
//! token the strategy accepts with the same keys and rules.

mod keygen;
mod keys;

use std::io::{Read as _, Write as _};

use auth_jwt::{ClaimRules, DEFAULT_MAX_TOKEN_LEN, JwsAlgorithm, verify_jws, verify_jwt};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::error::CliError;
use keys::{SignKeyArgs, VerifyKeyArgs, parse_alg};

/// `auth-cli jwt ...`
#[derive(Debug, Subcommand)]
pub(crate) enum JwtCommand {
    /// Verify a JWT and print its claims as JSON.
    Verify(VerifyArgs),
    /// Sign claims as a JWT and print it.
    Mint(MintArgs),
    /// Generate a private JWK (HMAC secret, EC P-256/P-384/P-521 or Ed25519)
    /// and print it.
    Keygen(keygen::KeygenArgs),
}

/// `auth-cli jws ...`
#[derive(Debug, Subcommand)]
pub(crate) enum JwsCommand {
    /// Verify the signature of a compact JWS and print its payload bytes.
    Verify(JwsVerifyArgs),
}

/// Arguments of `jwt verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The token; read from standard input when absent.
    token: Option<String>,
    #[command(flatten)]
    key: VerifyKeyArgs,
    /// The algorithm; required for --secret, --secret-base64 and --pem.
    #[arg(long, value_parser = parse_alg, required_unless_present_any = ["jwk", "jwks", "jwks_url"])]
    alg: Option<JwsAlgorithm>,
    /// Accepted issuer (repeatable); `iss` becomes required.
    #[arg(long)]
    iss: Vec<String>,
    /// Accepted audience (repeatable); `aud` becomes required. Without it
    /// a token carrying `aud` is refused, as the strategy does (RFC 7519
    /// §4.1.3), unless --any-audience is given.
    #[arg(long)]
    aud: Vec<String>,
    /// Accept the token whatever audience it names (no --aud).
    #[arg(long, conflicts_with = "aud")]
    any_audience: bool,
    /// Clock skew allowed for `exp`/`nbf`, in seconds [default: the
    /// strategy's, 30].
    #[arg(long)]
    leeway: Option<u64>,
    /// Largest token accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKEN_LEN)]
    max_len: usize,
}

/// Arguments of `jws verify`.
#[derive(Debug, Args)]
pub(crate) struct JwsVerifyArgs {
    /// The compact JWS; read from standard input when absent.
    jws: Option<String>,
    #[command(flatten)]
    key: VerifyKeyArgs,
    /// The algorithm; required for --secret, --secret-base64 and --pem.
    #[arg(long, value_parser = parse_alg, required_unless_present_any = ["jwk", "jwks", "jwks_url"])]
    alg: Option<JwsAlgorithm>,
    /// Largest JWS accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKEN_LEN)]
    max_len: usize,
}

/// Arguments of `jwt mint`.
#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The claims, a JSON object. `iat` and `exp` are added unless present.
    #[arg(long)]
    claims: String,
    #[command(flatten)]
    key: SignKeyArgs,
    /// The algorithm; required for --secret, --secret-base64 and --pem.
    #[arg(long, value_parser = parse_alg, required_unless_present = "jwk")]
    alg: Option<JwsAlgorithm>,
    /// Lifetime in seconds, for `exp` when the claims have none.
    #[arg(long, default_value_t = 900)]
    ttl: u64,
    /// Sets `iss` (overrides the claims).
    #[arg(long)]
    iss: Option<String>,
    /// Sets `aud` (repeatable: several make an array; overrides the claims).
    #[arg(long)]
    aud: Vec<String>,
    /// Sets the header `kid` (overrides a JWK's own `kid`).
    #[arg(long)]
    kid: Option<String>,
}

/// Runs a `jwt` command.
pub(crate) fn run_jwt(cmd: JwtCommand) -> Result<(), CliError> {
    match cmd {
        JwtCommand::Verify(args) => verify(args),
        JwtCommand::Mint(args) => mint(args),
        JwtCommand::Keygen(args) => keygen::run(args),
    }
}

/// Runs a `jws` command.
pub(crate) fn run_jws(cmd: JwsCommand) -> Result<(), CliError> {
    match cmd {
        JwsCommand::Verify(args) => jws_verify(args),
    }
}

/// The token from the argument or from standard input, trimmed (a trailing
/// newline from `echo` or a file is not part of a token).
fn token_input(arg: Option<String>, max_len: usize) -> Result<String, CliError> {
    let token = match arg {
        Some(t) => t,
        None => {
            let mut buf = String::new();
            // Read a little past the limit so an oversize token still fails
            // as TooLarge in the verifier rather than being cut silently,
            // without reading an unbounded stream into memory.
            std::io::stdin()
                .take(max_len.saturating_add(4096) as u64)
                .read_to_string(&mut buf)
                .map_err(|e| {
                    CliError::new("IO_ERROR", format!("cannot read standard input: {e}"))
                })?;
            buf
        }
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(CliError::new("INVALID_ARGUMENT", "no token given"));
    }
    Ok(token.to_owned())
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new("IO_ERROR", format!("cannot write standard output: {e}")))
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let keys = args.key.load(args.alg)?;
    let token = token_input(args.token, args.max_len)?;
    let mut rules = ClaimRules {
        issuers: args.iss,
        audiences: args.aud,
        any_audience: args.any_audience,
        max_len: args.max_len,
        ..ClaimRules::default()
    };
    if let Some(leeway) = args.leeway {
        rules.leeway = leeway;
    }
    let verified = verify_jwt(&token, &keys, &rules)?;
    let mut json = serde_json::to_string_pretty(&*verified.claims)
        .map_err(|e| CliError::new("INTERNAL", e.to_string()))?;
    json.push('\n');
    write_stdout(json.as_bytes())
}

fn jws_verify(args: JwsVerifyArgs) -> Result<(), CliError> {
    let keys = args.key.load(args.alg)?;
    let jws = token_input(args.jws, args.max_len)?;
    let verified = verify_jws(&jws, &keys, args.max_len)?;
    // The payload is printed as is: it may be binary, so no newline.
    write_stdout(&verified.payload)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn mint(args: MintArgs) -> Result<(), CliError> {
    let mut key = args.key.load(args.alg)?;
    if let Some(kid) = args.kid {
        key = key.with_kid(kid);
    }
    let mut claims: Map<String, Value> = match serde_json::from_str(&args.claims) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(CliError::new(
                "INVALID_ARGUMENT",
                "--claims must be a JSON object",
            ));
        }
        Err(e) => {
            return Err(CliError::new(
                "INVALID_ARGUMENT",
                format!("--claims is not JSON: {e}"),
            ));
        }
    };
    let iat = now();
    claims.entry("iat").or_insert_with(|| iat.into());
    claims
        .entry("exp")
        .or_insert_with(|| iat.saturating_add(args.ttl).into());
    if let Some(iss) = args.iss {
        claims.insert("iss".into(), iss.into());
    }
    match args.aud.len() {
        0 => {}
        1 => {
            claims.insert("aud".into(), args.aud[0].clone().into());
        }
        _ => {
            claims.insert("aud".into(), args.aud.into());
        }
    }
    let token = key
        .sign(&Value::Object(claims), None)
        .map_err(|e| CliError::new("SIGNING_FAILED", e.to_string()))?;
    write_stdout(format!("{token}\n").as_bytes())
}
