//! `password hash` and `users add|remove|passwd`: the command line over
//! [`crate::users`]. Passwords come from standard input, never from argv,
//! where other local users could read them in the process list.

use std::io::BufRead;
use std::path::PathBuf;

use auth_password::HashParams;
use clap::{Args, Subcommand};

use crate::error::CliError;
use crate::users as basic_cli;

impl From<basic_cli::CliError> for CliError {
    fn from(e: basic_cli::CliError) -> Self {
        let code = match &e {
            basic_cli::CliError::Input(_) => "INVALID_INPUT",
            basic_cli::CliError::Store(_) => "USER_STORE",
            _ => "HASH_FAILED",
        };
        CliError::new(code, e.to_string())
    }
}

/// argon2id cost, defaulting to the library's defaults.
#[derive(Debug, Args)]
pub(crate) struct Cost {
    /// Memory in KiB.
    #[arg(long)]
    memory_kib: Option<u32>,
    /// Number of passes.
    #[arg(long)]
    iterations: Option<u32>,
    /// Lanes.
    #[arg(long)]
    parallelism: Option<u32>,
}

impl Cost {
    fn params(&self) -> HashParams {
        let d = HashParams::default();
        HashParams {
            memory_kib: self.memory_kib.unwrap_or(d.memory_kib),
            iterations: self.iterations.unwrap_or(d.iterations),
            parallelism: self.parallelism.unwrap_or(d.parallelism),
        }
    }
}

/// Password commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PasswordCommand {
    /// Reads a password from standard input and prints its argon2id PHC string.
    Hash {
        #[command(flatten)]
        cost: Cost,
    },
}

/// users.yml commands.
#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Adds a user; the password is read from standard input.
    Add {
        /// The users.yml file (created if missing).
        #[arg(long)]
        file: PathBuf,
        /// The login name.
        username: String,
        /// A role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Also store Digest HA1 values (SHA-256, SHA-512-256) for this realm.
        #[arg(long)]
        realm: Option<String>,
        /// With --realm: also store the MD5 HA1, for RFC 2617 clients. An
        /// MD5 HA1 is cheap to attack offline if the file leaks.
        #[arg(long, requires = "realm")]
        dangerously_store_md5: bool,
        #[command(flatten)]
        cost: Cost,
    },
    /// Removes a user.
    Remove {
        /// The users.yml file.
        #[arg(long)]
        file: PathBuf,
        /// The login name.
        username: String,
    },
    /// Replaces a user's password, read from standard input.
    Passwd {
        /// The users.yml file.
        #[arg(long)]
        file: PathBuf,
        /// The login name.
        username: String,
        /// Also store Digest HA1 values (SHA-256, SHA-512-256) for this realm.
        #[arg(long)]
        realm: Option<String>,
        /// With --realm: also store the MD5 HA1, for RFC 2617 clients. An
        /// MD5 HA1 is cheap to attack offline if the file leaks.
        #[arg(long, requires = "realm")]
        dangerously_store_md5: bool,
        #[command(flatten)]
        cost: Cost,
    },
}

fn stdin() -> std::io::StdinLock<'static> {
    std::io::stdin().lock()
}

pub(crate) fn run_password(cmd: PasswordCommand) -> Result<(), CliError> {
    match cmd {
        PasswordCommand::Hash { cost } => {
            let mut input = stdin();
            let phc = basic_cli::password_hash(&mut input as &mut dyn BufRead, &cost.params())?;
            println!("{phc}");
            Ok(())
        }
    }
}

fn digest_ha1(realm: Option<String>, md5: bool) -> Option<basic_cli::DigestHa1> {
    let digest = basic_cli::DigestHa1::new(realm?);
    Some(if md5 {
        digest.dangerously_with_md5()
    } else {
        digest
    })
}

pub(crate) fn run_users(cmd: UsersCommand) -> Result<(), CliError> {
    match cmd {
        UsersCommand::Add {
            file,
            username,
            roles,
            realm,
            dangerously_store_md5,
            cost,
        } => Ok(basic_cli::users_add(
            &file,
            &username,
            &roles,
            digest_ha1(realm, dangerously_store_md5).as_ref(),
            &mut stdin(),
            &cost.params(),
        )?),
        UsersCommand::Remove { file, username } => Ok(basic_cli::users_remove(&file, &username)?),
        UsersCommand::Passwd {
            file,
            username,
            realm,
            dangerously_store_md5,
            cost,
        } => Ok(basic_cli::users_passwd(
            &file,
            &username,
            digest_ha1(realm, dangerously_store_md5).as_ref(),
            &mut stdin(),
            &cost.params(),
        )?),
    }
}
