//! [`RedisStore`]: the [`StateStore`] seam on Redis (≥ 7.0) or Valkey.

use std::time::Duration;

use auth_core::{Count, Entry, StateStore, StoreError, Subscription};
use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, RedisError, Script};

/// How a [`RedisStore`] connects and names its keys.
///
/// ```
/// use std::time::Duration;
/// use auth_store::RedisOptions;
///
/// let options = RedisOptions::new("redis://127.0.0.1:6379/0")
///     .prefix("todo:auth:")
///     .response_timeout(Duration::from_millis(500));
/// assert_eq!(options.key_prefix(), "todo:auth:");
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    url: String,
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    reconnect_delay: Duration,
}

impl RedisOptions {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` with a TLS-enabled build of the redis crate) with the
    /// defaults: key prefix `auth:`, 1 s to answer, 2 s to connect.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: "auth:".into(),
            response_timeout: Duration::from_secs(1),
            connection_timeout: Duration::from_secs(2),
            reconnect_delay: Duration::from_millis(200),
        }
    }

    /// Prepended to every key and channel, so that several applications
    /// can share one Redis (default `auth:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// How long an operation may wait for Redis before failing with
    /// [`StoreError::Timeout`] (default 1 s). Authentication answers 503 then:
    /// keep it well under your clients' own timeout.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take (default 2 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long a lost subscription waits before connecting again (default
    /// 200 ms; doubled after each failed attempt, up to 5 s).
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }
}

/// A [`StateStore`] on Redis ≥ 7.0 or Valkey: every operation is one atomic
/// round trip, so many instances of an application share brute-force
/// counters, refresh-token families, Digest nonce counts and revocations.
///
/// | operation | Redis |
/// |---|---|
/// | `set_if_absent` | `SET k v NX PX ttl` |
/// | `get` | `MULTI GET k; PTTL k EXEC` |
/// | `take` | `GETDEL k` |
/// | `delete` | `DEL k` |
/// | `increment` | `MULTI INCR k; PEXPIRE k window NX; PTTL k EXEC` |
/// | `raise` | a Lua script (`EVALSHA`): compare as decimal numbers, `SET k v PX ttl` when greater |
/// | `publish` / `subscribe` | `PUBLISH` / `SUBSCRIBE` on a dedicated connection |
/// | `scan` (resynchronising a mirror, never per request) | `SCAN MATCH prefix* TYPE string`, then `GET`+`PTTL` pipelined per batch |
/// | `add_member` / `members` / `remove_member` | Lua scripts on a sorted set `<prefix>members:<key>` scored by deadline (Redis's clock): `ZADD`, `ZRANGEBYSCORE (now +inf`, `ZREM`; expired members are dropped as the set is written |
///
/// Commands go through the redis crate's `ConnectionManager`: one
/// multiplexed connection (concurrent requests are pipelined on it, so no
/// pool is needed for these short commands), reconnected in the
/// background when it drops. While Redis is unreachable every operation
/// fails fast with [`StoreError::Unavailable`] or, past the response
/// timeout, [`StoreError::Timeout`]: authentication then answers 503, fail
/// closed, and never panics.
///
/// A subscription has its own connection; when it drops, the subscription
/// yields [`StoreError::Lagged`] (messages may have been missed while it was
/// down) and connects again by itself.
///
/// ```no_run
/// use std::sync::Arc;
/// use auth_core::StateStore;
/// use auth_store::{RedisOptions, RedisStore};
///
/// # async fn run() -> Result<(), auth_core::StoreError> {
/// let store: Arc<dyn StateStore> =
///     Arc::new(RedisStore::connect(RedisOptions::new("redis://127.0.0.1:6379")).await?);
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    options: RedisOptions,
    raise: Script,
    add_member: Script,
    members: Script,
    remove_member: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the prefix is shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.options.prefix)
            .finish_non_exhaustive()
    }
}

/// Sets the counter to ARGV[1] when that is greater than the stored value
/// (or there is none), for ARGV[2] milliseconds. Numbers are compared as
/// decimal strings (length first), so every u64 compares exactly; Lua's
/// numbers are doubles. Returns 1 when set, 0 when not greater, -1 when the
/// stored value is not a decimal number.
const RAISE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  if not string.match(current, '^[0-9]+$') then return -1 end
  local new = ARGV[1]
  if #current > #new or (#current == #new and current >= new) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Adds ARGV[1] to the sorted set KEYS[1], scored by its deadline (Redis's
/// own clock, milliseconds, plus ARGV[2]); expired members leave first, and
/// the key lives at least as long as its longest-lived member.
const ADD_MEMBER: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// The members of the sorted set KEYS[1] whose deadline is still ahead.
const MEMBERS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
";

/// Removes ARGV[1] from the sorted set KEYS[1]; 1 when it was there and
/// its deadline still ahead.
const REMOVE_MEMBER: &str = r"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) > now then return 1 end
return 0
";

/// The longest member lifetime a sorted set is given (a century): scores
/// are doubles, exact up to 2^53 milliseconds.
const MAX_MEMBER_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Milliseconds for a `PX` argument: at least 1 (Redis refuses 0).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A `PTTL` answer as the time left; `None` for a key that is gone (-2).
/// A key without expiry (-1) was written by someone else: malformed.
fn ttl(pttl: i64) -> Result<Option<Duration>, StoreError> {
    match pttl {
        -2 => Ok(None),
        n if n >= 0 => Ok(Some(Duration::from_millis(n.unsigned_abs()))),
        _ => Err(StoreError::malformed("a key has no expiry")),
    }
}

/// `prefix` as a `SCAN MATCH` pattern: glob characters escaped, then `*`.
fn glob(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

/// The driver's error, by kind: timeouts, outages, or data we cannot read.
fn store_error(e: RedisError, timeout: Duration) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout {
            after: timeout,
            source: Some(Box::new(e)),
        }
    } else if matches!(
        e.kind(),
        redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse
    ) {
        StoreError::malformed_with("redis answered something unexpected", e)
    } else {
        StoreError::unavailable_with("redis", e)
    }
}

impl RedisStore {
    /// Connects (and fails when Redis cannot be reached within the
    /// connection timeout, so a misconfigured URL is found at start-up).
    pub async fn connect(options: RedisOptions) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| StoreError::unavailable_with("invalid redis URL", e))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.connection_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| store_error(e, options.connection_timeout))?;
        Ok(RedisStore {
            client,
            conn,
            options,
            raise: Script::new(RAISE),
            add_member: Script::new(ADD_MEMBER),
            members: Script::new(MEMBERS),
            remove_member: Script::new(REMOVE_MEMBER),
        })
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.options.prefix.len() + key.len());
        full.push_str(&self.options.prefix);
        full.push_str(key);
        full
    }

    /// The Redis key of the set `key`: apart from entries' keys (and from
    /// any `scan` prefix a caller uses), under `<prefix>members:`.
    fn set_key(&self, key: &str) -> String {
        self.key(&format!("members:{key}"))
    }

    fn err(&self, e: RedisError) -> StoreError {
        store_error(e, self.options.response_timeout)
    }
}

#[async_trait::async_trait]
impl StateStore for RedisStore {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(set.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(key);
        let (value, pttl): (Option<Vec<u8>>, i64) = redis::pipe()
            .atomic()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        match (value, ttl(pttl)?) {
            (Some(value), Some(left)) => Ok(Some(Entry::new(value, left))),
            _ => Ok(None),
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        conn.get_del(self.key(key)).await.map_err(|e| self.err(e))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: u64 = conn.del(self.key(key)).await.map_err(|e| self.err(e))?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(key);
        // PEXPIRE .. NX (Redis 7.0) sets the expiry only when the key has
        // none: the first increment of a window starts it, later ones keep
        // its end. In one MULTI, nothing else runs in between.
        let (value, _, pttl): (u64, i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1u64)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(window))
            .arg("NX")
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        let left = ttl(pttl)?.unwrap_or(Duration::ZERO);
        Ok(Count::new(value, left))
    }

    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let outcome: i64 = self
            .raise
            .key(self.key(key))
            .arg(value.to_string())
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        match outcome {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError::malformed(
                "a counter is not an unsigned decimal number",
            )),
        }
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _receivers: u64 = conn
            .publish(self.key(channel), message)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = glob(&self.key(prefix));
        let mut cursor = 0u64;
        let mut keys: Vec<String> = Vec::new();
        loop {
            // Entries only: a set (`add_member`) under the same prefix is
            // a sorted set, which `GET` would refuse.
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg("string")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.err(e))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key twice.
        keys.sort_unstable();
        keys.dedup();
        let mut entries = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.get(key).pttl(key);
            }
            let values: Vec<(Option<Vec<u8>>, i64)> = pipe
                .query_async::<Vec<redis::Value>>(&mut conn)
                .await
                .map_err(|e| self.err(e))?
                .chunks(2)
                .map(|pair| {
                    let value = redis::from_redis_value(pair[0].clone()).ok().flatten();
                    let pttl = redis::from_redis_value(pair[1].clone()).unwrap_or(-2);
                    (value, pttl)
                })
                .collect();
            for (key, (value, pttl)) in chunk.iter().zip(values) {
                // Gone between SCAN and GET, or written without expiry by
                // someone else: skipped.
                if let (Some(value), Ok(Some(left))) = (value, ttl(pttl)) {
                    let key = key.strip_prefix(&self.options.prefix).unwrap_or(key);
                    entries.push((key.to_owned(), Entry::new(value, left)));
                }
            }
        }
        Ok(entries)
    }

    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .add_member
            .key(self.set_key(key))
            .arg(member)
            .arg(millis(ttl).min(MAX_MEMBER_TTL_MS))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        self.members
            .key(self.set_key(key))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.err(e))
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = self
            .remove_member
            .key(self.set_key(key))
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(removed == 1)
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let channel = self.key(channel);
        // The first connection is made here, so that a subscriber learns at
        // once when Redis is unreachable; later ones by the forwarding task.
        let first = open_subscription(&self.client, &channel, self.options.connection_timeout)
            .await
            .map_err(|e| store_error(e, self.options.connection_timeout))?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(forward(
            self.client.clone(),
            channel,
            first,
            tx,
            self.options.clone(),
        ));
        Ok(Subscription::new(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        )))
    }
}

async fn open_subscription(
    client: &redis::Client,
    channel: &str,
    timeout: Duration,
) -> Result<redis::aio::PubSubStream, RedisError> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "redis subscription timed out",
        ))),
    }
}

/// Forwards messages to the subscriber; when the connection drops, reports
/// a gap and connects again, until the subscriber goes away.
async fn forward(
    client: redis::Client,
    channel: String,
    mut stream: redis::aio::PubSubStream,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, StoreError>>,
    options: RedisOptions,
) {
    loop {
        loop {
            tokio::select! {
                () = tx.closed() => return,
                message = stream.next() => match message {
                    Some(message) => {
                        if tx.send(Ok(message.get_payload_bytes().to_vec())).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
            }
        }
        // The connection is gone: whatever was published meanwhile is lost.
        tracing::warn!(channel = %channel, "redis subscription lost; reconnecting");
        if tx
            .send(Err(StoreError::Lagged { missed: 0 }))
            .await
            .is_err()
        {
            return;
        }
        let mut delay = options.reconnect_delay;
        stream = loop {
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(delay) => {}
            }
            match open_subscription(&client, &channel, options.connection_timeout).await {
                Ok(stream) => break stream,
                Err(e) => {
                    tracing::debug!(error = %e, "redis subscription: reconnect failed");
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        // Reconnected: the subscriber must resynchronise, it may have
        // missed messages between the drop and now.
        if tx
            .send(Err(StoreError::Lagged { missed: 0 }))
            .await
            .is_err()
        {
            return;
        }
    }
}
