//! `soak ADDR`: drives a running todo server with the soak mix for a fixed
//! time and prints what came of it. `JWT_SECRET` must hold the server's
//! HMAC key as base64 (the tool signs the expired tokens with it).
//!
//! Output: the Markdown table, then `key=value` lines for scripts
//! (`requests`, `elapsed_secs`, `requests_per_sec`, `server_errors`,
//! `shed_503`, `closed`, `timeouts`, `unexpected`, `final_check`). The exit status is 0 when the run happened, whatever its
//! results; 2 when it could not start.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_jwt::{Algorithm, SigningKey};
use clap::Parser;
use soak::http::{Connection, Outcome};
use soak::mix::Category;
use soak::report::Tally;

/// Soak a todo server with valid traffic mixed with garbage.
#[derive(Debug, Parser)]
struct Args {
    /// The server: `127.0.0.1:PORT` or `http://127.0.0.1:PORT`.
    addr: String,
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    conns: u64,
    /// Users signed up (connections share them round-robin).
    #[arg(long, default_value_t = 4)]
    users: u64,
    /// Seconds a request may take to be answered.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Seed of the request sequence (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    table: Option<PathBuf>,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let host = args
        .addr
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let addr: SocketAddr = host
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    let secret = std::env::var("JWT_SECRET")
        .map_err(|_| "JWT_SECRET must hold the server's HMAC key (base64)".to_owned())?;
    let key = SigningKey::hmac_base64(&secret, Algorithm::HS256).map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(args.timeout);
    let seed = args.seed.unwrap_or_else(|| now().as_nanos() as u64);

    let mut setup = Connection::new(addr, timeout);
    let mut users = Vec::new();
    for i in 0..args.users.max(1) {
        let email = format!("soak{i}-{seed:x}@example.com");
        let password = format!("soak password {i} of {seed:x}!");
        users.push(soak::enrol(&mut setup, &email, &password, &key, now().as_secs()).await?);
    }
    eprintln!(
        "soak: {} users, {} connections, {} s against {addr} (seed {seed})",
        users.len(),
        args.conns,
        args.duration
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.conns {
        let user = users[(i % users.len() as u64) as usize].clone();
        tasks.spawn(async move {
            soak::drive(addr, timeout, &user, seed.wrapping_add(i), deadline).await
        });
    }
    let mut tally = Tally::default();
    while let Some(result) = tasks.join_next().await {
        tally.merge(&result.map_err(|e| format!("a connection task failed: {e}"))?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Still serving? One valid request on a fresh connection.
    let check = Category::ValidWhoAmI.request(&users[0], 0, &mut rand::thread_rng());
    let (final_check, _) = Connection::new(addr, timeout).send(&check).await;

    let table = tally.markdown();
    if let Some(path) = &args.table {
        std::fs::write(path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{table}");
    println!("requests={}", tally.total());
    println!("elapsed_secs={elapsed:.1}");
    println!("requests_per_sec={:.0}", tally.total() as f64 / elapsed);
    println!("server_errors={}", tally.server_errors());
    println!("shed_503={}", tally.count(|_, o| o == Outcome::Status(503)));
    println!("closed={}", tally.count(|_, o| o == Outcome::Closed));
    println!("timeouts={}", tally.timeouts());
    println!("unexpected={}", tally.unexpected());
    println!("final_check={final_check}");
    Ok(())
}
