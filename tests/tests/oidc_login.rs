//! OpenID Connect login (auth-oauth2's `OidcLogin`, issue 15.1) end to end:
//! a real actix server with the login routes on 127.0.0.1, a "browser"
//! (reqwest with a cookie jar that honours `Path` and `Max-Age`, following
//! redirects one by one), and the real OpenID provider of `.ci/oidc`
//! (oidc-provider from npm) with its login and consent forms; plus a small
//! crafted provider on 127.0.0.1 whose token endpoint returns ID tokens
//! signed with a key of its own, for the ID token checks a real provider
//! never gets wrong.

#[allow(dead_code)]
#[path = "common/http_browser.rs"]
mod http_browser;
#[allow(dead_code)] // the helpers other tests use
#[path = "common/oidc.rs"]
mod oidc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use auth_jwt::SigningKey;
use auth_oauth2::{CookieKey, LoginError, LoginSuccess, OidcLogin, OidcLoginBuilder};
use base64::Engine as _;
use http_browser::{Browser, Reply, form, query_of};
use oidc::OidcProvider;
use serde_json::{Value, json};

const CLIENT: &str = "todo-web";
const SECRET: &str = "todo-web-secret";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------
// The application: the login routes and a handler that records each login.

struct AppServer {
    base: String,
    handle: actix_web::dev::ServerHandle,
    logins: Arc<Mutex<Vec<LoginSuccess>>>,
}

impl AppServer {
    fn callback(&self) -> String {
        format!("{}/auth/callback", self.base)
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Binds the application's port first: its redirect URI must be registered
/// at the provider before the provider starts.
fn app_listener() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, base)
}

fn builder(issuer: &str, base: &str) -> OidcLoginBuilder {
    OidcLogin::builder(issuer, CLIENT, format!("{base}/auth/callback"))
        .client_secret(SECRET)
        .cookie_key(CookieKey::new([42u8; 32]).unwrap())
        .dangerously_allow_insecure_cookie()
        .allow_return_to("/todos")
        .default_return_to("/todos")
        .allow_post_logout_redirect_uri(format!("{base}/bye"))
        .scope("email")
        .retry_after(Duration::from_secs(7))
        // No cooldown between unknown-kid fetches: the rotation test logs in
        // again right after the provider's keys changed.
        .jwks_timing(Duration::from_secs(600), Duration::ZERO)
}

fn serve(listener: std::net::TcpListener, base: String, builder: OidcLoginBuilder) -> AppServer {
    let logins: Arc<Mutex<Vec<LoginSuccess>>> = Arc::default();
    let seen = Arc::clone(&logins);
    let login = builder
        .on_login(move |_req: HttpRequest, login: LoginSuccess| {
            let seen = Arc::clone(&seen);
            async move {
                let body = json!({"sub": login.claims.subject(), "return_to": login.return_to});
                seen.lock().unwrap().push(login);
                Ok(HttpResponse::Ok().json(body))
            }
        })
        .build()
        .unwrap();
    let server = HttpServer::new(move || {
        let login = login.clone();
        App::new().configure(move |cfg| login.configure(cfg))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    AppServer {
        base,
        handle,
        logins,
    }
}

fn provider_for(app_base: &str, port: u16) -> OidcProvider {
    OidcProvider::start_with(
        port,
        &[
            (
                "OIDC_LOGIN_REDIRECT_URIS",
                &format!("{app_base}/auth/callback"),
            ),
            ("OIDC_LOGIN_POST_LOGOUT_URIS", &format!("{app_base}/bye")),
        ],
    )
}

/// From the app's login route through the provider's login and consent
/// forms, up to (not including) the callback. Returns the callback URL.
async fn walk_to_callback(browser: &Browser, app: &AppServer, start: &str, user: &str) -> String {
    http_browser::walk_to_callback(browser, start, &app.callback(), user).await
}

// ---------------------------------------------------------------------------
// Against the real provider.

#[actix_web::test]
async fn oidc_login_walks_login_consent_callback_refresh_and_logout() {
    if !oidc::available() {
        return;
    }
    let (listener, base) = app_listener();
    let provider = provider_for(&base, 0);
    let login_for_calls = builder(&provider.issuer, &base).build().unwrap();
    let app = serve(listener, base.clone(), builder(&provider.issuer, &base));
    let browser = Browser::default();

    // 1. Login start: 303 to the provider, the login cookie set.
    let start = browser
        .get(&format!("{base}/auth/login?return_to=%2Ftodos%2F7"))
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = start.location.clone().unwrap();
    assert!(authorize.starts_with(&format!("{}/auth?", provider.issuer)));
    let q = query_of(&authorize);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], app.callback());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 16 && q["nonce"].len() >= 16);
    assert_ne!(q["state"], q["nonce"]);
    assert_eq!(q["scope"], "openid email");
    assert_eq!(start.set_cookies.len(), 1);
    let set = start.set_cookies[0].to_ascii_lowercase();
    for attr in [
        "httponly",
        "samesite=lax",
        "path=/auth/callback",
        "max-age=600",
    ] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("secure"), "dangerously_allow_insecure_cookie");
    assert!(browser.get_cookie("oidc_login").is_some());

    // 2. Provider login and consent forms, then back to the callback.
    let callback = walk_to_callback(&browser, &app, &authorize, "alice").await;
    let cq = query_of(&callback);
    assert_eq!(cq["state"], q["state"]);
    assert_eq!(cq["iss"], provider.issuer);
    let saved_cookie = browser.get_cookie("oidc_login").unwrap();

    // 3. The callback: the session is handed to the application.
    let done = browser.get(&callback).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        done.json(),
        json!({"sub": "alice", "return_to": "/todos/7"})
    );
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("oidc_login=;") && c.to_ascii_lowercase().contains("max-age=0")),
        "the login cookie is cleared: {:?}",
        done.set_cookies
    );
    assert_eq!(browser.get_cookie("oidc_login"), None);
    let login = app.logins.lock().unwrap().pop().unwrap();
    assert_eq!(login.claims.issuer(), provider.issuer);
    assert_eq!(
        login.claims.get("email"),
        Some(&json!("alice@example.test"))
    );
    assert_eq!(login.claims.get("aud"), Some(&json!(CLIENT)));
    assert_eq!(login.claims.get("nonce"), Some(&json!(q["nonce"])));
    let refresh_token = login.tokens.refresh_token().expect("a refresh token");
    let id_token = login.tokens.id_token().unwrap().to_owned();
    assert!(!format!("{:?}", login.tokens).contains(refresh_token));

    // 4. Refresh with the provider's refresh token; the new ID token is
    // verified and names the same user.
    let refreshed = login_for_calls
        .refresh(refresh_token, "alice")
        .await
        .unwrap();
    assert!(!refreshed.tokens.access_token().is_empty());
    assert_ne!(refreshed.tokens.access_token(), login.tokens.access_token());
    let claims = refreshed.claims.expect("a new ID token");
    assert_eq!(claims.subject(), "alice");
    // Another user's session cannot take this refresh token's ID token.
    let next_refresh = refreshed
        .tokens
        .refresh_token()
        .unwrap_or(refresh_token)
        .to_owned();
    match login_for_calls.refresh(&next_refresh, "mallory").await {
        Err(LoginError::InvalidIdToken(_)) => {}
        other => panic!("another subject: {other:?}"),
    }
    for bad in ["", "not-a-refresh-token", &format!("{next_refresh}x")] {
        match login_for_calls.refresh(bad, "alice").await {
            Err(e @ LoginError::RefreshRefused(_)) => {
                assert_eq!(e.to_auth_error().status(), 401)
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }

    // 5. RP-initiated logout: end_session_endpoint with the hint and an
    // allowed post-logout URI; the provider accepts it.
    let url = login_for_calls
        .logout_url(Some(&id_token), Some(&format!("{base}/bye")))
        .await
        .unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/session/end?", provider.issuer))
    );
    let lq = query_of(url.as_str());
    assert_eq!(lq["id_token_hint"], id_token);
    assert_eq!(lq["post_logout_redirect_uri"], format!("{base}/bye"));
    assert_eq!(lq["client_id"], CLIENT);
    let confirm = browser.get(url.as_str()).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let (action, mut fields) = form(&confirm.body, url.as_str());
    fields.push(("logout".into(), "yes".into()));
    let posted = browser.post_form(&action, &fields).await;
    // The provider ends its session and sends the browser to the allowed URI.
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location, Some(format!("{base}/bye")));
    assert_eq!(
        browser.get_cookie("_session"),
        None,
        "provider session ended"
    );
    // The mounted route: 303 to the same endpoint; other destinations refused.
    let mounted = browser.get(&format!("{base}/auth/logout")).await;
    assert_eq!(mounted.status, 303);
    assert_eq!(
        query_of(mounted.location.as_ref().unwrap())["post_logout_redirect_uri"],
        format!("{base}/bye")
    );
    for evil in [
        "https://evil.example/",
        &format!("{base}/bye/../evil"),
        &format!("{base}/BYE"),
        "//evil.example",
    ] {
        let enc: String = form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let r = browser
            .get(&format!(
                "{base}/auth/logout?post_logout_redirect_uri={enc}"
            ))
            .await;
        assert_eq!(r.status, 400, "{evil}: {}", r.body);
        assert_eq!(r.code(), "POST_LOGOUT_REDIRECT_REFUSED");
        assert!(r.location.is_none());
    }
    // 6. The same callback again: the cookie is gone (single use)...
    let again = browser.get(&callback).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(again.code(), "LOGIN_STATE_MISSING");
    // ...and with the cookie put back, the provider refuses the used code.
    browser.set("oidc_login", "/auth/callback", &saved_cookie);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(replay.code(), "CODE_REFUSED");
    assert!(!replay.body.contains(&cq["code"]));
    assert_eq!(app.logins.lock().unwrap().len(), 0);

    // The provider revokes what the replayed code had issued (RFC 6749
    // §4.1.2): the refresh token is refused from now on.
    match login_for_calls.refresh(&next_refresh, "alice").await {
        Err(LoginError::RefreshRefused(_)) => {}
        other => panic!("after the replay: {other:?}"),
    }
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_refuses_forged_missing_or_altered_state() {
    if !oidc::available() {
        return;
    }
    let (listener, base) = app_listener();
    let provider = provider_for(&base, 0);
    let app = serve(listener, base.clone(), builder(&provider.issuer, &base));
    let browser = Browser::default();

    let start = browser.get(&format!("{base}/auth/login")).await;
    let authorize = start.location.unwrap();
    let callback = walk_to_callback(&browser, &app, &authorize, "bob").await;
    let cq = query_of(&callback);
    let (code, state) = (cq["code"].clone(), cq["state"].clone());
    let cookie = browser.get_cookie("oidc_login").unwrap();
    let mut altered = state.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let cases = [
        (format!("code={code}"), "no state"),
        (format!("code={code}&state="), "empty state"),
        (format!("code={code}&state=forged"), "forged state"),
        (
            format!("code={code}&state={altered}"),
            "one character changed",
        ),
        (format!("code={code}&state={state}x"), "longer state"),
        (
            format!("code={code}&state={}", &state[1..]),
            "shorter state",
        ),
    ];
    for (query, why) in &cases {
        browser.set("oidc_login", "/auth/callback", &cookie);
        let r = browser.get(&format!("{}?{query}", app.callback())).await;
        assert_eq!(r.status, 400, "{why}: {}", r.body);
        assert_eq!(r.code(), "LOGIN_STATE_INVALID", "{why}");
        assert_eq!(browser.get_cookie("oidc_login"), None, "{why}: cleared");
    }
    // A repeated state is refused as a malformed callback.
    browser.set("oidc_login", "/auth/callback", &cookie);
    let r = browser
        .get(&format!(
            "{}?code={code}&state={state}&state={state}",
            app.callback()
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_CALLBACK"));
    // The right state without the cookie (another browser: login CSRF).
    browser.clear();
    let r = browser.get(&callback).await;
    assert_eq!((r.status, r.code().as_str()), (400, "LOGIN_STATE_MISSING"));
    // A tampered cookie (each part changed) or one signed with another key.
    let other_key = {
        // A cookie from an app with another key: start a login there.
        let (listener, other_base) = app_listener();
        let other = serve(
            listener,
            other_base.clone(),
            builder(&provider.issuer, &base).cookie_key(CookieKey::new([7u8; 32]).unwrap()),
        );
        let b = Browser::default();
        b.get(&format!("{other_base}/auth/login")).await;
        let c = b.get_cookie("oidc_login").unwrap();
        other.stop().await;
        c
    };
    let (payload, tag) = cookie.split_once('.').unwrap();
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    for (bad, why) in [
        (format!("{}.{tag}", flip(payload, 5)), "payload changed"),
        (format!("{payload}.{}", flip(tag, 3)), "MAC changed"),
        (payload.to_owned(), "no MAC"),
        (other_key, "another key"),
        ("garbage".to_owned(), "garbage"),
    ] {
        browser.set("oidc_login", "/auth/callback", &bad);
        let r = browser.get(&callback).await;
        assert_eq!(r.status, 400, "{why}: {}", r.body);
        assert_eq!(r.code(), "LOGIN_STATE_INVALID", "{why}");
    }
    // The untouched cookie still completes this login: the failures above
    // did not use the code.
    browser.set("oidc_login", "/auth/callback", &cookie);
    let ok = browser.get(&callback).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_provider_errors_are_4xx_never_500() {
    if !oidc::available() {
        return;
    }
    let (listener, base) = app_listener();
    let provider = provider_for(&base, 0);
    let app = serve(listener, base.clone(), builder(&provider.issuer, &base));
    let browser = Browser::default();

    // The user aborts at the provider: access_denied comes back.
    let start = browser.get(&format!("{base}/auth/login")).await;
    let (page, page_url) = browser
        .follow(start.location.as_ref().unwrap(), &app.callback())
        .await;
    assert_eq!(page.status, 200);
    let abort = format!("{page_url}/abort");
    let (back, _) = browser.follow(&abort, &app.callback()).await;
    let callback = back.location.unwrap();
    assert_eq!(query_of(&callback)["error"], "access_denied");
    let r = browser.get(&callback).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "ACCESS_DENIED");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("access_denied")
    );
    assert!(app.logins.lock().unwrap().is_empty());

    // Other error responses, with the right state: 400, the code named,
    // hostile descriptions sanitised.
    for (error, desc) in [
        ("invalid_scope", "the scope is unknown"),
        ("login_required", ""),
        ("server_error", "<script>alert(1)</script>"),
        ("\u{1}\u{2}", "\r\nX-Injected: 1"),
    ] {
        let start = browser.get(&format!("{base}/auth/login")).await;
        let state = query_of(start.location.as_ref().unwrap())["state"].clone();
        let url = reqwest::Url::parse_with_params(
            &app.callback(),
            &[
                ("error", error),
                ("error_description", desc),
                ("state", &state),
            ],
        )
        .unwrap();
        let r = browser.get(url.as_str()).await;
        assert_eq!(r.status, 400, "{error:?}: {}", r.body);
        assert_eq!(r.code(), "PROVIDER_ERROR");
        assert!(!r.body.contains("<script>") && !r.body.contains('\r'));
    }
    // An error response without the cookie's state is a state failure.
    let start = browser.get(&format!("{base}/auth/login")).await;
    assert_eq!(start.status, 303);
    let r = browser
        .get(&format!(
            "{}?error=access_denied&state=forged",
            app.callback()
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "LOGIN_STATE_INVALID"));
    // A response naming another issuer (RFC 9207 mix-up).
    let start = browser.get(&format!("{base}/auth/login")).await;
    let state = query_of(start.location.as_ref().unwrap())["state"].clone();
    let r = browser
        .get(&format!(
            "{}?code=x&state={state}&iss=http%3A%2F%2F127.0.0.1%3A1",
            app.callback()
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_CALLBACK"));
    // No code at all.
    let start = browser.get(&format!("{base}/auth/login")).await;
    let state = query_of(start.location.as_ref().unwrap())["state"].clone();
    let r = browser
        .get(&format!("{}?state={state}", app.callback()))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_CALLBACK"));
    // A code the provider never issued.
    let start = browser.get(&format!("{base}/auth/login")).await;
    let state = query_of(start.location.as_ref().unwrap())["state"].clone();
    let r = browser
        .get(&format!("{}?state={state}&code=made-up", app.callback()))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "CODE_REFUSED"));
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_return_to_open_redirects_are_refused() {
    if !oidc::available() {
        return;
    }
    let (listener, base) = app_listener();
    let provider = provider_for(&base, 0);
    let app = serve(listener, base.clone(), builder(&provider.issuer, &base));
    let browser = Browser::default();
    for evil in [
        "https://evil.example/",
        "http://evil.example/todos",
        "//evil.example",
        "//evil.example/todos",
        "/\\evil.example",
        "\\/evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "/todos/../admin",
        "/todos/%2e%2e/admin",
        "/admin",
        "/",
        "javascript:alert(1)",
        "/todos\r\nSet-Cookie: x=1",
        "https://127.0.0.1@evil.example/todos",
        "",
    ] {
        let enc: String = form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let r = browser
            .get(&format!("{base}/auth/login?return_to={enc}"))
            .await;
        assert_eq!(r.status, 400, "{evil:?}: {}", r.body);
        assert_eq!(r.code(), "RETURN_TO_REFUSED", "{evil:?}");
        assert!(r.location.is_none() && r.set_cookies.is_empty(), "{evil:?}");
    }
    // Two return_to parameters: refused too.
    let r = browser
        .get(&format!(
            "{base}/auth/login?return_to=/todos&return_to=//evil"
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "RETURN_TO_REFUSED"));
    // Allowed ones go through, and the default is used without one.
    for ok in ["/todos", "/todos/7?x=1"] {
        let enc: String = form_urlencoded::byte_serialize(ok.as_bytes()).collect();
        let r = browser
            .get(&format!("{base}/auth/login?return_to={enc}"))
            .await;
        assert_eq!(r.status, 303, "{ok}: {}", r.body);
    }
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_survives_key_rotation_and_fails_closed_while_the_provider_is_down() {
    if !oidc::available() {
        return;
    }
    let (listener, base) = app_listener();
    let first = provider_for(&base, 0);
    let port = first.port;
    let issuer = first.issuer.clone();
    let app = serve(listener, base.clone(), builder(&issuer, &base));
    let browser = Browser::default();

    let start = browser.get(&format!("{base}/auth/login")).await;
    let cb = walk_to_callback(&browser, &app, start.location.as_ref().unwrap(), "carol").await;
    assert_eq!(browser.get(&cb).await.status, 200);
    let kid1 = kid(app.logins.lock().unwrap()[0].tokens.id_token().unwrap());

    // A restart is a key rotation; the new kid is fetched, the login works.
    first.stop();
    let second = provider_for(&base, port);
    browser.clear();
    let start = browser.get(&format!("{base}/auth/login")).await;
    let cb = walk_to_callback(&browser, &app, start.location.as_ref().unwrap(), "carol").await;
    let r = browser.get(&cb).await;
    assert_eq!(r.status, 200, "after rotation: {}", r.body);
    let kid2 = kid(app.logins.lock().unwrap()[1].tokens.id_token().unwrap());
    assert_ne!(kid1, kid2);

    // The provider goes down between the login start and the callback: the
    // code cannot be exchanged, 503 with Retry-After, no session.
    browser.clear();
    let start = browser.get(&format!("{base}/auth/login")).await;
    let cb = walk_to_callback(&browser, &app, start.location.as_ref().unwrap(), "carol").await;
    second.stop();
    let r = browser.get(&cb).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("7"));
    assert_eq!(r.code(), "SERVICE_UNAVAILABLE");
    assert_eq!(app.logins.lock().unwrap().len(), 2);
    app.stop().await;

    // An application whose provider was never reachable: the login start
    // is a 503 with Retry-After, and stays one (no retry storm).
    let (listener, base) = app_listener();
    let app = serve(listener, base.clone(), builder(&issuer, &base));
    for _ in 0..3 {
        let r = browser.get(&format!("{base}/auth/login")).await;
        assert_eq!(r.status, 503, "{}", r.body);
        let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=7).contains(&wait), "{wait}");
        assert!(r.set_cookies.is_empty() && r.location.is_none());
    }
    let r = browser.get(&format!("{base}/auth/logout")).await;
    assert_eq!(r.status, 503);
    app.stop().await;
}

fn kid(token: &str) -> String {
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------
// A crafted provider: discovery, a JWK Set with its own key, and a token
// endpoint answering what the test says.

const PRIVATE_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"crafted-1","alg":"ES256","x":"H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk","y":"ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ","d":"raFX5m60haepscX34s6n9AsxP72Tieq_nkDuLfSwqwo"}"#;

fn public_jwks() -> String {
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "crafted-1", "alg": "ES256", "use": "sig",
        "x": "H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk",
        "y": "ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ",
    }]})
    .to_string()
}

#[derive(Default)]
struct Crafted {
    routes: Mutex<HashMap<String, (u16, String)>>,
    /// Paths answered only after this long.
    slow: Mutex<HashMap<String, Duration>>,
}

async fn crafted_route(req: HttpRequest, state: web::Data<Crafted>) -> HttpResponse {
    let wait = state.slow.lock().unwrap().get(req.path()).copied();
    if let Some(wait) = wait {
        actix_web::rt::time::sleep(wait).await;
    }
    match state.routes.lock().unwrap().get(req.path()).cloned() {
        Some((status, body)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .content_type("application/json")
                .body(body)
        }
        None => HttpResponse::NotFound().finish(),
    }
}

struct CraftedServer {
    state: web::Data<Crafted>,
    base: String,
    port: u16,
}

impl CraftedServer {
    fn route(&self, path: &str, status: u16, body: impl Into<String>) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.into()));
    }

    fn discovery(&self, jwks_uri: &str) {
        let b = &self.base;
        self.route(
            "/.well-known/openid-configuration",
            200,
            json!({
                "issuer": b,
                "authorization_endpoint": format!("{b}/authorize"),
                "token_endpoint": format!("{b}/token"),
                "jwks_uri": jwks_uri,
                "code_challenge_methods_supported": ["S256"],
            })
            .to_string(),
        );
        self.route("/jwks", 200, public_jwks());
    }
}

fn crafted() -> CraftedServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = web::Data::new(Crafted::default());
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(crafted_route))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    CraftedServer {
        state,
        base: format!("http://127.0.0.1:{port}"),
        port,
    }
}

fn sign(claims: &Value, typ: Option<&str>) -> String {
    SigningKey::from_jwk_json(PRIVATE_JWK)
        .unwrap()
        .sign(claims, typ)
        .unwrap()
}

/// Starts a login at `app`, has the crafted token endpoint answer with
/// `id_token(nonce)`, and calls the callback.
async fn crafted_login(
    provider: &CraftedServer,
    app: &AppServer,
    id_token: impl FnOnce(&str) -> Option<String>,
) -> Reply {
    let browser = Browser::default();
    let start = browser.get(&format!("{}/auth/login", app.base)).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let q = query_of(start.location.as_ref().unwrap());
    let mut body = json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300});
    if let Some(t) = id_token(&q["nonce"]) {
        body["id_token"] = json!(t);
    }
    provider.route("/token", 200, body.to_string());
    browser
        .get(&format!("{}?code=c&state={}", app.callback(), q["state"]))
        .await
}

/// A correct ID token's claims for user `dave` of the crafted provider.
fn dave_claims(iss: &str, nonce: &str) -> Value {
    json!({"iss": iss, "aud": CLIENT, "sub": "dave", "nonce": nonce, "iat": now(), "exp": now() + 300})
}

/// An ES256 key the crafted provider does not publish, under `kid`.
fn foreign_key(kid: &str) -> SigningKey {
    SigningKey::from_pem(
        auth_test_support::keys::EC_PRIVATE,
        auth_jwt::Algorithm::ES256,
    )
    .unwrap()
    .with_kid(kid)
}

#[actix_web::test]
async fn oidc_login_id_tokens_are_checked_claim_by_claim() {
    let provider = crafted();
    provider.discovery(&format!("{}/jwks", provider.base));
    let (listener, base) = app_listener();
    let app = serve(listener, base.clone(), builder(&provider.base, &base));
    let iss = provider.base.clone();
    let good = |nonce: &str| dave_claims(&iss, nonce);

    // The control: a correct token is accepted.
    let r = crafted_login(&provider, &app, |n| Some(sign(&good(n), Some("JWT")))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Several audiences with azp naming this client: accepted.
    let r = crafted_login(&provider, &app, |n| {
        let mut c = good(n);
        c["aud"] = json!([CLIENT, "other-web"]);
        c["azp"] = json!(CLIENT);
        Some(sign(&c, None))
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    type Change = fn(&mut Value);
    let cases: Vec<(&str, Change)> = vec![
        ("another nonce", |c| c["nonce"] = json!("another-nonce")),
        ("no nonce", |c| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
        ("empty nonce", |c| c["nonce"] = json!("")),
        ("another issuer", |c| c["iss"] = json!("http://127.0.0.1:1")),
        ("no issuer", |c| {
            c.as_object_mut().unwrap().remove("iss");
        }),
        ("another client", |c| c["aud"] = json!("other-web")),
        ("no audience", |c| {
            c.as_object_mut().unwrap().remove("aud");
        }),
        ("several audiences, no azp", |c| {
            c["aud"] = json!([CLIENT, "other-web"])
        }),
        ("azp another client", |c| {
            c["aud"] = json!([CLIENT, "other-web"]);
            c["azp"] = json!("other-web");
        }),
        ("expired", |c| {
            c["exp"] = json!(now() - 120);
            c["iat"] = json!(now() - 400);
        }),
        ("no exp", |c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        ("iat in the future", |c| c["iat"] = json!(now() + 600)),
        ("iat too old", |c| c["iat"] = json!(now() - 3600)),
        ("no iat", |c| {
            c.as_object_mut().unwrap().remove("iat");
        }),
        ("no sub", |c| {
            c.as_object_mut().unwrap().remove("sub");
        }),
    ];
    for (why, change) in cases {
        let r = crafted_login(&provider, &app, |n| {
            let mut c = good(n);
            change(&mut c);
            Some(sign(&c, Some("JWT")))
        })
        .await;
        assert_eq!(r.status, 401, "{why}: {}", r.body);
        assert_eq!(r.code(), "INVALID_ID_TOKEN", "{why}");
    }
    // Wrong key, wrong type, no signature, no token at all.
    type MakeToken = Box<dyn Fn(&str) -> Option<String>>;
    let forged: Vec<(&str, MakeToken)> = vec![
        (
            "another key, same kid",
            Box::new({
                let iss = provider.base.clone();
                move |n: &str| {
                    Some(
                        foreign_key("crafted-1")
                            .sign(&dave_claims(&iss, n), None)
                            .unwrap(),
                    )
                }
            }),
        ),
        (
            "another key, unknown kid",
            Box::new({
                let iss = provider.base.clone();
                move |n: &str| {
                    Some(
                        foreign_key("attacker")
                            .sign(&dave_claims(&iss, n), None)
                            .unwrap(),
                    )
                }
            }),
        ),
        (
            "access token typ",
            Box::new({
                let iss = provider.base.clone();
                move |n: &str| Some(sign(&dave_claims(&iss, n), Some("at+jwt")))
            }),
        ),
        (
            "alg none",
            Box::new({
                let iss = provider.base.clone();
                move |n: &str| {
                    let b = |v: Value| {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
                    };
                    Some(format!(
                        "{}.{}.",
                        b(json!({"alg": "none", "kid": "crafted-1"})),
                        b(dave_claims(&iss, n))
                    ))
                }
            }),
        ),
        ("no id_token", Box::new(|_: &str| None)),
        ("not a JWT", Box::new(|_: &str| Some("opaque".into()))),
    ];
    for (why, make) in forged {
        let r = crafted_login(&provider, &app, |n| make(n)).await;
        assert_eq!(r.status, 401, "{why}: {}", r.body);
        assert_eq!(r.code(), "INVALID_ID_TOKEN", "{why}");
    }
    assert_eq!(
        app.logins.lock().unwrap().len(),
        2,
        "only the two good ones"
    );

    // Token endpoint failures: its refusal of the code (and a code of its
    // own) is a 400; its refusal of this client (the application's
    // registration or settings, nothing the browser did) and its outage a
    // 503.
    let browser = Browser::default();
    for (status, body, expect, code) in [
        (400, r#"{"error":"invalid_grant"}"#, 400, "CODE_REFUSED"),
        (400, r#"{"error":"invalid_request"}"#, 400, "CODE_REFUSED"),
        (
            401,
            r#"{"error":"invalid_client"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (
            400,
            r#"{"error":"unauthorized_client"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (
            400,
            r#"{"error":"unsupported_grant_type"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (
            400,
            r#"{"error":"invalid_scope"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (400, r#"{"error":"x_custom"}"#, 400, "CODE_REFUSED"),
        (500, "<html>oops</html>", 503, "SERVICE_UNAVAILABLE"),
        (
            503,
            r#"{"error":"temporarily_unavailable"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (
            200,
            r#"{"token_type":"Bearer"}"#,
            503,
            "SERVICE_UNAVAILABLE",
        ),
    ] {
        let start = browser.get(&format!("{base}/auth/login")).await;
        let state = query_of(start.location.as_ref().unwrap())["state"].clone();
        provider.route("/token", status, body);
        let r = browser
            .get(&format!("{}?code=c&state={state}", app.callback()))
            .await;
        assert_eq!(r.status, expect, "{status} {body}: {}", r.body);
        assert_eq!(r.code(), code);
        if expect == 503 {
            assert!(r.retry_after.is_some());
        }
    }
    app.stop().await;
}

/// A login that finds the provider due for rediscovery while another
/// login is rediscovering it goes on with the document it has: it does not
/// wait for that (slow) discovery.
#[actix_web::test]
async fn oidc_login_does_not_wait_for_another_logins_rediscovery() {
    let provider = crafted();
    provider.discovery(&format!("{}/jwks", provider.base));
    let (listener, base) = app_listener();
    let app = serve(
        listener,
        base.clone(),
        builder(&provider.base, &base).rediscover_every(Duration::from_millis(100)),
    );
    let first = Browser::default().get(&format!("{base}/auth/login")).await;
    assert_eq!(first.status, 303, "{}", first.body);

    // Rediscovery is due, and the provider now takes 3 s to answer it.
    provider.state.slow.lock().unwrap().insert(
        "/.well-known/openid-configuration".to_owned(),
        Duration::from_secs(3),
    );
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let url = format!("{base}/auth/login");
    let rediscovering = actix_web::rt::spawn({
        let url = url.clone();
        async move { Browser::default().get(&url).await }
    });
    // Let the first request reach the provider before the next ones start.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let r = Browser::default().get(&url).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(
            !rediscovering.is_finished(),
            "this login waited for the other's rediscovery"
        );
    }
    assert_eq!(rediscovering.await.unwrap().status, 303);
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_refuses_a_jwks_uri_on_another_host_unless_allowed() {
    let provider = crafted();
    // `localhost` is loopback (so http is allowed) but another host name.
    provider.discovery(&format!("http://localhost:{}/jwks", provider.port));
    let (listener, base) = app_listener();
    let app = serve(listener, base.clone(), builder(&provider.base, &base));
    let r = Browser::default().get(&format!("{base}/auth/login")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.retry_after.is_some());
    assert!(r.location.is_none() && r.set_cookies.is_empty());
    app.stop().await;

    let (listener, base) = app_listener();
    let app = serve(
        listener,
        base.clone(),
        builder(&provider.base, &base).allow_endpoint_host("localhost"),
    );
    let iss = provider.base.clone();
    let r = crafted_login(&provider, &app, |n| {
        Some(sign(
            &json!({"iss": iss, "aud": CLIENT, "sub": "erin", "nonce": n, "iat": now(), "exp": now() + 300}),
            None,
        ))
    })
    .await;
    assert_eq!(r.status, 200, "allowed explicitly: {}", r.body);
    app.stop().await;

    // A provider that does not offer S256 is refused (fail closed).
    let plain = crafted();
    plain.route(
        "/.well-known/openid-configuration",
        200,
        json!({
            "issuer": plain.base,
            "authorization_endpoint": format!("{}/authorize", plain.base),
            "token_endpoint": format!("{}/token", plain.base),
            "jwks_uri": format!("{}/jwks", plain.base),
            "code_challenge_methods_supported": ["plain"],
        })
        .to_string(),
    );
    let (listener, base) = app_listener();
    let app = serve(listener, base.clone(), builder(&plain.base, &base));
    let r = Browser::default().get(&format!("{base}/auth/login")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    app.stop().await;
}

#[actix_web::test]
async fn oidc_login_cookie_is_secure_by_default() {
    let provider = crafted();
    provider.discovery(&format!("{}/jwks", provider.base));
    let login = OidcLogin::builder(&provider.base, CLIENT, "https://todo.example/auth/callback")
        .cookie_key(CookieKey::new([1u8; 32]).unwrap())
        .build()
        .unwrap();
    let (url, cookie) = login.start(None).await.unwrap();
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert_eq!(cookie.path(), Some("/auth/callback"));
    assert_eq!(
        cookie.max_age(),
        Some(actix_web::cookie::time::Duration::seconds(600))
    );
    // The cookie carries no readable secret in the clear for other sites:
    // it is path-scoped to the callback and signed.
    assert!(cookie.value().contains('.'));
    assert_eq!(
        query_of(url.as_str())["redirect_uri"],
        "https://todo.example/auth/callback"
    );
}
