//! API keys on the wire: the format, the store, and the strategy.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, test, web};
use auth_core::{MemoryStore, StateStore, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_token::{ApiKeyError, ApiKeyStrategy, ApiKeys, NewApiKey, looks_like_api_key};

#[authenticate("api-key")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": user.id, "roles": user.roles, "scopes": user.scopes,
    }))
}

fn keys() -> (Arc<dyn StateStore>, ApiKeys) {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    (Arc::clone(&store), ApiKeys::new(store))
}

fn new_key(owner: &str) -> NewApiKey {
    NewApiKey {
        owner: owner.into(),
        name: "ci".into(),
        roles: vec!["deployer".into()],
        scopes: vec!["todo:read".into()],
        ttl: None,
    }
}

async fn call(keys: &ApiKeys, headers: &[(&str, &str)]) -> (u16, String, Vec<String>) {
    call_with(ApiKeyStrategy::new("api-key", keys.clone()), headers).await
}

async fn call_with(
    strategy: ApiKeyStrategy,
    headers: &[(&str, &str)],
) -> (u16, String, Vec<String>) {
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(me)),
    )
    .await;
    let mut req = test::TestRequest::get().uri("/me");
    for (name, value) in headers {
        req = req.append_header((*name, *value));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let challenges = auth_test_support::www_authenticate(resp.headers());
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    (status, body, challenges)
}

#[tokio::test]
async fn a_valid_key_authenticates_its_owner_with_its_roles_and_scopes() {
    let (_, keys) = keys();
    let (key, record) = keys.create(new_key("ada")).await.unwrap();
    assert!(key.starts_with("ak_") && key.len() == 3 + 43 + 6, "{key}");
    assert!(looks_like_api_key("ak_", &key));
    let (status, body, _) = call(&keys, &[("X-API-Key", &key)]).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["id"], "ada");
    assert_eq!(body["roles"], serde_json::json!(["deployer"]));
    assert_eq!(body["scopes"], serde_json::json!(["todo:read"]));
    // The store never holds the key.
    assert_eq!(keys.list("ada").await.unwrap(), vec![record.clone()]);
    assert!(!format!("{record:?}").contains(&key[3..]));
}

#[tokio::test]
async fn bad_unknown_revoked_and_expired_keys_are_one_and_the_same_401() {
    let (_, keys) = keys();
    let (valid, record) = keys.create(new_key("ada")).await.unwrap();
    let (expiring, _) = keys
        .create(NewApiKey {
            ttl: Some(Duration::from_secs(1)),
            ..new_key("ada")
        })
        .await
        .unwrap();
    // Well-formed, right checksum, never issued here.
    let (_, other_keys) = self::keys();
    let (unknown, _) = other_keys.create(new_key("eve")).await.unwrap();
    let mut flipped = valid.clone().into_bytes();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    let mut bodies = Vec::new();
    for bad in [
        "",
        "ak_",
        "not-a-key",
        &valid[..valid.len() - 1],
        &format!("{valid}x"),
        &valid.replace("ak_", "gh_"),
        &flipped,
        &unknown,
        "ak_ÄÖÜ",
    ] {
        let (status, body, challenges) = call(&keys, &[("X-API-Key", bad)]).await;
        assert_eq!(status, 401, "{bad:?}: {body}");
        assert_eq!(
            challenges,
            [r#"ApiKey realm="api", error="invalid_token""#],
            "{bad:?}"
        );
        assert!(
            !body.contains(bad) || bad.is_empty() || bad == "ak_",
            "the key is echoed: {body}"
        );
        bodies.push(body);
    }
    keys.revoke("ada", &record.id).await.unwrap();
    let (status, body, _) = call(&keys, &[("X-API-Key", &valid)]).await;
    assert_eq!(status, 401);
    bodies.push(body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body, _) = call(&keys, &[("X-API-Key", &expiring)]).await;
    assert_eq!(status, 401);
    bodies.push(body);
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");
}

#[tokio::test]
async fn no_key_passes_and_two_keys_are_a_bad_request() {
    let (_, keys) = keys();
    let (key, _) = keys.create(new_key("ada")).await.unwrap();
    let (status, _, challenges) = call(&keys, &[]).await;
    assert_eq!(
        (status, challenges.as_slice()),
        (401, &[r#"ApiKey realm="api""#.to_owned()][..])
    );
    let (status, _, _) = call(&keys, &[("X-API-Key", &key), ("X-API-Key", &key)]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_revocation_on_one_instance_holds_on_another_and_ids_belong_to_their_owner() {
    let (store, a) = keys();
    let b = ApiKeys::new(store);
    let (key, record) = a.create(new_key("ada")).await.unwrap();
    assert!(b.verify(&key).await.unwrap().is_some());
    // Another user cannot revoke (or see) it by id.
    assert!(matches!(
        b.revoke("eve", &record.id).await,
        Err(ApiKeyError::NotFound)
    ));
    assert!(matches!(
        b.last_used("eve", &record.id).await,
        Err(ApiKeyError::NotFound)
    ));
    assert!(b.list("eve").await.unwrap().is_empty());
    assert!(b.last_used("ada", &record.id).await.unwrap().is_some());
    b.revoke("ada", &record.id).await.unwrap();
    assert!(a.verify(&key).await.unwrap().is_none());
    assert!(matches!(
        a.revoke("ada", &record.id).await,
        Err(ApiKeyError::NotFound)
    ));
}

#[tokio::test]
async fn prefixes_are_checked_and_keys_of_another_prefix_refused() {
    let (store, _) = keys();
    for bad in ["", "_", "Todo_", "todo", "to do_", "todo-", "ö_"] {
        assert!(
            ApiKeys::new(Arc::clone(&store)).with_prefix(bad).is_err(),
            "{bad:?}"
        );
    }
    let todo = ApiKeys::new(Arc::clone(&store))
        .with_prefix("todo_")
        .unwrap();
    let plain = ApiKeys::new(store);
    let (key, _) = todo.create(new_key("ada")).await.unwrap();
    assert!(key.starts_with("todo_"));
    assert!(todo.verify(&key).await.unwrap().is_some());
    assert!(plain.verify(&key).await.unwrap().is_none());
    assert!(matches!(
        todo.create(NewApiKey::default()).await,
        Err(ApiKeyError::Invalid(_))
    ));
}

#[tokio::test]
async fn the_authorization_form_goes_through_the_shared_parser() {
    let (_, keys) = keys();
    let (key, _) = keys.create(new_key("ada")).await.unwrap();
    for strategy in [
        ApiKeyStrategy::new("api-key", keys.clone()).scheme("ApiKey"),
        ApiKeyStrategy::new("api-key", keys.clone()).header("Authorization"),
    ] {
        let (status, body, _) = call_with(
            strategy.clone(),
            &[("Authorization", &format!("apikey {key}"))],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // Two Authorization headers: 400, as for every strategy.
        let value = format!("ApiKey {key}");
        let (status, _, _) = call_with(
            strategy.clone(),
            &[("Authorization", &value), ("Authorization", &value)],
        )
        .await;
        assert_eq!(status, 400);
        // Another scheme is not this strategy's: 401 without an error.
        let (status, _, challenges) =
            call_with(strategy.clone(), &[("Authorization", "Bearer abc")]).await;
        assert_eq!(
            (status, challenges.as_slice()),
            (401, &[r#"ApiKey realm="api""#.to_owned()][..])
        );
        // Parameters instead of one token: 400.
        let (status, _, _) = call_with(strategy, &[("Authorization", "ApiKey a=b")]).await;
        assert_eq!(status, 400);
    }
}
