//! The routes of a running App, read from actix-web's route table, for the
//! start-up report ([`policy_report`](crate::policy_report)).
//!
//! actix-web offers no way to list the resources of an App: its
//! `ResourceMap` (what `HttpRequest::resource_map` returns) answers
//! "which pattern matches this path", not "which patterns are there". Its
//! `Debug` output does hold the whole tree (each node's `ResourceDef` with
//! its name and patterns, and its children), so the report reads that. The
//! format is not a stable interface: a version of actix-web that prints it
//! differently makes [`read`] return `None`, and the report says that the
//! route table could not be read instead of listing routes (it never guesses).
//! The enforcement of [`DefaultPolicy`](crate::DefaultPolicy) does not use
//! this module: it asks the route table through its public methods.

/// One resource of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// The full pattern, scope prefixes included (as `match_pattern` gives it).
    pub(crate) pattern: String,
    /// The resource name, if any.
    pub(crate) name: Option<String>,
}

/// The resources of `debug`, the `{:?}` output of the root `ResourceMap`,
/// in routing order; `None` when it cannot be read.
pub(crate) fn read(debug: &str) -> Option<Vec<Leaf>> {
    let mut parser = Parser {
        src: debug.as_bytes(),
        pos: 0,
    };
    let root = parser.value()?;
    parser.skip_ws();
    if parser.pos != parser.src.len() {
        return None;
    }
    let mut leaves = Vec::new();
    walk(&root, "", &mut leaves)?;
    Some(leaves)
}

/// Walks one `ResourceMap { pattern, named, parent, nodes }` node.
fn walk(node: &Value, prefix: &str, out: &mut Vec<Leaf>) -> Option<()> {
    let fields = node.strukt("ResourceMap")?;
    let def = field(fields, "pattern")?.strukt("ResourceDef")?;
    let name = match field(def, "name")? {
        Value::Named(n, Body::Unit) if n == "None" => None,
        Value::Named(n, Body::Tuple(items)) if n == "Some" && items.len() == 1 => {
            Some(items[0].string()?.to_owned())
        }
        _ => return None,
    };
    // A resource with several patterns is matched and named by its first
    // (as `match_pattern` reports it).
    let own = match field(def, "patterns")? {
        Value::Named(n, Body::Tuple(items)) if n == "Single" && items.len() == 1 => {
            items[0].string()?.to_owned()
        }
        Value::Named(n, Body::Tuple(items)) if n == "List" && items.len() == 1 => match &items[0] {
            Value::List(list) => list.first()?.string()?.to_owned(),
            _ => return None,
        },
        _ => return None,
    };
    let pattern = format!("{prefix}{own}");
    match field(fields, "nodes")? {
        Value::Named(n, Body::Unit) if n == "None" => out.push(Leaf { pattern, name }),
        Value::Named(n, Body::Tuple(items)) if n == "Some" && items.len() == 1 => {
            let Value::List(children) = &items[0] else {
                return None;
            };
            for child in children {
                walk(child, &pattern, out)?;
            }
        }
        _ => return None,
    }
    Some(())
}

fn field<'a>(fields: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// A value of Rust's `Debug` notation.
#[derive(Debug)]
enum Value {
    /// `Name`, `Name(..)` or `Name { .. }`.
    Named(String, Body),
    /// `"..."`, escapes undone.
    Str(String),
    /// `[..]`.
    List(Vec<Value>),
    /// `{k: v, ..}` (maps) and `(..)` (tuples); their contents are not needed.
    Other,
}

#[derive(Debug)]
enum Body {
    Unit,
    Tuple(Vec<Value>),
    Struct(Vec<(String, Value)>),
}

impl Value {
    fn strukt(&self, name: &str) -> Option<&[(String, Value)]> {
        match self {
            Value::Named(n, Body::Struct(fields)) if n == name => Some(fields),
            _ => None,
        }
    }

    fn string(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.src.len()
            && (self.src[self.pos].is_ascii_alphanumeric()
                || matches!(self.src[self.pos], b'_' | b'.' | b'-' | b'+' | b':'))
        {
            // `::` paths in type names; a lone `:` ends a field name.
            if self.src[self.pos] == b':' && self.src.get(self.pos + 1) != Some(&b':') {
                break;
            }
            if self.src[self.pos] == b':' {
                self.pos += 1;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into())
    }

    /// Comma-separated items up to `close`, each read by `item`.
    fn items<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        let mut out = Vec::new();
        loop {
            if self.eat(close) {
                return Some(out);
            }
            // `finish_non_exhaustive`'s `..`.
            if self.src[self.pos..].starts_with(b"..") {
                self.pos += 2;
            } else {
                out.push(item(self)?);
            }
            if !self.eat(b',') {
                return self.eat(close).then_some(out);
            }
        }
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'\'' => {
                self.string()?;
                Some(Value::Other)
            }
            b'[' => {
                self.pos += 1;
                self.items(b']', Self::value).map(Value::List)
            }
            b'(' => {
                self.pos += 1;
                self.items(b')', Self::value)?;
                Some(Value::Other)
            }
            b'{' => {
                self.pos += 1;
                self.items(b'}', |p| {
                    p.value()?;
                    p.eat(b':').then_some(())?;
                    p.value()
                })?;
                Some(Value::Other)
            }
            _ => {
                let name = self.ident()?;
                let body = match self.peek() {
                    Some(b'(') => {
                        self.pos += 1;
                        Body::Tuple(self.items(b')', Self::value)?)
                    }
                    Some(b'{') => {
                        self.pos += 1;
                        Body::Struct(self.items(b'}', |p| {
                            let key = p.ident()?;
                            p.eat(b':').then_some(())?;
                            Some((key, p.value()?))
                        })?)
                    }
                    _ => Body::Unit,
                };
                Some(Value::Named(name, body))
            }
        }
    }

    /// A quoted string or char with Rust's `Debug` escapes.
    fn string(&mut self) -> Option<String> {
        self.skip_ws();
        let quote = self.src[self.pos];
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let byte = *self.src.get(self.pos)?;
            self.pos += 1;
            match byte {
                b'\\' => {
                    let escaped = *self.src.get(self.pos)?;
                    self.pos += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'0' => out.push(0),
                        b'u' => {
                            // \u{XXXX}
                            let rest = &self.src[self.pos..];
                            let end = rest.iter().position(|&b| b == b'}')?;
                            let hex = std::str::from_utf8(rest.get(1..end)?).ok()?;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                            self.pos += end + 1;
                        }
                        other => out.push(other),
                    }
                }
                b if b == quote => break,
                b => out.push(b),
            }
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, web};

    async fn leaves_of<F>(configure: F) -> Vec<Leaf>
    where
        F: FnOnce(&mut web::ServiceConfig) + 'static,
    {
        let app = actix_test::init_service(App::new().configure(configure).route(
            "/__debug",
            web::get().to(|req: actix_web::HttpRequest| async move {
                HttpResponse::Ok().body(format!("{:?}", req.resource_map()))
            }),
        ))
        .await;
        let body = actix_test::call_and_read_body(
            &app,
            actix_test::TestRequest::get().uri("/__debug").to_request(),
        )
        .await;
        read(std::str::from_utf8(&body).unwrap()).expect("the route table reads")
    }

    fn leaf(pattern: &str, name: Option<&str>) -> Leaf {
        Leaf {
            pattern: pattern.to_owned(),
            name: name.map(str::to_owned),
        }
    }

    #[actix_web::test]
    async fn scopes_names_and_shared_paths_are_listed_in_routing_order() {
        let leaves = leaves_of(|cfg| {
            cfg.service(
                web::scope("/api/{tenant}")
                    .service(web::resource("/todos").name("todos").to(HttpResponse::Ok))
                    .service(web::scope("/v1").route("/x", web::get().to(HttpResponse::Ok))),
            )
            .service(web::resource("/shared").route(web::get().to(HttpResponse::Ok)))
            .service(web::resource("/shared").route(web::post().to(HttpResponse::Ok)))
            .service(web::resource(["/a", "/b"]).name("two").to(HttpResponse::Ok))
            .service(web::resource("/q\"uote{tail:.*}").to(HttpResponse::Ok));
        })
        .await;
        assert_eq!(
            leaves,
            [
                leaf("/api/{tenant}/todos", Some("todos")),
                leaf("/api/{tenant}/v1/x", None),
                leaf("/shared", None),
                leaf("/shared", None),
                leaf("/a", Some("two")),
                leaf("/q\"uote{tail:.*}", None),
                leaf("/__debug", None),
            ]
        );
    }

    #[test]
    fn anything_else_is_not_read() {
        for bad in [
            "",
            "ResourceMap",
            "ResourceMap { pattern: 1 }",
            "ResourceMap { pattern: ResourceDef { name: None, patterns: Single(\"/x\") }, nodes: Maybe }",
            "ResourceMap { pattern: ResourceDef { name: None, patterns: Single(\"/x\") }, nodes: None } trailing",
            "ResourceMap { pattern: ResourceDef { name: None, patterns: Single(\"/x",
            "[\"unterminated",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        assert_eq!(
            read(
                "ResourceMap { pattern: ResourceDef { name: Some(\"n\"), patterns: Single(\"/x\\u{e9}\") }, \
                 named: {\"n\": (Weak)}, parent: RefCell { value: (Weak) }, nodes: None }"
            ),
            Some(vec![leaf("/x\u{e9}", Some("n"))])
        );
    }
}
