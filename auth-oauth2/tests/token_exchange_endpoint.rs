//! `TokenExchange` against a token endpoint on 127.0.0.1 that answers each
//! class of answer, good and bad: the RFC 8693 request it sends, every bad
//! answer a typed error (none a panic), and no error carrying the client
//! secret, the subject token or an issued token. Discovery documents with
//! and without the grant. (The real provider: tests/tests/oauth2_token_exchange.rs.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use auth_oauth2::{
    DiscoveryError, Downstream, ExchangeRequest, TOKEN_EXCHANGE_GRANT, TokenExchange,
    TokenExchangeError, TokenType,
};
use base64::Engine as _;

const SECRET: &str = "s3cret/with:reserved&chars";
const SUBJECT: &str = "SUBJECT-TOKEN-VALUE-1";
const ACTOR: &str = "ACTOR-TOKEN-VALUE-1";
const ISSUED: &str = "ISSUED-TOKEN-VALUE-1";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, Option<String>, String)>>,
}

fn ok_body(extra: &str) -> String {
    format!(
        r#"{{"access_token":"{ISSUED}","issued_token_type":"{AT}","token_type":"Bearer"{extra}}}"#
    )
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
    let host = req.connection_info().host().to_owned();
    let json = |status: u16, body: String| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(body)
    };
    let error = |code: &str, description: &str| {
        json(
            400,
            format!(r#"{{"error":"{code}","error_description":"{description}"}}"#),
        )
    };
    let discovery = |issuer_path: &str, grants: Option<&str>, token_host: &str| {
        let grants = grants
            .map(|g| format!(r#","grant_types_supported":{g}"#))
            .unwrap_or_default();
        json(
            200,
            format!(
                r#"{{"issuer":"http://{host}{issuer_path}","token_endpoint":"http://{token_host}/ok"{grants}}}"#
            ),
        )
    };
    match path.as_str() {
        "/ok" => json(200, ok_body(r#","expires_in":120"#)),
        "/short" => json(200, ok_body(r#","expires_in":4"#)),
        "/full" => json(
            200,
            ok_body(r#","expires_in":90,"scope":"todos:read","refresh_token":"REFRESH-VALUE-1""#),
        ),
        "/no-expiry" => json(200, ok_body("")),
        "/not-applicable" => json(
            200,
            format!(
                r#"{{"access_token":"{ISSUED}","issued_token_type":"urn:ietf:params:oauth:token-type:jwt","token_type":"N_A"}}"#
            ),
        ),
        "/missing-issued-type" => json(
            200,
            format!(r#"{{"access_token":"{ISSUED}","token_type":"Bearer"}}"#),
        ),
        "/missing-token" => json(
            200,
            format!(r#"{{"issued_token_type":"{AT}","token_type":"Bearer"}}"#),
        ),
        "/missing-token-type" => json(
            200,
            format!(r#"{{"access_token":"{ISSUED}","issued_token_type":"{AT}"}}"#),
        ),
        "/numeric-token" => json(
            200,
            format!(
                r#"{{"access_token":12345678,"issued_token_type":"{AT}","token_type":"Bearer"}}"#
            ),
        ),
        "/bad-expiry" => json(200, ok_body(r#","expires_in":"soon""#)),
        "/zero-expiry" => json(200, ok_body(r#","expires_in":0"#)),
        "/negative-expiry" => json(200, ok_body(r#","expires_in":-5"#)),
        "/array" => json(200, "[1,2]".into()),
        "/html" => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>ok</html>"),
        "/invalid-request" => error("invalid_request", "subject_token is expired"),
        "/invalid-target" => error("invalid_target", "unknown audience"),
        "/invalid-scope" => error("invalid_scope", "scope too wide"),
        "/invalid-client" => json(
            401,
            r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
                .into(),
        ),
        "/unauthorized-client" => error("unauthorized_client", "not allowed"),
        "/invalid-grant" => error("invalid_grant", "grant refused"),
        "/echo-subject" => error("invalid_request", &format!("bad token {SUBJECT}")),
        "/echo-secret" => error("invalid_client", &format!("secret {SECRET} is wrong")),
        "/markup" => error("invalid_request", "<b>bold</b> &amp; more"),
        "/error500" => HttpResponse::InternalServerError()
            .content_type("text/html")
            .body("<h1>oops</h1>"),
        "/json500" => json(500, r#"{"error":"server_error"}"#.into()),
        "/status403" => HttpResponse::Forbidden().finish(),
        "/huge" => json(
            200,
            ok_body(&format!(r#","pad":"{}""#, "x".repeat(300 * 1024))),
        ),
        "/redirect" => HttpResponse::Found()
            .insert_header(("location", "/ok"))
            .finish(),
        "/slow" => {
            actix_web::rt::time::sleep(Duration::from_secs(8)).await;
            json(200, ok_body(""))
        }
        "/offers/.well-known/openid-configuration" => discovery(
            "/offers",
            Some(&format!(
                r#"["client_credentials","{TOKEN_EXCHANGE_GRANT}"]"#
            )),
            &host,
        ),
        "/lacks/.well-known/openid-configuration" => discovery(
            "/lacks",
            Some(r#"["authorization_code","client_credentials"]"#),
            &host,
        ),
        "/silent/.well-known/openid-configuration" => discovery("/silent", None, &host),
        "/elsewhere/.well-known/openid-configuration" => discovery(
            "/elsewhere",
            Some(&format!(r#"["{TOKEN_EXCHANGE_GRANT}"]"#)),
            &host.replace("127.0.0.1", "localhost"),
        ),
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

async fn exchange(base: &str, path: &str) -> TokenExchange {
    TokenExchange::builder("client a", SECRET)
        .token_endpoint(format!("{base}{path}"))
        .default_lifetime(Duration::from_secs(30))
        .build()
        .await
        .unwrap()
}

fn outbound() -> reqwest::Client {
    auth_core::outbound::client().unwrap()
}

fn target() -> Downstream {
    Downstream::audience("billing")
}

fn assert_clean(e: &TokenExchangeError, exchange: &TokenExchange) {
    let text = format!("{e} {e:?} {exchange:?}");
    for secret in [
        SECRET,
        SUBJECT,
        ACTOR,
        ISSUED,
        "REFRESH-VALUE-1",
        "12345678",
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    let rendered = format!("{:?}", e.to_auth_error());
    assert!(!rendered.contains(SUBJECT) && !rendered.contains(SECRET));
}

fn form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[actix_web::test]
async fn token_exchange_sends_an_rfc8693_request_and_reads_the_answer() {
    let (base, seen, handle) = start();
    let x = exchange(&base, "/full").await;
    let request = ExchangeRequest::new(SUBJECT, TokenType::AccessToken)
        .actor_token(ACTOR, TokenType::Jwt)
        .target(
            Downstream::resource("https://billing.example")
                .and_resource("https://billing.example/v2")
                .and_audience("billing")
                .scope("invoices:read")
                .scope("invoices:write")
                .requested_token_type(TokenType::AccessToken),
        );
    let token = x.exchange(&request).await.unwrap();
    assert_eq!(token.secret(), ISSUED);
    assert_eq!(token.issued_token_type(), &TokenType::AccessToken);
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(token.scope(), Some("todos:read"));
    assert_eq!(token.refresh_token(), Some("REFRESH-VALUE-1"));
    let left = token.expires_at() - Instant::now();
    assert!(
        left <= Duration::from_secs(90) && left > Duration::from_secs(85),
        "{left:?}"
    );
    let shown = format!("{token:?} {request:?} {x:?}");
    for secret in [ISSUED, "REFRESH-VALUE-1", SUBJECT, ACTOR, SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }

    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (_, auth, body) = &requests[0];
    // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
    let basic = auth.as_deref().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded, "client+a:s3cret%2Fwith%3Areserved%26chars");
    let pairs = form(body);
    let get = |k: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("grant_type"), [TOKEN_EXCHANGE_GRANT]);
    assert_eq!(get("subject_token"), [SUBJECT]);
    assert_eq!(get("subject_token_type"), [AT]);
    assert_eq!(get("actor_token"), [ACTOR]);
    assert_eq!(
        get("actor_token_type"),
        ["urn:ietf:params:oauth:token-type:jwt"]
    );
    assert_eq!(
        get("resource"),
        ["https://billing.example", "https://billing.example/v2"]
    );
    assert_eq!(get("audience"), ["billing"]);
    assert_eq!(get("scope"), ["invoices:read invoices:write"]);
    assert_eq!(get("requested_token_type"), [AT]);
    assert!(
        get("client_secret").is_empty(),
        "no secret in the body with Basic"
    );

    // client_secret_post: id and secret in the body, no Authorization.
    let post = TokenExchange::builder("client a", SECRET)
        .token_endpoint(format!("{base}/ok"))
        .client_secret_post()
        .build()
        .await
        .unwrap();
    post.on_behalf_of(SUBJECT, &target()).await.unwrap();
    let (_, auth, body) = seen.requests.lock().unwrap().last().cloned().unwrap();
    assert!(auth.is_none());
    let pairs = form(&body);
    assert!(pairs.contains(&("client_id".into(), "client a".into())));
    assert!(pairs.contains(&("client_secret".into(), SECRET.into())));

    // No expires_in: the default lifetime.
    let token = exchange(&base, "/no-expiry")
        .await
        .on_behalf_of(SUBJECT, &target())
        .await
        .unwrap();
    let left = token.expires_at() - Instant::now();
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(25),
        "{left:?}"
    );

    // N_A: a token, but not for an Authorization header.
    let na = exchange(&base, "/not-applicable").await;
    let token = na.on_behalf_of(SUBJECT, &target()).await.unwrap();
    assert_eq!((token.token_type(), token.is_bearer()), ("N_A", false));
    assert_eq!(token.issued_token_type(), &TokenType::Jwt);
    let e = na
        .authorize_on_behalf_of(SUBJECT, &target(), outbound().get("http://127.0.0.1:9/"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TokenExchangeError::NotBearer(t) if t == "N_A"),
        "{e:?}"
    );

    // The bearer helper puts the issued token in the header.
    let ok = exchange(&base, "/ok").await;
    let request = ok
        .authorize_on_behalf_of(SUBJECT, &target(), outbound().get("http://127.0.0.1:9/"))
        .await
        .unwrap()
        .build()
        .unwrap();
    let header = request.headers().get("authorization").unwrap();
    assert_eq!(header.to_str().unwrap(), format!("Bearer {ISSUED}"));
    assert!(header.is_sensitive());
    // And from an incoming request's Authorization header.
    let caller = actix_web::test::TestRequest::default()
        .insert_header(("Authorization", format!("Bearer {SUBJECT}")))
        .to_http_request();
    let request = ok
        .authorize_for_caller(&caller, &target(), outbound().get("http://127.0.0.1:9/"))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        request
            .headers()
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {ISSUED}")
    );
    assert_eq!(ok.fetch_count(), 1, "the same subject and target: cached");
    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer a b",
        "Bearer token=\"x\"",
    ] {
        let caller = actix_web::test::TestRequest::default()
            .insert_header(("Authorization", header))
            .to_http_request();
        let e = ok
            .authorize_for_caller(&caller, &target(), outbound().get("http://127.0.0.1:9/"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::NoIncomingToken(_)),
            "{header}: {e:?}"
        );
        assert_eq!(e.to_auth_error().status().as_u16(), 401);
    }
    handle.stop(false).await;
}

#[actix_web::test]
async fn token_exchange_each_bad_answer_is_a_typed_error() {
    let (base, seen, handle) = start();
    type Check = fn(&TokenExchangeError) -> bool;
    let cases: [(&str, Check); 25] = [
        (
            "/missing-issued-type",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("issued_token_type")),
        ),
        (
            "/missing-token",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("access_token")),
        ),
        (
            "/missing-token-type",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("token_type")),
        ),
        (
            "/numeric-token",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("access_token")),
        ),
        (
            "/bad-expiry",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("expires_in")),
        ),
        (
            "/zero-expiry",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("expires_in")),
        ),
        (
            "/negative-expiry",
            |e| matches!(e, TokenExchangeError::InvalidResponse(m) if m.contains("expires_in")),
        ),
        ("/array", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        ("/html", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        ("/huge", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        ("/redirect", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        ("/status403", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        ("/nowhere", |e| {
            matches!(e, TokenExchangeError::InvalidResponse(_))
        }),
        (
            "/invalid-request",
            |e| matches!(e, TokenExchangeError::InvalidRequest { description: Some(d) } if d == "subject_token is expired"),
        ),
        (
            "/invalid-target",
            |e| matches!(e, TokenExchangeError::InvalidTarget { description: Some(d) } if d == "unknown audience"),
        ),
        ("/invalid-scope", |e| {
            matches!(e, TokenExchangeError::InvalidScope { .. })
        }),
        ("/invalid-client", |e| {
            matches!(e, TokenExchangeError::InvalidClient { .. })
        }),
        ("/unauthorized-client", |e| {
            matches!(e, TokenExchangeError::UnauthorizedClient { .. })
        }),
        (
            "/invalid-grant",
            |e| matches!(e, TokenExchangeError::Server { error, .. } if error == "invalid_grant"),
        ),
        // A description repeating the subject token or the secret is dropped.
        ("/echo-subject", |e| {
            matches!(e, TokenExchangeError::InvalidRequest { description: None })
        }),
        ("/echo-secret", |e| {
            matches!(e, TokenExchangeError::InvalidClient { description: None })
        }),
        (
            "/markup",
            |e| matches!(e, TokenExchangeError::InvalidRequest { description: Some(d) } if d == "bbold/b amp; more"),
        ),
        ("/error500", |e| {
            matches!(e, TokenExchangeError::Unreachable(_))
        }),
        (
            "/json500",
            |e| matches!(e, TokenExchangeError::Server { error, .. } if error == "server_error"),
        ),
        ("/ok", |_| false),
    ];
    for (path, check) in cases {
        let x = exchange(&base, path).await;
        let result = x.on_behalf_of(SUBJECT, &target()).await;
        if path == "/ok" {
            assert!(result.is_ok());
            continue;
        }
        let e = result.unwrap_err();
        assert!(check(&e), "{path}: {e:?}");
        assert_clean(&e, &x);
        // Nothing cached: the next call asks again.
        let _ = x.on_behalf_of(SUBJECT, &target()).await;
        assert_eq!(x.fetch_count(), 2, "{path}");
        assert_eq!(x.cached_entries(), 0, "{path}");
    }
    // The redirect was not followed.
    let followed = seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == "/ok")
        .count();
    assert_eq!(followed, 1, "only the /ok case asked /ok");
    handle.stop(false).await;
}

#[actix_web::test]
async fn token_exchange_slow_or_absent_endpoint_is_unreachable_not_a_hang() {
    let (base, _seen, handle) = start();
    let x = exchange(&base, "/slow").await;
    let started = Instant::now();
    let e = x.on_behalf_of(SUBJECT, &target()).await.unwrap_err();
    assert!(matches!(e, TokenExchangeError::Unreachable(_)), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.to_auth_error().status().as_u16(), 503);
    assert_clean(&e, &x);
    handle.stop(false).await;
    let x = exchange(&base, "/ok").await;
    let e = x.on_behalf_of(SUBJECT, &target()).await.unwrap_err();
    assert!(matches!(e, TokenExchangeError::Unreachable(_)), "{e:?}");
    assert!(e.to_string().contains("onnect"), "the cause is named: {e}");
}

#[actix_web::test]
async fn token_exchange_discovery_must_offer_the_grant() {
    let (base, _seen, handle) = start();
    let x = TokenExchange::builder("a", SECRET)
        .issuer(format!("{base}/offers"))
        .build()
        .await
        .unwrap();
    assert_eq!(x.token_endpoint(), format!("{base}/ok"));
    assert_eq!(
        x.on_behalf_of(SUBJECT, &target()).await.unwrap().secret(),
        ISSUED
    );
    for path in ["/lacks", "/silent"] {
        let e = TokenExchange::builder("a", SECRET)
            .issuer(format!("{base}{path}"))
            .build()
            .await
            .unwrap_err();
        match &e {
            TokenExchangeError::NotOffered { issuer } => {
                assert_eq!(issuer, &format!("{base}{path}"))
            }
            other => panic!("{path}: {other:?}"),
        }
        assert_eq!(e.to_auth_error().status().as_u16(), 503);
    }
    // The token endpoint on another host: the secret and the callers'
    // tokens are not sent there unless that host is allowed.
    let e = TokenExchange::builder("a", SECRET)
        .issuer(format!("{base}/elsewhere"))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            TokenExchangeError::Discovery(DiscoveryError::ForeignHost {
                field: "token_endpoint",
                ..
            })
        ),
        "{e:?}"
    );
    let x = TokenExchange::builder("a", SECRET)
        .issuer(format!("{base}/elsewhere"))
        .allow_endpoint_host("localhost")
        .build()
        .await
        .unwrap();
    assert_eq!(
        x.token_endpoint(),
        base.replace("127.0.0.1", "localhost") + "/ok"
    );
    for url in [
        "http://login.example/token",
        "ftp://127.0.0.1/token",
        "not a url",
    ] {
        let e = TokenExchange::builder("a", SECRET)
            .token_endpoint(url)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidEndpoint { .. }),
            "{url}: {e:?}"
        );
        assert!(!format!("{e:?}").contains(SECRET));
    }
    handle.stop(false).await;
}

#[actix_web::test]
async fn token_exchange_cache_is_bounded_and_shared_by_concurrent_callers() {
    let (base, seen, handle) = start();
    let x = TokenExchange::builder("a", SECRET)
        .token_endpoint(format!("{base}/ok"))
        .max_entries(4)
        .build()
        .await
        .unwrap();
    let billing = target();
    let results =
        futures_util::future::join_all((0..16).map(|_| x.on_behalf_of(SUBJECT, &billing))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(x.fetch_count(), 1);
    let subjects: Vec<String> = (0..10).map(|i| format!("subject-{i}")).collect();
    for s in &subjects {
        x.on_behalf_of(s, &target()).await.unwrap();
        assert!(x.cached_entries() <= 4);
    }
    assert_eq!(x.cached_entries(), 4);
    assert_eq!(x.fetch_count(), 11);
    // The most recent ones stayed.
    x.on_behalf_of(&subjects[9], &target()).await.unwrap();
    assert_eq!(x.fetch_count(), 11);
    assert_eq!(seen.requests.lock().unwrap().len(), 11);
    // Other scope, audience, resource, actor or requested type: other keys.
    let variants = [
        ExchangeRequest::new(&subjects[9], TokenType::AccessToken).target(target().scope("x")),
        ExchangeRequest::new(&subjects[9], TokenType::AccessToken)
            .target(Downstream::audience("other")),
        ExchangeRequest::new(&subjects[9], TokenType::AccessToken)
            .target(Downstream::resource("https://billing.example")),
        ExchangeRequest::new(&subjects[9], TokenType::AccessToken)
            .actor_token(ACTOR, TokenType::Jwt)
            .target(target()),
        ExchangeRequest::new(&subjects[9], TokenType::Jwt).target(target()),
        ExchangeRequest::new(&subjects[9], TokenType::AccessToken)
            .target(target().requested_token_type(TokenType::Jwt)),
    ];
    for (i, request) in variants.iter().enumerate() {
        x.exchange(request).await.unwrap();
        assert_eq!(x.fetch_count(), 12 + i as u64, "{request:?}");
    }
    handle.stop(false).await;
}

/// A JWT-shaped subject token whose payload is `claims` (the exchange reads
/// its `exp`, never trusts it otherwise).
fn subject_jwt(claims: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!("{}.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64(claims))
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[actix_web::test]
async fn token_exchange_outage_serves_the_cached_token_only_within_its_bounds() {
    // Inside the bounds: a 4 s token renewed 2 s ahead. Once the provider is
    // gone, the caller and those who waited for it get the cached token
    // until its expiry, and then the error.
    let (base, _seen, handle) = start();
    let x = TokenExchange::builder("a", SECRET)
        .token_endpoint(format!("{base}/short"))
        .refresh_ahead(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let first = x.on_behalf_of(SUBJECT, &target()).await.unwrap();
    let issued = Instant::now();
    handle.stop(false).await;
    actix_web::rt::time::sleep(Duration::from_millis(2300)).await;
    let billing = target();
    let during =
        futures_util::future::join_all((0..4).map(|_| x.on_behalf_of(SUBJECT, &billing))).await;
    for token in &during {
        assert_eq!(token.as_ref().unwrap().secret(), first.secret());
    }
    assert!(issued.elapsed() < Duration::from_secs(4));
    actix_web::rt::time::sleep(Duration::from_secs(4).saturating_sub(issued.elapsed())).await;
    let e = x.on_behalf_of(SUBJECT, &target()).await.unwrap_err();
    assert!(matches!(e, TokenExchangeError::Unreachable(_)), "{e:?}");

    // `max_cache_lifetime` and the subject's own `exp` bound an outage too:
    // a 120 s token is not served past either.
    // (The subject's `exp` is 2.5 s after the first request: made in the loop.)
    for (max_cache, expiring) in [
        (Duration::from_secs(2), false),
        (Duration::from_secs(300), true),
    ] {
        let subject = if expiring {
            subject_jwt(&format!(r#"{{"exp":{}}}"#, now_secs() + 2.5))
        } else {
            SUBJECT.to_owned()
        };
        let subject = subject.as_str();
        let (base, _seen, handle) = start();
        let x = TokenExchange::builder("a", SECRET)
            .token_endpoint(format!("{base}/ok"))
            .max_cache_lifetime(max_cache)
            .build()
            .await
            .unwrap();
        x.on_behalf_of(subject, &target()).await.unwrap();
        x.on_behalf_of(subject, &target()).await.unwrap();
        assert_eq!(x.fetch_count(), 1, "{max_cache:?}");
        handle.stop(false).await;
        actix_web::rt::time::sleep(Duration::from_millis(3100)).await;
        let e = x.on_behalf_of(subject, &target()).await.unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::Unreachable(_)),
            "{max_cache:?}: {e:?}"
        );
        assert_eq!(x.cached_entries(), 0);
    }
}

#[actix_web::test]
async fn token_exchange_subject_exp_of_any_shape_bounds_the_cache_without_panicking() {
    let (base, _seen, handle) = start();
    let x = TokenExchange::builder("a", SECRET)
        .token_endpoint(format!("{base}/ok"))
        .max_cache_lifetime(Duration::MAX)
        .default_lifetime(Duration::MAX)
        .build()
        .await
        .unwrap();
    let now = now_secs();
    // Far future, fractional, huge, negative, not a number: each is either
    // a bound or ignored, and none panics.
    for (claims, cached) in [
        (format!(r#"{{"exp":{}}}"#, now + 3600.0), true),
        (format!(r#"{{"exp":{}.75}}"#, now as u64 + 3600), true),
        (r#"{"exp":18446744073709551615}"#.to_owned(), true),
        (r#"{"exp":1e300}"#.to_owned(), true),
        (r#"{"exp":-5}"#.to_owned(), true),
        (r#"{"exp":"tomorrow"}"#.to_owned(), true),
        // Already past (a fraction after a past second): never cached.
        (format!(r#"{{"exp":{}.5}}"#, now as u64 - 10), false),
    ] {
        let subject = subject_jwt(&claims);
        let before = x.fetch_count();
        x.on_behalf_of(&subject, &target()).await.unwrap();
        x.on_behalf_of(&subject, &target()).await.unwrap();
        let fetched = x.fetch_count() - before;
        assert_eq!(fetched, if cached { 1 } else { 2 }, "{claims}");
    }
    handle.stop(false).await;
}
