//! Starts the real OpenID provider of `.ci/oidc` (oidc-provider on Node.js)
//! on 127.0.0.1 and stops it, by its own PID, when dropped.
//!
//! `.ci/services.sh` installs its Node packages (`install_oidc_provider`).
//! Without them the tests that need the provider are skipped with a message,
//! except under `CI=true`, where a missing provider is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running provider.
pub(crate) struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`, also the issuer.
    pub(crate) issuer: String,
    #[allow(dead_code)] // not every test restarts a provider on its port
    pub(crate) port: u16,
}

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/oidc")
}

/// Whether the provider can run here; `false` means "skip", and is only
/// possible outside CI.
pub(crate) fn available() -> bool {
    let dir = provider_dir();
    let installed = dir.join("node_modules/oidc-provider/package.json").exists();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed && node {
        return true;
    }
    let why = if node {
        format!(
            "{} has no node_modules: run `source .ci/services.sh && install_oidc_provider`",
            dir.display()
        )
    } else {
        "node is not installed".to_owned()
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the OpenID provider is required under CI=true: {why}"
    );
    eprintln!("skipped: the OpenID provider cannot run here ({why})");
    false
}

impl OidcProvider {
    /// Starts a provider with fresh keys, on `port` (0: a free one).
    ///
    /// A provider that exits before it listens is a failure at once, with
    /// what it printed. One that stays silent for 45 s is stopped and started
    /// once more: its start-up (Node.js loading the package, generating an
    /// RSA key) is not what these tests examine, and on a loaded shared
    /// machine it has been seen to stall once.
    pub(crate) fn start(port: u16) -> OidcProvider {
        Self::start_with(port, &[])
    }

    #[allow(dead_code)] // used by the client credentials tests only
    /// [`OidcProvider::start`] with environment variables for
    /// `provider.mjs` (e.g. `OIDC_ACCESS_TOKEN_TTL`).
    pub(crate) fn start_with(port: u16, env: &[(&str, &str)]) -> OidcProvider {
        const ATTEMPTS: usize = 2;
        for attempt in 1..=ATTEMPTS {
            match Self::try_start(port, env) {
                Ok(provider) => return provider,
                Err(why) if attempt < ATTEMPTS => {
                    eprintln!("{why}; starting it again");
                }
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    fn try_start(port: u16, env: &[(&str, &str)]) -> Result<OidcProvider, String> {
        let started = std::time::Instant::now();
        let mut child = Command::new("node")
            .arg(provider_dir().join("provider.mjs"))
            .env("OIDC_PORT", port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        let rx = auth_test_support::process::lines(&mut child, str::to_owned);
        let mut seen = Vec::new();
        let issuer = loop {
            match rx.recv_timeout(Duration::from_secs(45)) {
                Ok(line) => {
                    if let Some(i) = line.find("listening on ") {
                        break line[i + "listening on ".len()..].trim().to_owned();
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    panic!(
                        "oidc-provider exited ({status:?}) before it listened; it printed:\n{}",
                        seen.join("\n")
                    );
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "oidc-provider (port {port}) did not listen within {:.1?}; it printed:\n{}",
                        started.elapsed(),
                        seen.join("\n")
                    ));
                }
            }
        };
        std::thread::spawn(move || {
            for line in rx {
                println!("[oidc-provider] {line}");
            }
        });
        let port = issuer.rsplit(':').next().unwrap().parse().unwrap();
        Ok(OidcProvider {
            child,
            issuer,
            port,
        })
    }

    /// The provider's discovery document.
    pub(crate) async fn discovery(&self, http: &reqwest::Client) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let body = http.get(url).send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// An access token (an RFC 9068 JWT for `https://api.test`) from the
    /// client credentials grant of client `service-a`.
    pub(crate) async fn client_credentials_token(&self, http: &reqwest::Client) -> String {
        self.service_a_token(http, "").await
    }

    /// An opaque access token for the resource `https://opaque.test`, from
    /// the client credentials grant of client `service-a`: checked by
    /// introspection only.
    #[allow(dead_code)] // used by the introspection tests only
    pub(crate) async fn opaque_token(&self, http: &reqwest::Client) -> String {
        let token = self
            .service_a_token(http, "&resource=https%3A%2F%2Fopaque.test")
            .await;
        assert!(!token.contains('.'), "an opaque token, not a JWT: {token}");
        token
    }

    /// `service-a`'s client credentials grant, scope `todos:read`, with
    /// `extra` form parameters appended.
    async fn service_a_token(&self, http: &reqwest::Client, extra: &str) -> String {
        let resp = http
            .post(format!("{}/token", self.issuer))
            .basic_auth("service-a", Some("service-a-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&scope=todos%3Aread{extra}"
            ))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "token endpoint: {}",
            resp.status()
        );
        let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Stops the provider and waits for it to exit.
    pub(crate) fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client for loopback (no proxy; reqwest wants a TLS provider even
/// for plain HTTP). No idle connections are kept: the tests restart the
/// provider on the same port, and a pooled connection would reach the old
/// process.
pub(crate) fn http() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}
