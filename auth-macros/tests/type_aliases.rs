//! Profile arguments behind type aliases: the macro cannot read an alias,
//! so the compiler classifies the argument (`auth_core::__private::ArgProbe`).
//! `Option<UserProfile>` under another name still makes authentication
//! optional; `UserProfile` under another name still requires it.

use actix_web::test::{self as at, TestRequest};
use actix_web::{HttpRequest, HttpResponse, get};
use auth_core::testing::init_service;
use auth_core::{
    AuthError, AuthOutcome, Authenticated, FromProfile, StrategyOptions, StrategyRegistry,
    UserProfile, from_fn,
};
use auth_macros::authenticate;

type MaybeUser = Option<UserProfile>;
type User = UserProfile;
type MaybeId = Option<Authenticated<UserId>>;

struct UserId(String);

impl FromProfile for UserId {
    fn from_profile(p: &UserProfile) -> Result<Self, AuthError> {
        Ok(UserId(p.id.clone()))
    }
}

mod nested {
    pub(crate) type Maybe<T> = Option<T>;
}

#[get("/alias")]
#[authenticate("header")]
async fn alias(user: MaybeUser) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or_else(|| "anonymous".to_owned(), |u| u.id.clone()))
}

#[get("/generic-alias")]
#[authenticate("header")]
async fn generic_alias(user: nested::Maybe<UserProfile>) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or_else(|| "anonymous".to_owned(), |u| u.id.clone()))
}

#[get("/authenticated-alias")]
#[authenticate("header")]
async fn authenticated_alias(user: MaybeId) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or_else(|| "anonymous".to_owned(), |u| u.0.0))
}

#[get("/required-alias")]
#[authenticate("header")]
async fn required_alias(user: User) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/unrelated-option")]
#[authenticate("header")]
async fn unrelated_option(
    query: Option<actix_web::web::Query<std::collections::HashMap<String, String>>>,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", query.is_some()))
}

/// `X-User: <id>` authenticates; `X-User: bad` is a wrong credential.
fn registry() -> StrategyRegistry {
    let strategy = from_fn("header", |req: &HttpRequest, _: &StrategyOptions| {
        let user = req
            .headers()
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        async move {
            match user.as_deref() {
                None => Ok(AuthOutcome::NotApplicable),
                Some("bad") => Err(AuthError::invalid_token("unknown user")),
                Some(id) => Ok(AuthOutcome::Authenticated(UserProfile::new(id))),
            }
        }
    });
    StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap()
}

async fn call(path: &str, user: Option<&str>) -> (u16, String) {
    let app = init_service(registry(), |cfg| {
        cfg.service(alias)
            .service(generic_alias)
            .service(authenticated_alias)
            .service(required_alias)
            .service(unrelated_option);
    })
    .await;
    let mut req = TestRequest::get().uri(path);
    if let Some(user) = user {
        req = req.insert_header(("x-user", user));
    }
    let resp = at::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let body = at::read_body(resp).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[actix_web::test]
async fn an_aliased_optional_profile_keeps_authentication_optional() {
    for path in ["/alias", "/generic-alias", "/authenticated-alias"] {
        assert_eq!(
            call(path, None).await,
            (200, "anonymous".to_owned()),
            "{path}"
        );
        assert_eq!(
            call(path, Some("ada")).await,
            (200, "ada".to_owned()),
            "{path}"
        );
        // A wrong credential is still refused: optional means "no
        // credentials is fine", not "bad credentials are fine".
        assert_eq!(call(path, Some("bad")).await.0, 401, "{path}");
    }
}

#[actix_web::test]
async fn an_aliased_required_profile_still_requires_authentication() {
    assert_eq!(call("/required-alias", None).await.0, 401);
    assert_eq!(call("/required-alias", Some("bad")).await.0, 401);
    assert_eq!(
        call("/required-alias", Some("ada")).await,
        (200, "ada".to_owned())
    );
}

#[actix_web::test]
async fn an_unrelated_option_does_not_make_authentication_optional() {
    assert_eq!(call("/unrelated-option", None).await.0, 401);
    assert_eq!(
        call("/unrelated-option", Some("ada")).await,
        (200, "true".to_owned())
    );
}
