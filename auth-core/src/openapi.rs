//! OpenAPI security from the same declarations (feature `openapi`): each
//! strategy describes its security scheme
//! ([`AuthenticationStrategy::security_scheme`](crate::AuthenticationStrategy::security_scheme)),
//! and every route of the [`PolicyReport`] becomes an operation with the
//! security requirement its `#[authenticate]` declares.
//!
//! Built on utoipa's OpenAPI model types (`utoipa::openapi`, re-exported as
//! [`utoipa`]); its derive macros are not used. utoipa rather than apistos:
//! apistos documents an App only when its routes are registered through
//! apistos' own `scope`/`resource` wrappers and `#[api_operation]`, which
//! would replace actix-web's routing attributes this framework reads; utoipa's
//! model is independent of routing, so the document is made from the
//! declarations and the route table alone. An application that describes its
//! bodies with utoipa's derives merges this document into its own
//! ([`security_document`] builds it, `OpenApi::merge` joins them).
//!
//! How a policy becomes a requirement (an OpenAPI `security` array is a list
//! of alternatives, each naming schemes that must all be satisfied):
//!
//! - `#[authenticate(skip)]`: `security: []`, public;
//! - each strategy, in order, is one alternative naming its scheme (the
//!   scheme's name is the strategy's registered name) with the policy's
//!   scopes, all of which are required (OpenAPI's meaning too);
//! - an optional policy (`Option<UserProfile>`) adds the empty alternative
//!   `{}`: anonymous requests are accepted;
//! - roles ("any of") and the principal kind have no OpenAPI form: they are
//!   listed in the operation's `x-roles` and `x-principal` extensions.
//!
//! A route whose methods are unknown (`#[authenticate]` below the route
//! attribute) cannot be an operation: [`security_document`] refuses it, as
//! it refuses a strategy that describes no scheme, naming it, so that the
//! document never shows a protected route as public.

use std::collections::{BTreeMap, HashMap};

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::schema::{Components, ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Info, OpenApi, Paths, Required, Response};

pub use utoipa;

use crate::{AuthPolicy, PolicyReport, StrategyRegistry};

/// Why the document cannot be made truthfully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenApiError {
    /// The route table could not be read (see [`PolicyReport::routes`]).
    #[error("the route table could not be read, so no operation can be documented")]
    NoRouteTable,
    /// A policy names a strategy that is not registered.
    #[error("{handler} uses strategy '{strategy}', which is not registered")]
    UnknownStrategy {
        /// The handler (`module::function`).
        handler: String,
        /// The strategy.
        strategy: String,
    },
    /// A strategy describes no security scheme.
    #[error(
        "strategy '{strategy}' describes no OpenAPI security scheme (implement \
         AuthenticationStrategy::security_scheme)"
    )]
    NoScheme {
        /// The strategy.
        strategy: String,
    },
    /// A declared route's methods are unknown.
    #[error(
        "{handler} serves {pattern} but its methods are unknown: put #[authenticate] above its \
         route attribute"
    )]
    UnknownMethods {
        /// The handler.
        handler: String,
        /// The route's full pattern.
        pattern: String,
    },
    /// A method OpenAPI has no operation for (`CONNECT`, an extension method).
    #[error("{handler}: OpenAPI has no operation for the method {method}")]
    UnsupportedMethod {
        /// The handler.
        handler: String,
        /// The method.
        method: String,
    },
}

/// The security requirements of `policy`: `[]` for `skip`, else one
/// alternative per strategy (its name, the policy's scopes), and `{}` when
/// the policy is optional.
///
/// ```
/// use auth_core::AuthPolicy;
/// use auth_core::openapi::security_requirements;
///
/// let policy = AuthPolicy::new().strategy("jwt").strategy("api-key").scopes(["todo:read"]);
/// let json = serde_json::to_value(security_requirements(&policy)).unwrap();
/// assert_eq!(json, serde_json::json!([{"jwt": ["todo:read"]}, {"api-key": ["todo:read"]}]));
/// assert!(security_requirements(&AuthPolicy::skip()).is_empty());
/// let optional = AuthPolicy::new().strategy("jwt").optional(true);
/// assert_eq!(serde_json::to_value(security_requirements(&optional)).unwrap(),
///            serde_json::json!([{"jwt": []}, {}]));
/// ```
pub fn security_requirements(policy: &AuthPolicy) -> Vec<SecurityRequirement> {
    if policy.is_skip() {
        return Vec::new();
    }
    let mut requirements: Vec<SecurityRequirement> = policy
        .strategies()
        .iter()
        .map(|s| SecurityRequirement::new(s.name(), policy.required_scopes().iter().cloned()))
        .collect();
    if policy.is_optional() && !policy.has_requirements() {
        requirements.push(SecurityRequirement::default());
    }
    requirements
}

/// The OpenAPI document of the declared routes of `report` (from
/// [`DefaultPolicy::report`](crate::DefaultPolicy::report) or
/// [`policy_report`](crate::policy_report)): `components.securitySchemes`
/// holds the scheme of every strategy a route names (by its registered
/// name), and each declared route with known methods is an operation with
/// its `security` (see the [module docs](self)). Routes under a
/// [`DefaultPolicy::middleware_scope`](crate::DefaultPolicy::middleware_scope)
/// are documented with the methods and policy `scopes` gives for their
/// prefix (`(prefix, methods, policy)`: the scope's
/// `AuthenticationMiddleware` policy; its routes belong to a library, so
/// their methods are the application's to state), and left out otherwise.
/// Undeclared routes are left out: they answer 404.
///
/// ```
/// use actix_web::{get, App};
/// use auth_core::openapi::{security_document, utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme}};
/// use auth_core::{async_trait, from_fn, policy_report_in, AuthOutcome, StrategyRegistry};
/// use auth_macros::authenticate;
///
/// #[authenticate("key", scopes = ["read"])]
/// #[get("/items/{id}")]
/// async fn item() -> &'static str { "" }
///
/// # actix_web::rt::System::new().block_on(async {
/// let key = from_fn("key", |_, _| async { Ok(AuthOutcome::NotApplicable) })
///     .with_security_scheme(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
/// let registry = StrategyRegistry::builder().register(key).build().unwrap();
/// let report = policy_report_in(App::new().service(item), module_path!()).await.unwrap();
/// let doc = security_document("items", "1", &registry, &report, &[]).unwrap();
/// let json = serde_json::to_value(&doc).unwrap();
/// assert_eq!(json["paths"]["/items/{id}"]["get"]["security"], serde_json::json!([{"key": ["read"]}]));
/// assert_eq!(json["components"]["securitySchemes"]["key"]["scheme"], "bearer");
/// # });
/// ```
pub fn security_document(
    title: &str,
    version: &str,
    registry: &StrategyRegistry,
    report: &PolicyReport,
    scopes: &[(&str, &[&'static str], &AuthPolicy)],
) -> Result<OpenApi, OpenApiError> {
    let routes = report.routes().ok_or(OpenApiError::NoRouteTable)?;
    let mut items: BTreeMap<String, Vec<(HttpMethod, Operation)>> = BTreeMap::new();
    let mut schemes: BTreeMap<String, ()> = BTreeMap::new();
    let mut operation_ids: HashMap<String, usize> = HashMap::new();
    for route in routes {
        let path = openapi_path(route.pattern());
        let parameters = path_parameters(route.pattern());
        let mut operations: Vec<(String, &'static str, &AuthPolicy)> = Vec::new();
        for (handler, decl) in &route.declarations {
            let Some(decl) = decl else {
                return Err(OpenApiError::UnknownMethods {
                    handler: handler.handler().to_owned(),
                    pattern: route.pattern().to_owned(),
                });
            };
            for method in decl.methods() {
                operations.push((handler.handler().to_owned(), method, handler.policy()));
            }
        }
        if route.is_middleware_scope()
            && route.declarations.is_empty()
            && let Some((prefix, methods, policy)) = scopes.iter().find(|(prefix, _, _)| {
                route
                    .pattern()
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        {
            for method in *methods {
                operations.push((format!("scope {prefix}"), method, policy));
            }
        }
        for (handler, method, policy) in operations {
            for spec in policy.strategies() {
                let strategy =
                    registry
                        .get(spec.name())
                        .ok_or_else(|| OpenApiError::UnknownStrategy {
                            handler: handler.clone(),
                            strategy: spec.name().to_owned(),
                        })?;
                if strategy.security_scheme().is_none() {
                    return Err(OpenApiError::NoScheme {
                        strategy: spec.name().to_owned(),
                    });
                }
                schemes.insert(spec.name().to_owned(), ());
            }
            let http_method =
                http_method(method).ok_or_else(|| OpenApiError::UnsupportedMethod {
                    handler: handler.clone(),
                    method: method.to_owned(),
                })?;
            let base_id = handler.replace("::", ".").replace(' ', "_");
            let count = operation_ids.entry(base_id.clone()).or_default();
            *count += 1;
            let operation_id = if *count == 1 {
                base_id
            } else {
                format!("{base_id}_{count}")
            };
            items
                .entry(path.clone())
                .or_default()
                .push((http_method, operation(policy, operation_id, &parameters)));
        }
    }
    let mut paths = Paths::new();
    for (path, operations) in items {
        let mut operations = operations.into_iter();
        let Some((method, first)) = operations.next() else {
            continue;
        };
        let mut item = PathItem::new(method, first);
        for (method, operation) in operations {
            item.merge_operations(PathItem::new(method, operation));
        }
        paths.paths.insert(path, item);
    }
    let mut components = Components::new();
    for name in schemes.keys() {
        // Checked above: every strategy in `schemes` has one.
        if let Some(scheme) = registry.get(name).and_then(|s| s.security_scheme()) {
            components.add_security_scheme(name.clone(), scheme);
        }
    }
    let mut doc = OpenApi::new(Info::new(title, version), paths);
    doc.components = Some(components);
    Ok(doc)
}

fn operation(policy: &AuthPolicy, operation_id: String, parameters: &[String]) -> Operation {
    let mut responses = vec![("200", "the handler's answer")];
    if !policy.is_skip() {
        responses.push((
            "401",
            "no credentials, or bad ones (WWW-Authenticate says how)",
        ));
        if policy.has_requirements() {
            responses.push((
                "403",
                "authenticated, but roles, scopes or principal kind insufficient",
            ));
        }
    }
    let mut builder = Operation::builder()
        .operation_id(Some(operation_id))
        .securities(Some(security_requirements(policy)));
    for (status, description) in responses {
        builder = builder.response(status, Response::new(description));
    }
    for name in parameters {
        builder = builder.parameter(
            Parameter::builder()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    let mut extensions = Extensions::default();
    if !policy.required_roles().is_empty() {
        extensions.insert("x-roles".to_owned(), policy.required_roles().into());
    }
    if let Some(kind) = policy.required_principal() {
        extensions.insert("x-principal".to_owned(), kind.as_str().into());
    }
    if !extensions.is_empty() {
        builder = builder.extensions(Some(extensions));
    }
    builder.build()
}

fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "HEAD" => HttpMethod::Head,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        _ => return None,
    })
}

/// actix-web's `{id}` and `{tail:.*}` as OpenAPI's `{id}` and `{tail}`.
fn openapi_path(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut in_regex = false;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    out.push('{');
                    in_regex = false;
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push('}');
                }
            }
            ':' if depth == 1 => in_regex = true,
            _ if depth > 0 && in_regex => {}
            _ if depth > 1 => {}
            _ => out.push(ch),
        }
    }
    if out.is_empty() { "/".to_owned() } else { out }
}

/// The names of the dynamic segments of `pattern`, in order.
fn path_parameters(pattern: &str) -> Vec<String> {
    let path = openapi_path(pattern);
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actix_patterns_become_openapi_paths_with_parameters() {
        for (pattern, path, params) in [
            ("/todos", "/todos", vec![]),
            ("/todos/{id}", "/todos/{id}", vec!["id"]),
            ("/files/{tail:.*}", "/files/{tail}", vec!["tail"]),
            ("/n/{id:\\d{2,3}}/x/{y}", "/n/{id}/x/{y}", vec!["id", "y"]),
            ("", "/", vec![]),
        ] {
            assert_eq!(openapi_path(pattern), path, "{pattern}");
            assert_eq!(path_parameters(pattern), params, "{pattern}");
        }
    }
}
