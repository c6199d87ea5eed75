//! The todo example's web page in a real headless browser (Chromium driven
//! by playwright-core, `.ci/browser/todo.mjs`) against the real binary on
//! 127.0.0.1: sign up, log in with a browser session, add, complete and
//! delete todos, reload, log out; the cookie's flags as the browser keeps
//! them; forged requests from another origin refused.
//!
//! Served over plain `http://127.0.0.1`, the cookie is still `Secure` and
//! `__Host-`: Chromium treats loopback as a secure context and keeps it, so
//! the test checks the production flags, not the insecure opt-out.
//!
//! `TODO_PAGE_SCREENSHOT=docs/todo-page.png` writes the screenshot of the
//! docs there (relative to the workspace root); otherwise it goes to a
//! temporary directory.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser;
use common::server::TodoServer;

#[test]
fn the_todo_page_works_end_to_end_in_a_headless_browser() {
    if !browser::available() {
        return;
    }
    let server = TodoServer::start(&[]);
    let shots = tempfile::tempdir().unwrap();
    let screenshot = match std::env::var_os("TODO_PAGE_SCREENSHOT") {
        Some(path) => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path),
        None => shots.path().join("todo-page.png"),
    };
    let screenshot_arg = screenshot.to_str().unwrap().to_owned();
    let run = browser::run_script(
        "todo.mjs",
        &[
            ("TODO_URL", server.base.as_str()),
            ("SCREENSHOT", screenshot_arg.as_str()),
        ],
        Duration::from_secs(180),
    );
    for check in [
        "strict Content-Security-Policy",
        "sign-up creates the account",
        "POST /session/login answers 200",
        "No-Auth-Challenge: true",
        "__Host- prefix",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "cannot read the cookie",
        "sends the CSRF token",
        "completing a todo marks it done",
        "deleting a todo removes it",
        "after a reload the user is still signed in",
        "same site is refused with 403",
        "Sec-Fetch-Site: same-site",
        "CROSS_SITE_REQUEST",
        "no-cors fetch POST from another origin is refused with 403",
        "SameSite=Lax withheld the cookie",
        "no forged todo was created",
        "POST /session/logout answers 204",
        "no session cookie",
        "put back, is refused with 401",
        "no Basic challenge",
        "fetched nothing from anywhere else",
    ] {
        run.assert_passed(check);
    }
    let png = std::fs::read(&screenshot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}\n{}",
            screenshot.display(),
            run.output
        )
    });
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{} is not a screenshot",
        screenshot.display()
    );
}
