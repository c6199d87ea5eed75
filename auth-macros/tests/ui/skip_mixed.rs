use auth_macros::authenticate;

#[authenticate(skip, "jwt")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
