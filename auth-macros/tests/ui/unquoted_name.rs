use auth_macros::authenticate;

#[authenticate(jwt)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
