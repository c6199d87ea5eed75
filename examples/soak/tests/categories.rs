//! Every category of the soak mix, sent to the todo application on a real
//! socket, gets an answer the wire contract allows: the raw requests are
//! what they claim to be, and the status-line parsing reads them back.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpServer};
use auth_jwt::{Algorithm, SigningKey};
use base64::Engine as _;
use rand::SeedableRng as _;
use soak::http::{Connection, Outcome};
use soak::mix::Category;

#[actix_web::test]
async fn every_category_gets_an_allowed_answer() {
    let dir = tempfile::tempdir().unwrap();
    let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 48]);
    let config = todo::config::Config::from_lookup(|name| match name {
        "TODO_DATA_DIR" => Some(dir.path().display().to_string()),
        "JWT_SECRET" => Some(secret.clone()),
        _ => None,
    })
    .unwrap();
    let state = todo::build(&config).await.unwrap();
    let server = HttpServer::new(move || App::new().configure(todo::configure(state.clone())))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let key = SigningKey::hmac_base64(&secret, Algorithm::HS256).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut conn = Connection::new(addr, Duration::from_secs(30));
    let user = soak::enrol(&mut conn, "soak@example.com", "grey walrus 42!", &key, now)
        .await
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for category in Category::ALL {
        // Random categories draw new bytes each time: several tries.
        for _ in 0..3 {
            let todo = match category {
                Category::ValidDelete => {
                    let create = Category::ValidCreate.request(&user, 0, &mut rng);
                    let (_, body) = conn.send(&create).await;
                    let todo: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    todo["id"].as_i64().unwrap()
                }
                _ => 0,
            };
            let (outcome, _) = conn.send(&category.request(&user, todo, &mut rng)).await;
            assert!(category.allows(outcome), "{category:?} came to {outcome}");
        }
    }

    // The driving loop itself: a short run, everything allowed.
    let tally = soak::drive(
        addr,
        Duration::from_secs(30),
        &user,
        2,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    assert!(tally.total() > 0);
    assert_eq!(tally.unexpected(), 0, "{}", tally.markdown());
    assert_eq!(tally.count(|_, o| o == Outcome::Timeout), 0);
    handle.stop(true).await;
}
