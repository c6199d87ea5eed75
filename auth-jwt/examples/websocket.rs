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

use actix_web::{App, HttpServer};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtStrategy, SigningKey, TokenService, TokenSource, VerifyingKey};

#[path = "shared/ws_echo.rs"]
mod ws_echo;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Demo only: read the secret from the environment in a real service.
    let secret = b"websocket example secret, 32+ bytes long";
    let strategy = JwtStrategy::builder()
        .key(VerifyingKey::hmac(secret, Algorithm::HS256)?)
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
    let configure = ws_echo::configure(registry, strategy);
    println!("listening on ws://127.0.0.1:8080/ws");
    HttpServer::new(move || App::new().configure(configure.clone()))
        .bind(("127.0.0.1", 8080))?
        .run()
        .await?;
    Ok(())
}
