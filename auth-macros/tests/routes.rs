//! `#[authenticate]` records the routes of the route attributes below it
//! (issue 16.1), which `auth_core::DefaultPolicy` and the start-up report read.

use actix_web::{get, post, route, routes};
use auth_core::RouteDecl;
use auth_macros::authenticate;

#[authenticate("jwt")]
#[get("/todos")]
async fn one_get() -> &'static str {
    ""
}

#[authenticate(skip)]
#[post("/login", name = "sign_in")]
async fn named_post() -> &'static str {
    ""
}

#[authenticate("jwt")]
#[route("/things/{id}", method = "PUT", method = "PATCH")]
async fn several_methods() -> &'static str {
    ""
}

#[authenticate("jwt")]
#[actix_web::delete("/things/{id}")]
async fn by_path() -> &'static str {
    ""
}

#[authenticate("jwt")]
#[routes]
#[get("/a")]
#[post("/b")]
async fn several_routes() -> &'static str {
    ""
}

#[get("/below")]
#[authenticate("jwt")]
async fn below() -> &'static str {
    ""
}

#[authenticate("jwt")]
async fn no_route() -> &'static str {
    ""
}

fn routes_of(function: &str) -> Vec<(Vec<&'static str>, &'static str, Option<&'static str>)> {
    let handler = auth_core::annotated_handlers()
        .find(|h| h.handler() == format!("routes::{function}"))
        .unwrap_or_else(|| panic!("{function} is recorded"));
    assert_eq!(handler.function(), function);
    handler
        .routes()
        .iter()
        .map(|r: &RouteDecl| (r.methods().to_vec(), r.path(), r.name()))
        .collect()
}

#[test]
fn routes_above_are_recorded_with_methods_paths_and_names() {
    assert_eq!(routes_of("one_get"), [(vec!["GET"], "/todos", None)]);
    assert_eq!(
        routes_of("named_post"),
        [(vec!["POST"], "/login", Some("sign_in"))]
    );
    assert_eq!(
        routes_of("several_methods"),
        [(vec!["PUT", "PATCH"], "/things/{id}", None)]
    );
    assert_eq!(
        routes_of("by_path"),
        [(vec!["DELETE"], "/things/{id}", None)]
    );
    assert_eq!(
        routes_of("several_routes"),
        [(vec!["GET"], "/a", None), (vec!["POST"], "/b", None)]
    );
}

#[test]
fn routes_out_of_sight_are_not_guessed() {
    assert_eq!(routes_of("below"), []);
    assert_eq!(routes_of("no_route"), []);
}
