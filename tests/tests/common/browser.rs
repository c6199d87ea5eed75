//! Runs the browser scripts of `.ci/browser` (playwright-core driving the
//! system's Chromium, headless) with Node.js, for end-to-end tests of pages.
//!
//! `.ci/services.sh` installs what they need (`install_browser`: Debian's
//! `chromium` and the pinned `playwright-core`). Without it the tests that
//! need a browser are skipped with a message, except under `CI=true`, where
//! a missing browser is a failure.
//!
//! A script imports `.ci/browser/harness.mjs`, prints `ok - <check>` for
//! each check that passed and exits non-zero on the first that did not;
//! [`run_script`] returns the checks, and the test asserts the ones it
//! expects, so a script that silently stops early fails too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `.ci/browser`.
pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/browser")
}

/// The Chromium binary: `BROWSER_EXECUTABLE`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("BROWSER_EXECUTABLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether a browser test can run here; `false` means "skip", and is only
/// possible outside CI.
pub(crate) fn available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let playwright = browser_dir()
        .join("node_modules/playwright-core/package.json")
        .exists();
    let chromium = chromium();
    let why = if !node {
        "node is not installed".to_owned()
    } else if !playwright {
        format!(
            "{} has no node_modules: run `source .ci/services.sh && install_browser`",
            browser_dir().display()
        )
    } else if !chromium.exists() {
        format!(
            "{} is missing: run `source .ci/services.sh && install_browser` (apt-get install chromium)",
            chromium.display()
        )
    } else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "a headless browser is required under CI=true: {why}"
    );
    eprintln!("skipped: no headless browser here ({why})");
    false
}

/// What a script printed.
pub(crate) struct ScriptRun {
    /// The descriptions of the checks that passed, in order.
    pub(crate) passed: Vec<String>,
    /// Everything it printed.
    pub(crate) output: String,
}

impl ScriptRun {
    /// Panics unless a passed check contains `text`.
    pub(crate) fn assert_passed(&self, text: &str) {
        assert!(
            self.passed.iter().any(|c| c.contains(text)),
            "no passed check mentions {text:?}; the script printed:\n{}",
            self.output
        );
    }
}

/// Runs `.ci/browser/<script>` with `env`; panics with its output when it
/// fails or takes longer than `timeout` (the process is killed, by its PID).
pub(crate) fn run_script(script: &str, env: &[(&str, &str)], timeout: Duration) -> ScriptRun {
    let mut child = Command::new("node")
        .arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .env("BROWSER_EXECUTABLE", chromium())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let rx = auth_test_support::process::lines(&mut child, str::to_owned);
    let started = Instant::now();
    let mut lines = Vec::new();
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                println!("[{script}] {line}");
                lines.push(line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{script} did not finish within {timeout:?}; it printed:\n{}",
                    lines.join("\n")
                );
            }
        }
    }
    let status = child.wait().expect("wait for node");
    let output = lines.join("\n");
    assert!(
        status.success(),
        "{script} failed ({status}); it printed:\n{output}"
    );
    let passed = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ok - ").map(str::to_owned))
        .collect();
    ScriptRun { passed, output }
}
