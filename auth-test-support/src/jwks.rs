//! A JWK Set provider for tests: a real HTTP server on 127.0.0.1
//! ([`JwksServer`]), and a fetcher that serves one document without a
//! socket (`StaticJwks`, `jwt` feature).

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A one-connection-at-a-time HTTP server on 127.0.0.1 (plain http is
/// accepted for loopback hosts only) that answers every request with
/// `200 application/json` and its document, and counts the requests. Its
/// thread lives as long as the test process.
///
/// ```
/// let server = auth_test_support::jwks::JwksServer::serve(r#"{"keys":[]}"#.to_owned());
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.hits(), 0);
/// ```
pub struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    /// Binds a free port of 127.0.0.1 and serves `body` from a thread.
    ///
    /// # Panics
    ///
    /// If no port can be bound.
    pub fn serve(body: String) -> JwksServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                counter.fetch_add(1, Ordering::SeqCst);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = stream.write_all(resp.as_bytes());
            }
        });
        JwksServer {
            url: format!("http://{addr}/.well-known/jwks.json"),
            hits,
        }
    }

    /// `http://127.0.0.1:PORT/.well-known/jwks.json`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many requests it has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A [`auth_jwt::JwksFetcher`] that always serves one document and counts
/// its fetches; clones share the count.
///
/// ```
/// use auth_test_support::jwks::StaticJwks;
/// let fetcher = StaticJwks::new(r#"{"keys":[]}"#);
/// let keys = auth_jwt::JwksKeys::with_fetcher(fetcher.clone());
/// # let _ = keys;
/// assert_eq!(fetcher.calls(), 0);
/// ```
#[cfg(feature = "jwt")]
#[derive(Clone)]
pub struct StaticJwks {
    doc: String,
    calls: Arc<AtomicUsize>,
}

#[cfg(feature = "jwt")]
impl StaticJwks {
    /// A fetcher serving `doc`.
    pub fn new(doc: impl Into<String>) -> StaticJwks {
        StaticJwks {
            doc: doc.into(),
            calls: Arc::default(),
        }
    }

    /// How many times it was fetched.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[cfg(feature = "jwt")]
impl auth_jwt::JwksFetcher for StaticJwks {
    fn fetch(
        &self,
    ) -> futures_util::future::LocalBoxFuture<'_, Result<String, auth_jwt::JwksError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let doc = self.doc.clone();
        Box::pin(async move { Ok(doc) })
    }
}
