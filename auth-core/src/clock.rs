//! One clock for everything that expires: store entries, brute-force
//! windows, Digest nonces, token lifetimes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time, in milliseconds since the Unix epoch.
///
/// Everything in the workspace that reads the time takes an
/// `Arc<dyn Clock>`, so a test moves time with a [`ManualClock`] instead of
/// sleeping. [`SystemClock`] is the default everywhere.
///
/// ```
/// use auth_core::{Clock, SystemClock};
/// let now = SystemClock.now_ms();
/// assert!(now > 1_600_000_000_000);
/// assert_eq!(SystemClock.now_secs(), now / 1000);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Now, in whole seconds since the Unix epoch (JWT NumericDate).
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// The operating system's clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock set before 1970 reads as the epoch: every expiry then lies
        // in the future of "now" only as far as its ttl, never forever.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// `d` in whole milliseconds, saturating at `u64::MAX` (what the clocks
/// count in).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A clock moved by hand, for tests. Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use auth_core::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// clock.set_ms(10_000);
/// assert_eq!(clock.now_secs(), 10);
/// assert_eq!(ManualClock::at_secs(5).now_ms(), 5_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `ms` milliseconds since the epoch.
    pub fn new(ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(ms)))
    }

    /// A clock standing at `secs` seconds since the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self::new(secs.saturating_mul(1000))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = millis(by);
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Sets the clock to `ms` milliseconds since the epoch (also backwards).
    pub fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `ttl` from `now_ms`, in milliseconds, saturating; at least 1 ms so that
/// an entry written with a zero ttl is never immortal nor negative.
pub(crate) fn deadline(now_ms: u64, ttl: Duration) -> u64 {
    let ttl = millis(ttl).max(1);
    now_ms.saturating_add(ttl)
}
