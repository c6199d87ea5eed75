//! One client flooding wrong passwords does not lock everyone else out
//! (issue 18.3), on a real socket: an actix server on 127.0.0.1 behind a
//! trusted proxy (the test sets `X-Forwarded-For`), 64 keep-alive
//! connections of wrong passwords from one client address, and another
//! client logging in at the same time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, get};
use auth_basic::{
    BasicStrategy, BruteForceGuard, GuardConfig, MemoryUserStore, NewUser, PasswordAuthenticator,
};
use auth_basic::{HashParams, HasherConfig, PasswordHasher};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;

#[get("/whoami")]
#[authenticate("basic")]
async fn whoami(user: UserProfile) -> String {
    user.id.clone()
}

const FLOODER: &str = "198.51.100.66";
const HONEST: &str = "203.0.113.7";
const CONNECTIONS: usize = 64;
const LOGINS: usize = 20;

/// One keep-alive HTTP/1.1 connection: sends a GET and returns the status.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Conn {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn get(&mut self, client: &str, user: &str, password: &str) -> u16 {
        let credentials = auth_test_support::basic_credentials(user, password);
        write!(
            self.writer,
            "GET /whoami HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: {client}\r\nAuthorization: Basic {credentials}\r\n\r\n"
        )
        .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

#[actix_web::test]
async fn a_flooding_client_gets_429_while_another_client_logs_in() {
    // The pool of a 2-CPU machine (1 thread, queue of 4) and argon2id with
    // its default parameters, so a hash costs what it costs in production.
    let hasher = PasswordHasher::new(HasherConfig {
        params: HashParams::default(),
        threads: 1,
        queue: 4,
        per_client: 2,
        retry_after: Duration::from_secs(1),
    });
    let users = MemoryUserStore::new();
    users.insert(NewUser::new(
        "ada",
        hasher.hash("ada's password").await.unwrap(),
    ));
    let guard_config = GuardConfig {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..GuardConfig::default()
    };
    let limit = guard_config.max_failures_per_client as usize;
    let guard = BruteForceGuard::new(guard_config);
    let basic = BasicStrategy::new("flood", PasswordAuthenticator::new(users, hasher.clone()))
        .with_guard(guard);
    let registry = StrategyRegistry::builder().register(basic).build().unwrap();
    let server = HttpServer::new(move || App::new().app_data(registry.clone()).service(whoami))
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let (honest, flood) = actix_web::web::block(move || {
        let stop = Arc::new(AtomicBool::new(false));
        // (arrival time, status) of every flooder response.
        let flood = Arc::new(Mutex::new(Vec::<(Instant, u16)>::new()));
        let start = Arc::new(std::sync::Barrier::new(CONNECTIONS + 1));
        let flooders: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let (stop, flood, start) = (stop.clone(), flood.clone(), start.clone());
                std::thread::spawn(move || {
                    let mut conn = Conn::open(addr);
                    start.wait();
                    // Another username each time (password spraying), so
                    // only the per-client count can stop it.
                    for n in 0..10_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let status = conn.get(FLOODER, &format!("victim{i}x{n}"), "guess");
                        flood.lock().unwrap().push((Instant::now(), status));
                    }
                })
            })
            .collect();
        let mut conn = Conn::open(addr);
        start.wait();
        // The honest client starts with the flood, when the pool is busiest.
        let mut honest = Vec::new();
        for _ in 0..LOGINS {
            let t = Instant::now();
            let status = conn.get(HONEST, "ada", "ada's password");
            honest.push((status, t.elapsed()));
        }
        stop.store(true, Ordering::Relaxed);
        for f in flooders {
            f.join().unwrap();
        }
        let flood = std::mem::take(&mut *flood.lock().unwrap());
        (honest, flood)
    })
    .await
    .unwrap();
    handle.stop(true).await;

    let count = |s: u16| flood.iter().filter(|(_, status)| *status == s).count();
    let mut latencies: Vec<Duration> = honest.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    let mut flood_sorted = flood.clone();
    flood_sorted.sort_by_key(|(t, _)| *t);
    let first_429 = flood_sorted.iter().position(|(_, s)| *s == 429);
    println!(
        "honest client: {LOGINS} logins under a flood of {CONNECTIONS} connections, p50 {:?}, p99 {p99:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    println!(
        "flooder: {} requests: {} x 401 (hashed), {} x 429, {} x 503, first 429 at response #{:?}; \
         hasher: {} verifications ran, {} shed",
        flood.len(),
        count(401),
        count(429),
        count(503),
        first_429.map(|i| i + 1),
        hasher.verifications(),
        hasher.shed()
    );

    // Every login of the other client succeeds: no 503, no 429.
    for (i, (status, _)) in honest.iter().enumerate() {
        assert_eq!(*status, 200, "login {i} of the other client: {honest:?}");
    }
    // The flooder's attempts beyond its share were refused (429) and counted,
    // so the guard stopped it well before `limit` of its guesses were hashed.
    let hashed = count(401);
    assert!(
        hashed < limit / 2,
        "{hashed} of the flooder's guesses were hashed (guard limit {limit})"
    );
    assert!(count(429) > 0);
    assert_eq!(
        count(429) + hashed,
        flood.len(),
        "the flooder gets 401 or 429, never a 503 (its share is below the pool's size)"
    );
    // Verifications that ran: the flooder's and the honest logins (making
    // ada's hash is not a verification). Shed: the flooder's per-client
    // refusals; the guard's own 429s come before the pool.
    assert_eq!(hasher.verifications() as usize, hashed + LOGINS);
    assert!(hasher.shed() as usize <= count(429));
    assert!(hasher.shed() >= 1);
}
