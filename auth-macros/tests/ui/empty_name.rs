use auth_macros::authenticate;

#[authenticate("")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
