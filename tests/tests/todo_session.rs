//! The todo example's browser sessions over real HTTP against the real
//! binary: the cookie's attributes, CSRF and cross-site refusals, rotation
//! at login, logout then reuse, and the JSON API unchanged for bearer
//! clients. (Timeouts on a test clock: auth-token's `browser_sessions`
//! tests; the page in a browser: `todo_browser`.)

mod common;

use common::server::TodoServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse 42";

struct Session {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

struct Todo {
    http: reqwest::Client,
    server: TodoServer,
}

impl Todo {
    fn start() -> Todo {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Todo {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            server: TodoServer::start(&[]),
        }
    }

    /// Sends a request as the page would (same-origin fetch metadata,
    /// `No-Auth-Challenge`), then `headers` on top (an empty value removes
    /// a default).
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut defaults = vec![
            ("origin", self.server.base.clone()),
            ("sec-fetch-site", "same-origin".to_owned()),
            ("no-auth-challenge", "true".to_owned()),
        ];
        defaults.retain(|(n, _)| !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n)));
        let mut req = self.http.request(method, self.server.url(path));
        for (name, value) in defaults {
            req = req.header(name, value);
        }
        for (name, value) in headers {
            if !value.is_empty() {
                req = req.header(*name, *value);
            }
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
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn signup(&self, email: &str) {
        let body = json!({"email": email, "password": PASSWORD});
        let (status, _, body) = self.send(Method::POST, "/signup", &[], Some(body)).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn log_in(&self, email: &str, cookie: Option<&str>) -> Session {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        let body = json!({"email": email, "password": PASSWORD});
        let (status, headers, body) = self
            .send(Method::POST, "/session/login", &headers, Some(body))
            .await;
        assert_eq!(status, 200, "{body}");
        let set_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
        Session {
            cookie: set_cookie.split(';').next().unwrap().to_owned(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            set_cookie,
        }
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_todo_sessions_on_the_wire() {
    let todo = Todo::start();
    todo.signup("ada@example.com").await;
    todo.signup("eve@example.com").await;
    let ada = todo.log_in("ada@example.com", None).await;
    let eve = todo.log_in("eve@example.com", None).await;

    // The cookie.
    let mut attributes: Vec<&str> = ada.set_cookie.split("; ").skip(1).collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "HttpOnly",
            "Max-Age=43200",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ]
    );
    assert!(
        ada.cookie.starts_with("__Host-session="),
        "{}",
        ada.set_cookie
    );

    // With the token, from the page: todos change.
    let h = [
        ("cookie", ada.cookie.as_str()),
        ("x-csrf-token", ada.csrf.as_str()),
    ];
    let (status, _, created) = todo
        .send(
            Method::POST,
            "/todos",
            &h,
            Some(json!({"title": "from the page"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_i64().unwrap();

    // Missing, forged or another session's token: 403, nothing changes.
    let forged = format!("{}x", &ada.csrf[..42]);
    for (what, token) in [
        ("missing", ""),
        ("forged", forged.as_str()),
        ("another session's", eve.csrf.as_str()),
        ("the cookie's value", &ada.cookie["__Host-session=".len()..]),
    ] {
        for (method, path) in [
            (Method::POST, "/todos".to_owned()),
            (Method::PATCH, format!("/todos/{id}")),
            (Method::DELETE, format!("/todos/{id}")),
            (Method::POST, "/session/logout".to_owned()),
        ] {
            let headers = [("cookie", ada.cookie.as_str()), ("x-csrf-token", token)];
            let body = (method != Method::DELETE).then(|| json!({"title": "forged"}));
            let (status, headers, body) = todo.send(method.clone(), &path, &headers, body).await;
            assert_eq!(status, 403, "{what} token, {method} {path}: {body}");
            assert_eq!(code(&body), "INVALID_CSRF_TOKEN", "{what}");
            assert!(headers.get("www-authenticate").is_none());
        }
    }

    // Cross-site: 403 even with the right token; GET passes.
    for cross in [
        [
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        [
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:1"),
        ],
        [("sec-fetch-site", ""), ("origin", "https://evil.example")],
    ] {
        let mut headers = cross.to_vec();
        headers.push(("cookie", ada.cookie.as_str()));
        headers.push(("x-csrf-token", ada.csrf.as_str()));
        let (status, _, body) = todo
            .send(
                Method::POST,
                "/todos",
                &headers,
                Some(json!({"title": "x"})),
            )
            .await;
        assert_eq!(
            (status.as_u16(), code(&body)),
            (403, "CROSS_SITE_REQUEST"),
            "{cross:?}"
        );
        let login = json!({"email": "ada@example.com", "password": PASSWORD});
        let (status, headers, _) = todo
            .send(Method::POST, "/session/login", &cross, Some(login))
            .await;
        assert_eq!(status, 403, "login {cross:?}");
        assert!(headers.get("set-cookie").is_none());
    }
    let cross_get = [
        ("cookie", ada.cookie.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    let (status, _, list) = todo.send(Method::GET, "/todos", &cross_get, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // Rotation: a second login from the same browser kills the first cookie.
    let rotated = todo.log_in("ada@example.com", Some(&ada.cookie)).await;
    assert_ne!(rotated.cookie, ada.cookie);
    let (status, _, body) = todo
        .send(
            Method::GET,
            "/todos",
            &[("cookie", ada.cookie.as_str())],
            None,
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (401, "INVALID_SESSION"));
    let (status, _, _) = todo
        .send(
            Method::GET,
            "/todos",
            &[("cookie", rotated.cookie.as_str())],
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Logout, then the cookie is dead: 401 without a Basic pop-up.
    let out = [
        ("cookie", rotated.cookie.as_str()),
        ("x-csrf-token", rotated.csrf.as_str()),
    ];
    let (status, headers, _) = todo.send(Method::POST, "/session/logout", &out, None).await;
    assert_eq!(status, 204);
    let cleared = headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("__Host-session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    for (method, path) in [(Method::GET, "/todos"), (Method::GET, "/session")] {
        let (status, headers, _) = todo
            .send(method, path, &[("cookie", rotated.cookie.as_str())], None)
            .await;
        assert_eq!(status, 401, "{path}");
        let challenge = headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(!challenge.unwrap_or_default().contains("Basic"), "{path}");
    }

    // Bearer clients: unchanged, no CSRF token, no Origin.
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let (status, _, tokens) = todo
        .send(
            Method::POST,
            "/users/login",
            &[("origin", ""), ("sec-fetch-site", "")],
            Some(login),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let headers = [
        ("authorization", bearer.as_str()),
        ("origin", ""),
        ("sec-fetch-site", ""),
    ];
    let (status, _, body) = todo
        .send(
            Method::POST,
            "/todos",
            &headers,
            Some(json!({"title": "from curl"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, list) = todo.send(Method::GET, "/todos", &headers, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}
