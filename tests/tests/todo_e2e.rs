//! The todo example, end to end: the real binary on 127.0.0.1, driven over
//! HTTP. LoopBack's todo-jwt acceptance flow, then everything around it.

mod common;

use auth_jwt::{Algorithm, SigningKey};
use auth_test_support::now;
use base64::Engine as _;
use common::server::TodoServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
        // reqwest is built without a bundled TLS provider (auth-jwt's default
        // backend is aws-lc-rs); these requests are plain HTTP, but the
        // builder wants one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
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
    // actix-web's own input errors answer in the same LoopBack shape.
    let (status, _, body) = client.post("/todos", Some(&ada), json!({"nope": 1})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_FAILED", "{body}");
    let (status, _, body) = client.get("/todos/not-a-number", Some(&ada)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_PARAMETER_VALUE", "{body}");

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
            auth_test_support::basic_credentials(user, password)
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

    // Logout revokes the access token it was called with, and its refresh
    // family; another session of the same user keeps working.
    client.signup("lou@example.com").await;
    let (lou_a, lou_a_refresh) = client.login("lou@example.com").await;
    let (lou_b, lou_b_refresh) = client.login("lou@example.com").await;
    assert_eq!(client.get("/whoAmI", Some(&lou_a)).await.0, 200);
    let (status, _, body) = client
        .post(
            "/users/logout",
            Some(&lou_a),
            json!({"refresh_token": lou_a_refresh}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, headers, _) = client.get("/whoAmI", Some(&lou_a)).await;
    assert_unauthorized(status, &headers, "logged-out access token");
    let (status, _, _) = client
        .post("/refresh", None, json!({"refresh_token": lou_a_refresh}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(client.get("/whoAmI", Some(&lou_b)).await.0, 200);
    // Logout without a bearer still ends the refresh family (LoopBack's form).
    let (lou_c, lou_c_refresh) = client.login("lou@example.com").await;
    let (status, _, _) = client
        .post(
            "/users/logout",
            None,
            json!({"refresh_token": lou_c_refresh}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(client.get("/whoAmI", Some(&lou_c)).await.0, 200);
    // Log out everywhere: every access token and refresh family ends.
    let (status, _, _) = client
        .post("/users/logout-all", Some(&lou_b), json!({}))
        .await;
    assert_eq!(status, 204);
    for token in [&lou_b, &lou_c] {
        let (status, headers, _) = client.get("/whoAmI", Some(token)).await;
        assert_unauthorized(status, &headers, "after logout-all");
    }
    let (status, _, _) = client
        .post("/refresh", None, json!({"refresh_token": lou_b_refresh}))
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = client.post("/users/logout-all", None, json!({})).await;
    assert_eq!(status, 401);

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
    let Some(admin_url) = auth_test_support::postgres_url() else {
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

/// Issue 14.5: a RESTHeart-style auth token from `POST /users/me/token`
/// (Basic login) and API keys from `POST /users/me/api-keys` (login JWT),
/// both accepted on the todo routes, scoped to their owner, revocable.
#[tokio::test]
async fn todo_auth_tokens_and_api_keys() {
    let client = Client::start(&[]);
    let ada = client.signup("ada@example.com").await;
    client.signup("eve@example.com").await;
    let basic = |email: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{email}:{password}"))
        )
    };

    // An auth token for a Basic login: in the body and in RESTHeart's headers.
    let (status, headers, issued) = client
        .post(
            "/users/me/token",
            Some(&basic("ada@example.com", PASSWORD)),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(headers["auth-token"], token.as_str());
    assert_eq!(
        headers["auth-token-location"],
        issued["location"].as_str().unwrap()
    );
    assert!(
        headers["auth-token-valid-until"]
            .to_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(issued["userId"], ada["id"]);
    // Wrong passwords get no token.
    for wrong in [
        basic("ada@example.com", "wrong password 1"),
        basic("nobody@example.com", PASSWORD),
    ] {
        let (status, headers, _) = client
            .post("/users/me/token", Some(&wrong), json!({}))
            .await;
        assert_eq!(status, 401);
        assert!(headers.get("auth-token").is_none());
    }

    // The token works on the todo routes, as Bearer and as token-basic.
    let bearer = format!("Bearer {token}");
    let (status, _, todo) = client
        .post("/todos", Some(&bearer), json!({"title": "by token"}))
        .await;
    assert_eq!(status, 200, "{todo}");
    let token_basic = basic(ada["id"].as_str().unwrap(), &token);
    let (status, _, list) = client.get("/todos", Some(&token_basic)).await;
    assert_eq!(
        (status.as_u16(), list[0]["title"].as_str()),
        (200, Some("by token"))
    );

    // Its location: metadata for its owner, 404 for anyone else.
    let location = issued["location"].as_str().unwrap().to_owned();
    let (status, _, meta) = client.get(&location, Some(&bearer)).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["owner"], ada["id"]);
    assert!(meta.get("token").is_none() && !meta.to_string().contains(&token));
    let (eve_jwt, _) = client.login("eve@example.com").await;
    let (status, _, _) = client.get(&location, Some(&eve_jwt)).await;
    assert_eq!(status, 404, "another user's token is not theirs to see");
    let (status, _, _) = client
        .send(reqwest::Method::DELETE, &location, Some(&eve_jwt), None)
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = client.get("/todos", Some(&bearer)).await;
    assert_eq!(status, 200, "eve could not revoke it");

    // Guessed and tampered tokens: 401.
    let mut tampered = token.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    for guess in [String::from_utf8(tampered).unwrap(), "A".repeat(43)] {
        let (status, _, _) = client.get("/todos", Some(&format!("Bearer {guess}"))).await;
        assert_eq!(status, 401, "{guess}");
    }

    // API keys: created with the login JWT, shown once.
    let (ada_jwt, _) = client.login("ada@example.com").await;
    let (status, _, created) = client
        .post(
            "/users/me/api-keys",
            Some(&ada_jwt),
            json!({"name": "backup script", "expiresInDays": 30}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("todo_"), "{key}");
    let with_key = |method: reqwest::Method, path: &str, header: (&str, String)| {
        client
            .http
            .request(method, client.server.url(path))
            .header(header.0, header.1)
    };
    let resp = with_key(reqwest::Method::GET, "/todos", ("x-api-key", key.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mine: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(mine[0]["title"], "by token", "the key acts as its owner");
    let resp = with_key(
        reqwest::Method::GET,
        "/todos/count",
        ("x-api-key", format!(" {key} ")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    // A key cannot manage keys, nor reach the admin route.
    let resp = with_key(
        reqwest::Method::GET,
        "/users/me/api-keys",
        ("x-api-key", key.clone()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, _, listed) = client.get("/users/me/api-keys", Some(&ada_jwt)).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "backup script");
    assert!(
        !listed.to_string().contains(&key[5..]),
        "no key material in the list"
    );
    assert!(listed[0]["lastUsedAt"].is_string(), "{listed}");

    // A changed character fails the checksum; another prefix is not ours.
    let mut typo = key.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    for bad in [
        String::from_utf8(typo).unwrap(),
        key.replacen("todo_", "ak_", 1),
        "todo_".into(),
    ] {
        let resp = with_key(reqwest::Method::GET, "/todos", ("x-api-key", bad.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{bad}");
    }

    // Bad key requests: 422 with a code saying what is wrong.
    for (body, code) in [
        (json!({"name": ""}), "INVALID_KEY_NAME"),
        (json!({"name": "x".repeat(101)}), "INVALID_KEY_NAME"),
        (
            json!({"name": "ok", "expiresInDays": 0}),
            "INVALID_KEY_LIFETIME",
        ),
        (
            json!({"name": "ok", "expiresInDays": 366}),
            "INVALID_KEY_LIFETIME",
        ),
        (
            json!({"name": "ok", "scopes": ["has space"]}),
            "INVALID_KEY_SCOPES",
        ),
    ] {
        let (status, _, answer) = client
            .post("/users/me/api-keys", Some(&ada_jwt), body.clone())
            .await;
        assert_eq!(
            (status.as_u16(), answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    for body in [json!({"nmae": "typo"}), json!({"name": 5}), json!([])] {
        let (status, _, answer) = client
            .post("/users/me/api-keys", Some(&ada_jwt), body.clone())
            .await;
        assert_eq!(
            (status.as_u16(), answer["error"]["code"].as_str()),
            (422, Some("VALIDATION_FAILED")),
            "{body}: {answer}"
        );
    }

    // Revoked by its owner only; refused at once afterwards.
    let id = created["id"].as_str().unwrap();
    let (status, _, _) = client
        .send(
            reqwest::Method::DELETE,
            &format!("/users/me/api-keys/{id}"),
            Some(&eve_jwt),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = client
        .send(
            reqwest::Method::DELETE,
            &format!("/users/me/api-keys/{id}"),
            Some(&ada_jwt),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let resp = with_key(reqwest::Method::GET, "/todos", ("x-api-key", key.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // The auth token, revoked at its location by its owner.
    let (status, _, _) = client
        .send(reqwest::Method::DELETE, &location, Some(&bearer), None)
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = client.get("/todos", Some(&bearer)).await;
    assert_eq!(status, 401);
}
