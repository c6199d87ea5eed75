//! The todo page's "Log in with your identity provider" in a real headless
//! browser (Chromium driven by playwright-core, `.ci/browser/oidc.mjs`):
//! the real todo binary with the OpenID Connect login configured, the real
//! OpenID provider of `.ci/oidc` with its own login and consent pages. The
//! login started from the page ends in a browser session on `/app` (not the
//! JSON token pair of a login without `return_to`), which then adds a todo
//! and logs out.

mod common;

use std::time::Duration;

use common::browser;
use common::oidc::{self, OidcProvider};
use common::server::TodoServer;

/// A port nothing listens on now, for the todo: its redirect URI must be
/// registered at the provider before either starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_todo_page_logs_in_with_the_identity_provider_in_a_headless_browser() {
    // Both checks first: under CI=true either one missing is a failure.
    let browser_here = browser::available();
    let provider_here = oidc::available();
    if !browser_here || !provider_here {
        return;
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/auth/oidc/callback");
    let provider = OidcProvider::start_with(
        0,
        &[
            ("OIDC_LOGIN_REDIRECT_URIS", &callback),
            ("OIDC_LOGIN_POST_LOGOUT_URIS", &format!("{base}/")),
        ],
    );
    let port_text = port.to_string();
    let todo = TodoServer::start(&[
        ("PORT", &port_text),
        ("OIDC_ISSUER", &provider.issuer),
        ("OIDC_CLIENT_ID", "todo-web"),
        ("OIDC_CLIENT_SECRET", "todo-web-secret"),
        ("OIDC_REDIRECT_URI", &callback),
        // The login cookie over plain http://127.0.0.1.
        ("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE", "true"),
    ]);
    assert_eq!(todo.base, base);
    let run = browser::run_script(
        "oidc.mjs",
        &[
            ("TODO_URL", todo.base.as_str()),
            ("OIDC_ISSUER", provider.issuer.as_str()),
            ("OIDC_USER", "grace"),
        ],
        Duration::from_secs(180),
    );
    for check in [
        "the password login shows",
        "GET /auth/oidc answers",
        "the button says what it does",
        "the provider's login page",
        "the provider's consent page names the client",
        "consent page was shown and accepted",
        "ends back on /app (303), not in JSON",
        "signed in after the provider's login",
        "the provider's verified e-mail",
        "set the __Host-session cookie",
        "HttpOnly, Secure, SameSite=Lax",
        "GET /session answers 200 after the provider login",
        "the session is for oidc:{sub}",
        "adding a todo works with the session",
        "the todo is still listed",
        "another return_to is refused with 400",
        "the login choices show again",
        "no session cookie left",
        "the todos answer 401",
    ] {
        run.assert_passed(check);
    }
}
