//! Property tests of the parsers that read attacker-controlled input (issue
//! 7): no input makes them panic, bad input is a client error (4xx) or "not
//! mine", never a 5xx, and encodings round-trip where they exist. The same
//! parsers are fuzzed for longer by the targets in `fuzz/`.
//!
//! Case counts stay moderate so CI stays fast; `PROPTEST_CASES` raises them.

use std::sync::LazyLock;

use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;
use auth_basic::parse_basic;
use auth_basic::{DigestStrategy, FileUser, UsersFile, parse_digest_params as parse_params};
use auth_core::{AuthOutcome, AuthenticationStrategy, StrategyOptions};
use auth_jwt::{Algorithm, ClaimRules, JwtStrategy, KeySet, SigningKey, verify_jwt};
use auth_test_support::ready;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

const SECRET: &[u8] = b"property-test-secret-long-enough-for-hs256";

fn key_set() -> KeySet {
    auth_test_support::keys::fixed_key_set(SECRET)
}

static KEYS: LazyLock<KeySet> = LazyLock::new(key_set);
static STRATEGY: LazyLock<JwtStrategy> = LazyLock::new(|| {
    // The properties are about parsing, not about who a token is for.
    JwtStrategy::builder()
        .key_set(key_set())
        .any_issuer()
        .any_audience()
        .build()
        .unwrap()
});
static TOKEN: LazyLock<String> = LazyLock::new(|| {
    let claims = serde_json::json!({"sub": "ada", "exp": 4_102_444_800u64, "roles": ["admin"]});
    SigningKey::hmac(SECRET, Algorithm::HS256)
        .unwrap()
        .with_kid("hs")
        .sign(&claims, None)
        .unwrap()
});

/// Runs the JWT strategy on one `Authorization` value.
fn authenticate(value: HeaderValue) -> Result<AuthOutcome, auth_core::AuthError> {
    let req = TestRequest::default()
        .insert_header((AUTHORIZATION, value))
        .to_http_request();
    ready(STRATEGY.authenticate(&req, &StrategyOptions::default()))
}

/// A Digest strategy over an empty users.yml: no header can authenticate,
/// so every answer must be "not mine" or a 4xx.
static DIGEST: LazyLock<(tempfile::TempDir, DigestStrategy)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    std::fs::write(&file, "users: []\n").unwrap();
    let store = auth_basic::FileUserStore::load(&file, Default::default()).unwrap();
    let strategy = DigestStrategy::new("props@example.org", std::sync::Arc::new(store));
    (dir, strategy)
});

/// Visible characters and spaces, never control characters (RFC 7617 §2).
fn credential_text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,40}"
}

/// A scheme name in any letter case.
fn any_case(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn basic_parser_never_panics_and_fails_with_400(value in proptest::collection::vec(any::<u8>(), 0..200)) {
        match parse_basic(&value) {
            Ok(Some(c)) => prop_assert!(!c.username.contains(':')),
            Ok(None) => {}
            Err(e) => prop_assert_eq!(e.status().as_u16(), 400),
        }
    }

    #[test]
    fn basic_parser_on_basic_prefixed_garbage(tail in proptest::collection::vec(any::<u8>(), 0..120)) {
        // Inputs that are surely the Basic scheme: never "not mine".
        let mut value = b"Basic ".to_vec();
        value.extend_from_slice(&tail);
        match parse_basic(&value) {
            Ok(Some(_)) => {}
            Ok(None) => prop_assert!(false, "a Basic header was taken for another scheme"),
            Err(e) => prop_assert_eq!(e.status().as_u16(), 400),
        }
    }

    #[test]
    fn basic_round_trips(
        user in credential_text().prop_filter("no colon in a user-id", |u| !u.contains(':')),
        pass in credential_text(),
        scheme in any_case("basic"),
        spaces in 1usize..4,
        trailing in 0usize..3,
    ) {
        let header = format!(
            "{scheme}{}{}{}",
            " ".repeat(spaces),
            STANDARD.encode(format!("{user}:{pass}")),
            " ".repeat(trailing),
        );
        let c = parse_basic(header.as_bytes()).unwrap().expect("a Basic header");
        prop_assert_eq!(c.username, user);
        prop_assert_eq!(c.password, pass);
    }

    #[test]
    fn bearer_header_is_4xx_or_not_mine(value in proptest::collection::vec(any::<u8>(), 0..300)) {
        // The http crate refuses some bytes (CR, LF, NUL) before any strategy
        // sees them; everything it accepts goes through the strategy.
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            match authenticate(value) {
                Ok(AuthOutcome::NotApplicable) => {}
                Ok(AuthOutcome::Authenticated(p)) => prop_assert!(false, "authenticated {p:?} from garbage"),
                Ok(_) => prop_assert!(false, "a JWT strategy never redirects"),
                Err(e) => prop_assert!(e.status().is_client_error(), "{:?} is not 4xx", e),
            }
        }
    }

    #[test]
    fn bearer_with_garbage_token_is_4xx(
        scheme in any_case("bearer"),
        token in "[!-~]{0,200}",
    ) {
        let value = HeaderValue::from_str(&format!("{scheme} {token}")).unwrap();
        match authenticate(value) {
            Err(e) => prop_assert!(e.status().is_client_error(), "{:?} is not 4xx", e),
            Ok(outcome) => prop_assert!(false, "garbage token gave {outcome:?}"),
        }
    }

    #[test]
    fn bearer_round_trips_a_valid_token(
        scheme in any_case("bearer"),
        spaces in 1usize..4,
        trailing in 0usize..3,
    ) {
        let value = format!("{scheme}{}{}{}", " ".repeat(spaces), *TOKEN, " ".repeat(trailing));
        match authenticate(HeaderValue::from_str(&value).unwrap()) {
            Ok(AuthOutcome::Authenticated(p)) => prop_assert_eq!(p.id.as_str(), "ada"),
            other => prop_assert!(false, "valid token gave {other:?}"),
        }
    }

    #[test]
    fn verify_jwt_refuses_arbitrary_strings(token in ".{0,300}") {
        prop_assert!(verify_jwt(&token, &KEYS, &ClaimRules::default()).is_err());
    }

    #[test]
    fn verify_jwt_refuses_three_part_garbage(
        h in "[A-Za-z0-9_-]{0,80}",
        p in "[A-Za-z0-9_-]{0,120}",
        s in "[A-Za-z0-9_-]{0,90}",
    ) {
        let token = format!("{h}.{p}.{s}");
        prop_assert!(verify_jwt(&token, &KEYS, &ClaimRules::default()).is_err());
    }

    #[test]
    fn verify_jwt_refuses_any_one_byte_change(index in any::<proptest::sample::Index>(), byte in 0x21u8..0x7f) {
        let token = TOKEN.as_bytes();
        let i = index.index(token.len());
        prop_assume!(token[i] != byte);
        let mut tampered = token.to_vec();
        tampered[i] = byte;
        let tampered = String::from_utf8(tampered).unwrap();
        prop_assert!(verify_jwt(&tampered, &KEYS, &ClaimRules::default()).is_err());
    }

    #[test]
    fn jwks_loader_never_panics(text in ".{0,300}") {
        let _ = KeySet::from_jwks_json(&text);
    }

    #[test]
    fn jwks_loader_never_panics_on_jwk_shaped_json(
        kty in prop::sample::select(vec!["oct", "RSA", "EC", "OKP", "x"]),
        alg in prop::option::of(prop::sample::select(vec![
            "HS256", "HS512", "RS256", "PS384", "ES256", "ES384", "EdDSA", "none", "",
        ])),
        crv in prop::option::of(prop::sample::select(vec!["P-256", "P-384", "P-521", "Ed25519", "X25519"])),
        fields in proptest::collection::vec(
            (prop::sample::select(vec!["k", "n", "e", "x", "y", "kid", "use", "key_ops"]), "[A-Za-z0-9_-]{0,64}"),
            0..6,
        ),
    ) {
        let mut jwk = serde_json::Map::new();
        jwk.insert("kty".into(), kty.into());
        if let Some(alg) = alg {
            jwk.insert("alg".into(), alg.into());
        }
        if let Some(crv) = crv {
            jwk.insert("crv".into(), crv.into());
        }
        for (k, v) in fields {
            jwk.insert(k.into(), v.into());
        }
        let doc = serde_json::json!({ "keys": [jwk] }).to_string();
        if let Ok(set) = KeySet::from_jwks_json(&doc) {
            // A key that loads has an algorithm of its own family: an RSA or
            // EC key can never end up as an HMAC secret.
            let family = match kty {
                "oct" => "HS",
                "RSA" => "RS|PS",
                "EC" => "ES",
                "OKP" => "EdDSA",
                other => panic!("a JWK of kty {other} loaded"),
            };
            for key in set.keys() {
                let alg = format!("{:?}", key.algorithm());
                prop_assert!(
                    family.split('|').any(|f| alg.starts_with(f)),
                    "kty {} loaded as {}", kty, alg
                );
            }
        }
    }

    #[test]
    fn users_yml_loader_never_panics(text in "(.|\n){0,300}") {
        let _ = UsersFile::parse(&text);
    }

    #[test]
    fn users_yml_loader_on_yaml_shaped_text(
        lines in proptest::collection::vec(
            (0usize..3, prop::sample::select(vec!["users:", "- userid:", "password:", "roles:", "digest:", "id:", "- ", "&a", "*a", "!!str", "? "]), "[ -~]{0,20}"),
            0..12,
        ),
    ) {
        let text: String = lines
            .into_iter()
            .map(|(indent, key, value)| format!("{}{key} {value}\n", "  ".repeat(indent)))
            .collect();
        let _ = UsersFile::parse(&text);
    }
}

proptest! {
    // Each case writes a file: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn users_yml_round_trips(
        users in proptest::collection::vec(
            (".{1,20}", "\\$[ -~]{0,40}", proptest::collection::vec(".{0,12}", 0..3)),
            0..4,
        ),
    ) {
        let doc = UsersFile {
            users: users
                .into_iter()
                .map(|(id, hash, roles)| FileUser::new(id, hash, roles))
                .collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        doc.write(&path).unwrap();
        prop_assert_eq!(UsersFile::read(&path).unwrap(), doc);
    }

    #[test]
    fn digest_params_never_panic(text in ".{0,300}") {
        if let Ok(params) = parse_params(&text) {
            prop_assert!(params.keys().all(|k| !k.is_empty() && k.bytes().all(|b| !b.is_ascii_uppercase())));
        }
    }

    #[test]
    fn digest_params_round_trip_quoted_values(
        pairs in proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_-]{0,10}", "[^\\p{Cc}]{0,30}", 0..6),
    ) {
        // Names are case-insensitive: keep one spelling per lower-cased name.
        let pairs: std::collections::BTreeMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let header = pairs
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(", ");
        let parsed = parse_params(&header).unwrap();
        prop_assert_eq!(parsed.len(), pairs.len());
        for (k, v) in &pairs {
            prop_assert_eq!(&parsed[k], v);
        }
    }

    #[test]
    fn digest_strategy_is_4xx_or_not_mine(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut value = b"Digest ".to_vec();
        value.extend_from_slice(&tail);
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        match ready(DIGEST.1.authenticate(&req, &StrategyOptions::default())) {
            Ok(AuthOutcome::Authenticated(p)) => prop_assert!(false, "authenticated {}", p.id),
            Ok(_) => {}
            Err(e) => prop_assert!(e.status().is_client_error(), "{:?} is not a 4xx", e),
        }
    }
}
