//! `auth-cli`: command-line tools for the actix-web authentication framework.
//!
//! `main` only parses the command line and dispatches; each command group
//! lives in its own module and returns `Result<(), CliError>`, so adding a
//! group (e.g. `basic`) is one module, one enum variant and one match arm.

#[cfg(feature = "apikey")]
mod apikey;
mod basic;
mod error;
mod jwt;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// Verify, mint and generate keys for JWTs with the same key handling and
/// verification as the `jwt` strategy.
#[derive(Debug, Parser)]
#[command(name = "auth-cli", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// JSON Web Tokens: verify, mint, keygen.
    #[command(subcommand)]
    Jwt(jwt::JwtCommand),
    /// Compact JWS whose payload need not be JSON: verify.
    #[command(subcommand)]
    Jws(jwt::JwsCommand),
    /// Passwords: hash (read from standard input).
    #[command(subcommand)]
    Password(basic::PasswordCommand),
    /// users.yml files: add, remove, passwd.
    #[command(subcommand)]
    Users(basic::UsersCommand),
    /// API keys in an application's SQL state store: create, list, revoke.
    #[cfg(feature = "apikey")]
    #[command(subcommand)]
    Apikey(apikey::ApiKeyCommand),
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Jwt(cmd) => jwt::run_jwt(cmd),
        Command::Jws(cmd) => jwt::run_jws(cmd),
        Command::Password(cmd) => basic::run_password(cmd),
        Command::Users(cmd) => basic::run_users(cmd),
        #[cfg(feature = "apikey")]
        Command::Apikey(cmd) => apikey::run_apikey(cmd),
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
