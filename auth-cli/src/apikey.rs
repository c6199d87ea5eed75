//! `apikey create|list|revoke`: API keys of auth-token's [`ApiKeys`], kept in
//! the SQL state store (auth-store's `SqlStore`) an application shares, so a
//! key created or revoked here is seen by every running instance at once.
//!
//! The key is printed once, alone on standard output (for
//! `KEY=$(auth-cli apikey create ...)`); it is never stored, only its hash.

use std::time::Duration;

use auth_store::SqlStore;
use auth_token::{ApiKeyError, ApiKeyRecord, ApiKeys, NewApiKey};
use clap::{Args, Subcommand};

use crate::error::CliError;

/// Where the keys live and what they look like.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The application's state database: `postgres://…` or `sqlite://FILE`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The application's key prefix (`[a-z0-9]+_`).
    #[arg(long, default_value = "ak_")]
    prefix: String,
}

/// API-key commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Creates a key and prints it, once, on standard output.
    Create {
        #[command(flatten)]
        target: Target,
        /// Whose key it is (the user id the key authenticates as).
        #[arg(long)]
        owner: String,
        /// What the owner calls it ("CI deploy").
        #[arg(long, default_value = "")]
        name: String,
        /// A role the key grants (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A scope the key grants (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime: `90d`, `12h`, `30m`, `45s` or seconds; none: no expiry.
        #[arg(long, value_parser = parse_lifetime)]
        expires_in: Option<Duration>,
    },
    /// Lists an owner's keys (never the keys themselves).
    List {
        #[command(flatten)]
        target: Target,
        /// Whose keys.
        #[arg(long)]
        owner: String,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an owner's key by its id (as `list` shows it).
    Revoke {
        #[command(flatten)]
        target: Target,
        /// Whose key.
        #[arg(long)]
        owner: String,
        /// The key's id.
        id: String,
    },
}

/// `90d`, `12h`, `30m`, `45s` or a number of seconds; at least one second.
///
/// Four units do not justify a dependency on a duration-parsing crate.
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: use a number followed by s, m, h or d")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: use a number followed by s, m, h or d"))?;
    let secs = n
        .checked_mul(per_unit)
        .filter(|s| (1..=100 * 365 * 86_400).contains(s))
        .ok_or_else(|| format!("`{text}`: between 1 second and 100 years"))?;
    Ok(Duration::from_secs(secs))
}

impl From<ApiKeyError> for CliError {
    fn from(e: ApiKeyError) -> Self {
        let code = match &e {
            ApiKeyError::NotFound => "NOT_FOUND",
            ApiKeyError::Invalid(_) => "INVALID_INPUT",
            _ => "STATE_STORE",
        };
        CliError::new(code, e.to_string())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new("RUNTIME", e.to_string()))
}

async fn open(target: &Target) -> Result<ApiKeys, CliError> {
    // The URL may hold a password: it is never printed.
    let store = SqlStore::connect(&target.database_url)
        .await
        .map_err(|e| CliError::new("STATE_STORE", format!("cannot open the database: {e}")))?;
    Ok(ApiKeys::new(std::sync::Arc::new(store)).with_prefix(target.prefix.clone())?)
}

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

fn json(record: &ApiKeyRecord, last_used: Option<u64>) -> serde_json::Value {
    serde_json::json!({
        "id": record.id,
        "owner": record.owner,
        "name": record.name,
        "roles": record.roles,
        "scopes": record.scopes,
        "createdAt": rfc3339(record.created_at),
        "expiresAt": record.expires_at.map(rfc3339),
        "lastUsedAt": last_used.map(rfc3339),
    })
}

/// Runs one `apikey` command.
pub(crate) fn run_apikey(cmd: ApiKeyCommand) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        match cmd {
            ApiKeyCommand::Create {
                target,
                owner,
                name,
                roles,
                scopes,
                expires_in,
            } => {
                let keys = open(&target).await?;
                let (key, record) = keys
                    .create(NewApiKey {
                        owner,
                        name,
                        roles,
                        scopes,
                        ttl: expires_in,
                    })
                    .await?;
                println!("{key}");
                eprintln!(
                    "created API key {} for {} (shown once; only its hash is stored)",
                    record.id, record.owner
                );
                Ok(())
            }
            ApiKeyCommand::List {
                target,
                owner,
                json: as_json,
            } => {
                let keys = open(&target).await?;
                let mut rows = Vec::new();
                for record in keys.list(&owner).await? {
                    let last = keys.last_used(&owner, &record.id).await.unwrap_or(None);
                    rows.push(json(&record, last));
                }
                if as_json {
                    println!("{}", serde_json::Value::Array(rows));
                } else {
                    println!("ID\tNAME\tROLES\tSCOPES\tCREATED\tEXPIRES\tLAST USED");
                    for row in rows {
                        let text = |k: &str| row[k].as_str().unwrap_or("-").to_owned();
                        let list = |k: &str| {
                            let items: Vec<&str> = row[k]
                                .as_array()
                                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                                .unwrap_or_default();
                            if items.is_empty() {
                                "-".to_owned()
                            } else {
                                items.join(",")
                            }
                        };
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            text("id"),
                            text("name"),
                            list("roles"),
                            list("scopes"),
                            text("createdAt"),
                            text("expiresAt"),
                            text("lastUsedAt"),
                        );
                    }
                }
                Ok(())
            }
            ApiKeyCommand::Revoke { target, owner, id } => {
                open(&target).await?.revoke(&owner, &id).await?;
                eprintln!("revoked API key {id} of {owner}");
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_with_units_and_refuse_the_rest() {
        for (text, secs) in [
            ("45", 45),
            ("45s", 45),
            ("30m", 1800),
            ("12h", 43_200),
            ("90d", 7_776_000),
        ] {
            assert_eq!(
                parse_lifetime(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in [
            "",
            "d",
            "0",
            "0d",
            "-1d",
            "1w",
            "1.5h",
            "1 h",
            "99999999999999999999d",
            "1dd",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?} accepted");
        }
    }
}
