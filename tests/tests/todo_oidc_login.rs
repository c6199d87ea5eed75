//! The todo example's "log in with your identity provider" (OpenID Connect,
//! configured with `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`,
//! `OIDC_REDIRECT_URI`): the real todo binary, the real OpenID provider of
//! `.ci/oidc` with its login and consent forms, and a cookie-keeping
//! browser. After the provider's login the todo answers its own token pair,
//! which then works like one from `POST /users/login`.

#[allow(dead_code)]
#[path = "common/http_browser.rs"]
mod http_browser;
#[allow(dead_code)]
#[path = "common/oidc.rs"]
mod oidc;
#[allow(dead_code)]
#[path = "common/server.rs"]
mod server;

use http_browser::{Browser, client, query_of, walk_to_callback};
use oidc::OidcProvider;
use serde_json::{Value, json};
use server::TodoServer;

/// A port nothing listens on now, for the todo: its redirect URI must be
/// registered at the provider before either starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[actix_web::test]
async fn todo_logs_in_with_the_identity_provider_and_answers_its_own_tokens() {
    if !oidc::available() {
        return;
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/auth/oidc/callback");
    let provider = OidcProvider::start_with(
        0,
        &[
            ("OIDC_LOGIN_REDIRECT_URIS", &callback),
            ("OIDC_LOGIN_POST_LOGOUT_URIS", &format!("{base}/")),
        ],
    );
    let port_text = port.to_string();
    let todo = TodoServer::start(&[
        ("PORT", &port_text),
        ("OIDC_ISSUER", &provider.issuer),
        ("OIDC_CLIENT_ID", "todo-web"),
        ("OIDC_CLIENT_SECRET", "todo-web-secret"),
        ("OIDC_REDIRECT_URI", &callback),
        ("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE", "true"),
    ]);
    assert_eq!(todo.base, base);
    let browser = Browser::default();

    // The web page's button: where its login starts.
    let info = browser.get(&todo.url("/auth/oidc")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(
        info.json(),
        json!({"login": "/auth/oidc/login?return_to=/app"})
    );
    // Only the page is an allowed destination.
    for bad in [
        "https://evil.test/",
        "//evil.test/app",
        "/todos",
        "/%2F%2Fevil.test",
        "/apple",
    ] {
        let r = browser
            .get(&todo.url(&format!("/auth/oidc/login?return_to={bad}")))
            .await;
        assert_eq!(r.status, 400, "return_to={bad}: {}", r.body);
    }

    let start = browser.get(&todo.url("/auth/oidc/login")).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = start.location.clone().unwrap();
    assert!(authorize.starts_with(&provider.issuer));
    assert_eq!(query_of(&authorize)["code_challenge_method"], "S256");
    let back = walk_to_callback(&browser, &authorize, &callback, "frank").await;

    // A forged state is refused, and does not spend the login.
    let cookie = browser.get_cookie("oidc_login").unwrap();
    let code = query_of(&back)["code"].clone();
    let forged = browser
        .get(&format!("{callback}?code={code}&state=forged"))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert_eq!(forged.code(), "LOGIN_STATE_INVALID");
    browser.set("oidc_login", "/auth/oidc/callback", &cookie);

    // The real callback: the todo's own token pair (RFC 6749 §5.1 shape).
    let done = browser.get(&back).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let tokens = done.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);

    // The todo's token works on its routes, for the provider's user.
    let (status, me) = call(
        reqwest::Method::GET,
        &todo.url("/whoAmI"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], "oidc:frank");
    assert_eq!(me["email"], "frank@example.test");
    assert_eq!(me["roles"], json!(["user"]));
    let (status, created) = call(
        reqwest::Method::POST,
        &todo.url("/todos"),
        Some(&access),
        Some(json!({"title": "from the identity provider"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (status, list) = call(
        reqwest::Method::GET,
        &todo.url("/todos"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // And it refreshes like any of the todo's refresh tokens.
    let (status, again) = call(
        reqwest::Method::POST,
        &todo.url("/refresh"),
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert!(again["access_token"].as_str().is_some());

    // RP-initiated logout: the mounted route sends the browser to the
    // provider's end_session_endpoint.
    let out = browser.get(&todo.url("/auth/oidc/logout")).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(
        out.location
            .unwrap()
            .starts_with(&format!("{}/session/end?", provider.issuer))
    );
    drop(todo);

    // Without the settings the routes do not exist.
    let plain = TodoServer::start(&[]);
    for path in ["/auth/oidc/login", "/auth/oidc"] {
        let r = browser.get(&plain.url(path)).await;
        assert_eq!(r.status, 404, "{path}");
    }
}
