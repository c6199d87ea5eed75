//! The `/ws` handler of the WebSocket example, shared with the WebSocket
//! tests (`tests/websocket.rs` includes this file), so that the tests run
//! the handler the example shows.

use actix_web::{HttpRequest, HttpResponse, get, web};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::JwtStrategy;
use auth_macros::authenticate;

/// Upgrades to a WebSocket that echoes each text message as
/// `"<user id>: <text>"`.
#[get("/ws")]
#[authenticate("jwt")]
pub(crate) async fn ws(
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

/// The app's set-up: the strategies of `registry`, `strategy` for the
/// handler, and `/ws`; for `App::configure` in each worker.
pub(crate) fn configure(
    registry: StrategyRegistry,
    strategy: JwtStrategy,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let strategy = web::Data::new(strategy);
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(registry.clone())
            .app_data(strategy.clone())
            .service(ws);
    }
}
