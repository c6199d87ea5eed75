//! Two todo processes on one Redis and one PostgreSQL act as one (issue
//! 13.5): a logout on one is enforced by the other within 1 s, the login
//! guard counts once across both, a spent refresh token and a used Digest
//! nonce count are spent on both. Then Redis goes down (killed by its PID):
//! token-checked routes answer 503 with `Retry-After`, logins follow each
//! instance's failure policy (A falls back to local limits, B fails
//! closed), nothing answers 500 and nothing panics. Redis comes back on the
//! same port and everything works again without restarting the todos.

#[path = "common/redis.rs"]
mod redis;
#[path = "common/server.rs"]
mod server;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_basic::{DigestAlgorithm, digest_response, ha1, parse_digest_params};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use server::TodoServer;

const PASSWORD: &str = "correct horse 42";
/// Both instances sign and verify with one secret (and derive the Digest
/// nonce key from it).
const SECRET: &str = "one signing secret shared by both todo instances";
/// Failed logins allowed per e-mail (per client address: 4 times as many).
const LIMIT: usize = 20;
/// The revocation bound the issue sets: a logout on A holds on B within it.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
/// `REVOCATION_MAX_STALENESS_SECS` given to both instances.
const STALENESS: Duration = Duration::from_secs(2);
/// What the log of an instance that falls back says, once per outage.
const FALLBACK_LOG: &str = "counting failures on this instance only";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn retry_after(&self) -> Option<&str> {
        self.headers.get("retry-after").map(|v| v.to_str().unwrap())
    }
}

async fn send(
    http: &reqwest::Client,
    server: &TodoServer,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = http.request(method, server.url(path));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(http: &reqwest::Client, s: &TodoServer, path: &str, auth: Option<&str>) -> Reply {
    send(http, s, reqwest::Method::GET, path, auth, None).await
}

async fn post(
    http: &reqwest::Client,
    s: &TodoServer,
    path: &str,
    auth: Option<&str>,
    body: Value,
) -> Reply {
    send(http, s, reqwest::Method::POST, path, auth, Some(body)).await
}

async fn login(http: &reqwest::Client, s: &TodoServer, email: &str, password: &str) -> Reply {
    post(
        http,
        s,
        "/users/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

/// `(bearer header, refresh token)` of a successful login.
async fn session(http: &reqwest::Client, s: &TodoServer, email: &str) -> (String, String) {
    let r = login(http, s, email, PASSWORD).await;
    assert_eq!(r.status, 200, "login {email} on {}: {}", s.base, r.body);
    (
        format!("Bearer {}", r.body["access_token"].as_str().unwrap()),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Polls `server` until `bearer` is refused on `/whoAmI`; answers how long
/// that took from `since`, failing past `bound`.
async fn refused_within(
    http: &reqwest::Client,
    server: &TodoServer,
    bearer: &str,
    since: Instant,
    bound: Duration,
) -> Duration {
    loop {
        let r = get(http, server, "/whoAmI", Some(bearer)).await;
        match r.status.as_u16() {
            200 => {}
            401 => return since.elapsed(),
            other => panic!("whoAmI on {} answered {other}: {}", server.base, r.body),
        }
        assert!(
            since.elapsed() < bound,
            "a revocation was not enforced on {} within {bound:?}",
            server.base
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A Digest client for one nonce (RFC 7616, SHA-256, qop=auth).
struct DigestClient {
    nonce: String,
    opaque: String,
    email: String,
}

impl DigestClient {
    /// Asks `server` for a challenge on `/users/me`.
    async fn challenge(http: &reqwest::Client, server: &TodoServer, email: &str) -> DigestClient {
        let r = get(http, server, "/users/me", None).await;
        assert_eq!(r.status, 401, "{}", r.body);
        let digest = r
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find_map(|v| v.strip_prefix("Digest "))
            .expect("a Digest challenge on /users/me")
            .to_owned();
        let params = parse_digest_params(&digest).unwrap();
        assert_eq!(params["realm"], "todo");
        assert_eq!(params["algorithm"], "SHA-256");
        DigestClient {
            nonce: params["nonce"].clone(),
            opaque: params["opaque"].clone(),
            email: email.to_owned(),
        }
    }

    /// The `Authorization` value for GET /users/me with nonce count `nc`.
    fn header(&self, nc: u32, password: &str) -> String {
        let alg = DigestAlgorithm::Sha256;
        let nc = format!("{nc:08x}");
        let cnonce = "0a4f113b";
        let h1 = ha1(alg, &self.email, "todo", password);
        let response = digest_response(
            alg,
            &h1,
            &self.nonce,
            &nc,
            cnonce,
            "auth",
            "GET",
            "/users/me",
        );
        format!(
            r#"Digest username="{}", realm="todo", uri="/users/me", algorithm=SHA-256, nonce="{}", nc={nc}, cnonce="{cnonce}", qop=auth, response="{response}", opaque="{}""#,
            self.email, self.nonce, self.opaque
        )
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_todo_processes_on_one_redis_and_one_postgres_act_as_one() {
    let Ok(admin_url) = std::env::var("AUTH_TEST_POSTGRES_URL") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "AUTH_TEST_POSTGRES_URL must be set in CI (.ci/run starts PostgreSQL)"
        );
        eprintln!(
            "skipped: AUTH_TEST_POSTGRES_URL is not set (run `source .ci/services.sh && start_postgres`)"
        );
        return;
    };
    let Some(mut redis) = redis::RedisServer::start() else {
        return;
    };
    use sqlx::Connection;
    let name = format!("todo_scale_{}_{}", std::process::id(), now());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let database_url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    {
        let redis_url = redis.url();
        let limit = LIMIT.to_string();
        let staleness = STALENESS.as_secs().to_string();
        let env = |policy: &'static str| {
            vec![
                ("DATABASE_URL", database_url.clone()),
                ("REDIS_URL", redis_url.clone()),
                ("JWT_SECRET", SECRET.to_owned()),
                ("LOGIN_MAX_FAILURES", limit.clone()),
                ("REVOCATION_RESYNC_SECS", "1".to_owned()),
                ("REVOCATION_MAX_STALENESS_SECS", staleness.clone()),
                ("LOGIN_ON_STORE_ERROR", policy.to_owned()),
            ]
        };
        let start = |env: Vec<(&'static str, String)>| {
            let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            TodoServer::start(&pairs)
        };
        // One after the other: the first applies the migrations.
        let mut a = start(env("local"));
        let mut b = start(env("closed"));
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        run(&http, &mut redis, &mut a, &mut b).await;
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

async fn run(
    http: &reqwest::Client,
    redis: &mut redis::RedisServer,
    a: &mut TodoServer,
    b: &mut TodoServer,
) {
    let signup = async |s: &TodoServer, email: &str| {
        let r = post(
            http,
            s,
            "/signup",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, 200, "signup {email}: {}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    };
    let ada_id = signup(a, "ada@example.com").await;
    signup(b, "bob@example.com").await;
    signup(a, "cat@example.com").await;

    // 1. A logout on one instance is refused on the other within 1 s, in
    //    both directions, the token having been used (and cached) there.
    let mut delays = Vec::new();
    let mut revoked = Vec::new();
    for round in 0..6 {
        let (from, to) = if round % 2 == 0 {
            (&*a, &*b)
        } else {
            (&*b, &*a)
        };
        let (bearer, refresh) = session(http, from, "ada@example.com").await;
        assert_eq!(get(http, to, "/whoAmI", Some(&bearer)).await.status, 200);
        let r = post(
            http,
            from,
            "/users/logout",
            Some(&bearer),
            json!({"refresh_token": refresh}),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let since = Instant::now();
        assert_eq!(get(http, from, "/whoAmI", Some(&bearer)).await.status, 401);
        delays.push(refused_within(http, to, &bearer, since, PROPAGATION_BOUND).await);
        revoked.push(bearer);
    }
    delays.sort();
    eprintln!("logout A<->B enforced after {delays:?}");
    // Log out everywhere, on B: A refuses cat's token too.
    let (cat_a, _) = session(http, a, "cat@example.com").await;
    let (cat_b, _) = session(http, b, "cat@example.com").await;
    assert_eq!(get(http, a, "/whoAmI", Some(&cat_a)).await.status, 200);
    let r = post(http, b, "/users/logout-all", Some(&cat_b), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    refused_within(http, a, &cat_a, Instant::now(), PROPAGATION_BOUND).await;

    // 2. 20 wrong passwords spread over A and B: 401 each, then 429 on both,
    //    exactly at the limit (per instance, 40 would pass).
    for i in 0..LIMIT {
        let s = if i % 2 == 0 { &*a } else { &*b };
        let r = login(http, s, "bob@example.com", &format!("wrong guess {i}")).await;
        assert_eq!(
            r.status, 401,
            "wrong password {i} on {}: {}",
            s.base, r.body
        );
    }
    for s in [&*a, &*b] {
        let r = login(http, s, "bob@example.com", PASSWORD).await;
        assert_eq!(r.status, 429, "{}: {}", s.base, r.body);
        let secs: u64 = r.retry_after().expect("Retry-After").parse().unwrap();
        assert!((1..=300).contains(&secs), "{secs}");
    }

    // 3. A refresh token spent on A is a reuse on B: the family is revoked.
    let (_, first) = session(http, a, "ada@example.com").await;
    let r = post(http, a, "/refresh", None, json!({"refresh_token": first})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = post(http, b, "/refresh", None, json!({"refresh_token": first})).await;
    assert_eq!(r.status, 401, "reuse on B: {}", r.body);
    assert_eq!(r.body["error"]["code"], "INVALID_REFRESH_TOKEN");
    let r = post(http, b, "/refresh", None, json!({"refresh_token": second})).await;
    assert_eq!(r.status, 401, "the family was revoked: {}", r.body);

    // 4. A Digest nonce count used on A is a replay on B (and B accepts A's
    //    nonce: the nonce key is shared).
    let digest = DigestClient::challenge(http, a, "ada@example.com").await;
    let one = digest.header(1, PASSWORD);
    let r = get(http, a, "/users/me", Some(&one)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], ada_id.as_str());
    let r = get(http, b, "/users/me", Some(&one)).await;
    assert_eq!(r.status, 401, "replay on B: {}", r.body);
    assert_eq!(r.body["error"]["code"], "NONCE_REPLAYED");
    assert_eq!(
        get(http, b, "/users/me", Some(&digest.header(2, PASSWORD)))
            .await
            .status,
        200
    );
    let r = get(http, a, "/users/me", Some(&digest.header(2, PASSWORD))).await;
    assert_eq!(r.body["error"]["code"], "NONCE_REPLAYED", "{}", r.body);
    let r = get(http, b, "/users/me", Some(&digest.header(3, "not it"))).await;
    assert_eq!(r.status, 401, "{}", r.body);

    // What the outage will be tried with.
    let (ada, ada_refresh) = session(http, b, "ada@example.com").await;
    for s in [&*a, &*b] {
        assert_eq!(get(http, s, "/todos", Some(&ada)).await.status, 200);
    }

    // 5. Redis goes down.
    redis.stop();
    let stopped = Instant::now();
    // Within the staleness bound the mirrors still answer; past it, 503.
    for s in [&*a, &*b] {
        loop {
            let r = get(http, s, "/whoAmI", Some(&ada)).await;
            match r.status.as_u16() {
                200 => assert!(
                    stopped.elapsed() < STALENESS + Duration::from_secs(2),
                    "{} still trusts its revocation list {:?} after Redis stopped",
                    s.base,
                    stopped.elapsed()
                ),
                503 => {
                    assert_eq!(r.retry_after(), Some("1"));
                    break;
                }
                other => panic!("{}: {other} {}", s.base, r.body),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "revocation-checked routes answered 503 after {:?}",
        stopped.elapsed()
    );
    let mut outage_nc = 10;
    for s in [&*a, &*b] {
        let falls_back = std::ptr::eq(s, &*a);
        outage_nc += 1;
        let digest_header = digest.header(outage_nc, PASSWORD);
        let kinds: Vec<(&str, Reply, u16)> = vec![
            (
                "GET /whoAmI, bearer",
                get(http, s, "/whoAmI", Some(&ada)).await,
                503,
            ),
            (
                "GET /todos, bearer",
                get(http, s, "/todos", Some(&ada)).await,
                503,
            ),
            (
                "POST /todos, bearer",
                post(http, s, "/todos", Some(&ada), json!({"title": "x"})).await,
                503,
            ),
            (
                "GET /users/me, bearer",
                get(http, s, "/users/me", Some(&ada)).await,
                503,
            ),
            (
                "GET /users/me, digest",
                get(http, s, "/users/me", Some(&digest_header)).await,
                503,
            ),
            (
                "POST /refresh",
                post(
                    http,
                    s,
                    "/refresh",
                    None,
                    json!({"refresh_token": ada_refresh}),
                )
                .await,
                503,
            ),
            (
                "login, right password (the refresh token cannot be stored)",
                login(http, s, "ada@example.com", PASSWORD).await,
                503,
            ),
            (
                "login, wrong password",
                login(http, s, "ada@example.com", "wrong during the outage").await,
                if falls_back { 401 } else { 503 },
            ),
        ];
        for (what, reply, expected) in kinds {
            assert_eq!(
                reply.status.as_u16(),
                expected,
                "{what} on {}: {}",
                s.base,
                reply.body
            );
            if expected == 503 {
                assert_eq!(reply.retry_after(), Some("1"), "{what} on {}", s.base);
            }
        }
        // Public routes are not affected.
        assert_eq!(get(http, s, "/", None).await.status, 200);
    }
    // A's fallback limiter: the same limit, counted on A alone.
    for i in 1..LIMIT {
        let r = login(http, a, "dan@example.com", &format!("guess {i}")).await;
        assert_eq!(r.status, 401, "local failure {i}: {}", r.body);
    }
    let r = login(http, a, "dan@example.com", "one more").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = login(http, a, "dan@example.com", "past the limit").await;
    assert_eq!(r.status, 429, "the fallback limiter: {}", r.body);
    assert!(r.retry_after().is_some());
    assert!(a.is_running() && b.is_running(), "a todo process exited");
    assert_eq!(
        a.logged(FALLBACK_LOG).len(),
        1,
        "{:?}",
        a.logged(FALLBACK_LOG)
    );
    assert!(b.logged(FALLBACK_LOG).is_empty());

    // 6. Redis is back on the same port, with its data: both instances
    //    recover without a restart.
    redis.restart();
    let restarted = Instant::now();
    for s in [&*a, &*b] {
        loop {
            let r = get(http, s, "/whoAmI", Some(&ada)).await;
            match r.status.as_u16() {
                200 => break,
                503 => assert!(
                    restarted.elapsed() < Duration::from_secs(15),
                    "{} did not recover",
                    s.base
                ),
                other => panic!("{}: {other} {}", s.base, r.body),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!("recovered {:?} after the restart", restarted.elapsed());
    for s in [&*a, &*b] {
        // What Redis held is still in force: logouts, bob's lock-out.
        for bearer in &revoked {
            assert_eq!(get(http, s, "/whoAmI", Some(bearer)).await.status, 401);
        }
        assert_eq!(
            login(http, s, "bob@example.com", PASSWORD).await.status,
            429
        );
        let (bearer, refresh) = session(http, s, "ada@example.com").await;
        assert_eq!(get(http, s, "/todos", Some(&bearer)).await.status, 200);
        let r = post(http, s, "/refresh", None, json!({"refresh_token": refresh})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let fresh = DigestClient::challenge(http, s, "ada@example.com").await;
        assert_eq!(
            get(http, s, "/users/me", Some(&fresh.header(1, PASSWORD)))
                .await
                .status,
            200
        );
    }
    // The refresh token presented during the outage was never spent.
    let r = post(
        http,
        a,
        "/refresh",
        None,
        json!({"refresh_token": ada_refresh}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Once the subscriptions are back (they reconnect with a back-off of at
    // most 5 s), a logout propagates within the bound again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for (from, to) in [(&*a, &*b), (&*b, &*a)] {
        let (bearer, refresh) = session(http, from, "ada@example.com").await;
        assert_eq!(get(http, to, "/whoAmI", Some(&bearer)).await.status, 200);
        let r = post(
            http,
            from,
            "/users/logout",
            Some(&bearer),
            json!({"refresh_token": refresh}),
        )
        .await;
        assert_eq!(r.status, 204);
        refused_within(http, to, &bearer, Instant::now(), PROPAGATION_BOUND).await;
    }
    assert_eq!(a.logged("the shared counter store answers again").len(), 1);
    for s in [&*a, &*b] {
        assert!(
            s.logged("panicked").is_empty(),
            "{:?}",
            s.logged("panicked")
        );
    }
    assert!(a.is_running() && b.is_running(), "a todo process exited");
}
