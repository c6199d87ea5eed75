//! A redis-server started by a test on 127.0.0.1 (a free port, a temporary
//! directory), stopped by its own PID, and restartable on the same port with
//! the same data. Without redis-server the caller skips, except under
//! `CI=true`, where that is a failure (`.ci/services.sh` installs it).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server this test started.
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

fn spawn(port: u16, dir: &Path) -> std::io::Result<Child> {
    // Every write is on disk before Redis answers it (`appendfsync
    // always`), so a server killed and started again on the same directory
    // holds what it held: revocations survive a restart, as they must in
    // production.
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .args(["--protected-mode", "yes"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

impl RedisServer {
    /// `None` when redis-server is not installed (and `CI` is not `true`).
    pub(crate) fn start() -> Option<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = tempfile::tempdir().expect("a temporary directory");
        match spawn(port, dir.path()) {
            Ok(child) => Some(RedisServer {
                child: Some(child),
                port,
                dir,
            }),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("redis-server is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!(
                    "skipped: redis-server not available ({e}); run `source .ci/services.sh && install_redis`"
                );
                None
            }
        }
    }

    /// `redis://127.0.0.1:PORT/0`
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (our own child, by its PID) and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data directory.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn(self.port, self.dir.path()).expect("restart redis-server"));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
