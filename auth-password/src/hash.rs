//! Password hashing: argon2id PHC strings by default, bcrypt verified for
//! migration, and a bounded pool of hashing threads.
//!
//! Hashing is deliberately slow, so it never runs on an async worker. A
//! [`PasswordHasher`] owns a few OS threads and a bounded queue in front of
//! them; when the queue is full the request is shed at once with
//! [`AuthError::Unavailable`] (503 + `Retry-After`) instead of piling up, so a
//! flood of password guesses costs a fixed amount of memory and CPU and the
//! async workers stay free for other routes. Each client gets only its share
//! of the pool ([`HasherConfig::per_client`]); see
//! [fair shedding](PasswordHasher#fair-shedding).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use auth_core::AuthError;
use subtle::ConstantTimeEq;

/// Why a password could not be hashed or a stored hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The stored string is neither an argon2 PHC string nor a bcrypt hash.
    #[error("stored password hash has an unknown format")]
    UnknownFormat,
    /// The hashing library refused the input or the parameters.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right.
    Match {
        /// The stored hash uses another algorithm (bcrypt, argon2i/d) or
        /// weaker parameters than the current ones, and should be replaced by
        /// a fresh hash of the password that was just verified.
        needs_rehash: bool,
    },
    /// The password is wrong (or the user is unknown).
    Mismatch,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_match(self) -> bool {
        matches!(self, Verification::Match { .. })
    }
}

/// The argon2id parameters used for new hashes.
///
/// The default is the argon2 crate's: m = 19 MiB, t = 2, p = 1 (OWASP's
/// first recommendation).
///
/// ```
/// use auth_password::HashParams;
/// let p = HashParams::default();
/// assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19_456, 2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl HashParams {
    /// Small parameters for tests only: hashes stay argon2id PHC strings but
    /// take well under a millisecond. Never use them in production.
    pub fn insecure_for_tests() -> Self {
        HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>, HashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError::Hashing(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes `password` into an argon2id PHC string with a random salt.
///
/// Blocking and slow by design: call it from a [`PasswordHasher`] or a CLI,
/// never directly on an async worker.
///
/// ```
/// use auth_password::{hash_password, verify_password, HashParams, Verification};
/// let params = HashParams::insecure_for_tests();
/// let phc = hash_password(&params, "s3cret").unwrap();
/// assert!(phc.starts_with("$argon2id$v=19$"));
/// assert_eq!(
///     verify_password(&params, "s3cret", &phc).unwrap(),
///     Verification::Match { needs_rehash: false }
/// );
/// assert_eq!(verify_password(&params, "guess", &phc).unwrap(), Verification::Mismatch);
/// ```
pub fn hash_password(params: &HashParams, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    params
        .argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hashing(e.to_string()))
}

#[cfg(feature = "bcrypt")]
fn verify_bcrypt(password: &str, stored: &str) -> Result<Verification, HashError> {
    // bcrypt only looks at the first 72 bytes; accepting a longer password
    // would make every suffix valid, so refuse it instead.
    if password.len() > 72 {
        return Ok(Verification::Mismatch);
    }
    match bcrypt::verify(password, stored) {
        Ok(true) => Ok(Verification::Match { needs_rehash: true }),
        Ok(false) => Ok(Verification::Mismatch),
        Err(_) => Err(HashError::UnknownFormat),
    }
}

/// Without the `bcrypt` feature a bcrypt hash is a format this build does
/// not know: it verifies like an unknown user (see [`HashError::UnknownFormat`]).
#[cfg(not(feature = "bcrypt"))]
fn verify_bcrypt(_password: &str, _stored: &str) -> Result<Verification, HashError> {
    Err(HashError::UnknownFormat)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Checks `password` against a stored argon2 PHC string or bcrypt hash.
///
/// Both libraries compare the derived hash in constant time. A bcrypt match
/// always reports `needs_rehash` (migration to argon2id); an argon2 match
/// reports it when the variant, version or parameters differ from `current`.
///
/// ```
/// # #[cfg(feature = "bcrypt")] {
/// use auth_password::{verify_password, HashParams, Verification};
/// let bcrypt = bcrypt::hash("hunter2", 4).unwrap();
/// assert_eq!(
///     verify_password(&HashParams::default(), "hunter2", &bcrypt).unwrap(),
///     Verification::Match { needs_rehash: true }
/// );
/// # }
/// ```
pub fn verify_password(
    current: &HashParams,
    password: &str,
    stored: &str,
) -> Result<Verification, HashError> {
    if is_bcrypt(stored) {
        return verify_bcrypt(password, stored);
    }
    let parsed = PasswordHash::new(stored).map_err(|_| HashError::UnknownFormat)?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(HashError::UnknownFormat);
    }
    if verify_argon2(password, &parsed)? {
        Ok(Verification::Match {
            needs_rehash: needs_rehash(current, stored),
        })
    } else {
        Ok(Verification::Mismatch)
    }
}

thread_local! {
    /// argon2's working memory (m_cost KiB), kept per hashing thread and
    /// reused: allocating 19 MiB per verification let the allocator's
    /// per-thread arenas grow far past threads × m_cost under a flood.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Recomputes an argon2 hash with the stored parameters and salt into reused
/// memory, and compares it in constant time.
fn verify_argon2(password: &str, parsed: &PasswordHash<'_>) -> Result<bool, HashError> {
    let bad = |e: &dyn fmt::Display| HashError::Hashing(e.to_string());
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|_| HashError::UnknownFormat)?;
    let version = Version::try_from(parsed.version.unwrap_or(Version::V0x13.into()))
        .map_err(|_| HashError::UnknownFormat)?;
    let params = Params::try_from(parsed).map_err(|e| bad(&e))?;
    let expected = parsed.hash.ok_or(HashError::UnknownFormat)?;
    let salt = parsed.salt.ok_or(HashError::UnknownFormat)?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| bad(&e))?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::new());
        }
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .map_err(|e| bad(&e))
    })?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

/// Whether a stored hash should be replaced by one made with `current`:
/// bcrypt, argon2i/argon2d, an older argon2 version, or other parameters.
///
/// ```
/// use auth_password::{hash_password, needs_rehash, HashParams};
/// let weak = HashParams::insecure_for_tests();
/// let phc = hash_password(&weak, "pw").unwrap();
/// assert!(!needs_rehash(&weak, &phc));
/// assert!(needs_rehash(&HashParams::default(), &phc));
/// ```
pub fn needs_rehash(current: &HashParams, stored: &str) -> bool {
    if is_bcrypt(stored) {
        return true;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    if parsed.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() != current.memory_kib
                || p.t_cost() != current.iterations
                || p.p_cost() != current.parallelism
        }
        Err(_) => true,
    }
}

/// Sizing of a [`PasswordHasher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HasherConfig {
    /// argon2id parameters for new hashes and for the dummy hash.
    pub params: HashParams,
    /// Hashes computed at once (OS threads). Default: one less than the
    /// number of CPUs (at least one), so that a flood of password guesses
    /// keeps every hashing thread busy and still leaves a CPU to the async
    /// workers serving the other routes.
    pub threads: usize,
    /// Hashes allowed to wait for a thread; one more is shed with 503.
    /// Default: 4 × threads.
    pub queue: usize,
    /// Hashes one client may have running or waiting at once (its share of
    /// `threads + queue`); one more from the same client is refused at once
    /// with 429 + `Retry-After`. Default: 2. Work not attributed to a client
    /// ([`PasswordHasher::verify`], [`PasswordHasher::hash`]) is bound by the
    /// queue only. Values below 1 are read as 1.
    pub per_client: usize,
    /// The `Retry-After` sent when a request is shed. Default: 1 s.
    pub retry_after: Duration,
}

impl Default for HasherConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1).max(1))
            .unwrap_or(1);
        HasherConfig {
            params: HashParams::default(),
            threads,
            queue: threads * 4,
            per_client: 2,
            retry_after: Duration::from_secs(1),
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Inner {
    tx: SyncSender<Job>,
    params: HashParams,
    retry_after: Duration,
    per_client: usize,
    dummy: Arc<OnceLock<String>>,
    verifications: Arc<AtomicU64>,
    shed: AtomicU64,
    queued: Arc<AtomicU64>,
    /// Jobs running or waiting, per client. An entry exists only while its
    /// count is above zero, so the map never holds more than
    /// `threads + queue` entries.
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One client's claim on the pool, released when the job is done (or dropped
/// unrun): held by the job itself, so a client that hangs up does not free
/// its share while its hash still runs.
struct ClientSlot {
    client: IpAddr,
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// A bounded pool of hashing threads (cheap to clone; clones share the pool).
///
/// # Fair shedding
///
/// The pool holds `threads + queue` jobs (running or waiting); past that a
/// request is shed with 503 + `Retry-After`. Work done for a client
/// ([`verify_for`](Self::verify_for), [`run_for`](Self::run_for), which
/// auth-basic's `BasicStrategy` uses with the client address the
/// [`BruteForceGuard`](auth_core::BruteForceGuard) sees) is also bounded per
/// client: one client holds at most [`HasherConfig::per_client`] of those
/// places, and one more of its requests is refused at once with 429 +
/// `Retry-After`, which the guard counts as a failure of that client. So a
/// client flooding wrong passwords over many connections occupies two places,
/// reaches the guard's limit within its first burst, and the rest of the pool
/// stays free for everyone else.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use auth_password::{HashParams, HasherConfig, PasswordHasher};
/// let hasher = PasswordHasher::new(HasherConfig {
///     params: HashParams::insecure_for_tests(),
///     ..HasherConfig::default()
/// });
/// let phc = hasher.hash("s3cret").await.unwrap();
/// assert!(hasher.verify("s3cret", Some(&phc)).await.unwrap().is_match());
/// // An unknown user: verified against the dummy hash, never a match.
/// assert!(!hasher.verify("s3cret", None).await.unwrap().is_match());
/// // Counters: verifications that ran, requests shed.
/// assert_eq!((hasher.verifications(), hasher.shed()), (2, 0));
/// # }
/// ```
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("per_client", &self.inner.per_client)
            .finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::new(HasherConfig::default())
    }
}

impl PasswordHasher {
    /// Starts `config.threads` hashing threads (at least one).
    pub fn new(config: HasherConfig) -> Self {
        let (tx, rx) = sync_channel::<Job>(config.queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..config.threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("auth-hash-{i}"))
                .spawn(move || worker(&rx))
                .expect("spawning a password hashing thread");
        }
        PasswordHasher {
            inner: Arc::new(Inner {
                tx,
                params: config.params,
                retry_after: config.retry_after,
                per_client: config.per_client.max(1),
                dummy: Arc::new(OnceLock::new()),
                verifications: Arc::new(AtomicU64::new(0)),
                shed: AtomicU64::new(0),
                queued: Arc::new(AtomicU64::new(0)),
                in_flight: Arc::new(Mutex::new(HashMap::new())),
            }),
        }
    }

    /// The parameters used for new hashes.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// How many password verifications have run on the pool (including
    /// those against the dummy hash for unknown users). A shed request is not
    /// counted here but in [`shed`](Self::shed). Lets tests and metrics see
    /// that an unknown user costs one verification, like a wrong password.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// How many requests (verifications, hashes, other jobs) were refused
    /// without running: the pool was full (503) or the client had its share
    /// in flight already (429).
    pub fn shed(&self) -> u64 {
        self.inner.shed.load(Ordering::Relaxed)
    }

    /// How many jobs wait in the queue for a thread right now.
    pub fn queued(&self) -> u64 {
        self.inner.queued.load(Ordering::SeqCst)
    }

    /// How many jobs (running or waiting) `client` has on the pool right now.
    pub fn in_flight(&self, client: IpAddr) -> usize {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
            .copied()
            .unwrap_or(0)
    }

    /// Runs other CPU-heavy work (e.g. computing Digest HA1 values) on the
    /// pool, under the same bound: a full queue answers 503 at once.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        self.run_for(None, f).await
    }

    /// [`run`](Self::run) on behalf of `client`, within its share of the pool
    /// (see [fair shedding](Self#fair-shedding)): when the client already
    /// has [`HasherConfig::per_client`] jobs running or waiting, the answer is
    /// [`AuthError::TooManyRequests`] (429) at once. `None` is work for
    /// nobody in particular (bounded by the queue only).
    pub async fn run_for<T: Send + 'static>(
        &self,
        client: Option<IpAddr>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let slot = match client {
            Some(client) => {
                let mut map = self
                    .inner
                    .in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let n = map.entry(client).or_insert(0);
                if *n >= self.inner.per_client {
                    drop(map);
                    self.inner.shed.fetch_add(1, Ordering::Relaxed);
                    return Err(AuthError::too_many_requests(self.inner.retry_after));
                }
                *n += 1;
                Some(ClientSlot {
                    client,
                    in_flight: Arc::clone(&self.inner.in_flight),
                })
            }
            None => None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = Arc::clone(&self.inner.queued);
        // Counted before sending so the worker's decrement can never come first.
        queued.fetch_add(1, Ordering::SeqCst);
        let job: Job = Box::new(move || {
            queued.fetch_sub(1, Ordering::SeqCst);
            let out = f();
            // The client's place is free once the work is done, not when its
            // request is answered.
            drop(slot);
            let _ = tx.send(out);
        });
        // A refused job is dropped here, and its slot with it.
        match self.inner.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.inner.queued.fetch_sub(1, Ordering::SeqCst);
                self.inner.shed.fetch_add(1, Ordering::Relaxed);
                return Err(AuthError::Unavailable {
                    message: "too many password verifications in progress, retry later".into(),
                    retry_after: Some(self.inner.retry_after),
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                self.inner.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(AuthError::internal("password hashing threads are gone"));
            }
        }
        rx.await
            .map_err(|_| AuthError::internal("a password hashing job panicked"))
    }

    /// Hashes a password on the pool (argon2id PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, AuthError> {
        let params = self.inner.params;
        let password = password.to_owned();
        self.run(move || hash_password(&params, &password))
            .await?
            .map_err(|e| AuthError::internal(e.to_string()))
    }

    /// Verifies a password against `stored`, or, when there is no stored hash
    /// (unknown user) or it cannot be read, against a dummy hash made with the
    /// current parameters, so that every path costs one verification.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, AuthError> {
        self.verify_for(None, password, stored).await
    }

    /// [`verify`](Self::verify) on behalf of `client`, within its share of
    /// the pool (see [`run_for`](Self::run_for)).
    pub async fn verify_for(
        &self,
        client: Option<IpAddr>,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, AuthError> {
        let params = self.inner.params;
        let password = password.to_owned();
        let stored = stored.map(str::to_owned);
        let dummy = Arc::clone(&self.inner.dummy);
        let verifications = Arc::clone(&self.inner.verifications);
        self.run_for(client, move || {
            // Counted when it runs: a shed request never gets here.
            verifications.fetch_add(1, Ordering::Relaxed);
            let real = match stored.as_deref() {
                Some(s) => match verify_password(&params, &password, s) {
                    Ok(v) => return v,
                    Err(e) => {
                        tracing::warn!(error = %e, "stored password hash is unreadable");
                        false
                    }
                },
                None => false,
            };
            debug_assert!(!real);
            // Unknown user or unreadable hash: spend the same work, then fail.
            let dummy = dummy.get_or_init(|| {
                hash_password(&params, "auth-basic dummy password").unwrap_or_default()
            });
            let _ = verify_password(&params, &password, dummy);
            Verification::Mismatch
        })
        .await
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only while taking a job, never while running one.
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                // A panicking job must not kill the thread (and shrink the pool).
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_hasher(threads: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(HasherConfig {
            params: HashParams::insecure_for_tests(),
            threads,
            queue,
            per_client: 2,
            retry_after: Duration::from_secs(2),
        })
    }

    #[test]
    fn argon2_roundtrip_and_rehash_detection() {
        let weak = HashParams::insecure_for_tests();
        let phc = hash_password(&weak, "pässwörd £").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(
            verify_password(&weak, "pässwörd £", &phc).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        let stronger = HashParams {
            iterations: 2,
            ..weak
        };
        assert_eq!(
            verify_password(&stronger, "pässwörd £", &phc).unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            verify_password(&weak, "pässwörd", &phc).unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn reused_memory_verifies_other_parameters_and_lengths() {
        // Verification recomputes with the stored parameters into reused
        // memory: check it against hashes the library made, large then small.
        for (m, t, p, len) in [(256, 2, 2, 16), (64, 1, 1, 32), (128, 3, 1, 64)] {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let salt = SaltString::generate(&mut OsRng);
            let phc = a.hash_password(b"pw", &salt).unwrap().to_string();
            let cur = HashParams::insecure_for_tests();
            assert!(
                verify_password(&cur, "pw", &phc).unwrap().is_match(),
                "{phc}"
            );
            assert!(
                !verify_password(&cur, "pX", &phc).unwrap().is_match(),
                "{phc}"
            );
        }
        let v10 = Argon2::new(
            Algorithm::Argon2d,
            Version::V0x10,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let phc = v10
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(
            verify_password(&HashParams::insecure_for_tests(), "pw", &phc).unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[test]
    fn argon2i_needs_rehash() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let a = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let phc = a.hash_password(b"pw", &salt).unwrap().to_string();
        let weak = HashParams::insecure_for_tests();
        assert_eq!(
            verify_password(&weak, "pw", &phc).unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[test]
    #[cfg(feature = "bcrypt")]
    fn bcrypt_is_verified_and_marked_for_rehash() {
        let h = bcrypt::hash("correct horse", 4).unwrap();
        let p = HashParams::default();
        assert_eq!(
            verify_password(&p, "correct horse", &h).unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            verify_password(&p, "wrong horse", &h).unwrap(),
            Verification::Mismatch
        );
        // A $2y$ hash (PHP) is the same algorithm.
        let y = h.replacen("$2b$", "$2y$", 1);
        assert!(verify_password(&p, "correct horse", &y).unwrap().is_match());
    }

    #[test]
    fn unknown_formats_are_errors() {
        let p = HashParams::default();
        assert_eq!(
            verify_password(&p, "x", "plaintext"),
            Err(HashError::UnknownFormat)
        );
        assert_eq!(
            verify_password(&p, "x", "$pbkdf2-sha256$i=1$c2FsdA$aGFzaA"),
            Err(HashError::UnknownFormat)
        );
    }

    #[tokio::test]
    async fn pool_hashes_and_verifies_unknown_users_against_the_dummy() {
        let hasher = test_hasher(1, 4);
        let phc = hasher.hash("pw").await.unwrap();
        assert!(hasher.verify("pw", Some(&phc)).await.unwrap().is_match());
        assert_eq!(
            hasher.verify("pw", None).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher.verify("pw", Some("garbage")).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(hasher.verifications(), 3);
        // The dummy was made with the pool's own parameters: same cost.
        let dummy = hasher.inner.dummy.get().unwrap();
        assert!(!needs_rehash(&hasher.params(), dummy));
    }

    #[tokio::test]
    async fn full_queue_sheds_with_503_and_retry_after() {
        let hasher = test_hasher(1, 1);
        // Occupy the only thread until released, then fill the one queue slot.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let blocker: Job = Box::new(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        assert!(hasher.inner.tx.try_send(blocker).is_ok());
        started_rx.recv().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let queued: Job = Box::new(move || done_tx.send(()).unwrap());
        assert!(hasher.inner.tx.try_send(queued).is_ok());

        let err = hasher.verify("pw", None).await.unwrap_err();
        match err {
            AuthError::Unavailable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)))
            }
            other => panic!("expected 503, got {other:?}"),
        }
        assert_eq!(hasher.shed(), 1);
        release_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        // Once the thread is free again, work is accepted.
        assert!(hasher.hash("later").await.is_ok());
    }

    /// Occupies the only thread of `hasher` until the returned sender is
    /// used (or dropped).
    fn occupy(hasher: &PasswordHasher) -> std::sync::mpsc::Sender<()> {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let blocker: Job = Box::new(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        assert!(hasher.inner.tx.try_send(blocker).is_ok());
        started_rx.recv().unwrap();
        release_tx
    }

    fn status(r: &Result<Verification, AuthError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    /// Starts `n` verifications for `client` at once and waits until each
    /// has been queued or refused.
    async fn flood(
        hasher: &PasswordHasher,
        set: &mut tokio::task::JoinSet<(Option<IpAddr>, Result<Verification, AuthError>)>,
        client: Option<IpAddr>,
        n: u64,
    ) {
        let settled = hasher.queued() + hasher.shed() + n;
        for _ in 0..n {
            let h = hasher.clone();
            set.spawn(async move { (client, h.verify_for(client, "guess", None).await) });
        }
        while hasher.queued() + hasher.shed() < settled {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn verifications_count_hashes_that_ran_and_shed_counts_the_rest() {
        for (queue, n) in [(2u64, 10u64), (1, 7), (5, 5), (3, 40)] {
            let hasher = test_hasher(1, queue as usize);
            let release = occupy(&hasher);
            let mut set = tokio::task::JoinSet::new();
            flood(&hasher, &mut set, None, n).await;
            let ran = n.min(queue);
            assert_eq!(hasher.shed(), n - ran, "queue {queue}, flood {n}");
            assert_eq!(hasher.verifications(), 0, "nothing ran yet");
            release.send(()).unwrap();
            let mut statuses = Vec::new();
            while let Some(joined) = set.join_next().await {
                statuses.push(status(&joined.unwrap().1));
            }
            assert_eq!(hasher.verifications(), ran, "queue {queue}, flood {n}");
            assert_eq!(hasher.shed(), n - ran);
            assert_eq!(statuses.iter().filter(|&&s| s == 200).count() as u64, ran);
            assert_eq!(
                statuses.iter().filter(|&&s| s == 503).count() as u64,
                n - ran
            );
        }
    }

    #[tokio::test]
    async fn a_client_gets_its_share_and_the_rest_is_left_to_others() {
        let ip = |s: &str| -> Option<IpAddr> { s.parse().ok() };
        let (a, b, c) = (ip("198.51.100.66"), ip("203.0.113.7"), ip("2001:db8::7"));
        let hasher = PasswordHasher::new(HasherConfig {
            params: HashParams::insecure_for_tests(),
            threads: 1,
            queue: 8,
            per_client: 2,
            retry_after: Duration::from_secs(3),
        });
        let release = occupy(&hasher);
        let mut set = tokio::task::JoinSet::new();
        flood(&hasher, &mut set, a, 30).await;
        assert_eq!(hasher.in_flight(a.unwrap()), 2);
        assert_eq!(hasher.shed(), 28);
        // Others still get in: two more clients, and work for nobody.
        flood(&hasher, &mut set, b, 1).await;
        flood(&hasher, &mut set, c, 3).await;
        flood(&hasher, &mut set, None, 2).await;
        assert_eq!(hasher.shed(), 29);
        assert_eq!(hasher.queued(), 2 + 1 + 2 + 2);
        release.send(()).unwrap();
        let mut by_client = HashMap::<Option<IpAddr>, Vec<u16>>::new();
        while let Some(joined) = set.join_next().await {
            let (client, result) = joined.unwrap();
            if let Err(AuthError::TooManyRequests { retry_after }) = &result {
                assert_eq!(*retry_after, Duration::from_secs(3));
            }
            by_client.entry(client).or_default().push(status(&result));
        }
        let count = |client, s| by_client[&client].iter().filter(|&&x| x == s).count();
        assert_eq!((count(a, 200), count(a, 429)), (2, 28));
        assert_eq!((count(b, 200), count(b, 429)), (1, 0));
        assert_eq!((count(c, 200), count(c, 429)), (2, 1));
        assert_eq!((count(None, 200), count(None, 429)), (2, 0));
        assert_eq!(hasher.verifications(), 7);
        // Every place is given back once the work is done.
        for client in [a, b, c] {
            assert_eq!(hasher.in_flight(client.unwrap()), 0);
        }
        assert!(hasher.inner.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_place_is_held_until_the_hash_is_done_and_freed_when_the_pool_sheds() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let hasher = PasswordHasher::new(HasherConfig {
            params: HashParams::insecure_for_tests(),
            threads: 1,
            queue: 1,
            per_client: 2,
            retry_after: Duration::from_secs(1),
        });
        let release = occupy(&hasher);
        // The client hangs up while its verification waits: the place stays
        // taken until the work is done.
        let h = hasher.clone();
        let waiting = tokio::spawn(async move { h.verify_for(Some(a), "pw", None).await });
        while hasher.queued() < 1 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(hasher.in_flight(a), 1);
        // The pool is full (503): the refused request gives its place back.
        let err = hasher.verify_for(Some(a), "pw", None).await.unwrap_err();
        assert_eq!(err.status().as_u16(), 503);
        assert_eq!(hasher.in_flight(a), 1);
        release.send(()).unwrap();
        while hasher.in_flight(a) > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hasher.verifications(), 1);
        assert_eq!(hasher.shed(), 1);
    }
}
