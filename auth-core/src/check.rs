//! The start-up check: [`check_app`].

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::rc::Rc;

use actix_service::IntoServiceFactory;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{
    AppConfig, Service, ServiceFactory, ServiceRequest, ServiceResponse, Transform,
};
use actix_web::{App, Error, HttpResponse};

use crate::{ConfigError, StrategyRegistry};

/// Checks an application before it serves: its `app_data` holds a
/// [`StrategyRegistry`] (plain or in `web::Data`), and every handler
/// annotated with `#[authenticate]` in this binary names strategies that
/// registry holds. Fails fast with a [`ConfigError`] that names what is
/// missing, instead of a 500 at the first request.
///
/// Pass the `App` the server factory builds (call the factory once more).
/// The check starts the application in memory, as a test would (its
/// `data_factory` initialisers run), and sends it one request that no
/// handler sees. It reads the App's own `app_data`; a registry held only by
/// a `web::scope` is not seen.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_core::{check_app, check_app_in, ConfigError, StrategyRegistry};
///
/// # actix_web::rt::System::new().block_on(async {
/// let registry = StrategyRegistry::builder().build().unwrap();
/// let make_app = move || App::new().app_data(registry.clone());
/// // In a server's `main`: `check_app(make_app()).await?;` checks every
/// // annotated handler of the binary; this example binary holds others.
/// check_app_in(make_app(), module_path!()).await.expect("configured");
/// // HttpServer::new(make_app).bind(("127.0.0.1", 8080))?.run().await
///
/// let forgotten = App::new().route("/", web::get().to(HttpResponse::Ok));
/// assert_eq!(check_app(forgotten).await, Err(ConfigError::MissingRegistry));
/// # });
/// ```
pub async fn check_app<T, B>(app: App<T>) -> Result<(), ConfigError>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    check_app_in(app, "").await
}

/// Like [`check_app`], limited to the annotated handlers whose path
/// (`module::path::handler`) is `module_prefix` or lies in the module it
/// names (whole `::` segments), for binaries that hold several applications
/// (such as test binaries).
///
/// ```
/// use actix_web::{web, App};
/// use auth_core::{check_app_in, StrategyRegistry};
///
/// # actix_web::rt::System::new().block_on(async {
/// let registry = StrategyRegistry::builder().build().unwrap();
/// let app = App::new().app_data(web::Data::new(registry));
/// // No handler of this module is annotated: only the registry is checked.
/// check_app_in(app, module_path!()).await.unwrap();
/// # });
/// ```
pub async fn check_app_in<T, B>(app: App<T>, module_prefix: &str) -> Result<(), ConfigError>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let module_prefix = module_prefix.to_owned();
    probe_app(app, move |req| match StrategyRegistry::of(req.request()) {
        None => Err(ConfigError::MissingRegistry),
        Some(registry) => registry.verify_handlers_in(&module_prefix),
    })
    .await?
}

/// Builds `app` as a server would (data factories and services), sends it
/// one request that its outermost middleware answers itself, and returns
/// what `look` saw of that request: how the start-up checks read an App's
/// `app_data` and route table without running any handler.
pub(crate) async fn probe_app<T, B, R>(
    app: App<T>,
    look: impl Fn(&ServiceRequest) -> R + 'static,
) -> Result<R, ConfigError>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
    R: 'static,
{
    let seen = Rc::new(RefCell::new(None));
    let probe = Probe {
        look: Rc::new(look),
        seen: Rc::clone(&seen),
    };
    let factory = app.wrap(probe).into_factory();
    let service = factory
        .new_service(AppConfig::default())
        .await
        .map_err(|_| ConfigError::AppInit)?;
    let request = actix_web::test::TestRequest::get().uri("/").to_request();
    // The probe answers itself; the request never reaches a handler.
    let _ = service.call(request).await;
    seen.borrow_mut().take().ok_or(ConfigError::AppInit)
}

/// The outermost middleware of a probed App: it looks at the request and
/// answers without calling anything inside.
struct Probe<F, R> {
    look: Rc<F>,
    seen: Rc<RefCell<Option<R>>>,
}

impl<S, F, R> Transform<S, ServiceRequest> for Probe<F, R>
where
    S: Service<ServiceRequest, Error = Error>,
    F: Fn(&ServiceRequest) -> R + 'static,
    R: 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = Probe<F, R>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, _service: S) -> Self::Future {
        ready(Ok(Probe {
            look: Rc::clone(&self.look),
            seen: Rc::clone(&self.seen),
        }))
    }
}

impl<F, R> Service<ServiceRequest> for Probe<F, R>
where
    F: Fn(&ServiceRequest) -> R,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    actix_web::dev::always_ready!();

    fn call(&self, req: ServiceRequest) -> Self::Future {
        *self.seen.borrow_mut() = Some((self.look)(&req));
        ready(Ok(req.into_response(HttpResponse::NoContent().finish())))
    }
}
