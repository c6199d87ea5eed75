//! Issue 16.2: what `openapi::security_document` makes of each kind of
//! declaration, and each way it refuses to document a route untruthfully.

use actix_web::{App, get, post, route, web};
use auth_core::openapi::utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use auth_core::openapi::{OpenApiError, security_document};
use auth_core::{
    AuthOutcome, AuthPolicy, DefaultPolicy, FnStrategy, StrategyRegistry, UserProfile, from_fn,
    policy_report_in,
};
use auth_macros::authenticate;
use serde_json::{Value, json};

fn strategy(name: &'static str, scheme: Option<HttpAuthScheme>) -> FnStrategy {
    let strategy = from_fn(name, |_, _| async { Ok(AuthOutcome::NotApplicable) });
    match scheme {
        Some(scheme) => strategy.with_security_scheme(SecurityScheme::Http(Http::new(scheme))),
        None => strategy,
    }
}

fn registry() -> StrategyRegistry {
    StrategyRegistry::builder()
        .register(strategy("bearer", Some(HttpAuthScheme::Bearer)))
        .register(strategy("basic", Some(HttpAuthScheme::Basic)))
        .register(strategy("bare", None))
        .build()
        .unwrap()
}

mod good {
    use super::*;

    #[authenticate(skip)]
    #[get("/health")]
    pub(super) async fn health() -> &'static str {
        ""
    }

    #[authenticate("bearer", "basic", scopes = ["todo:read", "todo:write"])]
    #[get("/todos/{id}/notes/{tail:.*}")]
    pub(super) async fn notes() -> &'static str {
        ""
    }

    #[authenticate("bearer")]
    #[get("/maybe")]
    pub(super) async fn maybe(_user: Option<UserProfile>) -> &'static str {
        ""
    }

    #[authenticate("bearer", roles = ["admin", "ops"], principal = "service")]
    #[route("/reindex", method = "POST", method = "PUT")]
    pub(super) async fn reindex() -> &'static str {
        ""
    }
}

async fn document(
    module: &str,
    app: App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    >,
    scopes: &[(&str, &[&'static str], &AuthPolicy)],
) -> Result<Value, OpenApiError> {
    let report = policy_report_in(app, module).await.unwrap();
    security_document("t", "1", &registry(), &report, scopes)
        .map(|doc| serde_json::to_value(&doc).unwrap())
}

#[actix_web::test]
async fn each_declaration_becomes_its_security() {
    let app = App::new()
        .service(good::health)
        .service(web::scope("/api").service(good::notes))
        .service(good::maybe)
        .service(good::reindex)
        .route("/undeclared", web::get().to(|| async { "" }))
        .service(web::scope("/lib").route("/{id}", web::get().to(|| async { "" })));
    let lib_policy = AuthPolicy::new().strategy("basic");
    let doc = document(
        &format!("{}::good", module_path!()),
        app,
        &[("/lib", &["GET", "DELETE"], &lib_policy)],
    )
    .await;
    // `/lib` is no middleware scope of this report: left out.
    let doc = doc.unwrap();
    let paths = &doc["paths"];
    assert_eq!(paths["/health"]["get"]["security"], json!([]));
    assert_eq!(
        paths["/health"]["get"]["responses"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let notes = &paths["/api/todos/{id}/notes/{tail}"]["get"];
    assert_eq!(
        notes["security"],
        json!([{"bearer": ["todo:read", "todo:write"]}, {"basic": ["todo:read", "todo:write"]}])
    );
    let names: Vec<&str> = notes["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "tail"]);
    assert_eq!(notes["parameters"][0]["in"], "path");
    assert_eq!(notes["parameters"][0]["required"], true);
    assert_eq!(
        paths["/maybe"]["get"]["security"],
        json!([{"bearer": []}, {}])
    );
    for method in ["post", "put"] {
        let op = &paths["/reindex"][method];
        assert_eq!(op["security"], json!([{"bearer": []}]));
        assert_eq!(op["x-roles"], json!(["admin", "ops"]));
        assert_eq!(op["x-principal"], "service");
        assert!(op["responses"]["403"].is_object());
    }
    assert_ne!(
        paths["/reindex"]["post"]["operationId"],
        paths["/reindex"]["put"]["operationId"]
    );
    assert!(paths.get("/undeclared").is_none());
    assert!(paths.get("/lib/{id}").is_none());
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({"bearer": {"type": "http", "scheme": "bearer"}, "basic": {"type": "http", "scheme": "basic"}})
    );

    // Declared as a middleware scope: documented with the given policy.
    let app = App::new().service(web::scope("/lib").route("/{id}", web::get().to(|| async { "" })));
    let report = DefaultPolicy::in_module("none")
        .middleware_scope("/lib")
        .report(app)
        .await
        .unwrap();
    let doc = security_document(
        "t",
        "1",
        &registry(),
        &report,
        &[("/lib", &["GET", "DELETE"], &lib_policy)],
    )
    .unwrap();
    let doc = serde_json::to_value(&doc).unwrap();
    for method in ["get", "delete"] {
        assert_eq!(
            doc["paths"]["/lib/{id}"][method]["security"],
            json!([{"basic": []}])
        );
    }
}

mod no_scheme {
    use super::*;

    #[authenticate("bearer", "bare")]
    #[get("/x")]
    pub(super) async fn x() -> &'static str {
        ""
    }
}

mod unknown_strategy {
    use super::*;

    #[authenticate("nobody")]
    #[post("/x")]
    pub(super) async fn x() -> &'static str {
        ""
    }
}

mod below {
    use super::*;

    #[get("/x")]
    #[authenticate("bearer")]
    pub(super) async fn x() -> &'static str {
        ""
    }
}

mod connect {
    use super::*;

    #[authenticate("bearer")]
    #[route("/x", method = "CONNECT")]
    pub(super) async fn x() -> &'static str {
        ""
    }
}

#[actix_web::test]
async fn what_cannot_be_documented_truthfully_is_an_error_naming_it() {
    let m = module_path!();
    let err = document(
        &format!("{m}::no_scheme"),
        App::new().service(no_scheme::x),
        &[],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        OpenApiError::NoScheme {
            strategy: "bare".into()
        }
    );
    assert!(err.to_string().contains("security_scheme"));

    let err = document(
        &format!("{m}::unknown_strategy"),
        App::new().service(unknown_strategy::x),
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, OpenApiError::UnknownStrategy { strategy, .. } if strategy == "nobody"),
        "{err}"
    );

    let err = document(&format!("{m}::below"), App::new().service(below::x), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpenApiError::UnknownMethods { pattern, .. } if pattern == "/x"),
        "{err}"
    );
    assert!(err.to_string().contains("put #[authenticate] above"));

    let err = document(
        &format!("{m}::connect"),
        App::new().service(connect::x),
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, OpenApiError::UnsupportedMethod { method, .. } if method == "CONNECT"),
        "{err}"
    );
}
