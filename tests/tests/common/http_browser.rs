//! A "browser" for the login tests: reqwest with one cookie jar for
//! 127.0.0.1 (honouring `Path` and `Max-Age`), redirects followed one at a
//! time by the test, and the forms of oidc-provider's development login and
//! consent pages filled in.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

// The browser: one cookie jar for 127.0.0.1 (cookies do not isolate ports,
// in browsers either), redirects followed by the test, one at a time.

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    pub(crate) fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

#[derive(Default)]
pub(crate) struct Browser {
    /// (name, path) -> value
    jar: Mutex<HashMap<(String, String), String>>,
}

impl Browser {
    pub(crate) fn cookie_header(&self, path: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        let pairs: Vec<String> = jar
            .iter()
            .filter(|((_, p), _)| {
                path == p
                    || (path.starts_with(p.as_str())
                        && (p.ends_with('/') || path[p.len()..].starts_with('/')))
            })
            .map(|((n, _), v)| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub(crate) fn store(&self, request_path: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let (name, value) = parts.next().unwrap().trim().split_once('=').unwrap();
        let default_path = match request_path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => request_path[..i].to_owned(),
        };
        let mut path = default_path;
        let mut remove = false;
        for attr in parts {
            let attr = attr.trim();
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k.to_ascii_lowercase().as_str() {
                "path" => path = v.to_owned(),
                "max-age" => remove |= v.parse::<i64>().unwrap_or(1) <= 0,
                "expires" => remove |= v.contains("1970"),
                _ => {}
            }
        }
        let mut jar = self.jar.lock().unwrap();
        if remove {
            jar.remove(&(name.to_owned(), path));
        } else {
            jar.insert((name.to_owned(), path), value.to_owned());
        }
    }

    pub(crate) fn set(&self, name: &str, path: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert((name.to_owned(), path.to_owned()), value.to_owned());
    }

    pub(crate) fn get_cookie(&self, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .find(|((n, _), _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn clear(&self) {
        self.jar.lock().unwrap().clear();
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Reply {
        let parsed = reqwest::Url::parse(url).unwrap();
        let mut req = req;
        if let Some(c) = self.cookie_header(parsed.path()) {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let location = header("location").map(|l| parsed.join(&l).unwrap().to_string());
        let retry_after = header("retry-after");
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            self.store(parsed.path(), c);
        }
        let body = resp.text().await.unwrap_or_default();
        Reply {
            status,
            location,
            set_cookies,
            retry_after,
            body,
        }
    }

    pub(crate) async fn get(&self, url: &str) -> Reply {
        self.send(client().get(url), url).await
    }

    pub(crate) async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            client()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
            url,
        )
        .await
    }

    /// Follows redirects from `url` until a page (not 3xx) or a redirect to
    /// a URL starting with `stop`; returns the last reply and its URL.
    pub(crate) async fn follow(&self, url: &str, stop: &str) -> (Reply, String) {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let reply = self.get(&url).await;
            match &reply.location {
                Some(next) if (300..400).contains(&reply.status) => {
                    if next.starts_with(stop) {
                        return (reply, url);
                    }
                    url = next.clone();
                }
                _ => return (reply, url),
            }
        }
        panic!("too many redirects from {url}");
    }
}

pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The form of an HTML page: its action (joined with `base`) and its
/// inputs' names and values.
pub(crate) fn form(html: &str, base: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let html = &html[start..];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let i = tag.find(&key)? + key.len();
        Some(tag[i..i + tag[i..].find('"')?].to_owned())
    };
    let action = attr(&html[..html.find('>').unwrap()], "action").unwrap();
    let mut fields = Vec::new();
    for piece in html.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        if let (Some(n), v) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((n, v.unwrap_or_default()));
        }
    }
    let action = reqwest::Url::parse(base).unwrap().join(&action).unwrap();
    (action.to_string(), fields)
}

pub(crate) fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// From an application's login route through the provider's login and consent
/// forms, up to (not including) the callback. Returns the callback URL.
pub(crate) async fn walk_to_callback(
    browser: &Browser,
    start: &str,
    callback: &str,
    user: &str,
) -> String {
    let (reply, _) = browser.follow(start, callback).await;
    if let Some(loc) = &reply.location
        && loc.starts_with(callback)
    {
        // Already logged in at the provider with consent: straight back.
        return loc.clone();
    }
    let mut page = reply;
    let mut page_url = String::new();
    for _ in 0..3 {
        assert_eq!(page.status, 200, "a provider form: {}", page.body);
        let (action, mut fields) = form(&page.body, start);
        let prompt = fields
            .iter()
            .find(|(n, _)| n == "prompt")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if prompt == "login" {
            fields.retain(|(n, _)| n != "login" && n != "password");
            fields.push(("login".into(), user.into()));
            fields.push(("password".into(), "any password".into()));
        }
        let posted = browser.post_form(&action, &fields).await;
        assert!(
            (300..400).contains(&posted.status),
            "form {prompt} at {page_url}: {} {}",
            posted.status,
            posted.body
        );
        let (next, url) = browser
            .follow(posted.location.as_ref().unwrap(), callback)
            .await;
        if let Some(loc) = &next.location
            && loc.starts_with(callback)
        {
            return loc.clone();
        }
        page = next;
        page_url = url;
    }
    panic!("the provider never sent the browser back: {}", page.body);
}
