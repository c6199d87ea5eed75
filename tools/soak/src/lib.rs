//! The soak load tool behind `scripts/soak.sh` (issue 7): drives the todo
//! example with valid traffic mixed with garbage — expired, tampered and
//! `alg: none` tokens, random bytes in `Authorization`, oversized headers,
//! wrong schemes, huge bodies without credentials, wrong passwords — over
//! several keep-alive connections, and counts what each kind of request
//! came to.
//!
//! Requests are written as raw HTTP/1.1 over a tokio `TcpStream`
//! ([`http`]), so nothing a well-behaved client would refuse to send is
//! filtered out on the way. [`mix`] says what each category sends and which
//! answers the wire contract allows; [`report`] counts and tabulates.
//!
//! ```no_run
//! # async fn run(addr: std::net::SocketAddr, user: soak::mix::UserTokens) {
//! use std::time::{Duration, Instant};
//! let deadline = Instant::now() + Duration::from_secs(5);
//! let tally = soak::drive(addr, Duration::from_secs(10), &user, 1, deadline).await;
//! println!("{}", tally.markdown());
//! # }
//! ```

pub mod http;
pub mod mix;
pub mod report;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auth_jwt::SigningKey;
use rand::SeedableRng as _;
use rand::distributions::{Distribution as _, WeightedIndex};
use serde_json::{Value, json};

use crate::http::{Connection, Outcome, RawRequest};
use crate::mix::{Category, UserTokens};
use crate::report::Tally;

/// Todos one connection keeps before it deletes its oldest: bounds the
/// size of `GET /todos` answers over the run.
const KEEP_TODOS: usize = 16;

/// `POST path` with a JSON body: the status and the parsed answer.
async fn post_json(conn: &mut Connection, path: &str, body: &Value) -> Result<Value, String> {
    let (outcome, bytes) = conn.send(&RawRequest::new("POST", path).json(body)).await;
    match outcome {
        Outcome::Status(200) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("POST {path}: the answer is not JSON: {e}")),
        other => Err(format!(
            "POST {path} answered {other}: {}",
            String::from_utf8_lossy(&bytes)
        )),
    }
}

/// Signs a new user up, logs it in, and derives the broken tokens from the
/// access token (`key` is the server's HMAC key, `now` seconds since the
/// epoch).
pub async fn enrol(
    conn: &mut Connection,
    email: &str,
    password: &str,
    key: &SigningKey,
    now: u64,
) -> Result<UserTokens, String> {
    let credentials = json!({"email": email, "password": password});
    post_json(conn, "/signup", &credentials).await?;
    let login = post_json(conn, "/users/login", &credentials).await?;
    let token = login["access_token"]
        .as_str()
        .ok_or("POST /users/login answered no token")?;
    UserTokens::derive(email.into(), password.into(), token.into(), key, now)
}

/// Sends the weighted mix as `user` on one keep-alive connection until
/// `deadline` (a request under way then is finished, within `timeout`).
/// `seed` makes the sequence of requests repeatable.
pub async fn drive(
    addr: SocketAddr,
    timeout: Duration,
    user: &UserTokens,
    seed: u64,
    deadline: Instant,
) -> Tally {
    let mut conn = Connection::new(addr, timeout);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mix = WeightedIndex::new(Category::ALL.map(Category::weight))
        .expect("the mix has positive weights");
    let mut created = VecDeque::new();
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let (category, todo) = if created.len() > KEEP_TODOS
            && let Some(oldest) = created.pop_front()
        {
            (Category::ValidDelete, oldest)
        } else {
            (Category::ALL[mix.sample(&mut rng)], 0)
        };
        let (outcome, body) = conn.send(&category.request(user, todo, &mut rng)).await;
        tally.record(category, outcome);
        if category == Category::ValidCreate && outcome == Outcome::Status(200) {
            let id = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|todo| todo["id"].as_i64());
            created.extend(id);
        }
    }
    tally
}
