//! What `tracing` logged during a test, as text (`log` feature).

use std::sync::{Arc, Mutex};

/// A log sink for a `tracing_subscriber` writer: what was logged, as text
/// (no colours). Clones share the text.
///
/// ```
/// let (log, _guard) = auth_test_support::log::Log::capture();
/// tracing::warn!(route = "/a", "no attribute");
/// assert!(log.text().contains("WARN") && log.text().contains("route=\"/a\""));
/// ```
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// A log that captures what this thread's `tracing` events write until
    /// the guard is dropped.
    pub fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(log.clone())
                .with_ansi(false)
                .finish(),
        );
        (log, guard)
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;
    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}
