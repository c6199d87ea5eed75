//! The todo's authentication comes from `auth.toml`: one `jwt` table issues
//! and verifies (an override reaches both sides), login and Basic share the
//! file's guard, and a bad file stops the start with the file, the strategy
//! and the field.

use std::collections::HashMap;

use actix_web::test as at;
use actix_web::{App, http::StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use todo::config::Config;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "boss@example.com";

fn config(data: &std::path::Path, pairs: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert("TODO_DATA_DIR".into(), data.display().to_string());
    map.insert("TODO_ADMIN_EMAILS".into(), ADMIN.into());
    Config::from_lookup(move |k| map.get(k).cloned()).unwrap()
}

macro_rules! app {
    ($config:expr) => {{
        let state = todo::build(&$config).await.unwrap();
        at::init_service(
            App::new()
                .wrap(todo::default_policy())
                .configure(todo::configure(state)),
        )
        .await
    }};
}

async fn send<S, B>(
    app: &S,
    req: at::TestRequest,
) -> (StatusCode, actix_web::http::header::HeaderMap, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let resp = at::call_service(app, req.to_request()).await;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = at::read_body(resp).await;
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn post(path: &str, body: Value) -> at::TestRequest {
    at::TestRequest::post().uri(path).set_json(body)
}

fn get(path: &str, auth: &str) -> at::TestRequest {
    at::TestRequest::get()
        .uri(path)
        .insert_header(("authorization", auth))
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A token signed with the key the server keeps in its data directory.
fn forge(data: &std::path::Path, claims: Value) -> String {
    let text = std::fs::read_to_string(data.join(todo::keys::KEY_FILE)).unwrap();
    let secret = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    let key = auth_jwt::SigningKey::hmac(&secret, auth_jwt::Algorithm::HS256).unwrap();
    format!("Bearer {}", key.sign(&claims, None).unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[actix_web::test]
async fn one_table_issues_and_verifies_and_an_override_reaches_both_sides() {
    for (vars, issuer, ttl) in [
        (vec![], "todo-example", 900),
        (
            vec![
                ("JWT_ISSUER", "https://todo.example"),
                ("ACCESS_TOKEN_TTL_SECS", "120"),
            ],
            "https://todo.example",
            120,
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let app = app!(config(data.path(), &vars));
        let user = json!({"email": "ada@example.com", "password": PASSWORD});
        assert_eq!(send(&app, post("/signup", user.clone())).await.0, 200);
        let (status, _, body) = send(&app, post("/users/login", user)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], ttl, "{vars:?}");
        let token = body["access_token"].as_str().unwrap();
        let c = claims(token);
        assert_eq!(
            (c["iss"].as_str(), c["aud"].as_str()),
            (Some(issuer), Some("todo-api"))
        );
        // The strategy checks the issuer the token service wrote.
        let bearer = format!("Bearer {token}");
        assert_eq!(send(&app, get("/whoAmI", &bearer)).await.0, 200, "{vars:?}");
        let sub = c["sub"].as_str().unwrap();
        for (iss, expected) in [(issuer, 200), ("someone-else", 401)] {
            let forged = forge(
                data.path(),
                json!({"sub": sub, "iss": iss, "aud": "todo-api", "exp": now() + 60}),
            );
            assert_eq!(
                send(&app, get("/whoAmI", &forged)).await.0,
                expected,
                "{vars:?}: iss {iss}"
            );
        }
    }
}

#[actix_web::test]
async fn login_and_basic_count_in_the_files_guard() {
    let data = tempfile::tempdir().unwrap();
    let app = app!(config(data.path(), &[("LOGIN_MAX_FAILURES", "2")]));
    let boss = json!({"email": ADMIN, "password": PASSWORD});
    assert_eq!(send(&app, post("/signup", boss.clone())).await.0, 200);
    let ok = send(&app, get("/admin/todos/count", &basic(ADMIN, PASSWORD))).await;
    assert_eq!(ok.0, 200, "{}", ok.2);
    // One failure through the login form, one through Basic: two for the
    // e-mail, the limit LOGIN_MAX_FAILURES set on the file's guard.
    let wrong = json!({"email": ADMIN, "password": "not the password"});
    assert_eq!(send(&app, post("/users/login", wrong)).await.0, 401);
    let (status, headers, _) = send(
        &app,
        get("/admin/todos/count", &basic(ADMIN, "not the password")),
    )
    .await;
    assert_eq!(status, 401);
    let challenges: Vec<_> = headers.get_all("www-authenticate").collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.to_str().unwrap() == r#"Basic realm="todo", charset="UTF-8""#),
        "{challenges:?}"
    );
    assert_eq!(send(&app, post("/users/login", boss)).await.0, 429);
    assert_eq!(
        send(&app, get("/admin/todos/count", &basic(ADMIN, PASSWORD)))
            .await
            .0,
        429
    );
}

#[actix_web::test]
async fn a_bad_authentication_setting_stops_the_start_naming_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.toml");
    std::fs::write(
        &file,
        todo::config::AUTH_TOML.replace("realm = \"todo\"", "relam = \"todo\""),
    )
    .unwrap();
    let path = file.display().to_string();
    for (vars, auth_env, expected) in [
        (
            vec![("TODO_AUTH_CONFIG", path.as_str())],
            vec![],
            format!("{path}: strategies.basic.relam (strategy 'basic'): unknown field `relam`"),
        ),
        (
            vec![("LOGIN_WINDOW_SECS", "0")],
            vec![],
            "environment variable LOGIN_WINDOW_SECS: guard.window_secs: must be at least 1 second"
                .to_owned(),
        ),
        (
            vec![],
            vec![("AUTH__STRATEGIES__JWT__LEEWAY_SECS", "soon")],
            "environment variable AUTH__STRATEGIES__JWT__LEEWAY_SECS: \
             strategies.jwt.leeway_secs (strategy 'jwt'): invalid type"
                .to_owned(),
        ),
        (
            vec![],
            vec![("AUTH__STRATEGIES__BASIC__STORE__PROVIDED", "elsewhere")],
            "environment variable AUTH__STRATEGIES__BASIC__STORE__PROVIDED: \
             strategies.basic.store.provided (strategy 'basic'): no store named `elsewhere`"
                .to_owned(),
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let mut c = config(data.path(), &vars);
        c.auth_env = auth_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = match todo::build(&c).await {
            Ok(_) => panic!("started with {vars:?} {auth_env:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with(&expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn oidc_login_is_off_unless_issuer_client_and_redirect_uri_are_all_set() {
    let data = tempfile::tempdir().unwrap();
    assert!(config(data.path(), &[]).oidc.is_none());
    let all = [
        ("OIDC_ISSUER", "https://login.example"),
        ("OIDC_CLIENT_ID", "todo-web"),
        (
            "OIDC_REDIRECT_URI",
            "https://todo.example/auth/oidc/callback",
        ),
    ];
    let on = config(data.path(), &all).oidc.unwrap();
    assert_eq!(on.client_id, "todo-web");
    assert!(!on.dangerously_allow_insecure_cookie);
    assert!(on.client_secret.is_none());
    let lookup = |pairs: Vec<(&'static str, &'static str)>| {
        let map: HashMap<&str, &str> = pairs.into_iter().collect();
        Config::from_lookup(move |k| map.get(k).map(|v| v.to_string()))
    };
    // Any one missing names the missing variable.
    for (i, missing) in ["OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_REDIRECT_URI"]
        .iter()
        .enumerate()
    {
        let mut pairs = all.to_vec();
        pairs.remove(i);
        let err = lookup(pairs).unwrap_err().to_string();
        assert!(err.starts_with(missing), "{err}");
    }
    for bad in ["yes", "TRUE ", "2"] {
        let mut pairs = all.to_vec();
        pairs.push(("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE", bad));
        let err = lookup(pairs).unwrap_err().to_string();
        assert!(
            err.contains("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE"),
            "{err}"
        );
    }
}

#[actix_web::test]
async fn oidc_login_with_an_http_redirect_uri_needs_the_dangerous_setting() {
    let data = tempfile::tempdir().unwrap();
    let pairs = [
        ("OIDC_ISSUER", "http://127.0.0.1:9"),
        ("OIDC_CLIENT_ID", "todo-web"),
        (
            "OIDC_REDIRECT_URI",
            "http://127.0.0.1:3000/auth/oidc/callback",
        ),
    ];
    let err = match todo::build(&config(data.path(), &pairs)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an http redirect URI with a Secure cookie must not start"),
    };
    assert!(err.contains("dangerously_allow_insecure_cookie"), "{err}");
    let mut pairs = pairs.to_vec();
    pairs.push(("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE", "true"));
    // Starts although the provider (port 9) is down: discovered at the
    // first login.
    assert!(todo::build(&config(data.path(), &pairs)).await.is_ok());
}
