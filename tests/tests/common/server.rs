//! Starts the real `todo` binary on 127.0.0.1 with a free port and a
//! temporary data directory, and stops it (by its own PID) when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running todo server.
pub(crate) struct TodoServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub(crate) base: String,
    /// The server's data directory (holds the generated signing key),
    /// removed when the server is dropped.
    #[allow(dead_code)] // read by some of the test binaries that include this file
    pub(crate) data: tempfile::TempDir,
    /// Every line the server printed after it started listening.
    #[allow(dead_code)] // read by some of the test binaries that include this file
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

/// The todo binary built by `cargo build`/`cargo test --workspace`.
fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join("todo");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p todo` (the workspace test run does)",
        path.display()
    );
    path
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl TodoServer {
    /// Starts the server with `env` on top of a fresh data directory.
    pub(crate) fn start(env: &[(&str, &str)]) -> TodoServer {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("TODO_DATA_DIR", data.path())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the todo binary");
        let rx = auth_test_support::process::lines(&mut child, strip_ansi);
        let mut seen = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(i) = line.find("listening on http://") {
                        let url = &line[i + "listening on ".len()..];
                        break url.split_whitespace().next().unwrap().to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("todo did not start; it printed:\n{}", seen.join("\n"));
                }
            }
        };
        // Forward later output to the test's own output for diagnosis, and
        // keep it for tests that read the logs.
        let log = Arc::new(Mutex::new(Vec::new()));
        let port = base.rsplit(':').next().unwrap_or_default().to_owned();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in rx {
                println!("[todo {port}] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        TodoServer {
            child,
            base,
            data,
            log,
        }
    }

    /// Whether the process is still running (it did not exit or panic).
    #[allow(dead_code)] // used by some of the test binaries that include this file
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The lines logged so far that contain `text`.
    #[allow(dead_code)] // used by some of the test binaries that include this file
    pub(crate) fn logged(&self, text: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .cloned()
            .collect()
    }

    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Drop for TodoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
