//! The smallest example: one public and one protected handler.
//!
//! The `demo` strategy below accepts the header `X-Demo-User: <name>` and
//! authenticates as that user. It checks nothing and is for showing the
//! mechanics only; real applications register `auth-jwt` or `auth-basic`.
//!
//! ```text
//! cargo run -p hello
//! curl -i http://127.0.0.1:8080/            # 200, public
//! curl -i http://127.0.0.1:8080/me          # 401 with WWW-Authenticate
//! curl -i -H 'X-Demo-User: ada' http://127.0.0.1:8080/me   # 200 {"securityId":"ada",...}
//! ```

use actix_web::{App, HttpResponse, HttpServer, Responder, get};
use auth_core::{
    AuthError, AuthOutcome, Challenge, DefaultPolicy, StrategyRegistry, UserProfile, from_fn,
};
use auth_macros::authenticate;

#[authenticate(skip)]
#[get("/")]
async fn index() -> &'static str {
    "hello, anyone\n"
}

#[authenticate("demo")]
#[get("/me")]
async fn me(user: UserProfile) -> impl Responder {
    HttpResponse::Ok().json(user)
}

fn registry() -> Result<StrategyRegistry, auth_core::ConfigError> {
    let demo = from_fn("demo", |req, _options| {
        let header = req.headers().get("x-demo-user").cloned();
        async move {
            let Some(value) = header else {
                return Ok(AuthOutcome::NotApplicable);
            };
            match value.to_str() {
                Ok(name) if !name.trim().is_empty() => Ok(AuthOutcome::Authenticated(
                    UserProfile::new(name.trim()).with_name(name.trim()),
                )),
                _ => Err(AuthError::invalid_request(
                    "X-Demo-User must be a non-empty visible ASCII name",
                )),
            }
        }
    })
    .with_challenge(Challenge::new("Demo").param("realm", "hello"));
    StrategyRegistry::builder().register(demo).build()
}

/// Registers the routes; shared by `main` and the tests.
fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(index).service(me);
}

/// Start-up errors (a misspelt strategy, a port in use) are printed with
/// `Display`, as a sentence, and the process exits with status 1.
#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let registry = registry()?;
    // Refuse to start when a handler names a strategy that is not registered.
    registry.verify_handlers()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    tracing::info!("listening on http://127.0.0.1:{port}");
    // Default-deny: a route whose handler declares nothing answers 404.
    HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .wrap(DefaultPolicy::new())
            .configure(routes)
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as atest;

    #[actix_web::test]
    async fn public_and_protected() {
        let app = atest::init_service(
            App::new()
                .app_data(registry().unwrap())
                .wrap(DefaultPolicy::new())
                .configure(routes),
        )
        .await;
        let resp = atest::call_service(&app, atest::TestRequest::get().uri("/").to_request()).await;
        assert_eq!(resp.status(), 200);
        for (method, uri) in [("GET", "/nothing"), ("POST", "/"), ("DELETE", "/me")] {
            let req = atest::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(uri)
                .to_request();
            assert_eq!(
                atest::call_service(&app, req).await.status(),
                404,
                "{method} {uri}"
            );
        }

        let resp =
            atest::call_service(&app, atest::TestRequest::get().uri("/me").to_request()).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            r#"Demo realm="hello""#
        );

        let req = atest::TestRequest::get()
            .uri("/me")
            .insert_header(("x-demo-user", "ada"))
            .to_request();
        let body: serde_json::Value = atest::call_and_read_body_json(&app, req).await;
        assert_eq!(body["securityId"], "ada");
        assert_eq!(body["strategy"], "demo");
    }

    #[test]
    fn every_handler_names_a_registered_strategy() {
        registry().unwrap().verify_handlers().unwrap();
    }
}
