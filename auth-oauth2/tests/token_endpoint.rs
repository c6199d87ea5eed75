//! `ClientCredentials` against a token endpoint on 127.0.0.1 that answers
//! each class of bad response: every one is a typed error, none a panic,
//! and no error carries the client secret or a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use auth_oauth2::{ClientCredentials, ClientCredentialsError};

const SECRET: &str = "s3cret/with:reserved&chars";
const TOKEN: &str = "SECRET-TOKEN-VALUE-1";

#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, Option<String>, String)>>,
}

async fn endpoint(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    let path = req.path().to_owned();
    seen.requests.lock().unwrap().push((
        path.clone(),
        req.headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let json = |status: u16, body: String| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(body)
    };
    match path.as_str() {
        "/ok" => json(
            200,
            format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":120}}"#),
        ),
        "/lowercase-bearer" => json(
            200,
            format!(r#"{{"access_token":"{TOKEN}","token_type":"bearer","expires_in":120}}"#),
        ),
        "/no-expiry" => json(
            200,
            format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer"}}"#),
        ),
        // Past `Instant`'s range: believed as a year at most, never a panic.
        "/huge-expiry" => json(
            200,
            format!(
                r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":{}}}"#,
                req.query_string()
            ),
        ),
        "/mac" => json(
            200,
            format!(r#"{{"access_token":"{TOKEN}","token_type":"mac"}}"#),
        ),
        "/missing-token" => json(200, r#"{"token_type":"Bearer"}"#.into()),
        "/bad-expiry" => json(
            200,
            format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":"soon"}}"#),
        ),
        "/html" => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>ok</html>"),
        "/error400" => json(
            400,
            r#"{"error":"invalid_client","error_description":"unknown client"}"#.into(),
        ),
        "/error-quoting-the-secret" => json(
            400,
            format!(
                r#"{{"error":"invalid_client","error_description":"secret {} is wrong"}}"#,
                SECRET.replace('&', "\\u0026")
            ),
        ),
        "/error-with-markup" => json(
            400,
            r#"{"error":"<b>x</b>\nforged: line","error_description":"one\ntwo <script>\"q\"</script>"}"#
                .into(),
        ),
        "/error500" => HttpResponse::InternalServerError()
            .content_type("text/html")
            .body("<h1>oops</h1>"),
        "/empty500" => HttpResponse::InternalServerError().finish(),
        "/huge" => json(
            200,
            format!(
                r#"{{"access_token":"{TOKEN}","token_type":"Bearer","pad":"{}"}}"#,
                "x".repeat(300 * 1024)
            ),
        ),
        "/redirect" => HttpResponse::Found()
            .insert_header(("location", "/ok"))
            .finish(),
        "/slow" => {
            actix_web::rt::time::sleep(Duration::from_secs(8)).await;
            json(
                200,
                format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer"}}"#),
            )
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

fn start() -> (String, web::Data<Seen>, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = web::Data::new(Seen::default());
    let shared = seen.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(endpoint))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, seen, handle)
}

async fn source(base: &str, path: &str) -> ClientCredentials {
    ClientCredentials::builder("client a", SECRET)
        .token_endpoint(format!("{base}{path}"))
        .scope("todos:read")
        .scope("todos:write")
        .resource("https://api.example")
        .default_lifetime(Duration::from_secs(30))
        .build()
        .await
        .unwrap()
}

fn assert_clean(e: &ClientCredentialsError, source: &ClientCredentials) {
    let text = format!("{e} {e:?} {source:?}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[actix_web::test]
async fn client_credentials_sends_a_standard_request_and_caches_the_answer() {
    let (base, seen, handle) = start();
    let s = source(&base, "/ok").await;
    let token = s.token().await.unwrap();
    assert_eq!(token.secret(), TOKEN);
    let left = token.expires_at() - Instant::now();
    assert!(
        left <= Duration::from_secs(120) && left > Duration::from_secs(115),
        "{left:?}"
    );
    assert_eq!(s.token().await.unwrap().secret(), TOKEN);
    assert_eq!(s.fetch_count(), 1);
    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (_, auth, body) = &requests[0];
    // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
    use base64::Engine as _;
    let basic = auth.as_deref().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded, "client+a:s3cret%2Fwith%3Areserved%26chars");
    let form: HashMap<_, _> = body
        .split('&')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "todos%3Aread+todos%3Awrite");
    assert_eq!(form["resource"], "https%3A%2F%2Fapi.example");
    assert!(
        !body.contains("s3cret"),
        "the secret is not in the body with Basic"
    );
    assert!(!format!("{token:?} {s:?}").contains(TOKEN));
    // A lower-case token type is a Bearer token too (RFC 6749 §5.1).
    let lower = source(&base, "/lowercase-bearer").await;
    assert_eq!(lower.token().await.unwrap().secret(), TOKEN);
    // No expires_in: the default lifetime.
    let s = source(&base, "/no-expiry").await;
    let token = s.token().await.unwrap();
    let left = token.expires_at() - Instant::now();
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(25),
        "{left:?}"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn an_out_of_range_expires_in_is_a_year_at_most_and_zero_is_the_default() {
    let (base, _seen, handle) = start();
    let year = Duration::from_secs(365 * 24 * 3600);
    for huge in [
        u64::MAX.to_string(),
        (u64::MAX / 2).to_string(),
        (i64::MAX as u64 + 1).to_string(),
        "31536001".to_owned(),
    ] {
        let s = source(&base, &format!("/huge-expiry?{huge}")).await;
        let token = s.token().await.unwrap();
        let left = token.expires_at() - Instant::now();
        assert!(
            left <= year && left > year - Duration::from_secs(5),
            "expires_in {huge}: {left:?}"
        );
    }
    // Zero is no lifetime at all: the default (30 s here) applies.
    let s = source(&base, "/huge-expiry?0").await;
    let left = s.token().await.unwrap().expires_at() - Instant::now();
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(25),
        "{left:?}"
    );
    handle.stop(false).await;
}

/// The endpoint's own error text is cleaned before it reaches a message or
/// a log line: no line breaks, quotes or markup, and no client secret.
#[actix_web::test]
async fn an_endpoints_error_text_is_cleaned_and_never_quotes_the_secret() {
    let (base, _seen, handle) = start();
    let s = source(&base, "/error-quoting-the-secret").await;
    let e = s.token().await.unwrap_err();
    match &e {
        ClientCredentialsError::Server { error, description } => {
            assert_eq!(error, "invalid_client");
            assert_eq!(description, &None, "the description quoted the secret");
        }
        other => panic!("{other:?}"),
    }
    assert_clean(&e, &s);
    let s = source(&base, "/error-with-markup").await;
    let e = s.token().await.unwrap_err();
    let ClientCredentialsError::Server { error, description } = &e else {
        panic!("{e:?}");
    };
    let description = description.as_deref().unwrap();
    for text in [error.as_str(), description, &e.to_string()] {
        assert!(!text.contains(['\n', '<', '>', '"']), "{text:?}");
    }
    assert_eq!(description, "onetwo scriptq/script");
    handle.stop(false).await;
}

#[actix_web::test]
async fn client_credentials_each_bad_answer_is_a_typed_error() {
    let (base, seen, handle) = start();
    for (path, check) in [
        ("/mac", "not bearer"),
        ("/missing-token", "invalid"),
        ("/bad-expiry", "invalid"),
        ("/html", "invalid"),
        ("/error400", "server"),
        ("/error500", "invalid"),
        ("/empty500", "invalid"),
        ("/huge", "invalid"),
        ("/redirect", "invalid"),
        ("/nowhere", "invalid"),
    ] {
        let s = source(&base, path).await;
        let e = s.token().await.unwrap_err();
        let ok = match (&e, check) {
            (ClientCredentialsError::NotBearer(t), "not bearer") => t == "mac",
            (ClientCredentialsError::Server { error, description }, "server") => {
                error == "invalid_client" && description.as_deref() == Some("unknown client")
            }
            (ClientCredentialsError::InvalidResponse(_), "invalid") => true,
            _ => false,
        };
        assert!(ok, "{path}: {e:?}");
        assert_clean(&e, &s);
        // Nothing cached: the next call asks again.
        let _ = s.token().await;
        assert_eq!(s.fetch_count(), 2, "{path}");
    }
    // The redirect was not followed.
    let requests = seen.requests.lock().unwrap().clone();
    let followed = requests.iter().filter(|(p, _, _)| p == "/ok").count();
    assert_eq!(followed, 0, "a redirect of the token endpoint was followed");
    handle.stop(false).await;
}

#[actix_web::test]
async fn client_credentials_slow_or_absent_endpoint_is_unreachable_not_a_hang() {
    let (base, _seen, handle) = start();
    let s = source(&base, "/slow").await;
    let started = Instant::now();
    let e = s.token().await.unwrap_err();
    assert!(matches!(e, ClientCredentialsError::Unreachable(_)), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_clean(&e, &s);
    handle.stop(false).await;
    // Nothing listens any more.
    let s = source(&base, "/ok").await;
    let e = s.token().await.unwrap_err();
    assert!(matches!(e, ClientCredentialsError::Unreachable(_)), "{e:?}");
    assert!(e.to_string().contains("onnect"), "the cause is named: {e}");
}

#[actix_web::test]
async fn client_credentials_endpoint_rules_at_build() {
    for url in [
        "http://login.example/token",
        "ftp://127.0.0.1/token",
        "not a url",
    ] {
        let e = ClientCredentials::builder("a", SECRET)
            .token_endpoint(url)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(e, ClientCredentialsError::InvalidEndpoint { .. }),
            "{url}: {e:?}"
        );
        assert!(!format!("{e:?}").contains(SECRET));
    }
    let e = ClientCredentials::builder("a", SECRET)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, ClientCredentialsError::NoEndpoint));
    let builder = ClientCredentials::builder("a", SECRET).token_endpoint("https://login.example/t");
    assert!(!format!("{builder:?}").contains(SECRET));
}
