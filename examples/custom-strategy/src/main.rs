//! A small server protected by the API-key strategy.
//!
//! ```text
//! cargo run -p custom-strategy
//! # the log prints a freshly issued key once
//! curl -i -H "X-API-Key: ak_..." http://127.0.0.1:8081/reports
//! ```

use actix_web::{App, HttpResponse, HttpServer, get};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use custom_strategy::{ApiKeyStore, ApiKeyStrategy};

#[get("/reports")]
#[authenticate("api-key", roles = ["reader"])]
async fn reports(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"reports": [], "for": user.id}))
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
    tracing_subscriber::fmt().init();
    let mut store = ApiKeyStore::new();
    let key = store.issue(UserProfile::new("reporting-bot").with_roles(["reader"]));
    // Shown once, as a real key-issuing endpoint would; never logged again.
    println!("issued API key for reporting-bot: {key}");
    let registry = StrategyRegistry::builder()
        .register(ApiKeyStrategy::new(store))
        .build()?;
    registry.verify_handlers()?;
    HttpServer::new(move || App::new().app_data(registry.clone()).service(reports))
        .bind(("127.0.0.1", 8081))?
        .run()
        .await?;
    Ok(())
}
