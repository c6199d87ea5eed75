//! Runs the built `auth-cli` binary: exit codes, stdout, stderr.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use auth_test_support::jwks::JwksServer;
use auth_test_support::now;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

const SECRET: &str = "a-cli-test-secret-that-is-long-enough-for-hs256";
const OTHER: &str = "another-cli-test-secret-long-enough-for-hs256!";

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run_cli(args, stdin.unwrap_or_default())
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts exit 1 with `<code>: ...` on stderr and nothing on stdout.
fn assert_fails(o: &Output, code: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with(&format!("{code}: ")), "stderr: {err}");
    assert!(o.stdout.is_empty());
    err
}

/// A compact HS256 JWS over arbitrary payload bytes, built here rather than
/// by the tool under test.
fn hs256_jws(header: &Value, payload: &[u8], secret: &str) -> String {
    auth_test_support::jws::hs256(header.to_string(), payload, secret.as_bytes())
}

fn hs256_jwt(claims: &Value, secret: &str) -> String {
    hs256_jws(
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims.to_string().as_bytes(),
        secret,
    )
}

fn claims() -> Value {
    json!({"sub": "alice", "iss": "todo", "aud": "api", "exp": now() + 600})
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../auth-jwt/tests/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn verify_prints_the_claims() {
    let token = hs256_jwt(&claims(), SECRET);
    let o = run(
        &[
            "jwt", "verify", &token, "--secret", SECRET, "--alg", "HS256", "--iss", "todo",
            "--aud", "api",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let printed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(printed, claims_without_drift(&printed));
    assert_eq!(printed["sub"], "alice");
    assert!(stdout(&o).contains("\n  \"sub\""), "pretty JSON");
}

/// The claims as minted, with the `exp` the tool saw (the test clock may
/// tick between minting and comparing).
fn claims_without_drift(printed: &Value) -> Value {
    let mut c = claims();
    c["exp"] = printed["exp"].clone();
    c
}

#[test]
fn token_from_stdin() {
    let token = hs256_jwt(&claims(), SECRET);
    let input = format!("{token}\n");
    let o = run(
        &[
            "jwt", "verify", "--secret", SECRET, "--alg", "HS256", "--aud", "api",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["sub"],
        "alice"
    );
    let o = run(
        &["jwt", "verify", "--secret", SECRET, "--alg", "HS256"],
        Some(b""),
    );
    assert_fails(&o, "INVALID_ARGUMENT");
}

/// As the strategy does (RFC 7519 §4.1.3): a token naming an audience is
/// refused when no --aud is given, unless --any-audience says otherwise.
#[test]
fn a_token_with_an_audience_needs_aud_or_any_audience() {
    let key = ["--secret", SECRET, "--alg", "HS256"];
    for aud in [json!("api"), json!(["api", "billing"]), json!("billing")] {
        let mut c = claims();
        c["aud"] = aud.clone();
        let token = hs256_jwt(&c, SECRET);
        let mut args = vec!["jwt", "verify", &token];
        args.extend_from_slice(&key);
        let err = assert_fails(&run(&args, None), "INVALID_TOKEN");
        assert!(err.contains("audience"), "{aud}: {err}");
        let mut any = args.clone();
        any.push("--any-audience");
        let o = run(&any, None);
        assert_eq!(o.status.code(), Some(0), "{aud}: {}", stderr(&o));
        let mut with_aud = args.clone();
        with_aud.extend_from_slice(&["--aud", "api"]);
        let want = if aud == json!("billing") {
            Some(1)
        } else {
            Some(0)
        };
        assert_eq!(run(&with_aud, None).status.code(), want, "{aud}");
    }
    // --aud and --any-audience contradict each other: a usage error.
    let token = hs256_jwt(&claims(), SECRET);
    let mut args = vec!["jwt", "verify", &token, "--aud", "api", "--any-audience"];
    args.extend_from_slice(&key);
    assert_eq!(run(&args, None).status.code(), Some(2));
}

#[test]
fn expired_tampered_and_wrong_key_exit_1() {
    let mut c = claims();
    c["exp"] = json!(now() - 3600);
    let expired = hs256_jwt(&c, SECRET);
    let key = ["--secret", SECRET, "--alg", "HS256"];
    let verify = |token: &str, key: &[&str]| {
        let mut args = vec!["jwt", "verify", token];
        args.extend_from_slice(key);
        run(&args, None)
    };
    let err = assert_fails(&verify(&expired, &key), "TOKEN_EXPIRED");
    // Neither the token nor the secret is ever echoed.
    assert!(!err.contains(&expired) && !err.contains(SECRET));

    let good = hs256_jwt(&claims(), SECRET);
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut forged = claims();
    forged["sub"] = json!("mallory");
    let tampered = format!("{head}.{}.{sig}", B64.encode(forged.to_string()));
    let err = assert_fails(&verify(&tampered, &key), "INVALID_TOKEN");
    assert!(err.contains("signature"), "{err}");

    let err = assert_fails(
        &verify(&good, &["--secret", OTHER, "--alg", "HS256"]),
        "INVALID_TOKEN",
    );
    assert!(!err.contains(OTHER));

    // The key pins the algorithm: an HS384 key refuses an HS256 token.
    assert_fails(
        &verify(
            &good,
            &["--secret", &format!("{SECRET}{SECRET}"), "--alg", "HS384"],
        ),
        "INVALID_TOKEN",
    );
    assert_fails(&verify("not.a.token", &key), "INVALID_TOKEN");
    let o = run(
        &[
            "jwt", "verify", &good, "--secret", SECRET, "--alg", "HS256", "--iss", "other",
        ],
        None,
    );
    assert_fails(&o, "INVALID_TOKEN");
}

#[test]
fn bad_keys_and_files_exit_1_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = hs256_jwt(&claims(), SECRET);
    let o = run(
        &[
            "jwt",
            "verify",
            &token,
            "--secret",
            "short-secret",
            "--alg",
            "HS256",
        ],
        None,
    );
    let err = assert_fails(&o, "INVALID_KEY");
    assert!(!err.contains("short-secret"), "{err}");

    let missing = dir.path().join("missing.jwk");
    let o = run(
        &["jwt", "verify", &token, "--jwk", missing.to_str().unwrap()],
        None,
    );
    assert_fails(&o, "IO_ERROR");

    let short_k = B64.encode("sixteen byte key");
    let jwk = write(
        dir.path(),
        "short.jwk",
        &json!({"kty": "oct", "alg": "HS256", "k": short_k}).to_string(),
    );
    let o = run(
        &["jwt", "verify", &token, "--jwk", jwk.to_str().unwrap()],
        None,
    );
    let err = assert_fails(&o, "INVALID_KEY");
    assert!(!err.contains(&short_k), "{err}");

    let garbage = write(
        dir.path(),
        "garbage.pem",
        "-----BEGIN PUBLIC KEY-----\nxx\n",
    );
    let o = run(
        &[
            "jwt",
            "verify",
            &token,
            "--pem",
            garbage.to_str().unwrap(),
            "--alg",
            "ES256",
        ],
        None,
    );
    assert_fails(&o, "INVALID_KEY");

    let o = run(
        &[
            "jwt", "mint", "--claims", "[1]", "--secret", SECRET, "--alg", "HS256",
        ],
        None,
    );
    assert_fails(&o, "INVALID_ARGUMENT");
}

#[test]
fn usage_errors_exit_2() {
    // Two key sources at once.
    let o = run(
        &[
            "jwt",
            "verify",
            "t",
            "--secret",
            SECRET,
            "--secret-base64",
            "AAAA",
            "--alg",
            "HS256",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains(SECRET));
    // No key source.
    assert_eq!(run(&["jwt", "verify", "t"], None).status.code(), Some(2));
    // A secret without --alg.
    let o = run(&["jwt", "verify", "t", "--secret", SECRET], None);
    assert_eq!(o.status.code(), Some(2));
    // An unknown algorithm name.
    let o = run(
        &["jwt", "verify", "t", "--secret", SECRET, "--alg", "none"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
}

fn keygen(dir: &Path, key_type: &str, kid: &str) -> PathBuf {
    keygen_with(dir, &["--type", key_type], kid)
}

/// `jwt keygen <args> --kid <kid>`, which must succeed; the key is written
/// to `<kid>.jwk` in `dir`.
fn keygen_with(dir: &Path, args: &[&str], kid: &str) -> PathBuf {
    let mut argv = vec!["jwt", "keygen"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--kid", kid]);
    let o = run(&argv, None);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    write(dir, &format!("{kid}.jwk"), &stdout(&o))
}

/// `jwt mint --jwk <jwk> --claims <claims> <extra>`, which must succeed:
/// the token.
fn mint_with_jwk(jwk: &str, claims: &str, extra: &[&str]) -> String {
    let mut argv = vec!["jwt", "mint", "--jwk", jwk, "--claims", claims];
    argv.extend_from_slice(extra);
    let o = run(&argv, None);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    stdout(&o).trim().to_owned()
}

/// `jwt verify <token> --jwk <jwk> --iss cli --aud api <extra>`, which must
/// succeed: the claims it prints.
fn verify_with_jwk(token: &str, jwk: &str, extra: &[&str]) -> Value {
    let mut argv = vec![
        "jwt", "verify", token, "--jwk", jwk, "--iss", "cli", "--aud", "api",
    ];
    argv.extend_from_slice(extra);
    let o = run(&argv, None);
    assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn keygen_mint_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (key_type, kty, alg) in [
        ("hmac", "oct", "HS256"),
        ("ec", "EC", "ES256"),
        ("ed25519", "OKP", "EdDSA"),
    ] {
        let jwk_path = keygen(dir.path(), key_type, &format!("{key_type}-1"));
        let jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(&jwk_path).unwrap()).unwrap();
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str()),
            (Some(kty), Some(alg))
        );
        for member in ["k", "d", "x", "y"] {
            if let Some(v) = jwk[member].as_str() {
                assert!(!v.contains('=') && !v.contains('+') && !v.contains('/'));
            }
        }
        let jwk_arg = jwk_path.to_str().unwrap();
        let token = mint_with_jwk(
            jwk_arg,
            r#"{"sub":"bob"}"#,
            &["--ttl", "60", "--iss", "cli", "--aud", "api"],
        );
        let header: Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], alg);
        assert_eq!(header["kid"], format!("{key_type}-1"));

        let claims = verify_with_jwk(&token, jwk_arg, &[]);
        assert_eq!(claims["sub"], "bob");
        let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert_eq!(ttl, 60);

        // A second key of the same type does not verify it: keys are fresh.
        let other = keygen(dir.path(), key_type, &format!("{key_type}-2"));
        let o = run(
            &["jwt", "verify", &token, "--jwk", other.to_str().unwrap()],
            None,
        );
        assert_fails(&o, "INVALID_TOKEN");
    }
}

#[test]
fn keygen_refuses_mismatched_algorithms() {
    let o = run(
        &["jwt", "keygen", "--type", "ed25519", "--alg", "ES256"],
        None,
    );
    assert_fails(&o, "INVALID_ARGUMENT");
    for (key_type, alg) in [
        ("hmac", "ES512"),
        ("ed25519", "ES512"),
        ("ec", "HS256"),
        ("ec", "EdDSA"),
    ] {
        let o = run(&["jwt", "keygen", "--type", key_type, "--alg", alg], None);
        let err = assert_fails(&o, "INVALID_ARGUMENT");
        assert!(
            err.contains(&format!(
                "--alg {alg} cannot be used with --type {key_type}"
            )),
            "{err}"
        );
    }
    let o = run(&["jwt", "keygen", "--type", "hmac", "--alg", "HS512"], None);
    assert_eq!(o.status.code(), Some(0));
    let jwk: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(B64.decode(jwk["k"].as_str().unwrap()).unwrap().len(), 64);
}

#[test]
fn pem_mint_and_verify() {
    for (alg, private, public) in [
        ("ES256", "ec.pem", "ec.pub.pem"),
        ("ES512", "p521.pem", "p521.pub.pem"),
        ("EdDSA", "ed.pem", "ed.pub.pem"),
        ("RS256", "rsa.pem", "rsa.pub.pem"),
    ] {
        let o = run(
            &[
                "jwt",
                "mint",
                "--pem",
                &fixture(private),
                "--alg",
                alg,
                "--claims",
                r#"{"sub":"carol"}"#,
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{alg}: {}", stderr(&o));
        let token = stdout(&o);
        let o = run(
            &["jwt", "verify", "--pem", &fixture(public), "--alg", alg],
            Some(token.as_bytes()),
        );
        assert_eq!(o.status.code(), Some(0), "{alg}: {}", stderr(&o));
        assert!(stdout(&o).contains("carol"));
    }
    // A weak RSA key is refused when loaded, as the strategy refuses it.
    let o = run(
        &[
            "jwt",
            "verify",
            "a.b.c",
            "--pem",
            &fixture("rsa1024.pub.pem"),
            "--alg",
            "RS256",
        ],
        None,
    );
    assert_fails(&o, "INVALID_KEY");
}

#[test]
fn jws_verify_prints_a_non_json_payload() {
    let payload: &[u8] = b"not json: \x00\xff binary\n";
    let jws = hs256_jws(&json!({"alg": "HS256"}), payload, SECRET);
    let o = run(
        &["jws", "verify", &jws, "--secret", SECRET, "--alg", "HS256"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(o.stdout, payload);
    // From stdin too.
    let o = run(
        &["jws", "verify", "--secret", SECRET, "--alg", "HS256"],
        Some(jws.as_bytes()),
    );
    assert_eq!(o.stdout, payload);
    // Wrong key: exit 1 like `jwt verify`.
    let o = run(
        &["jws", "verify", &jws, "--secret", OTHER, "--alg", "HS256"],
        None,
    );
    assert_fails(&o, "INVALID_TOKEN");
    // `jwt verify` needs JSON claims, so it refuses the same JWS.
    let o = run(
        &["jwt", "verify", &jws, "--secret", SECRET, "--alg", "HS256"],
        None,
    );
    let err = assert_fails(&o, "INVALID_TOKEN");
    assert!(err.contains("not a JSON object"), "{err}");
}

/// EC keys k1 and k2 made by `jwt keygen` in `dir`, and the published JWK
/// Set of their public halves (a JWK Set carries public keys only).
fn ec_jwks(dir: &Path) -> String {
    let public: Vec<Value> = ["k1", "k2"]
        .iter()
        .map(|kid| {
            let path = keygen(dir, "ec", kid);
            let mut jwk: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            jwk.as_object_mut().unwrap().remove("d");
            jwk
        })
        .collect();
    json!({ "keys": public }).to_string()
}

/// A token signed by `signer`'s key (made by [`ec_jwks`] in `dir`) whose
/// header names `kid`.
fn with_kid(dir: &Path, kid: &str, signer: &str) -> String {
    let mut jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{signer}.jwk"))).unwrap())
            .unwrap();
    jwk["kid"] = kid.into();
    let path = write(dir, &format!("{kid}-by-{signer}.jwk"), &jwk.to_string());
    mint_with_jwk(
        path.to_str().unwrap(),
        r#"{"sub":"alice"}"#,
        &["--ttl", "600"],
    )
}

#[test]
fn jwks_file_selects_the_key_by_kid() {
    let dir = tempfile::tempdir().unwrap();
    let doc = ec_jwks(dir.path());
    let path = write(dir.path(), "jwks.json", &doc);
    let jwks = path.to_str().unwrap();
    for kid in ["k1", "k2"] {
        let o = run(
            &[
                "jwt",
                "verify",
                &with_kid(dir.path(), kid, kid),
                "--jwks",
                jwks,
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{kid}: {}", stderr(&o));
    }
    // k1's name with k2's key: only k1 is tried.
    let o = run(
        &[
            "jwt",
            "verify",
            &with_kid(dir.path(), "k1", "k2"),
            "--jwks",
            jwks,
        ],
        None,
    );
    assert_fails(&o, "INVALID_TOKEN");
    let o = run(
        &[
            "jwt",
            "verify",
            &with_kid(dir.path(), "k9", "k1"),
            "--jwks",
            jwks,
        ],
        None,
    );
    let err = assert_fails(&o, "INVALID_TOKEN");
    assert!(err.contains("unknown key"), "{err}");
    // An unsafe set is refused at load, naming the key: a duplicate kid, a
    // shared secret, a private key.
    let secret = json!({"kty": "oct", "alg": "HS256", "kid": "hs", "k": B64.encode(SECRET)});
    let mut with_secret: Value = serde_json::from_str(&doc).unwrap();
    with_secret["keys"].as_array_mut().unwrap().push(secret);
    let private = std::fs::read_to_string(dir.path().join("k2.jwk")).unwrap();
    let mut with_private: Value = serde_json::from_str(&doc).unwrap();
    with_private["keys"][1] = serde_json::from_str(&private).unwrap();
    for (name, unsafe_doc, named) in [
        ("dup.json", doc.replace("\"k2\"", "\"k1\""), "'k1'"),
        ("secret.json", with_secret.to_string(), "'hs'"),
        ("private.json", with_private.to_string(), "'k2'"),
    ] {
        let path = write(dir.path(), name, &unsafe_doc);
        let o = run(
            &["jwt", "verify", "a.b.c", "--jwks", path.to_str().unwrap()],
            None,
        );
        let err = assert_fails(&o, "INVALID_KEY");
        assert!(err.contains(named), "{name}: {err}");
        assert!(!err.contains(&B64.encode(SECRET)), "{err}");
    }
}

#[test]
fn jwks_url_from_a_local_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = JwksServer::serve(ec_jwks(dir.path()));
    let url = server.url().to_owned();
    let o = run(
        &[
            "jwt",
            "verify",
            &with_kid(dir.path(), "k2", "k2"),
            "--jwks-url",
            &url,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(stdout(&o).contains("alice"));
    let o = run(
        &[
            "jws",
            "verify",
            &with_kid(dir.path(), "k1", "k1"),
            "--jwks-url",
            &url,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    // --alg narrows the set: no ES384 key, so refused.
    let o = run(
        &[
            "jwt",
            "verify",
            &with_kid(dir.path(), "k1", "k1"),
            "--jwks-url",
            &url,
            "--alg",
            "ES384",
        ],
        None,
    );
    assert_fails(&o, "INVALID_KEY");

    // Plain http is only for loopback; a closed port is unavailable, not a
    // panic.
    let o = run(
        &[
            "jwt",
            "verify",
            "a.b.c",
            "--jwks-url",
            "http://example.com/jwks",
        ],
        None,
    );
    assert_fails(&o, "INVALID_ARGUMENT");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let o = run(
        &[
            "jwt",
            "verify",
            "a.b.c",
            "--jwks-url",
            &format!("http://{closed}/jwks"),
        ],
        None,
    );
    assert_fails(&o, "SERVICE_UNAVAILABLE");
}

/// `jwt keygen --type ec --alg ES512`: a P-521 private JWK whose tokens
/// (`jwt mint`) the strategy itself accepts, and `jwt verify` too.
#[test]
fn keygen_es512_key_signs_tokens_the_strategy_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let keygen_es512 = |kid: &str| {
        let path = keygen_with(dir.path(), &["--type", "ec", "--alg", "ES512"], kid);
        let jwk: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        (path, jwk)
    };
    let (path, jwk) = keygen_es512("p521-1");
    assert_eq!(
        (
            &jwk["kty"],
            &jwk["crv"],
            &jwk["alg"],
            &jwk["use"],
            &jwk["kid"]
        ),
        (
            &json!("EC"),
            &json!("P-521"),
            &json!("ES512"),
            &json!("sig"),
            &json!("p521-1")
        )
    );
    // RFC 7518 §6.2.1.2 / §6.2.2.1: full-length members, unpadded base64url.
    for member in ["x", "y", "d"] {
        let text = jwk[member].as_str().unwrap();
        assert_eq!(B64.decode(text).unwrap().len(), 66, "{member}");
    }
    let jwk_arg = path.to_str().unwrap();
    let token = mint_with_jwk(
        jwk_arg,
        r#"{"sub":"bob"}"#,
        &["--iss", "cli", "--aud", "api"],
    );
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"typ": "JWT", "alg": "ES512", "kid": "p521-1"})
    );
    assert_eq!(B64.decode(parts[2]).unwrap().len(), 132);

    // The strategy, given only the public half as a JWK Set.
    let mut public = jwk.clone();
    public.as_object_mut().unwrap().remove("d");
    let strategy = auth_jwt::JwtStrategy::builder()
        .key_set(auth_jwt::KeySet::from_jwks_json(&json!({"keys": [public]}).to_string()).unwrap())
        .issuer("cli")
        .audience("api")
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let profile = runtime
        .block_on(strategy.authenticate_token(&token))
        .unwrap();
    assert_eq!(profile.id, "bob");

    // `jwt verify` with the key, with or without a matching --alg.
    for extra in [&[][..], &["--alg", "ES512"][..]] {
        assert_eq!(verify_with_jwk(&token, jwk_arg, extra)["sub"], "bob");
    }
    let o = run(
        &["jwt", "verify", &token, "--jwk", jwk_arg, "--alg", "ES256"],
        None,
    );
    let err = assert_fails(&o, "INVALID_ARGUMENT");
    assert!(
        err.contains("--alg ES256 does not match the key's algorithm ES512"),
        "{err}"
    );
    // A second generated key does not verify it, in the tool or the
    // strategy: keys are fresh.
    let (other_path, mut other) = keygen_es512("p521-2");
    let o = run(
        &[
            "jwt",
            "verify",
            &token,
            "--jwk",
            other_path.to_str().unwrap(),
        ],
        None,
    );
    assert_fails(&o, "INVALID_TOKEN");
    other.as_object_mut().unwrap().remove("d");
    other["kid"] = json!("p521-1");
    let strategy = auth_jwt::JwtStrategy::builder()
        .key_set(auth_jwt::KeySet::from_jwks_json(&json!({"keys": [other]}).to_string()).unwrap())
        .issuer("cli")
        .audience("api")
        .build()
        .unwrap();
    let err = runtime
        .block_on(strategy.authenticate_token(&token))
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (401, "INVALID_TOKEN"));
}

/// RFC 7515 A.4 through `jws verify` (its payload is not a claims set), and
/// ES512 with a secret is refused by name.
#[test]
fn es512_jws_verify_and_secret_refusal() {
    const A4: &str = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
    let dir = tempfile::tempdir().unwrap();
    let jwk = write(
        dir.path(),
        "a4.jwk",
        r#"{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#,
    );
    let o = run(&["jws", "verify", A4, "--jwk", jwk.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(o.stdout, b"Payload");
    // The same JWS with the last signature byte dropped.
    let (input, sig) = A4.rsplit_once('.').unwrap();
    let sig = B64.decode(sig).unwrap();
    let short = format!("{input}.{}", B64.encode(&sig[..131]));
    let o = run(
        &["jws", "verify", &short, "--jwk", jwk.to_str().unwrap()],
        None,
    );
    assert_fails(&o, "INVALID_TOKEN");
    // A P-256 PEM is not an ES512 key.
    let o = run(
        &[
            "jws",
            "verify",
            A4,
            "--pem",
            &fixture("ec.pub.pem"),
            "--alg",
            "ES512",
        ],
        None,
    );
    assert_fails(&o, "INVALID_KEY");
    for cmd in ["verify", "mint"] {
        let mut args = vec!["jwt", cmd];
        if cmd == "verify" {
            args.push("a.b.c");
        } else {
            args.extend(["--claims", "{}"]);
        }
        args.extend(["--secret", SECRET, "--alg", "ES512"]);
        let o = run(&args, None);
        let err = assert_fails(&o, "INVALID_KEY");
        assert!(
            err.contains("a secret can only be used with HS256/384/512, not ES512"),
            "{err}"
        );
    }
    // Names are exact, as in a token's header.
    let o = run(
        &[
            "jwt", "verify", "a.b.c", "--secret", SECRET, "--alg", "es512",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
}
