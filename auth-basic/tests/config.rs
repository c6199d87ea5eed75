//! `BasicFactory` and `DigestFactory`: strategies built from TOML and YAML
//! answer on the wire (200, 401 with the right challenge, 429 from the
//! shared guard), the application's state store holds their state, and every
//! class of bad input is refused with the file, the strategy and the field.
#![cfg(feature = "config")]

mod common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{
    BasicFactory, DigestAlgorithm, DigestFactory, MemoryUserStore, NewUser, SqlStoreOptions,
    SqlUserStore, UserStore, ha1, parse_digest_params,
};
use auth_core::{
    AuthConfig, AuthConfigError, MemoryStore, StateStore, StrategyRegistry, UserProfile,
};
use auth_macros::authenticate;
use auth_password::{HashParams, hash_password};
use base64::Engine as _;

const REALM: &str = "api";
const PASSWORD: &str = "correct horse";
const WRONG: &str = "battery staple";

#[get("/basic")]
#[authenticate("basic")]
async fn basic_route(user: UserProfile) -> String {
    format!("{}:{}", user.id, user.roles.join(","))
}

#[get("/digest")]
#[authenticate("digest")]
async fn digest_route(user: UserProfile) -> String {
    format!("{}:{}", user.id, user.roles.join(","))
}

/// A directory with users.yml (ada and bob, with Digest HA1 values for
/// `REALM`) and a configuration file `name` holding `text`.
fn files(name: &str, text: &str) -> (tempfile::TempDir, AuthConfig) {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.yml");
    for (user, roles) in [("ada", &["admin"][..]), ("bob", &[][..])] {
        common::put_user(
            &users,
            user,
            roles,
            PASSWORD,
            REALM,
            &[DigestAlgorithm::Sha256, DigestAlgorithm::Sha512_256],
        );
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let config = AuthConfig::from_file(&path).unwrap();
    (dir, config)
}

const TOML: &str = r#"
[guard]
max_failures_per_user = 3
max_failures_per_client = 50
window_secs = 600

[password_hasher]
threads = 1
per_client = 4

[strategies.basic]
type = "basic"
realm = "api"
store = { users_file = "users.yml" }
verification_cache = { ttl_secs = 60 }

[strategies.digest]
type = "digest"
realm = "api"
store = { users_file = "users.yml" }
algorithms = ["SHA-512-256", "SHA-256"]
nonce_ttl_secs = 120
userhash = true
"#;

const YAML: &str = r#"
guard:
  max_failures_per_user: 3
  max_failures_per_client: 50
  window_secs: 600
password_hasher:
  threads: 1
  per_client: 4
strategies:
  basic:
    type: basic
    realm: api
    store: {users_file: users.yml}
    verification_cache: {ttl_secs: 60}
  digest:
    type: digest
    realm: api
    store:
      users_file: users.yml
    algorithms: [SHA-512-256, SHA-256]
    nonce_ttl_secs: 120
    userhash: true
"#;

struct Reply {
    status: StatusCode,
    challenges: Vec<String>,
    retry_after: Option<String>,
    body: serde_json::Value,
    text: String,
}

async fn call<S>(app: &S, path: &str, auth: Option<&str>) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let mut req = at::TestRequest::get()
        .uri(path)
        .peer_addr("192.0.2.7:40000".parse().unwrap());
    if let Some(auth) = auth {
        req = req.insert_header(("Authorization", auth));
    }
    let resp = at::call_service(app, req.to_request()).await;
    let status = resp.status();
    let challenges = resp
        .headers()
        .get_all("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = at::read_body(resp).await;
    Reply {
        status,
        challenges,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or_default(),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

macro_rules! app {
    ($registry:expr) => {
        at::init_service(
            App::new()
                .app_data($registry)
                .service(basic_route)
                .service(digest_route),
        )
        .await
    };
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `H(data)` with the hash crates directly (an independent client).
fn h(algorithm: &str, data: &str) -> String {
    use sha2::Digest as _;
    let bytes = match algorithm {
        "SHA-256" => sha2::Sha256::digest(data.as_bytes()).to_vec(),
        "SHA-512-256" => sha2::Sha512_256::digest(data.as_bytes()).to_vec(),
        other => panic!("not in the test client: {other}"),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client's first answer (`nc=1`) to a Digest challenge for `uri`.
fn digest(challenge: &str, user: &str, password: &str, uri: &str) -> String {
    let p = parse_digest_params(challenge.strip_prefix("Digest ").unwrap()).unwrap();
    let (alg, nonce, opaque, realm) = (&p["algorithm"], &p["nonce"], &p["opaque"], &p["realm"]);
    let ha1 = h(alg, &format!("{user}:{realm}:{password}"));
    let ha2 = h(alg, &format!("GET:{uri}"));
    let response = h(alg, &format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    format!(
        r#"Digest username="{user}", realm="{realm}", uri="{uri}", algorithm={alg}, nonce="{nonce}", nc=00000001, cnonce="c0ffee", qop=auth, response="{response}", opaque="{opaque}""#
    )
}

/// Asks for a challenge and answers it.
async fn digest_login<S>(app: &S, user: &str, password: &str) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let first = call(app, "/digest", None).await;
    assert_eq!(first.status, 401);
    let challenge = first
        .challenges
        .iter()
        .find(|c| c.starts_with("Digest "))
        .unwrap();
    call(
        app,
        "/digest",
        Some(&digest(challenge, user, password, "/digest")),
    )
    .await
}

async fn registry(config: &AuthConfig, factory: &BasicFactory) -> StrategyRegistry {
    StrategyRegistry::from_config(config, &[factory, &factory.digest()])
        .await
        .unwrap()
}

#[actix_web::test]
async fn basic_from_toml_and_yaml_answers_200_401_and_429_on_the_wire() {
    for (name, text) in [("auth.toml", TOML), ("auth.yaml", YAML)] {
        let (_dir, config) = files(name, text);
        let factory = BasicFactory::default();
        let app = app!(registry(&config, &factory).await);

        let ok = call(&app, "/basic", Some(&basic("ada", PASSWORD))).await;
        assert_eq!(
            (ok.status, ok.text.as_str()),
            (StatusCode::OK, "ada:admin"),
            "{name}"
        );
        for failure in 1..=3 {
            let wrong = call(&app, "/basic", Some(&basic("ada", WRONG))).await;
            assert_eq!(wrong.status, 401, "{name}: failure {failure}");
            assert_eq!(
                wrong.challenges,
                [r#"Basic realm="api", charset="UTF-8""#],
                "{name}"
            );
            assert_eq!(wrong.body["error"]["code"], "INVALID_CREDENTIALS", "{name}");
        }
        // Three failures for ada (the file's limit): refused before hashing,
        // even with the right password.
        let locked = call(&app, "/basic", Some(&basic("ada", PASSWORD))).await;
        assert_eq!(locked.status, 429, "{name}: {}", locked.text);
        let retry: u64 = locked.retry_after.unwrap().parse().unwrap();
        assert!((1..=600).contains(&retry), "{name}: {retry}");
        // The limit is per user (the client limit is 50): bob still gets in.
        let bob = call(&app, "/basic", Some(&basic("bob", PASSWORD))).await;
        assert_eq!(
            (bob.status, bob.text.as_str()),
            (StatusCode::OK, "bob:"),
            "{name}"
        );
    }
}

#[actix_web::test]
async fn digest_from_toml_and_yaml_answers_200_401_and_429_on_the_wire() {
    for (name, text) in [("auth.toml", TOML), ("auth.yaml", YAML)] {
        let (_dir, config) = files(name, text);
        let factory = BasicFactory::default();
        let app = app!(registry(&config, &factory).await);

        let challenge = call(&app, "/digest", None).await;
        assert_eq!(challenge.status, 401);
        let offered: Vec<String> = challenge
            .challenges
            .iter()
            .map(|c| parse_digest_params(c.strip_prefix("Digest ").unwrap()).unwrap())
            .map(|p| {
                assert_eq!(p["realm"], REALM);
                assert_eq!(p["qop"], "auth");
                assert_eq!(p["userhash"], "true", "{name}: userhash = true");
                p["algorithm"].clone()
            })
            .collect();
        assert_eq!(offered, ["SHA-512-256", "SHA-256"], "{name}");

        let ok = digest_login(&app, "ada", PASSWORD).await;
        assert_eq!(
            (ok.status, ok.text.as_str()),
            (StatusCode::OK, "ada:admin"),
            "{name}"
        );
        for failure in 1..=3 {
            let wrong = digest_login(&app, "ada", WRONG).await;
            assert_eq!(wrong.status, 401, "{name}: failure {failure}");
            assert!(
                !wrong.challenges.is_empty()
                    && wrong
                        .challenges
                        .iter()
                        .all(|c| c.starts_with("Digest realm=\"api\"")),
                "{name}: {:?}",
                wrong.challenges
            );
        }
        let locked = digest_login(&app, "ada", PASSWORD).await;
        assert_eq!(locked.status, 429, "{name}: {}", locked.text);
        assert!(locked.retry_after.is_some());
        let bob = digest_login(&app, "bob", PASSWORD).await;
        assert_eq!(bob.status, 200, "{name}: {}", bob.text);
    }
}

#[actix_web::test]
async fn basic_and_digest_count_in_one_guard_and_the_login_handler_gets_it() {
    let (_dir, config) = files("auth.toml", TOML);
    let factory = BasicFactory::default();
    let app = app!(registry(&config, &factory).await);
    // Two failures through Basic, one through Digest: three for ada.
    for _ in 0..2 {
        assert_eq!(
            call(&app, "/basic", Some(&basic("ada", WRONG)))
                .await
                .status,
            401
        );
    }
    assert_eq!(digest_login(&app, "ada", WRONG).await.status, 401);
    assert_eq!(
        call(&app, "/basic", Some(&basic("ada", PASSWORD)))
            .await
            .status,
        429
    );
    assert_eq!(digest_login(&app, "ada", PASSWORD).await.status, 429);
    // The guard a login handler asks for is the one that counted.
    let guard = factory.guard(&config).unwrap();
    assert_eq!(guard.config().max_failures_per_user, 3);
    let refused = guard.check_addr(None, Some("ada")).await.unwrap_err();
    assert_eq!(refused.status(), 429);
    assert!(guard.check_addr(None, Some("bob")).await.is_ok());
    // So does the Digest twin's.
    let twin = factory.digest().guard(&config).unwrap();
    assert_eq!(
        twin.check_addr(None, Some("ada"))
            .await
            .unwrap_err()
            .status(),
        429
    );
}

#[actix_web::test]
async fn the_guard_is_on_unless_dangerously_disabled() {
    for (disabled, expected_last) in [(false, 429), (true, 200)] {
        let text = format!(
            "[guard]\nmax_failures_per_user = 2\n[strategies.basic]\ntype = \"basic\"\n\
             store = {{ users_file = \"users.yml\" }}\n{}",
            if disabled {
                "dangerously_disable_guard = true\n"
            } else {
                ""
            }
        );
        let (_dir, config) = files("auth.toml", &text);
        let factory = BasicFactory::default();
        let app = app!(registry(&config, &factory).await);
        for _ in 0..4 {
            let wrong = call(&app, "/basic", Some(&basic("ada", WRONG))).await;
            assert!(wrong.status == 401 || wrong.status == 429);
        }
        let last = call(&app, "/basic", Some(&basic("ada", PASSWORD))).await;
        assert_eq!(last.status, expected_last, "disabled: {disabled}");
        // The default realm of a Basic table is "api".
        let none = call(&app, "/basic", None).await;
        assert_eq!(none.challenges, [r#"Basic realm="api", charset="UTF-8""#]);
    }
}

#[actix_web::test]
async fn the_applications_state_store_holds_the_counters_and_the_nonce_counts() {
    let (_dir, config) = files("auth.toml", TOML);
    let state = Arc::new(MemoryStore::new());
    let factory = BasicFactory::new(state.clone());
    let app = app!(registry(&config, &factory).await);

    assert_eq!(
        call(&app, "/basic", Some(&basic("ada", WRONG)))
            .await
            .status,
        401
    );
    let count = state.get("guard:user:ada").await.unwrap().unwrap();
    assert_eq!(count.as_count().unwrap(), 1);
    let client = state.get("guard:client:192.0.2.7").await.unwrap().unwrap();
    assert_eq!(client.as_count().unwrap(), 1);

    let first = call(&app, "/digest", None).await;
    let challenge = &first.challenges[0];
    let nonce =
        parse_digest_params(challenge.strip_prefix("Digest ").unwrap()).unwrap()["nonce"].clone();
    assert!(
        state
            .get(&format!("digest:nc:{nonce}"))
            .await
            .unwrap()
            .is_none()
    );
    let ok = call(
        &app,
        "/digest",
        Some(&digest(challenge, "bob", PASSWORD, "/digest")),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let seen = state
        .get(&format!("digest:nc:{nonce}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.as_count().unwrap(), 1);
    // A replay is refused: the count is in the store both would share.
    let replay = call(
        &app,
        "/digest",
        Some(&digest(challenge, "bob", PASSWORD, "/digest")),
    )
    .await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.body["error"]["code"], "NONCE_REPLAYED");
}

#[actix_web::test]
async fn a_provided_store_is_the_applications_own_instance() {
    let users = Arc::new(MemoryUserStore::new());
    let hash = |pw: &str| hash_password(&HashParams::insecure_for_tests(), pw).unwrap();
    users.insert(NewUser::new("ada", hash(PASSWORD)).with_roles(["admin"]));
    let config = AuthConfig::from_yaml_str(
        "auth.yaml",
        "strategies:\n  basic:\n    type: basic\n    realm: todo\n    store: {provided: users}\n",
    )
    .unwrap();
    let factory = BasicFactory::default().with_user_store("users", users.clone());
    let app = app!(registry(&config, &factory).await);
    assert_eq!(
        call(&app, "/basic", Some(&basic("ada", PASSWORD)))
            .await
            .status,
        200
    );
    let wrong = call(&app, "/basic", Some(&basic("ada", WRONG))).await;
    assert_eq!(wrong.challenges, [r#"Basic realm="todo", charset="UTF-8""#]);
    // A user the application adds after start-up logs in: the strategy reads
    // the application's store, not a copy.
    assert_eq!(
        call(&app, "/basic", Some(&basic("eve", PASSWORD)))
            .await
            .status,
        401
    );
    users.insert(NewUser::new("eve", hash(PASSWORD)));
    assert_eq!(
        call(&app, "/basic", Some(&basic("eve", PASSWORD)))
            .await
            .status,
        200
    );
}

/// A user with Digest HA1 values in a SQL store.
async fn seed_sql(store: &SqlUserStore) {
    let hash = hash_password(&HashParams::insecure_for_tests(), PASSWORD).unwrap();
    store
        .create_user(NewUser::new("ada", hash).with_roles(["admin"]))
        .await
        .unwrap();
    store
        .set_digest_ha1(
            "ada",
            REALM,
            "SHA-256",
            &ha1(DigestAlgorithm::Sha256, "ada", REALM, PASSWORD),
        )
        .await
        .unwrap();
}

async fn sql_works_on_the_wire(config: &AuthConfig) {
    let factory = BasicFactory::default();
    let app = app!(registry(config, &factory).await);
    let ok = call(&app, "/basic", Some(&basic("ada", PASSWORD))).await;
    assert_eq!((ok.status, ok.text.as_str()), (StatusCode::OK, "ada:admin"));
    assert_eq!(
        call(&app, "/basic", Some(&basic("ada", WRONG)))
            .await
            .status,
        401
    );
    assert_eq!(digest_login(&app, "ada", PASSWORD).await.status, 200);
    assert_eq!(digest_login(&app, "ada", WRONG).await.status, 401);
}

fn sql_table(store: &str) -> String {
    format!(
        "[strategies.basic]\ntype = \"basic\"\nstore = {store}\n\
         [strategies.digest]\ntype = \"digest\"\nrealm = \"api\"\nstore = {store}\n"
    )
}

#[actix_web::test]
async fn sqlite_by_file_and_by_url_and_postgres_by_variable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    seed_sql(&SqlUserStore::sqlite(&db).await.unwrap()).await;
    // A path relative to the configuration file.
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        sql_table("{ sqlite_file = \"users.db\", max_connections = 2 }"),
    )
    .unwrap();
    sql_works_on_the_wire(&AuthConfig::from_file(&path).unwrap()).await;
    // A URL, as sqlx reads it.
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let config =
        AuthConfig::from_toml_str("auth.toml", &sql_table(&format!("{{ url = \"{url}\" }}")))
            .unwrap();
    sql_works_on_the_wire(&config).await;

    let Some(url) = common::postgres_url() else {
        return;
    };
    let prefix = common::unique_prefix("config");
    let store = SqlUserStore::connect_with(
        &url,
        SqlStoreOptions {
            table_prefix: prefix.clone(),
            max_connections: 2,
            ..SqlStoreOptions::default()
        },
    )
    .await
    .unwrap();
    seed_sql(&store).await;
    let config = AuthConfig::from_toml_str(
        "auth.toml",
        &sql_table(&format!(
            "{{ url_env = \"AUTH_TEST_POSTGRES_URL\", table_prefix = \"{prefix}\", max_connections = 2 }}"
        )),
    )
    .unwrap();
    sql_works_on_the_wire(&config).await;
    store.drop_tables().await.unwrap();
}

#[actix_web::test]
async fn environment_variables_override_basic_and_guard_fields() {
    let text = "[guard]\nmax_failures_per_user = 5\n[strategies.basic]\ntype = \"basic\"\n\
                realm = \"from-the-file\"\nstore = { users_file = \"users.yml\" }\n";
    let (dir, config) = files("auth.toml", text);
    let config = config
        .with_env_vars(
            "AUTH",
            [
                ("AUTH__GUARD__MAX_FAILURES_PER_USER", "1"),
                ("AUTH__STRATEGIES__BASIC__REALM", "from-the-environment"),
            ],
        )
        .unwrap();
    let factory = BasicFactory::default();
    let app = app!(registry(&config, &factory).await);
    let wrong = call(&app, "/basic", Some(&basic("ada", WRONG))).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.challenges,
        [r#"Basic realm="from-the-environment", charset="UTF-8""#]
    );
    // One failure is the limit the variable set (the file says 5).
    assert_eq!(
        call(&app, "/basic", Some(&basic("ada", PASSWORD)))
            .await
            .status,
        429
    );

    // A bad value from a variable names the variable.
    for (name, value, path, strategy, needle) in [
        (
            "AUTH__GUARD__WINDOW_SECS",
            "soon",
            "guard.window_secs",
            None,
            "invalid type",
        ),
        (
            "AUTH__GUARD__TRUSTED_PROXIES",
            "[\"10.0.0.0/99\"]",
            "guard.trusted_proxies[0]",
            None,
            "invalid prefix length",
        ),
        (
            "AUTH__STRATEGIES__BASIC__STORE__USERS_FILE",
            "absent.yml",
            "strategies.basic.store.users_file",
            Some("basic"),
            "absent.yml",
        ),
        (
            "AUTH__STRATEGIES__BASIC__REHASH_ON_LOGIN",
            "yes",
            "strategies.basic.rehash_on_login",
            Some("basic"),
            "invalid type",
        ),
    ] {
        let config = AuthConfig::from_file(dir.path().join("auth.toml"))
            .unwrap()
            .with_env_vars("AUTH", [(name, value)])
            .unwrap();
        let err = StrategyRegistry::from_config(&config, &[&BasicFactory::default()])
            .await
            .unwrap_err();
        assert_eq!(err.origin, format!("environment variable {name}"), "{err}");
        assert_eq!(err.path, path, "{err}");
        assert_eq!(err.strategy.as_deref(), strategy, "{err}");
        assert!(err.message.contains(needle), "{err}");
    }
}

/// Builds `text` (TOML, or YAML when `name` ends in .yaml) next to a
/// users.yml, with Basic and Digest factories, and returns the error.
async fn refused(name: &str, text: &str) -> AuthConfigError {
    let (_dir, config) = files(name, text);
    let factory = BasicFactory::default().with_user_store(
        "app-users",
        Arc::new(MemoryUserStore::new()) as Arc<dyn UserStore>,
    );
    match StrategyRegistry::from_config(&config, &[&factory, &factory.digest()]).await {
        Ok(_) => panic!("built:\n{text}"),
        Err(e) => e,
    }
}

fn check(err: &AuthConfigError, file: &str, path: &str, strategy: Option<&str>, needle: &str) {
    let shown = err.to_string();
    assert_eq!(err.path, path, "{shown}");
    assert_eq!(err.strategy.as_deref(), strategy, "{shown}");
    assert!(err.origin.ends_with(file), "{shown}");
    let head = match strategy {
        Some(s) => format!("{file}: {path} (strategy '{s}'): "),
        None => format!("{file}: {path}: "),
    };
    // The file as it was opened (its full path), then the field.
    assert!(shown.starts_with(&err.origin), "{shown}");
    assert!(
        shown[err.origin.len() - file.len()..].starts_with(&head),
        "{shown}"
    );
    assert!(err.message.contains(needle), "{shown}");
}

const STORE: &str = "store = { users_file = \"users.yml\" }";

/// `[strategies.s]` of `kind` with the file's users and `extra` lines.
fn table(kind: &str, extra: &str) -> String {
    let realm = if kind == "digest" {
        "realm = \"api\"\n"
    } else {
        ""
    };
    format!("[strategies.s]\ntype = \"{kind}\"\n{realm}{STORE}\n{extra}\n")
}

#[actix_web::test]
async fn unknown_keys_are_errors_at_every_level() {
    for (text, path, strategy, needle) in [
        (
            table("basic", "relam = \"x\""),
            "strategies.s.relam",
            Some("s"),
            "unknown field `relam`",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { user_file = \"users.yml\" }".into(),
            "strategies.s.store.user_file",
            Some("s"),
            "unknown field `user_file`",
        ),
        (
            table("basic", "verification_cache = { ttl = 60 }"),
            "strategies.s.verification_cache.ttl",
            Some("s"),
            "unknown field `ttl`",
        ),
        (
            table("digest", "algorithm = \"SHA-256\""),
            "strategies.s.algorithm",
            Some("s"),
            "unknown field `algorithm`",
        ),
        (
            table("digest", "qop = \"auth-int\""),
            "strategies.s.qop",
            Some("s"),
            "unknown field `qop`",
        ),
        (
            format!("[guard]\nmax_failure = 3\n{}", table("basic", "")),
            "guard.max_failure",
            None,
            "unknown field `max_failure`",
        ),
        (
            format!("[password_hasher]\nthread = 2\n{}", table("basic", "")),
            "password_hasher.thread",
            None,
            "unknown field `thread`",
        ),
        (
            format!("[gaurd]\nmax_failures_per_user = 3\n{}", table("basic", "")),
            "gaurd",
            None,
            "unknown top-level key `gaurd`",
        ),
    ] {
        let err = refused("auth.toml", &text).await;
        check(&err, "auth.toml", path, strategy, needle);
    }
    // YAML reads the same way.
    let err = refused(
        "auth.yaml",
        "strategies:\n  s:\n    type: digest\n    realm: api\n    store: {users_file: users.yml}\n    nonce_tll_secs: 5\n",
    )
    .await;
    check(
        &err,
        "auth.yaml",
        "strategies.s.nonce_tll_secs",
        Some("s"),
        "unknown field",
    );
}

#[actix_web::test]
async fn values_of_the_wrong_type_are_errors() {
    for (text, path, strategy) in [
        (table("basic", "realm = 1"), "strategies.s.realm", Some("s")),
        (
            table("basic", "rehash_on_login = \"yes\""),
            "strategies.s.rehash_on_login",
            Some("s"),
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = \"users.yml\"".into(),
            "strategies.s.store",
            Some("s"),
        ),
        (
            table("digest", "algorithms = \"SHA-256\""),
            "strategies.s.algorithms",
            Some("s"),
        ),
        (
            table("digest", "nonce_ttl_secs = -5"),
            "strategies.s.nonce_ttl_secs",
            Some("s"),
        ),
        (
            table("digest", "userhash = 1"),
            "strategies.s.userhash",
            Some("s"),
        ),
        (
            format!("[guard]\nwindow_secs = \"soon\"\n{}", table("basic", "")),
            "guard.window_secs",
            None,
        ),
        (
            format!(
                "[guard]\ntrusted_proxies = \"10.0.0.1\"\n{}",
                table("basic", "")
            ),
            "guard.trusted_proxies",
            None,
        ),
        (
            format!("[password_hasher]\nthreads = 1.5\n{}", table("basic", "")),
            "password_hasher.threads",
            None,
        ),
        (
            "guard = 3\n".to_owned() + &table("basic", ""),
            "guard",
            None,
        ),
    ] {
        let err = refused("auth.toml", &text).await;
        assert!(
            err.message.contains("invalid type") || err.message.contains("invalid value"),
            "{err}"
        );
        check(&err, "auth.toml", path, strategy, "");
    }
    let err = refused(
        "auth.yaml",
        "guard:\n  max_failures_per_user: many\nstrategies:\n  s: {type: basic, store: {users_file: users.yml}}\n",
    )
    .await;
    check(
        &err,
        "auth.yaml",
        "guard.max_failures_per_user",
        None,
        "invalid type",
    );
}

#[actix_web::test]
async fn a_missing_or_ambiguous_store_is_an_error() {
    for (text, path, needle) in [
        (
            "[strategies.s]\ntype = \"basic\"\n",
            "strategies.s.store",
            "missing: say where users live",
        ),
        (
            "[strategies.s]\ntype = \"digest\"\nrealm = \"api\"\n",
            "strategies.s.store",
            "missing",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = {}\n",
            "strategies.s.store",
            "exactly one of",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { users_file = \"users.yml\", url = \"sqlite://x.db\" }\n",
            "strategies.s.store",
            "(found users_file, url)",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { users_file = \"absent.yml\" }\n",
            "strategies.s.store.users_file",
            "absent.yml does not exist",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { provided = \"nope\" }\n",
            "strategies.s.store.provided",
            "no store named `nope` was provided",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { url = \"mysql://db/users\" }\n",
            "strategies.s.store.url",
            "unsupported database `mysql`",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { url_env = \"AUTH_TEST_SURELY_UNSET_VARIABLE\" }\n",
            "strategies.s.store.url_env",
            "AUTH_TEST_SURELY_UNSET_VARIABLE is not set",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { users_file = \"users.yml\", table_prefix = \"x_\" }\n",
            "strategies.s.store.table_prefix",
            "SQL stores only",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { sqlite_file = \"u.db\", dangerously_allow_plaintext = true }\n",
            "strategies.s.store.dangerously_allow_plaintext",
            "users_file only",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { sqlite_file = \"u.db\", table_prefix = \"Bad-Prefix\" }\n",
            "strategies.s.store.table_prefix",
            "a-z, 0-9 and '_'",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { sqlite_file = \"u.db\", max_connections = 0 }\n",
            "strategies.s.store.max_connections",
            "at least 1",
        ),
    ] {
        let err = refused("auth.toml", text).await;
        check(&err, "auth.toml", path, Some("s"), needle);
    }
}

#[actix_web::test]
async fn a_plaintext_users_file_needs_the_dangerous_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plain.yml"),
        "users:\n  - userid: ada\n    password: correct horse\n",
    )
    .unwrap();
    for (allow, expected) in [
        ("", Err("plaintext password")),
        (", dangerously_allow_plaintext = true", Ok(())),
    ] {
        let path = dir.path().join("auth.toml");
        std::fs::write(
            &path,
            format!(
                "[password_hasher]\nmemory_kib = 64\niterations = 1\ndangerously_weak_params = true\n\
                 [strategies.s]\ntype = \"basic\"\nstore = {{ users_file = \"plain.yml\"{allow} }}\n"
            ),
        )
        .unwrap();
        let config = AuthConfig::from_file(&path).unwrap();
        let built = StrategyRegistry::from_config(&config, &[&BasicFactory::default()]).await;
        match (built, expected) {
            (Ok(registry), Ok(())) => {
                #[get("/s")]
                #[authenticate("s")]
                async fn s(user: UserProfile) -> String {
                    user.id.clone()
                }
                let app = at::init_service(App::new().app_data(registry).service(s)).await;
                assert_eq!(
                    call(&app, "/s", Some(&basic("ada", PASSWORD))).await.status,
                    200
                );
                assert_eq!(
                    call(&app, "/s", Some(&basic("ada", WRONG))).await.status,
                    401
                );
            }
            (Err(err), Err(needle)) => check(
                &err,
                "auth.toml",
                "strategies.s.store.users_file",
                Some("s"),
                needle,
            ),
            (built, expected) => panic!("{:?} vs {expected:?}", built.map(|_| ())),
        }
    }
}

#[actix_web::test]
async fn secrets_in_the_file_are_refused_without_being_echoed() {
    for (text, path, secret, needle) in [
        (
            table("digest", "nonce_key = \"0123456789abcdef0123456789abcdef\""),
            "strategies.s.nonce_key",
            "0123456789abcdef",
            "use nonce_key_env or nonce_key_file",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { url = \"postgres://app:hunter2secret@db/users\" }\n".into(),
            "strategies.s.store.url",
            "hunter2secret",
            "use url_env or url_file",
        ),
        (
            "[strategies.s]\ntype = \"basic\"\nstore = { url = \"postgres://db/users?password=hunter2secret\" }\n".into(),
            "strategies.s.store.url",
            "hunter2secret",
            "holds a password",
        ),
        (
            "[strategies.s]\ntype = \"digest\"\nrealm = \"api\"\nstore = { url = \"postgresql://u:hunter2secret@db:5432/x?sslmode=disable\" }\n".into(),
            "strategies.s.store.url",
            "hunter2secret",
            "holds a password",
        ),
    ] {
        let err = refused("auth.toml", &text).await;
        check(&err, "auth.toml", path, Some("s"), needle);
        assert!(!err.to_string().contains(secret), "{err}");
    }
    // Keys from a file: exactly 32 bytes, never shown.
    let dir = tempfile::tempdir().unwrap();
    for (contents, encoding, ok) in [
        ("short-key-of-sixteen", "raw", false),
        ("0123456789abcdef0123456789abcdef\n", "raw", true),
        (
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "base64",
            true,
        ),
        ("not base64!", "base64", false),
    ] {
        std::fs::write(dir.path().join("nonce.key"), contents).unwrap();
        common::put_user(
            &dir.path().join("users.yml"),
            "ada",
            &[],
            PASSWORD,
            REALM,
            &[DigestAlgorithm::Sha256],
        );
        let path = dir.path().join("auth.toml");
        std::fs::write(
            &path,
            format!(
                "{}nonce_key_file = \"nonce.key\"\nnonce_key_encoding = \"{encoding}\"\n",
                table("digest", "")
            ),
        )
        .unwrap();
        let config = AuthConfig::from_file(&path).unwrap();
        let built = StrategyRegistry::from_config(&config, &[&DigestFactory::default()]).await;
        match built {
            Ok(_) => assert!(ok, "{contents}"),
            Err(err) => {
                assert!(!ok, "{contents}: {err}");
                assert!(err.path.starts_with("strategies.s.nonce_key_"), "{err}");
                assert!(!err.to_string().contains(contents.trim()), "{err}");
            }
        }
    }
}

#[actix_web::test]
async fn two_instances_with_one_nonce_key_accept_each_others_nonces() {
    let dir = tempfile::tempdir().unwrap();
    common::put_user(
        &dir.path().join("users.yml"),
        "ada",
        &[],
        PASSWORD,
        REALM,
        &[DigestAlgorithm::Sha256],
    );
    std::fs::write(
        dir.path().join("nonce.key"),
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    .unwrap();
    let with_key = format!(
        "{}nonce_key_file = \"nonce.key\"\nnonce_key_encoding = \"base64\"\n",
        table("digest", "")
    );
    for (text, shared) in [(with_key, true), (table("digest", ""), false)] {
        let path = dir.path().join("auth.toml");
        std::fs::write(&path, text.replace("strategies.s", "strategies.digest")).unwrap();
        let config = AuthConfig::from_file(&path).unwrap();
        let state: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let one = app!(registry(&config, &BasicFactory::new(state.clone())).await);
        let two = app!(registry(&config, &BasicFactory::new(state)).await);
        let first = call(&one, "/digest", None).await;
        let answer = digest(&first.challenges[0], "ada", PASSWORD, "/digest");
        let elsewhere = call(&two, "/digest", Some(&answer)).await;
        assert_eq!(
            elsewhere.status == 200,
            shared,
            "shared key: {shared}: {}",
            elsewhere.text
        );
    }
}

#[actix_web::test]
async fn unknown_or_refused_digest_algorithms_are_errors() {
    for (algorithms, path, needle) in [
        (
            "[\"SHA-1\"]",
            "strategies.s.algorithms[0]",
            "unknown Digest algorithm `SHA-1`",
        ),
        (
            "[\"SHA-256\", \"SHA-256-sess\"]",
            "strategies.s.algorithms[1]",
            "no -sess variants",
        ),
        (
            "[\"sha256\"]",
            "strategies.s.algorithms[0]",
            "unknown Digest algorithm `sha256`",
        ),
        (
            "[\"SHA-256\", \"MD5\"]",
            "strategies.s.algorithms[1]",
            "dangerously_allow_md5 = true",
        ),
        (
            "[\"SHA-512-256\"]",
            "strategies.s.algorithms",
            "SHA-256 is always offered",
        ),
        ("[]", "strategies.s.algorithms", "SHA-256 is always offered"),
    ] {
        let err = refused(
            "auth.toml",
            &table("digest", &format!("algorithms = {algorithms}")),
        )
        .await;
        check(&err, "auth.toml", path, Some("s"), needle);
    }
}

#[actix_web::test]
async fn md5_is_offered_only_when_dangerously_allowed() {
    for (extra, expected) in [
        ("", vec!["SHA-256"]),
        ("dangerously_allow_md5 = true", vec!["SHA-256", "MD5"]),
        (
            "algorithms = [\"sha-512-256\", \"SHA-256\"]\ndangerously_allow_md5 = true",
            vec!["SHA-512-256", "SHA-256", "MD5"],
        ),
    ] {
        let (_dir, config) = files(
            "auth.toml",
            &table("digest", extra).replace("strategies.s", "strategies.digest"),
        );
        let app = app!(registry(&config, &BasicFactory::default()).await);
        let reply = call(&app, "/digest", None).await;
        let offered: Vec<String> = reply
            .challenges
            .iter()
            .map(|c| {
                parse_digest_params(c.strip_prefix("Digest ").unwrap()).unwrap()["algorithm"]
                    .clone()
            })
            .collect();
        assert_eq!(offered, expected, "{extra}");
    }
}

#[actix_web::test]
async fn out_of_range_values_are_errors() {
    for (text, path, strategy, needle) in [
        (
            format!("[guard]\nmax_failures_per_user = 0\n{}", table("basic", "")),
            "guard.max_failures_per_user",
            None,
            "at least 1",
        ),
        (
            format!(
                "[guard]\nmax_failures_per_client = 0\n{}",
                table("basic", "")
            ),
            "guard.max_failures_per_client",
            None,
            "at least 1",
        ),
        (
            format!("[guard]\nwindow_secs = 0\n{}", table("basic", "")),
            "guard.window_secs",
            None,
            "at least 1",
        ),
        (
            format!(
                "[guard]\ntrusted_proxies = [\"::1\", \"not-an-address\"]\n{}",
                table("basic", "")
            ),
            "guard.trusted_proxies[1]",
            None,
            "not an IP address",
        ),
        (
            format!(
                "[password_hasher]\nmemory_kib = 64\niterations = 1\n{}",
                table("basic", "")
            ),
            "password_hasher",
            None,
            "below OWASP's minimum",
        ),
        (
            format!("[password_hasher]\nthreads = 0\n{}", table("basic", "")),
            "password_hasher.threads",
            None,
            "at least 1",
        ),
        (
            format!(
                "[password_hasher]\nmemory_kib = 8\nparallelism = 2\ndangerously_weak_params = true\n{}",
                table("basic", "")
            ),
            "password_hasher.memory_kib",
            None,
            "8 KiB per lane",
        ),
        (
            table("digest", "nonce_ttl_secs = 0"),
            "strategies.s.nonce_ttl_secs",
            Some("s"),
            "at least 1",
        ),
        // Shared tables are checked even by a strategy that does not use them.
        (
            format!("[password_hasher]\nthreads = 0\n{}", table("digest", "")),
            "password_hasher.threads",
            None,
            "at least 1",
        ),
        (
            format!(
                "[guard]\nwindow_secs = 0\n{}",
                table("basic", "dangerously_disable_guard = true")
            ),
            "guard.window_secs",
            None,
            "at least 1",
        ),
        (
            table("basic", "verification_cache = { ttl_secs = 0 }"),
            "strategies.s.verification_cache.ttl_secs",
            Some("s"),
            "at least 1",
        ),
        (
            "[strategies.s]\ntype = \"digest\"\nstore = { users_file = \"users.yml\" }\n".into(),
            "strategies.s.realm",
            Some("s"),
            "a Digest realm is part of every stored HA1 value",
        ),
        (
            table("basic", "realm = \"a\\u0007b\""),
            "strategies.s.realm",
            Some("s"),
            "control characters",
        ),
        (
            table(
                "digest",
                "nonce_key_env = \"AUTH_TEST_SURELY_UNSET_VARIABLE\"",
            ),
            "strategies.s.nonce_key_env",
            Some("s"),
            "is not set",
        ),
    ] {
        let err = refused("auth.toml", &text).await;
        check(&err, "auth.toml", path, strategy, needle);
    }
}

/// The first fenced block of `lang` after `heading` in docs/configuration.md.
fn doc_block(heading: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let section = &doc[doc.find(heading).expect(heading)..];
    let start = section.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

#[actix_web::test]
async fn the_complete_example_of_the_documentation_builds_in_toml_and_yaml() {
    let toml = doc_block("## A complete example", "toml");
    let yaml = doc_block("## A complete example", "yaml");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(
        dir.path().join("secrets/jwt.key"),
        "a jwt secret of more than 32 bytes\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("secrets/digest-nonce.key"),
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
    )
    .unwrap();
    common::put_user(
        &dir.path().join("users.yml"),
        "ada",
        &["admin"],
        PASSWORD,
        "admin area",
        &[],
    );
    std::fs::write(dir.path().join("auth.toml"), toml).unwrap();
    std::fs::write(dir.path().join("auth.yaml"), yaml).unwrap();
    let toml = AuthConfig::from_file(dir.path().join("auth.toml")).unwrap();
    let yaml = AuthConfig::from_file(dir.path().join("auth.yaml")).unwrap();
    assert_eq!(toml.value(), yaml.value(), "the two examples differ");
    for config in [toml, yaml] {
        let factory = BasicFactory::default();
        let jwt = auth_jwt::JwtConfig::from_config(&config, "jwt").unwrap();
        let registry = StrategyRegistry::from_config(&config, &[&jwt, &factory, &factory.digest()])
            .await
            .unwrap();
        let mut names: Vec<&str> = registry.names().collect();
        names.sort_unstable();
        assert_eq!(names, ["basic", "digest", "jwt"]);
        // Basic from the example answers on the wire.
        let app = app!(registry);
        let wrong = call(&app, "/basic", Some(&basic("ada", WRONG))).await;
        assert_eq!(
            wrong.challenges,
            [r#"Basic realm="admin area", charset="UTF-8""#]
        );
        let ok = call(&app, "/basic", Some(&basic("ada", PASSWORD))).await;
        assert_eq!(ok.text, "ada:admin");
        let token = jwt
            .token_service()
            .unwrap()
            .sign_access(&UserProfile::new("ada"))
            .unwrap();
        assert!(token.split('.').count() == 3);
        let guard = factory.guard(&config).unwrap();
        assert_eq!(guard.config().trusted_proxies.len(), 2);
    }
}
