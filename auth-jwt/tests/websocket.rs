//! A token in `Sec-WebSocket-Protocol` over a real socket (issue 18.6): an
//! actix-web server on 127.0.0.1 upgrading with actix-ws, and a real
//! WebSocket client (tungstenite), which, like a browser, refuses a
//! handshake that selects no protocol or one it did not offer.

mod fixtures;

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use auth_core::StrategyRegistry;
use auth_jwt::{JwtStrategy, TokenSource};
use fixtures::{SECRET, hs256, now, valid_claims};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

#[path = "../examples/shared/ws_echo.rs"]
mod ws_echo;

/// Serves `/ws` on a free port of 127.0.0.1.
fn serve() -> (SocketAddr, ServerHandle) {
    let strategy = JwtStrategy::builder()
        .key(auth_jwt::VerifyingKey::hmac(SECRET, auth_jwt::Algorithm::HS256).unwrap())
        .sources([
            TokenSource::Bearer,
            TokenSource::WebSocketProtocol("access_token".into()),
        ])
        .build()
        .unwrap();
    let registry = StrategyRegistry::builder()
        .register(strategy.clone())
        .build()
        .unwrap();
    let configure = ws_echo::configure(registry, strategy);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}

async fn connect(
    addr: SocketAddr,
    protocols: &str,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    WsError,
> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    tokio_tungstenite::connect_async(request).await
}

/// The connection opens, the selected protocol is one the client offered
/// (the application's own when there is one, else the marker), never the
/// token, and messages flow as the token's user.
#[actix_web::test]
async fn a_token_in_the_protocol_header_opens_the_socket_with_an_offered_protocol() {
    let (addr, server) = serve();
    let token = hs256(&valid_claims());
    for (offered, selected) in [
        (format!("access_token, {token}"), "access_token"),
        (format!("access_token, {token}, v1.chat"), "v1.chat"),
        (
            format!("v2.chat, access_token, {token}, v1.chat"),
            "v2.chat",
        ),
        (
            format!("access_token,{token},graphql-transport-ws"),
            "graphql-transport-ws",
        ),
    ] {
        let (mut socket, response) = connect(addr, &offered)
            .await
            .unwrap_or_else(|e| panic!("{offered}: {e}"));
        assert_eq!(response.status(), 101);
        let got = response.headers()["sec-websocket-protocol"]
            .to_str()
            .unwrap();
        assert_eq!(got, selected, "{offered}");
        assert_ne!(got, token);
        assert!(offered.split(',').any(|p| p.trim() == got));
        socket.send(Message::text("hi")).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert_eq!(reply, Message::text("alice: hi"), "{offered}");
        socket.close(None).await.unwrap();
    }
    server.stop(true).await;
}

/// A bad token in the protocol header is refused with a 401 before the
/// upgrade; a marker without a token is a 400; nothing is upgraded.
#[actix_web::test]
async fn a_bad_token_in_the_protocol_header_is_refused_before_the_upgrade() {
    let (addr, server) = serve();
    let good = hs256(&valid_claims());
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let expired = hs256(&json!({"sub": "alice", "exp": now() - 3600}));
    let other_key = fixtures::sign(
        jsonwebtoken::Header::new(auth_jwt::Algorithm::HS256),
        &valid_claims(),
        &[7u8; 32],
    );
    let cases = [
        (format!("access_token, {tampered}"), 401, "invalid_token"),
        (
            format!("access_token, {expired}, v1.chat"),
            401,
            "invalid_token",
        ),
        (format!("access_token, {other_key}"), 401, "invalid_token"),
        ("access_token, not-a-jwt".to_owned(), 401, "invalid_token"),
        ("v1.chat, access_token".to_owned(), 400, "invalid_request"),
    ];
    for (offered, status, error) in &cases {
        match connect(addr, offered).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), *status, "{offered}");
                let challenge = response.headers()["www-authenticate"].to_str().unwrap();
                assert!(
                    challenge.contains(&format!(r#"error="{error}""#)),
                    "{offered}: {challenge}"
                );
                assert!(response.headers().get("sec-websocket-accept").is_none());
            }
            Ok((_, response)) => panic!("{offered}: upgraded ({})", response.status()),
            Err(e) => panic!("{offered}: {e}"),
        }
    }
    server.stop(true).await;
}
