//! The todo server. Configuration: see `todo::config::Config`.

use actix_web::{App, HttpServer, middleware};
use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = todo::config::Config::from_env()?;
    let state = todo::build(&config).await?;
    // Every route with its authentication policy; routes that no
    // `#[authenticate]` declares are named here (they answer 404).
    let report = todo::default_policy()
        .report(App::new().configure(todo::configure(state.clone())))
        .await?;
    for line in report.to_string().lines() {
        if line.starts_with("warning: ") {
            tracing::warn!("{line}");
        } else {
            tracing::info!("{line}");
        }
    }
    let server = HttpServer::new(move || {
        App::new()
            .wrap(todo::default_policy())
            // The access log names the path (`%U`) but never the query string
            // or headers, so no credential (e.g. `?access_token=`) reaches it.
            .wrap(
                middleware::Logger::new("%a \"%{method}xi %U\" %s %b %Dms")
                    .custom_request_replace("method", |req| req.method().to_string()),
            )
            .configure(todo::configure(state.clone()))
    })
    .shutdown_timeout(10)
    .bind((config.host.as_str(), config.port))?;
    for addr in server.addrs() {
        tracing::info!("todo listening on http://{addr}");
    }
    // actix-web stops gracefully on SIGINT/SIGTERM: no new connections,
    // in-flight requests get `shutdown_timeout` to finish.
    server.run().await?;
    tracing::info!("todo stopped");
    Ok(())
}
