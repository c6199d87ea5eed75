//! `#[authenticate(..)]`: LoopBack's `@authenticate` decorator for actix-web handlers.
//!
//! ```
//! use actix_web::{get, post, web, HttpResponse, Responder};
//! use auth_core::UserProfile;
//! use auth_macros::authenticate;
//!
//! #[authenticate("jwt")]
//! #[get("/todos")]
//! async fn list(user: UserProfile) -> impl Responder {
//!     HttpResponse::Ok().body(user.id.clone())
//! }
//!
//! #[authenticate("jwt", "basic"(realm = "admin"), roles = ["admin"])]
//! #[post("/admin/reindex")]
//! async fn reindex() -> &'static str { "reindexing" }
//!
//! #[authenticate(skip)]
//! #[get("/health")]
//! async fn health() -> &'static str { "ok" }
//! ```
//!
//! # Above or below the route attribute
//!
//! Both orders work. Above `#[get(..)]` (as here), the attribute also reads
//! the route attributes below it (`get`, `post`, `put`, `patch`, `delete`,
//! `head`, `options`, `trace`, `connect`, `route` with its `method`s, each
//! route of `routes`; `name = ".."`) and records their methods and paths
//! with the handler (`auth_core::HandlerAuth::routes`), which
//! `auth_core::DefaultPolicy` checks before routing and the start-up report
//! (`auth_core::policy_report`) lists. Below `#[get(..)]`, actix-web's
//! attribute has been expanded before this one runs, so the route is out
//! of sight: the default policy then recognises the handler by its resource
//! name (actix-web names it after the function) for every method, and
//! checks the method only in the handler. Prefer the order above.
//!
//! # Arguments
//!
//! | argument | meaning |
//! |---|---|
//! | `"name"` | a registered strategy; several are tried in order, first success wins |
//! | `"name"(key = value, ..)` | the same, with options passed to that strategy (strings, numbers, booleans, arrays) |
//! | `skip` | no authentication (alone) |
//! | `fail_on_error` | the first strategy error ends the sequence |
//! | `roles = ["a", "b"]` | the profile must hold one of these roles, else 403 |
//! | `scopes = ["x", "y"]` | the profile must hold all of these scopes, else 403 `insufficient_scope` |
//! | `principal = "user"` or `"service"` | the profile must be of this kind, else 403 |
//!
//! # What it generates
//!
//! The handler keeps its name, arguments, body and return type; the macro
//! wraps it in a function that first runs the authentication sequence and only
//! then runs the handler's own extractors (so an unauthenticated request is
//! answered before its body is read), then calls the handler. It works above
//! or below actix-web's `#[get(..)]`-style attributes and with
//! `web::resource(..).route(web::get().to(handler))`.
//!
//! `skip` handlers are wrapped the same way with an empty policy: it records
//! that the attribute is present (so an `Option<UserProfile>` they take is not
//! reported as a missing attribute). Responses to requests authenticated from
//! the query string get `Cache-Control: private` (see
//! `auth_core::QueryCredential`).
//!
//! One argument may be the profile: `UserProfile`, `Option<UserProfile>`
//! (authentication becomes optional), `Authenticated<T>` or
//! `Option<Authenticated<T>>`. A handler that takes none is still protected.
//!
//! The macro reads types as written. A profile argument behind a type alias
//! (`type MaybeUser = Option<UserProfile>;`) is still recognised: the
//! generated code asks the compiler which kind of argument each remaining
//! type is, so an aliased `Option<UserProfile>` makes authentication optional
//! exactly as the spelt-out type does. Every other argument must be an
//! actix-web extractor and the return type an actix-web `Responder`; the
//! compiler reports a type that is not at that type.
//!
//! Each annotated handler is recorded (its path, policy and routes) so that
//! `StrategyRegistry::verify_handlers()` can refuse to start an application
//! whose handlers name an unregistered strategy, and so that
//! `auth_core::DefaultPolicy` serves declared routes only. The generated
//! handler records in the request that a declared handler answers it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, LitStr, PathArguments, Token, Type, bracketed,
    parenthesized,
};

/// Protects an actix-web handler with the named strategies; see the crate docs.
#[proc_macro_attribute]
pub fn authenticate(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = TokenStream2::from(item.clone());
    let result = syn::parse::<Args>(args)
        .and_then(|args| Ok((args, syn::parse::<ItemFn>(item)?)))
        .and_then(|(args, func)| expand(args, func));
    match result {
        Ok(tokens) => tokens.into(),
        // Keep the handler as written so that the one error above is all the
        // user sees (no follow-on "unused import" or "cannot find" noise).
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#err #original).into()
        }
    }
}

struct StrategyArg {
    name: LitStr,
    options: Vec<(Ident, OptValue)>,
}

enum OptValue {
    Lit(syn::Lit),
    Neg(syn::Lit),
    Array(Vec<OptValue>),
}

#[derive(Default)]
struct Args {
    skip: Option<Span>,
    strategies: Vec<StrategyArg>,
    fail_on_error: bool,
    roles: Option<Vec<LitStr>>,
    scopes: Option<Vec<LitStr>>,
    principal: Option<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[authenticate] needs at least one strategy name, e.g. #[authenticate(\"jwt\")], or `skip`",
            ));
        }
        while !input.is_empty() {
            if input.peek(LitStr) {
                let name: LitStr = input.parse()?;
                let value = name.value();
                if value.trim().is_empty() {
                    return Err(syn::Error::new(
                        name.span(),
                        "strategy name must not be empty",
                    ));
                }
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
                {
                    return Err(syn::Error::new(
                        name.span(),
                        "strategy names use ASCII letters, digits, '-', '_', '.' or ':'",
                    ));
                }
                if args.strategies.iter().any(|s| s.name.value() == value) {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("strategy \"{value}\" is listed twice"),
                    ));
                }
                let options = if input.peek(syn::token::Paren) {
                    parse_options(input)?
                } else {
                    Vec::new()
                };
                args.strategies.push(StrategyArg { name, options });
            } else if input.peek(Ident) {
                let ident: Ident = input.parse()?;
                match ident.to_string().as_str() {
                    "skip" => args.skip = Some(ident.span()),
                    "fail_on_error" => args.fail_on_error = true,
                    "roles" => {
                        input.parse::<Token![=]>()?;
                        args.roles = Some(parse_str_list(input, "roles")?);
                    }
                    "scopes" => {
                        input.parse::<Token![=]>()?;
                        args.scopes = Some(parse_str_list(input, "scopes")?);
                    }
                    "principal" => {
                        input.parse::<Token![=]>()?;
                        let kind: LitStr = input.parse().map_err(|e| {
                            syn::Error::new(
                                e.span(),
                                "expected `principal = \"user\"` or `principal = \"service\"`",
                            )
                        })?;
                        if !matches!(kind.value().as_str(), "user" | "service") {
                            return Err(syn::Error::new(
                                kind.span(),
                                "principal must be \"user\" or \"service\"",
                            ));
                        }
                        args.principal = Some(kind);
                    }
                    other if !input.peek(Token![=]) => {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!("strategy names are string literals: write \"{other}\""),
                        ));
                    }
                    other => {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!(
                                "unknown argument `{other}`: expected a strategy name (\"jwt\"), `skip`, `fail_on_error`, `roles = [..]`, `scopes = [..]` or `principal = \"..\"`"
                            ),
                        ));
                    }
                }
            } else {
                return Err(input.error(
                    "expected a strategy name in quotes (\"jwt\"), `skip`, `fail_on_error`, `roles = [..]`, `scopes = [..]` or `principal = \"..\"`",
                ));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if let Some(span) = args.skip {
            if !args.strategies.is_empty()
                || args.fail_on_error
                || args.roles.is_some()
                || args.scopes.is_some()
                || args.principal.is_some()
            {
                return Err(syn::Error::new(
                    span,
                    "`skip` cannot be combined with strategies or other arguments",
                ));
            }
        } else if args.strategies.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[authenticate] needs at least one strategy name, e.g. #[authenticate(\"jwt\")], or `skip`",
            ));
        }
        Ok(args)
    }
}

fn parse_str_list(input: ParseStream<'_>, what: &str) -> syn::Result<Vec<LitStr>> {
    let message = format!("expected `{what} = [\"a\", \"b\"]`: a list of string literals");
    if !input.peek(syn::token::Bracket) {
        return Err(input.error(message));
    }
    let content;
    bracketed!(content in input);
    let items = Punctuated::<syn::Lit, Token![,]>::parse_terminated(&content)
        .map_err(|e| syn::Error::new(e.span(), &message))?;
    let mut out = Vec::new();
    for item in items {
        match item {
            syn::Lit::Str(s) if !s.value().trim().is_empty() => out.push(s),
            syn::Lit::Str(s) => {
                return Err(syn::Error::new(
                    s.span(),
                    format!("{what} must not be empty strings"),
                ));
            }
            other => return Err(syn::Error::new(other.span(), &message)),
        }
    }
    if out.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("`{what}` must name at least one entry"),
        ));
    }
    Ok(out)
}

fn parse_options(input: ParseStream<'_>) -> syn::Result<Vec<(Ident, OptValue)>> {
    let content;
    parenthesized!(content in input);
    let mut options: Vec<(Ident, OptValue)> = Vec::new();
    while !content.is_empty() {
        let key: Ident = content
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected `key = value` strategy options"))?;
        if options.iter().any(|(k, _)| k == &key) {
            return Err(syn::Error::new(
                key.span(),
                format!("option `{key}` is given twice"),
            ));
        }
        content.parse::<Token![=]>()?;
        let value = parse_opt_value(&content)?;
        options.push((key, value));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(options)
}

fn parse_opt_value(input: ParseStream<'_>) -> syn::Result<OptValue> {
    if input.peek(syn::token::Bracket) {
        let content;
        bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(parse_opt_value(&content)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(OptValue::Array(items));
    }
    if input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        let lit: syn::Lit = input.parse()?;
        return match lit {
            syn::Lit::Int(_) | syn::Lit::Float(_) => Ok(OptValue::Neg(lit)),
            other => Err(syn::Error::new(
                other.span(),
                "only numbers can be negative",
            )),
        };
    }
    let lit: syn::Lit = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "option values are string, number or boolean literals, or [lists] of them",
        )
    })?;
    match lit {
        syn::Lit::Str(_) | syn::Lit::Int(_) | syn::Lit::Float(_) | syn::Lit::Bool(_) => {
            Ok(OptValue::Lit(lit))
        }
        other => Err(syn::Error::new(
            other.span(),
            "option values are string, number or boolean literals, or [lists] of them",
        )),
    }
}

fn opt_json(value: &OptValue) -> TokenStream2 {
    match value {
        OptValue::Lit(lit) => quote!(#lit),
        OptValue::Neg(lit) => quote!(-#lit),
        OptValue::Array(items) => {
            let items = items.iter().map(opt_json);
            quote!([#(#items),*])
        }
    }
}

#[derive(PartialEq)]
enum ProfileArg {
    None,
    Required,
    Optional,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn is_profile_type(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "UserProfile" || s.ident == "Authenticated")
}

fn classify(ty: &Type) -> ProfileArg {
    if is_profile_type(ty) {
        return ProfileArg::Required;
    }
    if let Some(seg) = last_segment(ty)
        && seg.ident == "Option"
        && let PathArguments::AngleBracketed(args) = &seg.arguments
        && let Some(GenericArgument::Type(inner)) = args.args.first()
        && is_profile_type(inner)
    {
        return ProfileArg::Optional;
    }
    ProfileArg::None
}

fn expand(args: Args, func: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            "#[authenticate] can only be used on `async fn` handlers",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "#[authenticate] handlers cannot be generic",
        ));
    }
    let mut profile = ProfileArg::None;
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(
                    r.span(),
                    "#[authenticate] handlers are free functions, not methods",
                ));
            }
            FnArg::Typed(pat) => {
                let kind = classify(&pat.ty);
                if kind != ProfileArg::None {
                    if profile != ProfileArg::None {
                        return Err(syn::Error::new(
                            pat.ty.span(),
                            "a handler takes at most one profile argument (`UserProfile`, `Option<UserProfile>` or `Authenticated<T>`)",
                        ));
                    }
                    if args.skip.is_some() && kind == ProfileArg::Required {
                        return Err(syn::Error::new(
                            pat.ty.span(),
                            "a `skip` handler is never authenticated: take `Option<UserProfile>` instead",
                        ));
                    }
                    profile = kind;
                }
                types.push(&pat.ty);
            }
        }
    }

    let name = &sig.ident;
    let handler_path = quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#name)
    ));
    // An argument whose type the tokens do not reveal (a type alias of
    // `Option<UserProfile>`, say) is classified by the compiler at run time
    // of the policy's construction; see `auth_core::__private::ArgProbe`.
    let probes: Vec<&Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pat) if classify(&pat.ty) == ProfileArg::None => Some(&*pat.ty),
            _ => None,
        })
        .collect();
    let policy_expr = build_policy(&args, profile == ProfileArg::Optional, &probes);

    // The routes the handler's own route attributes declare, when this
    // attribute sits above them (below them, they are already expanded and
    // out of sight; see `route_decls`).
    let routes = route_decls(&func.attrs)?;
    let route_items = routes.iter().map(|r| {
        let methods = &r.methods;
        let path = &r.path;
        let name = match &r.name {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        quote!(::auth_core::RouteDecl::new(&[#(#methods),*], #path, #name))
    });

    // The policy is built once, on first use, and recorded for the start-up
    // check (`StrategyRegistry::verify_handlers`), the default policy
    // (`auth_core::DefaultPolicy`) and the start-up report.
    let policy_items = quote! {
        fn __auth_policy() -> &'static ::auth_core::AuthPolicy {
            static POLICY: ::auth_core::__private::LazyLock<::auth_core::AuthPolicy> =
                ::auth_core::__private::LazyLock::new(|| #policy_expr);
            &POLICY
        }
        ::auth_core::__private::inventory::submit! {
            ::auth_core::HandlerAuth::new(#handler_path, __auth_policy)
                .with_routes(&[#(#route_items),*])
        }
    };

    // `skip` handlers are wrapped too: the (empty) policy run records that
    // the attribute is present, so an `Option<UserProfile>` they take does
    // not report a missing attribute, and query-token responses stay private.
    let attrs = &func.attrs;
    let vis = &func.vis;
    let inner_sig = &func.sig;
    let block = &func.block;
    let arg_names: Vec<Ident> = (0..types.len())
        .map(|i| format_ident!("__auth_arg{}", i))
        .collect();
    let extracts = types.iter().zip(&arg_names).map(|(ty, arg)| {
        quote_spanned! {ty.span()=>
            let #arg = match <#ty as ::auth_core::__private::HandlerArg>::extract_arg(&__auth_req, &mut __auth_payload).await {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(response) => return response,
            };
        }
    });

    // The return value becomes a response through `Responder` called by
    // name at the span of the declared return type, so a type that is not a
    // `Responder` is reported there, not at the attribute.
    let output_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    let respond = quote_spanned! {output_span=>
        ::auth_core::__private::HandlerReturn::into_handler_response(__auth_value, &__auth_req)
    };

    Ok(quote! {
        #(#attrs)*
        #vis async fn #name(
            __auth_req: ::auth_core::__private::HttpRequest,
            __auth_payload: ::auth_core::__private::Payload,
        ) -> ::auth_core::__private::HttpResponse {
            #inner_sig #block

            #policy_items

            if let ::core::result::Result::Err(response) =
                ::auth_core::__private::guard_declared(&__auth_req, __auth_policy(), #handler_path).await
            {
                return response;
            }
            let mut __auth_payload = __auth_payload.into_inner();
            #(#extracts)*
            let __auth_value = #name(#(#arg_names),*).await;
            #respond
        }
    })
}

/// One route of a handler, read from an actix-web route attribute.
struct RouteArg {
    methods: Vec<String>,
    path: LitStr,
    name: Option<LitStr>,
}

/// The methods of actix-web's single-method route attributes.
const METHOD_ATTRS: [(&str, &str); 9] = [
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("trace", "TRACE"),
    ("connect", "CONNECT"),
];

/// The routes declared by actix-web's route attributes (`#[get("/x")]`,
/// `#[post("/x", name = "..")]`, `#[route("/x", method = "GET", method =
/// "HEAD")]`, each `#[get]` under `#[routes]`) among `attrs`, the attributes
/// still to be expanded after this one. An attribute written above
/// `#[authenticate]` has been expanded already and is not among them: the
/// handler then records no route, and the default policy recognises it by
/// its resource name (see `auth_core::DefaultPolicy`).
fn route_decls(attrs: &[syn::Attribute]) -> syn::Result<Vec<RouteArg>> {
    let mut routes = Vec::new();
    for attr in attrs {
        let Some(last) = attr.path().segments.last() else {
            continue;
        };
        let ident = last.ident.to_string();
        let single = METHOD_ATTRS
            .iter()
            .find(|(name, _)| *name == ident)
            .map(|(_, method)| *method);
        if single.is_none() && ident != "route" {
            continue;
        }
        // Only actix-web's own attributes: bare (`get`) or by a path ending
        // in `actix_web::get`.
        let segments: Vec<String> = attr
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if segments.len() > 1 && segments[segments.len() - 2] != "actix_web" {
            continue;
        }
        let syn::Meta::List(list) = &attr.meta else {
            continue;
        };
        let parsed = list.parse_args_with(|input: ParseStream<'_>| {
            let path: LitStr = input.parse()?;
            let mut methods: Vec<String> = single.iter().map(|m| (*m).to_owned()).collect();
            let mut name = None;
            while !input.is_empty() {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    break;
                }
                let key: Ident = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: syn::Expr = input.parse()?;
                let lit = match &value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.clone()),
                    _ => None,
                };
                match (key.to_string().as_str(), lit) {
                    ("name", Some(lit)) => name = Some(lit),
                    ("method", Some(lit)) => methods.push(lit.value().to_ascii_uppercase()),
                    _ => {}
                }
            }
            Ok(RouteArg {
                methods,
                path,
                name,
            })
        });
        // A route attribute this crate cannot read is left to actix-web to
        // report; the handler then records no route for it.
        if let Ok(route) = parsed {
            routes.push(route);
        }
    }
    Ok(routes)
}

fn build_policy(args: &Args, optional: bool, probes: &[&Type]) -> TokenStream2 {
    if args.skip.is_some() {
        return quote!(::auth_core::AuthPolicy::skip());
    }
    let strategies = args.strategies.iter().map(|s| {
        let name = &s.name;
        if s.options.is_empty() {
            quote!(.strategy(#name))
        } else {
            let keys = s.options.iter().map(|(k, _)| k.to_string());
            let values = s.options.iter().map(|(_, v)| opt_json(v));
            quote!(.strategy_with(#name, ::auth_core::__private::serde_json::json!({ #(#keys: #values),* })))
        }
    });
    let fail = args.fail_on_error;
    let roles = args.roles.iter().map(|r| quote!(.roles([#(#r),*])));
    let scopes = args.scopes.iter().map(|s| quote!(.scopes([#(#s),*])));
    let principal = args.principal.iter().map(|p| {
        if p.value() == "service" {
            quote!(.principal(::auth_core::PrincipalKind::Service))
        } else {
            quote!(.principal(::auth_core::PrincipalKind::User))
        }
    });
    quote! {
        ::auth_core::AuthPolicy::new()
            #(#strategies)*
            .fail_on_error(#fail)
            .optional(#optional #(|| {
                #[allow(unused_imports)]
                use ::auth_core::__private::{OptionalProfileArg as _, OtherArg as _};
                // The borrow selects the trait (see `ArgProbe`).
                #[allow(clippy::needless_borrow)]
                let optional = (&::auth_core::__private::ArgProbe::<#probes>::new()).is_optional_profile();
                optional
            })*)
            #(#roles)*
            #(#scopes)*
            #(#principal)*
    }
}
