//! The traffic mix: what each category sends to the todo server, how often,
//! and which answers the wire contract allows for it.

use auth_jwt::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::http::{Body, Outcome, RawRequest};

/// Size of the body of [`Category::HugeBody`] and of the length
/// [`Category::LyingLength`] announces.
pub const HUGE_BODY: usize = 8 * 1024 * 1024;

/// One kind of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// `GET /todos` with a valid token.
    ValidList,
    /// `POST /todos` with a valid token.
    ValidCreate,
    /// `DELETE /todos/{id}` of a todo this connection created: keeps each
    /// user's list short, so `GET /todos` does not grow over the run.
    ValidDelete,
    /// `GET /whoAmI` with a valid token.
    ValidWhoAmI,
    /// A correctly signed token whose `exp` passed an hour ago.
    Expired,
    /// A valid token whose payload was changed (`sub`, `roles`).
    TamperedPayload,
    /// A valid token with one bit of its signature flipped.
    TamperedSignature,
    /// A valid token's claims under `alg: none` with no signature.
    AlgNone,
    /// Random bytes in `Authorization` (non-UTF-8 and control bytes; never
    /// CR or LF, which would end the header), half of them after `Bearer `.
    RandomBytes,
    /// `Authorization: Bearer` with a 16 KiB token.
    Header16K,
    /// `Authorization: Bearer` with a 64 KiB token.
    Header64K,
    /// The user's right password as `Basic` on a JWT-only route.
    BasicOnJwt,
    /// A `Digest` response on a JWT-only route.
    Digest,
    /// A `Negotiate` (SPNEGO-shaped) token.
    Negotiate,
    /// `Authorization: Bearer` and nothing after it.
    BearerEmpty,
    /// A valid token in `Authorization` and in `?access_token=`.
    TwoPlaces,
    /// `POST /todos` with an 8 MiB body and no credentials.
    HugeBody,
    /// `POST /todos` announcing 8 MiB, sending 1 KiB, no credentials.
    LyingLength,
    /// `POST /users/login` with a wrong password.
    WrongPassword,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 19] = [
        Category::ValidList,
        Category::ValidCreate,
        Category::ValidDelete,
        Category::ValidWhoAmI,
        Category::Expired,
        Category::TamperedPayload,
        Category::TamperedSignature,
        Category::AlgNone,
        Category::RandomBytes,
        Category::Header16K,
        Category::Header64K,
        Category::BasicOnJwt,
        Category::Digest,
        Category::Negotiate,
        Category::BearerEmpty,
        Category::TwoPlaces,
        Category::HugeBody,
        Category::LyingLength,
        Category::WrongPassword,
    ];

    /// Relative frequency in the mix. [`Category::ValidDelete`] is 0: it
    /// follows creations instead of being drawn.
    pub fn weight(self) -> u32 {
        match self {
            Category::ValidList => 12,
            Category::ValidCreate | Category::ValidWhoAmI => 6,
            Category::ValidDelete => 0,
            Category::Expired => 5,
            Category::TamperedPayload | Category::TamperedSignature | Category::AlgNone => 4,
            Category::RandomBytes => 8,
            Category::Header16K
            | Category::BasicOnJwt
            | Category::Digest
            | Category::BearerEmpty
            | Category::TwoPlaces => 3,
            Category::Header64K
            | Category::Negotiate
            | Category::LyingLength
            | Category::WrongPassword => 2,
            Category::HugeBody => 1,
        }
    }

    /// The request, as the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Category::ValidList => "`GET /todos`, valid token",
            Category::ValidCreate => "`POST /todos`, valid token",
            Category::ValidDelete => "`DELETE /todos/{id}`, valid token (after creations)",
            Category::ValidWhoAmI => "`GET /whoAmI`, valid token",
            Category::Expired => "expired token (signed, `exp` an hour ago)",
            Category::TamperedPayload => "tampered payload (`sub`, `roles` changed)",
            Category::TamperedSignature => "tampered signature (one bit)",
            Category::AlgNone => "`alg: none`, no signature",
            Category::RandomBytes => "random bytes in `Authorization`",
            Category::Header16K => "16 KiB `Authorization` header",
            Category::Header64K => "64 KiB `Authorization` header",
            Category::BasicOnJwt => "`Basic` (right password) on a JWT route",
            Category::Digest => "`Digest` on a JWT route",
            Category::Negotiate => "`Negotiate` on a JWT route",
            Category::BearerEmpty => "`Bearer` with nothing",
            Category::TwoPlaces => "valid token in header and `?access_token=`",
            Category::HugeBody => "`POST /todos`, 8 MiB body, no credentials",
            Category::LyingLength => "`POST /todos`, announces 8 MiB, sends 1 KiB, no credentials",
            Category::WrongPassword => "`POST /users/login`, wrong password",
        }
    }

    /// The answers the wire contract allows (docs/DESIGN: malformed header
    /// 400, bad credentials 401, login flood 429, shedding 503). A server
    /// closing the connection is never in it: it is reported as seen.
    pub fn expected(self) -> &'static [u16] {
        match self {
            Category::ValidList | Category::ValidCreate | Category::ValidWhoAmI => &[200],
            // Only `Authorization` is a token source of the todo example;
            // with the query source on too, RFC 6750 §2 asks for a 400.
            Category::TwoPlaces => &[200, 400],
            Category::ValidDelete => &[204],
            Category::Expired
            | Category::TamperedPayload
            | Category::TamperedSignature
            | Category::AlgNone
            | Category::BasicOnJwt
            | Category::Digest
            | Category::Negotiate
            | Category::HugeBody
            | Category::LyingLength => &[401],
            Category::RandomBytes | Category::BearerEmpty => &[400, 401],
            // Over the token size limit: 401; over the server's head limit: 431.
            Category::Header16K | Category::Header64K => &[401, 431],
            Category::WrongPassword => &[401, 429, 503],
        }
    }

    /// Whether `outcome` is one the contract allows for this category.
    pub fn allows(self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Status(code) => self.expected().contains(&code),
            _ => false,
        }
    }

    /// Builds one request of this category for `user`. `todo` is the id
    /// [`Category::ValidDelete`] deletes; the others ignore it.
    pub fn request(self, user: &UserTokens, todo: i64, rng: &mut impl Rng) -> RawRequest {
        let list =
            |token: &str| RawRequest::new("GET", "/todos").header("authorization", bearer(token));
        match self {
            Category::ValidList => list(&user.token),
            Category::ValidCreate => RawRequest::new("POST", "/todos")
                .header("authorization", bearer(&user.token))
                .json(&json!({"title": format!("soak {}", rng.r#gen::<u32>()), "desc": "soak test"})),
            Category::ValidDelete => RawRequest::new("DELETE", format!("/todos/{todo}"))
                .header("authorization", bearer(&user.token)),
            Category::ValidWhoAmI => RawRequest::new("GET", "/whoAmI")
                .header("authorization", bearer(&user.token)),
            Category::Expired => list(&user.expired),
            Category::TamperedPayload => list(&user.tampered_payload),
            Category::TamperedSignature => list(&user.tampered_signature),
            Category::AlgNone => list(&user.alg_none),
            Category::RandomBytes => {
                let mut value = if rng.gen_bool(0.5) { b"Bearer ".to_vec() } else { Vec::new() };
                let len = rng.gen_range(1..=256);
                value.extend((0..len).map(|_| loop {
                    let b: u8 = rng.r#gen();
                    if b != b'\r' && b != b'\n' {
                        break b;
                    }
                }));
                RawRequest::new("GET", "/todos").header("authorization", value)
            }
            Category::Header16K => list(&token_chars(16 * 1024, rng)),
            Category::Header64K => list(&token_chars(64 * 1024, rng)),
            Category::BasicOnJwt => RawRequest::new("GET", "/todos").header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{}:{}", user.email, user.password))),
            ),
            Category::Digest => RawRequest::new("GET", "/todos").header(
                "authorization",
                format!(
                    "Digest username=\"{}\", realm=\"todo\", nonce=\"{:032x}\", uri=\"/todos\", response=\"{:032x}\", qop=auth, nc=00000001, cnonce=\"{:08x}\"",
                    user.email,
                    rng.r#gen::<u128>(),
                    rng.r#gen::<u128>(),
                    rng.r#gen::<u32>()
                ),
            ),
            Category::Negotiate => {
                let mut blob = vec![0x60, 0x82, 0x02, 0x00];
                blob.extend((0..96).map(|_| rng.r#gen::<u8>()));
                RawRequest::new("GET", "/todos")
                    .header("authorization", format!("Negotiate {}", STANDARD.encode(blob)))
            }
            Category::BearerEmpty => {
                let value: &[u8] = if rng.gen_bool(0.5) { b"Bearer" } else { b"Bearer " };
                RawRequest::new("GET", "/todos").header("authorization", value)
            }
            Category::TwoPlaces => RawRequest::new("GET", format!("/todos?access_token={}", user.token))
                .header("authorization", bearer(&user.token)),
            Category::HugeBody => RawRequest::new("POST", "/todos")
                .header("content-type", "application/json")
                .body(Body::Filler { announced: HUGE_BODY, sent: HUGE_BODY }),
            Category::LyingLength => RawRequest::new("POST", "/todos")
                .header("content-type", "application/json")
                .body(Body::Filler { announced: HUGE_BODY, sent: 1024 }),
            Category::WrongPassword => RawRequest::new("POST", "/users/login").json(&json!({
                "email": user.email,
                "password": format!("wrong-{}", rng.r#gen::<u32>()),
            })),
        }
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `len` random characters of the base64url alphabet.
fn token_chars(len: usize, rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// A soak user: its credentials, the valid token the server issued, and the
/// broken tokens derived from it.
#[derive(Debug, Clone)]
pub struct UserTokens {
    /// The e-mail it signed up with.
    pub email: String,
    /// Its password.
    pub password: String,
    /// The access token `/users/login` answered.
    pub token: String,
    /// The same claims, re-signed with `exp` an hour in the past.
    pub expired: String,
    /// The token with a changed payload and the original signature.
    pub tampered_payload: String,
    /// The token with one bit of its signature flipped.
    pub tampered_signature: String,
    /// The token's claims under `{"alg":"none"}` and an empty signature.
    pub alg_none: String,
}

impl UserTokens {
    /// Derives the broken tokens from `token`. `key` is the server's HMAC
    /// key (only the expired token needs it); `now` is seconds since the
    /// epoch.
    pub fn derive(
        email: String,
        password: String,
        token: String,
        key: &SigningKey,
        now: u64,
    ) -> Result<UserTokens, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err("the server's token is not a three-part JWS".into());
        };
        let claims: Map<String, Value> = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or("the server's token payload is not a JSON object")?;

        let mut old = claims.clone();
        old.insert("iat".into(), json!(now.saturating_sub(7200)));
        old.insert("exp".into(), json!(now.saturating_sub(3600)));
        old.remove("nbf");
        let expired = key.sign(&old, None).map_err(|e| e.to_string())?;

        let mut changed = claims.clone();
        changed.insert("sub".into(), json!("someone-else"));
        changed.insert("roles".into(), json!(["admin", "user"]));
        let changed = URL_SAFE_NO_PAD.encode(Value::Object(changed).to_string());
        let tampered_payload = format!("{header}.{changed}.{signature}");

        let mut sig = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "the server's token signature is not base64url")?;
        let first = sig
            .first_mut()
            .ok_or("the server's token has no signature")?;
        *first ^= 1;
        let tampered_signature = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(&sig));

        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let alg_none = format!("{none}.{payload}.");

        Ok(UserTokens {
            email,
            password,
            token,
            expired,
            tampered_payload,
            tampered_signature,
            alg_none,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_jwt::{Algorithm, ClaimRules, KeySet, VerifyError, VerifyingKey, verify_jwt};
    use rand::SeedableRng;

    const SECRET: &[u8] = b"a soak test secret of 32 bytes!!";

    fn user() -> UserTokens {
        let key = SigningKey::hmac(SECRET, Algorithm::HS256).unwrap();
        let now = 2_000_000_000;
        let token = key
            .sign(
                &json!({"sub": "u1", "iss": "todo-example", "exp": now + 900}),
                None,
            )
            .unwrap();
        UserTokens::derive(
            "a@example.com".into(),
            "pw-0123456789".into(),
            token,
            &key,
            now,
        )
        .unwrap()
    }

    #[test]
    fn derived_tokens_fail_for_the_reason_they_are_named_after() {
        let user = user();
        let keys =
            KeySet::new(vec![VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap()]).unwrap();
        let rules = ClaimRules {
            clock: std::sync::Arc::new(auth_core::ManualClock::at_secs(2_000_000_000)),
            ..ClaimRules::default()
        };
        assert!(verify_jwt(&user.token, &keys, &rules).is_ok());
        let verdict = |t: &str| verify_jwt(t, &keys, &rules).err();
        assert_eq!(verdict(&user.expired), Some(VerifyError::Expired));
        assert_eq!(
            verdict(&user.tampered_payload),
            Some(VerifyError::Signature)
        );
        assert_eq!(
            verdict(&user.tampered_signature),
            Some(VerifyError::Signature)
        );
        assert_eq!(verdict(&user.alg_none), Some(VerifyError::Algorithm));
    }

    #[test]
    fn every_category_builds_one_request_head() {
        let user = user();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..50 {
            for category in Category::ALL {
                let bytes = category.request(&user, 1, &mut rng).encode("127.0.0.1:1");
                let end = crate::http::head_end(&bytes).expect("a head");
                // Every CR and LF of the head is part of a line ending: no
                // value can end its header early.
                let head = &bytes[..end - 2];
                let crlf = head.windows(2).filter(|w| w == b"\r\n").count();
                assert_eq!(
                    head.iter().filter(|&&b| b == b'\n').count(),
                    crlf,
                    "{category:?}"
                );
                assert_eq!(
                    head.iter().filter(|&&b| b == b'\r').count(),
                    crlf,
                    "{category:?}"
                );
                assert!(
                    head.starts_with(b"GET /")
                        || head.starts_with(b"POST /")
                        || head.starts_with(b"DELETE /")
                );
            }
        }
    }
}
