//! The soak tool's mix (`tools/soak`, driven by `scripts/soak.sh`)
//! against the real todo binary: every category gets an answer the wire
//! contract allows, so the raw requests are what they claim to be and
//! their status lines are read back.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auth_jwt::{Algorithm, SigningKey};
use base64::Engine as _;
use common::server::TodoServer;
use rand::SeedableRng as _;
use soak::http::{Connection, Outcome};
use soak::mix::Category;

#[tokio::test]
async fn every_soak_category_gets_an_allowed_answer() {
    let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 48]);
    let server = TodoServer::start(&[("JWT_SECRET", &secret)]);
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let key = SigningKey::hmac_base64(&secret, Algorithm::HS256).unwrap();
    let now = auth_test_support::now();
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

    // The driving loop itself: a short run, every answer allowed.
    let deadline = Instant::now() + Duration::from_millis(500);
    let tally = soak::drive(addr, Duration::from_secs(30), &user, 2, deadline).await;
    assert!(tally.total() > 0);
    assert_eq!(tally.unexpected(), 0, "{}", tally.markdown());
    assert_eq!(tally.count(|_, o| o == Outcome::Timeout), 0);
}
