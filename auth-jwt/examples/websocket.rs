//! A browser WebSocket authenticated by a JWT in `Sec-WebSocket-Protocol`.
//!
//! Browsers cannot set `Authorization` on a WebSocket upgrade, so the page
//! sends the token as a subprotocol after the marker `access_token`:
//!
//! ```text
//! cargo run -p auth-jwt --example websocket
//! # then, in a browser console (the example prints a token):
//! const ws = new WebSocket("ws://127.0.0.1:8080/ws", ["access_token", TOKEN, "v1.chat"]);
//! ws.onopen = () => ws.send("hi");           // ws.protocol === "v1.chat"
//! ws.onmessage = (e) => console.log(e.data); // "ada: hi"
//! ```
//!
//! The handshake response must select one of the offered protocols or the
//! browser drops the connection: [`JwtStrategy::websocket_protocol`] picks it
//! (never the token), and `actix_ws::handle_with_protocols` sends it. A bad
//! token is answered 401 before the upgrade.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, web};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtKey, JwtStrategy, SigningKey, TokenService, TokenSource};
use auth_macros::authenticate;

#[get("/ws")]
#[authenticate("jwt")]
async fn ws(
    req: HttpRequest,
    body: web::Payload,
    user: UserProfile,
    strategy: web::Data<JwtStrategy>,
) -> Result<HttpResponse, actix_web::Error> {
    // The protocol to echo: the client's own subprotocol if it offered one
    // besides the marker and the token, else the marker.
    let selected = strategy.websocket_protocol(&req);
    let protocols: Vec<&str> = selected.as_deref().into_iter().collect();
    let (response, mut session, mut messages) =
        actix_ws::handle_with_protocols(&req, body, &protocols)?;
    actix_web::rt::spawn(async move {
        while let Some(Ok(message)) = messages.recv().await {
            match message {
                actix_ws::Message::Text(text)
                    if session.text(format!("{}: {text}", user.id)).await.is_err() =>
                {
                    break;
                }
                actix_ws::Message::Ping(bytes) if session.pong(&bytes).await.is_err() => {
                    break;
                }
                actix_ws::Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    break;
                }
                _ => {}
            }
        }
    });
    Ok(response)
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Demo only: read the secret from the environment in a real service.
    let secret = b"websocket example secret, 32+ bytes long";
    let strategy = JwtStrategy::builder()
        .key(JwtKey::hmac(secret, Algorithm::HS256)?)
        .issuer("websocket-example")
        .sources([
            TokenSource::Bearer,
            TokenSource::WebSocketProtocol("access_token".into()),
        ])
        .build()?;
    let tokens =
        TokenService::new(SigningKey::hmac(secret, Algorithm::HS256)?).issuer("websocket-example");
    let token = tokens.sign_access(&UserProfile::new("ada"))?;
    println!("TOKEN = {token:?}");
    let registry = StrategyRegistry::builder()
        .register(strategy.clone())
        .build()?;
    registry.verify_handlers()?;
    let strategy = web::Data::new(strategy);
    println!("listening on ws://127.0.0.1:8080/ws");
    HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .app_data(strategy.clone())
            .service(ws)
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    Ok(())
}
