//! The todo example, end to end: the real binary on 127.0.0.1, driven over
//! HTTP. LoopBack's todo-jwt acceptance flow, then everything around it.

#[path = "common/server.rs"]
mod server;

use std::time::{SystemTime, UNIX_EPOCH};

use auth_jwt::{Algorithm, SigningKey};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::TodoServer;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "boss@example.com";

struct Client {
    http: reqwest::Client,
    server: TodoServer,
}

impl Client {
    fn start(extra: &[(&str, &str)]) -> Client {
        let mut env = vec![("TODO_ADMIN_EMAILS", ADMIN), ("LOGIN_MAX_FAILURES", "3")];
        env.extend_from_slice(extra);
        // reqwest is built without a bundled TLS provider (the workspace uses
        // ring); these requests are plain HTTP, but the builder wants one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            server: TodoServer::start(&env),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, self.server.url(path));
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
        (status, headers, body)
    }

    async fn get(
        &self,
        path: &str,
        auth: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::GET, path, auth, None).await
    }

    async fn post(
        &self,
        path: &str,
        auth: Option<&str>,
        body: Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::POST, path, auth, Some(body))
            .await
    }

    async fn signup(&self, email: &str) -> Value {
        let (status, _, body) = self
            .post(
                "/signup",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Logs in and answers `(bearer header, refresh token)`.
    async fn login(&self, email: &str) -> (String, String) {
        let (status, headers, body) = self
            .post(
                "/users/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        // RFC 6749 §5.1's token response, the same shape TokenService gives.
        assert_eq!(body["token_type"], "Bearer", "{body}");
        assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
        assert!(body.get("token").is_none(), "{body}");
        (
            format!("Bearer {}", body["access_token"].as_str().unwrap()),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Signs `claims` with the key the server generated in its data directory.
    fn forge(&self, claims: Value) -> String {
        let text = std::fs::read_to_string(self.server.data.path().join("jwt-secret.b64")).unwrap();
        let secret = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        let key = SigningKey::hmac(&secret, Algorithm::HS256).unwrap();
        let token = key.sign(&claims, None).unwrap();
        format!("Bearer {token}")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn assert_unauthorized(status: StatusCode, headers: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(status, 401, "{what}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm="),
        "{what}: {challenge}"
    );
}

async fn full_flow(client: &Client) {
    // LoopBack's acceptance flow.
    let (status, headers, body) = client.get("/todos", None).await;
    assert_unauthorized(status, &headers, "GET /todos without a token");
    assert_eq!(body["error"]["code"], "USER_PROFILE_NOT_FOUND");
    let created = client.signup("ada@example.com").await;
    assert_eq!(created["email"], "ada@example.com");
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
    let (ada, ada_refresh) = client.login("ada@example.com").await;
    let (status, _, body) = client.get("/todos", Some(&ada)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));

    // Sign-up refuses duplicates and weak passwords (LoopBack accepts both).
    let (status, _, body) = client
        .post(
            "/signup",
            None,
            json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = client
        .post(
            "/signup",
            None,
            json!({"email": "bob@example.com", "password": "short"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "WEAK_PASSWORD");
    let (status, _, _) = client
        .post(
            "/signup",
            None,
            json!({"email": "not-an-address", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = client
        .post(
            "/users/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password 1"}),
        )
        .await;
    assert_eq!(status, 401);

    // whoAmI
    let (status, _, body) = client.get("/whoAmI", Some(&ada)).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], created["id"]);
    assert_eq!(body["email"], "ada@example.com");

    // CRUD under authentication.
    let (status, _, todo) = client
        .post(
            "/todos",
            Some(&ada),
            json!({"title": "buy milk", "desc": "2 litres"}),
        )
        .await;
    assert_eq!(status, 200, "{todo}");
    let id = todo["id"].as_i64().unwrap();
    assert_eq!(
        todo,
        json!({"id": id, "title": "buy milk", "desc": "2 litres", "isComplete": false})
    );
    let (_, _, count) = client.get("/todos/count", Some(&ada)).await;
    assert_eq!(count, json!({"count": 1}));
    let (status, _, one) = client.get(&format!("/todos/{id}"), Some(&ada)).await;
    assert_eq!(
        (status, one["title"].clone()),
        (StatusCode::OK, json!("buy milk"))
    );
    let (status, _, patched) = client
        .send(
            reqwest::Method::PATCH,
            &format!("/todos/{id}"),
            Some(&ada),
            Some(json!({"isComplete": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        patched,
        json!({"id": id, "title": "buy milk", "desc": "2 litres", "isComplete": true})
    );
    let (status, _, replaced) = client
        .send(
            reqwest::Method::PUT,
            &format!("/todos/{id}"),
            Some(&ada),
            Some(json!({"title": "buy oat milk"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        replaced,
        json!({"id": id, "title": "buy oat milk", "isComplete": false})
    );
    let (status, _, body) = client
        .post("/todos", Some(&ada), json!({"title": ""}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _, _) = client.post("/todos", Some(&ada), json!({"nope": 1})).await;
    assert_eq!(status, 400);

    // Another user's todo is 404, like a missing one.
    client.signup("eve@example.com").await;
    let (eve, _) = client.login("eve@example.com").await;
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PATCH, Some(json!({"title": "mine now"}))),
        (reqwest::Method::PUT, Some(json!({"title": "mine now"}))),
        (reqwest::Method::DELETE, None),
    ] {
        let (status, _, body) = client
            .send(method.clone(), &format!("/todos/{id}"), Some(&eve), body)
            .await;
        assert_eq!(status, 404, "{method} another user's todo: {body}");
    }
    let (_, _, eves) = client.get("/todos", Some(&eve)).await;
    assert_eq!(eves, json!([]));

    // Each protected route without a token: 401 with the challenge.
    for (method, path) in [
        (reqwest::Method::GET, "/todos".to_owned()),
        (reqwest::Method::GET, "/todos/count".to_owned()),
        (reqwest::Method::GET, format!("/todos/{id}")),
        (reqwest::Method::POST, "/todos".to_owned()),
        (reqwest::Method::PATCH, format!("/todos/{id}")),
        (reqwest::Method::PUT, format!("/todos/{id}")),
        (reqwest::Method::DELETE, format!("/todos/{id}")),
        (reqwest::Method::GET, "/whoAmI".to_owned()),
    ] {
        let (status, headers, _) = client
            .send(method.clone(), &path, None, Some(json!({"title": "x"})))
            .await;
        assert_unauthorized(status, &headers, &format!("{method} {path}"));
    }

    // Expired and tampered tokens.
    let sub = created["id"].as_str().unwrap();
    let expired = client.forge(json!({
        "sub": sub, "iss": "todo-example", "aud": "todo-api",
        "iat": now() - 7200, "exp": now() - 3600
    }));
    let (status, headers, body) = client.get("/todos", Some(&expired)).await;
    assert_unauthorized(status, &headers, "expired token");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(body["error"]["statusCode"], 401);
    let valid = client.forge(json!({
        "sub": sub, "iss": "todo-example", "aud": "todo-api", "exp": now() + 600
    }));
    assert_eq!(client.get("/todos", Some(&valid)).await.0, 200);
    let mut tampered = ada.clone();
    let payload_start = tampered.find('.').unwrap() + 1;
    tampered.replace_range(payload_start..payload_start + 1, "X");
    let (status, headers, _) = client.get("/todos", Some(&tampered)).await;
    assert_unauthorized(status, &headers, "tampered token");
    let (status, _, _) = client.get("/todos", Some("Bearer a b")).await;
    assert_eq!(status, 400);

    // Delete, then it is gone.
    let (status, _, _) = client
        .send(
            reqwest::Method::DELETE,
            &format!("/todos/{id}"),
            Some(&ada),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(client.get(&format!("/todos/{id}"), Some(&ada)).await.0, 404);

    // Refresh rotation and reuse detection.
    let (status, headers, rotated) = client
        .post("/refresh", None, json!({"refresh_token": ada_refresh}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(headers["cache-control"], "no-store");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, ada_refresh);
    let fresh_access = format!("Bearer {}", rotated["access_token"].as_str().unwrap());
    assert_eq!(client.get("/todos", Some(&fresh_access)).await.0, 200);
    let (status, _, body) = client
        .post("/refresh", None, json!({"refreshToken": ada_refresh}))
        .await;
    assert_eq!(status, 401, "reusing a spent refresh token: {body}");
    assert_eq!(body["error"]["code"], "INVALID_REFRESH_TOKEN");
    let (status, _, _) = client
        .post("/refresh", None, json!({"refreshToken": second}))
        .await;
    assert_eq!(status, 401, "the reuse revoked the whole family");

    // The admin route: Basic for an admin, JWT without the role is 403.
    client.signup(ADMIN).await;
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let (status, _, body) = client
        .get("/admin/todos/count", Some(&basic(ADMIN, PASSWORD)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["count"].is_i64());
    let (status, _, _) = client
        .get(
            "/admin/todos/count",
            Some(&basic(ADMIN, "not the password")),
        )
        .await;
    assert_eq!(status, 401);
    let (status, headers, body) = client.get("/admin/todos/count", Some(&eve)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let (boss, _) = client.login(ADMIN).await;
    assert_eq!(client.get("/admin/todos/count", Some(&boss)).await.0, 200);
    let (status, headers, _) = client.get("/admin/todos/count", None).await;
    assert_eq!(status, 401);
    let challenges: Vec<&str> = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(
        challenges[1].starts_with("Basic realm=\"todo\""),
        "{challenges:?}"
    );

    // The login guard: after 3 failures for one address, 429 with Retry-After.
    for _ in 0..3 {
        let (status, _, _) = client
            .post(
                "/users/login",
                None,
                json!({"email": "eve@example.com", "password": "guess guess 1"}),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, headers, body) = client
        .post(
            "/users/login",
            None,
            json!({"email": "eve@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));

    // The index answers.
    let (status, _, index) = client.get("/", None).await;
    assert_eq!(status, 200);
    assert!(index["endpoints"].is_object());
}

#[tokio::test]
async fn todo_on_sqlite() {
    let client = Client::start(&[]);
    full_flow(&client).await;
    assert!(client.server.data.path().join("todo.db").exists());
}

#[tokio::test]
async fn todo_on_postgres() {
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
    // A database of its own, so runs never see each other's rows.
    use sqlx::Connection;
    let name = format!("todo_e2e_{}_{}", std::process::id(), now());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    {
        let client = Client::start(&[("DATABASE_URL", &url)]);
        full_flow(&client).await;
        assert!(!client.server.data.path().join("todo.db").exists());
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
