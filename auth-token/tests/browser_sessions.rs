//! Browser sessions on the wire: the cookie's attributes, CSRF and
//! cross-site refusals, rotation at login, idle and absolute expiry on a
//! test clock, logout, and two instances on one SQL store.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use auth_core::error_response;
use auth_core::{ManualClock, MemoryStore, StateStore, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_store::SqlStore;
use auth_token::{BrowserSessions, SessionStrategy};
use serde_json::Value;

const T0: u64 = 1_800_000_000_000;
const HOST: &str = "app.example";
const ORIGIN: &str = "https://app.example";

#[authenticate("session")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[authenticate("session")]
async fn change(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(format!("changed by {}", user.id))
}

async fn login(req: HttpRequest, sessions: web::Data<BrowserSessions>) -> HttpResponse {
    let user = req.match_info().get("user").unwrap_or("ada").to_owned();
    let profile = UserProfile::new(user.clone()).with_email(format!("{user}@example.com"));
    match sessions.start(&req, &profile).await {
        Ok(started) => started.into_response(),
        Err(e) => error_response(&req, &e, &[]),
    }
}

async fn logout(req: HttpRequest, sessions: web::Data<BrowserSessions>) -> HttpResponse {
    sessions
        .end(&req)
        .await
        .unwrap_or_else(|e| error_response(&req, &e, &[]))
}

async fn current(req: HttpRequest, sessions: web::Data<BrowserSessions>) -> HttpResponse {
    sessions
        .current(&req)
        .await
        .unwrap_or_else(|e| error_response(&req, &e, &[]))
}

trait TestApp:
    Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}
impl<S> TestApp for S where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}

async fn app(sessions: BrowserSessions) -> impl TestApp {
    let registry = StrategyRegistry::builder()
        .register(SessionStrategy::new("session", sessions.clone()))
        .build()
        .unwrap();
    test::init_service(
        App::new()
            .app_data(registry)
            .app_data(web::Data::new(sessions))
            .route("/login/{user}", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/session", web::get().to(current))
            .route("/me", web::get().to(me))
            .route("/todos", web::post().to(change))
            .route("/todos", web::put().to(change))
            .route("/todos", web::patch().to(change))
            .route("/todos", web::delete().to(change)),
    )
    .await
}

fn clocked(clock: &ManualClock) -> BrowserSessions {
    let store = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
    BrowserSessions::new(store).clock(Arc::new(clock.clone()))
}

struct Reply {
    status: u16,
    set_cookie: Vec<String>,
    body: Value,
}

/// Sends `req` as a page of this application would (Host, Origin,
/// `Sec-Fetch-Site: same-origin`) unless `headers` overrides them.
async fn send(
    app: &impl TestApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = test::TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header(("host", HOST))
        .insert_header(("no-auth-challenge", "true"));
    let overridden = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !overridden("origin") {
        req = req.insert_header(("origin", ORIGIN));
    }
    if !overridden("sec-fetch-site") {
        req = req.insert_header(("sec-fetch-site", "same-origin"));
    }
    for (name, value) in headers {
        if !value.is_empty() {
            req = req.append_header((*name, *value));
        }
    }
    if let Some(cookie) = cookie {
        req = req.insert_header(("cookie", cookie.to_owned()));
    }
    let resp = app.call(req.to_request()).await.unwrap();
    let status = resp.status().as_u16();
    let set_cookie = resp
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = test::read_body(resp).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        set_cookie,
        body,
    }
}

/// Logs `user` in: the `name=value` for a `Cookie` header, and the CSRF token.
async fn log_in(app: &impl TestApp, user: &str, cookie: Option<&str>) -> (String, String, Reply) {
    let reply = send(app, "POST", &format!("/login/{user}"), cookie, &[]).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let pair = reply.set_cookie[0].split(';').next().unwrap().to_owned();
    let csrf = reply.body["csrf_token"].as_str().unwrap().to_owned();
    (pair, csrf, reply)
}

fn code(reply: &Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or("")
}

#[actix_web::test]
async fn the_cookie_is_host_prefixed_http_only_secure_and_lax() {
    let app = app(BrowserSessions::new(Arc::new(MemoryStore::new()))).await;
    let (_, csrf, reply) = log_in(&app, "ada", None).await;
    assert_eq!(reply.set_cookie.len(), 1);
    let cookie = &reply.set_cookie[0];
    let mut parts: Vec<&str> = cookie.split("; ").collect();
    let pair = parts.remove(0);
    assert!(pair.starts_with("__Host-session="), "{cookie}");
    assert_eq!(pair.len(), "__Host-session=".len() + 43, "{cookie}");
    parts.sort_unstable();
    assert_eq!(
        parts,
        [
            "HttpOnly",
            "Max-Age=43200",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ],
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The body hands the page its CSRF token and the user, never the session.
    assert_eq!(reply.body["user"]["id"], "ada");
    assert_eq!(reply.body["user"]["email"], "ada@example.com");
    assert_eq!(csrf.len(), 43);
    assert!(!reply.body.to_string().contains(&pair[15..]));
}

#[actix_web::test]
async fn the_insecure_opt_out_drops_secure_and_the_host_prefix_and_strict_is_a_choice() {
    let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()))
        .dangerously_allow_insecure_cookie()
        .same_site_strict();
    let app = app(sessions).await;
    let (pair, csrf, reply) = log_in(&app, "ada", None).await;
    let cookie = &reply.set_cookie[0];
    assert!(pair.starts_with("session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict") && cookie.contains("HttpOnly"));
    let ok = send(
        &app,
        "POST",
        "/todos",
        Some(&pair),
        &[("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[actix_web::test]
async fn state_changing_requests_need_the_sessions_own_csrf_token() {
    let app = app(BrowserSessions::new(Arc::new(MemoryStore::new()))).await;
    let (ada, ada_csrf, _) = log_in(&app, "ada", None).await;
    let (_, eve_csrf, _) = log_in(&app, "eve", None).await;
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let ok = send(
            &app,
            method,
            "/todos",
            Some(&ada),
            &[("x-csrf-token", &ada_csrf)],
        )
        .await;
        assert_eq!((ok.status, ok.body.as_str()), (200, Some("changed by ada")));
        let forged_flipped = {
            let mut bytes = ada_csrf.clone().into_bytes();
            bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        let truncated = &ada_csrf[..42];
        let longer = format!("{ada_csrf}A");
        for (what, headers) in [
            ("missing", vec![]),
            ("empty", vec![("x-csrf-token", " ")]),
            (
                "another session's",
                vec![("x-csrf-token", eve_csrf.as_str())],
            ),
            (
                "one character off",
                vec![("x-csrf-token", forged_flipped.as_str())],
            ),
            ("truncated", vec![("x-csrf-token", truncated)]),
            ("too long", vec![("x-csrf-token", longer.as_str())]),
            (
                "the session token itself",
                vec![("x-csrf-token", &ada[15..])],
            ),
            (
                "sent twice",
                vec![
                    ("x-csrf-token", ada_csrf.as_str()),
                    ("x-csrf-token", ada_csrf.as_str()),
                ],
            ),
        ] {
            let reply = send(&app, method, "/todos", Some(&ada), &headers).await;
            assert_eq!(
                reply.status, 403,
                "{method} with a {what} token: {:?}",
                reply.body
            );
            assert_eq!(code(&reply), "INVALID_CSRF_TOKEN", "{what}");
            assert_eq!(reply.body["error"]["name"], "ForbiddenError");
            assert!(!reply.body.to_string().contains(&ada[15..]), "{what}");
        }
    }
    // GET is not checked: a page load needs no token.
    let get = send(&app, "GET", "/me", Some(&ada), &[]).await;
    assert_eq!((get.status, get.body.as_str()), (200, Some("ada")));
}

#[actix_web::test]
async fn cross_site_requests_are_refused_and_same_origin_ones_pass() {
    let sessions =
        BrowserSessions::new(Arc::new(MemoryStore::new())).trusted_origin("https://admin.example");
    let app = app(sessions).await;
    let (ada, csrf, _) = log_in(&app, "ada", None).await;
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h: Vec<(&str, &str)> = vec![("x-csrf-token", csrf.as_str())];
        h.extend_from_slice(extra);
        h
    };
    for (what, headers) in [
        (
            "Sec-Fetch-Site: cross-site",
            with(&[("sec-fetch-site", "cross-site")]),
        ),
        (
            "Sec-Fetch-Site: same-site",
            with(&[("sec-fetch-site", "same-site")]),
        ),
        (
            "an unknown Sec-Fetch-Site",
            with(&[("sec-fetch-site", "bogus")]),
        ),
        (
            "no fetch metadata, a foreign Origin",
            with(&[("sec-fetch-site", ""), ("origin", "https://evil.example")]),
        ),
        (
            "no fetch metadata, Origin: null",
            with(&[("sec-fetch-site", ""), ("origin", "null")]),
        ),
        (
            "no fetch metadata, another port",
            with(&[
                ("sec-fetch-site", ""),
                ("origin", "https://app.example:8443"),
            ]),
        ),
        (
            "no fetch metadata, a look-alike host",
            with(&[
                ("sec-fetch-site", ""),
                ("origin", "https://app.example.evil.example"),
            ]),
        ),
        (
            "two Sec-Fetch-Site headers",
            with(&[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-site", "same-origin"),
            ]),
        ),
    ] {
        let reply = send(&app, "POST", "/todos", Some(&ada), &headers).await;
        assert_eq!(reply.status, 403, "{what}: {:?}", reply.body);
        assert_eq!(code(&reply), "CROSS_SITE_REQUEST", "{what}");
        // Login and logout refuse them too (login CSRF, forced logout).
        let login = send(&app, "POST", "/login/eve", None, &headers).await;
        assert_eq!(
            (login.status, code(&login)),
            (403, "CROSS_SITE_REQUEST"),
            "{what}"
        );
        assert!(login.set_cookie.is_empty(), "{what}");
        let logout = send(&app, "POST", "/logout", Some(&ada), &headers).await;
        assert_eq!(logout.status, 403, "{what}");
    }
    for (what, headers) in [
        ("Sec-Fetch-Site: same-origin", with(&[])),
        ("Sec-Fetch-Site: none", with(&[("sec-fetch-site", "none")])),
        (
            "no fetch metadata, the same Origin",
            with(&[("sec-fetch-site", ""), ("origin", "HTTPS://APP.EXAMPLE")]),
        ),
        (
            "a trusted origin",
            with(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://admin.example"),
            ]),
        ),
        (
            "no browser headers at all",
            with(&[("sec-fetch-site", ""), ("origin", "")]),
        ),
    ] {
        let reply = send(&app, "POST", "/todos", Some(&ada), &headers).await;
        assert_eq!(reply.status, 200, "{what}: {:?}", reply.body);
    }
    // A cross-site GET is a navigation or a read the browser keeps from
    // the other site: allowed.
    let get = send(
        &app,
        "GET",
        "/me",
        Some(&ada),
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(get.status, 200);
}

#[actix_web::test]
async fn login_rotates_the_session_and_the_old_one_is_dead() {
    let app = app(BrowserSessions::new(Arc::new(MemoryStore::new()))).await;
    let (first, first_csrf, _) = log_in(&app, "ada", None).await;
    assert_eq!(
        send(&app, "GET", "/me", Some(&first), &[]).await.status,
        200
    );
    // A login from the same browser (or after a fixed cookie) gets a new id.
    let (second, second_csrf, _) = log_in(&app, "ada", Some(&first)).await;
    assert_ne!(first, second);
    assert_ne!(first_csrf, second_csrf);
    let old = send(&app, "GET", "/me", Some(&first), &[]).await;
    assert_eq!((old.status, code(&old)), (401, "INVALID_SESSION"));
    let old_post = send(
        &app,
        "POST",
        "/todos",
        Some(&first),
        &[("x-csrf-token", &first_csrf)],
    )
    .await;
    assert_eq!(old_post.status, 401);
    // The old session's CSRF token does not fit the new one.
    let mixed = send(
        &app,
        "POST",
        "/todos",
        Some(&second),
        &[("x-csrf-token", &first_csrf)],
    )
    .await;
    assert_eq!(mixed.status, 403);
    let new = send(
        &app,
        "POST",
        "/todos",
        Some(&second),
        &[("x-csrf-token", &second_csrf)],
    )
    .await;
    assert_eq!(new.status, 200);
    // A planted, unknown cookie does not survive a login either.
    let planted = format!("__Host-session={}", "A".repeat(43));
    let (third, _, _) = log_in(&app, "ada", Some(&planted)).await;
    assert_ne!(third, planted);
}

#[actix_web::test]
async fn idle_sessions_expire_and_use_renews_them() {
    let clock = ManualClock::new(T0);
    let sessions = clocked(&clock)
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(Duration::from_secs(3600));
    let app = app(sessions).await;
    let (ada, _, _) = log_in(&app, "ada", None).await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(599));
        assert_eq!(send(&app, "GET", "/me", Some(&ada), &[]).await.status, 200);
    }
    clock.advance(Duration::from_secs(600));
    let idle = send(&app, "GET", "/me", Some(&ada), &[]).await;
    assert_eq!((idle.status, code(&idle)), (401, "INVALID_SESSION"));
    assert_eq!(
        send(&app, "GET", "/session", Some(&ada), &[]).await.status,
        401
    );
}

#[actix_web::test]
async fn the_absolute_timeout_ends_even_a_busy_session() {
    let clock = ManualClock::new(T0);
    let sessions = clocked(&clock)
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(Duration::from_secs(1800));
    let app = app(sessions).await;
    let (ada, _, login) = log_in(&app, "ada", None).await;
    assert!(login.set_cookie[0].contains("Max-Age=1800"));
    assert_eq!(
        login.body["max_expires_at"].as_u64(),
        Some(T0 / 1000 + 1800)
    );
    for _ in 0..5 {
        clock.advance(Duration::from_secs(350));
        assert_eq!(send(&app, "GET", "/me", Some(&ada), &[]).await.status, 200);
    }
    clock.advance(Duration::from_secs(50)); // 1800 s after login
    assert_eq!(send(&app, "GET", "/me", Some(&ada), &[]).await.status, 401);
}

#[actix_web::test]
async fn logout_clears_the_cookie_and_the_session_is_dead_afterwards() {
    let app = app(BrowserSessions::new(Arc::new(MemoryStore::new()))).await;
    let (ada, csrf, _) = log_in(&app, "ada", None).await;
    let current = send(&app, "GET", "/session", Some(&ada), &[]).await;
    assert_eq!(current.status, 200);
    assert_eq!(current.body["csrf_token"], csrf.as_str());
    // Without the CSRF token, logout is refused and the session lives on.
    let forged = send(&app, "POST", "/logout", Some(&ada), &[]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(send(&app, "GET", "/me", Some(&ada), &[]).await.status, 200);
    let out = send(
        &app,
        "POST",
        "/logout",
        Some(&ada),
        &[("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(out.status, 204);
    assert_eq!(out.set_cookie.len(), 1);
    let mut parts: Vec<&str> = out.set_cookie[0].split("; ").collect();
    parts.sort_unstable();
    assert_eq!(
        parts,
        [
            "HttpOnly",
            "Max-Age=0",
            "Path=/",
            "SameSite=Lax",
            "Secure",
            "__Host-session="
        ]
    );
    // The browser forgot it; a copy of the cookie is dead on the server too.
    for (method, path) in [("GET", "/me"), ("POST", "/todos"), ("GET", "/session")] {
        let reuse = send(&app, method, path, Some(&ada), &[("x-csrf-token", &csrf)]).await;
        assert_eq!(reuse.status, 401, "{method} {path}");
        assert!(reuse.set_cookie.is_empty());
    }
    // A logout without a session only clears the cookie.
    let again = send(&app, "POST", "/logout", None, &[]).await;
    assert_eq!(again.status, 204);
}

#[actix_web::test]
async fn without_a_cookie_the_strategy_is_not_applicable() {
    let app = app(BrowserSessions::new(Arc::new(MemoryStore::new()))).await;
    for (method, path) in [("GET", "/me"), ("POST", "/todos")] {
        let reply = send(&app, method, path, None, &[]).await;
        assert_eq!(reply.status, 401, "{method}");
        assert_eq!(code(&reply), "USER_PROFILE_NOT_FOUND");
    }
    for garbage in [
        "__Host-session=",
        "__Host-session=x",
        "__Host-session=%00%01",
    ] {
        let reply = send(&app, "GET", "/me", Some(garbage), &[]).await;
        assert!(matches!(reply.status, 401), "{garbage}: {}", reply.status);
    }
}

#[actix_web::test]
async fn two_instances_on_one_sql_store_share_sessions_and_logouts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let a_store: Arc<dyn StateStore> = Arc::new(SqlStore::connect(&url).await.unwrap());
    let b_store: Arc<dyn StateStore> = Arc::new(SqlStore::connect(&url).await.unwrap());
    let a = app(BrowserSessions::new(a_store)).await;
    let b = app(BrowserSessions::new(b_store)).await;
    let (ada, csrf, _) = log_in(&a, "ada", None).await;
    assert_eq!(send(&b, "GET", "/me", Some(&ada), &[]).await.status, 200);
    let post = send(&b, "POST", "/todos", Some(&ada), &[("x-csrf-token", &csrf)]).await;
    assert_eq!(post.status, 200);
    // Rotation on B kills the session on A.
    let (rotated, rotated_csrf, _) = log_in(&b, "ada", Some(&ada)).await;
    assert_eq!(send(&a, "GET", "/me", Some(&ada), &[]).await.status, 401);
    assert_eq!(
        send(&a, "GET", "/me", Some(&rotated), &[]).await.status,
        200
    );
    let out = send(
        &a,
        "POST",
        "/logout",
        Some(&rotated),
        &[("x-csrf-token", &rotated_csrf)],
    )
    .await;
    assert_eq!(out.status, 204);
    assert_eq!(
        send(&b, "GET", "/me", Some(&rotated), &[]).await.status,
        401
    );
}
