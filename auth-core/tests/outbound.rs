//! `outbound::read_body` against a server on 127.0.0.1: a body over the
//! bound is refused whether it is announced (`Content-Length`) or streamed
//! without a length, an endless stream included (cut off at the bound, not
//! read until the request times out); bodies within it arrive whole.
#![cfg(feature = "outbound")]

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use auth_core::outbound::{BodyError, client, read_body};

const MAX: usize = 64 * 1024;

/// `/fixed/N`: N bytes with a `Content-Length`; `/stream/N`: N bytes in
/// 1 KiB chunks without one; `/endless`: 1 KiB chunks forever.
async fn body(req: HttpRequest) -> HttpResponse {
    let path = req.path().to_owned();
    let size = |p: &str| path.strip_prefix(p).and_then(|n| n.parse::<usize>().ok());
    if let Some(n) = size("/fixed/") {
        return HttpResponse::Ok().body(vec![b'x'; n]);
    }
    if let Some(n) = size("/stream/") {
        let chunks = (0..n.div_ceil(1024)).map(move |i| {
            let len = 1024.min(n - i * 1024);
            Ok::<_, actix_web::Error>(web::Bytes::from(vec![b'y'; len]))
        });
        return HttpResponse::Ok().streaming(futures_util::stream::iter(chunks));
    }
    if path == "/endless" {
        let chunk = web::Bytes::from(vec![b'z'; 1024]);
        return HttpResponse::Ok().streaming(futures_util::stream::repeat_with(move || {
            Ok::<_, actix_web::Error>(chunk.clone())
        }));
    }
    HttpResponse::NotFound().finish()
}

fn serve() -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(|| App::new().default_service(web::to(body)))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, handle)
}

#[actix_web::test]
async fn bodies_over_the_bound_are_refused_announced_streamed_or_endless() {
    let (base, handle) = serve();
    let http = client().unwrap();
    let get = |path: &str| {
        let request = http.get(format!("{base}{path}"));
        async move { request.send().await.unwrap() }
    };
    for (path, len) in [
        ("/fixed/0", 0),
        ("/fixed/10", 10),
        ("/fixed/65536", MAX),
        ("/stream/1", 1),
        ("/stream/65536", MAX),
        ("/stream/65000", 65_000),
    ] {
        let body = read_body(get(path).await, MAX).await.unwrap();
        assert_eq!(body.len(), len, "{path}");
    }
    for path in [
        "/fixed/65537",
        "/fixed/1048576",
        "/stream/65537",
        "/stream/1048576",
        "/endless",
    ] {
        match read_body(get(path).await, MAX).await {
            Err(BodyError::TooLarge { max }) => assert_eq!(max, MAX, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    handle.stop(false).await;
}
