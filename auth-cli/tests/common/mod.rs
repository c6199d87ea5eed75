//! Runs the real `auth-cli` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `auth-cli ARGS` with `stdin` as its standard input (closed after it).
pub(crate) fn run_cli(args: &[&str], stdin: &[u8]) -> Output {
    run_cli_with(args, stdin, &[])
}

/// `auth-cli ARGS` with no input and environment variables set (`Some`) or
/// removed (`None`).
#[allow(dead_code)] // not every test file changes the environment
pub(crate) fn run_cli_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    run_cli_with(args, b"", env)
}

fn run_cli_with(args: &[&str], stdin: &[u8], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_auth-cli"));
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("auth-cli runs");
    // A command that fails before reading its input (e.g. the user already
    // exists) may exit first: the pipe is then closed, which is not an error
    // of the test. Dropping the pipe tells the tool the input is complete.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        result => result.unwrap(),
    }
    child.wait_with_output().unwrap()
}
