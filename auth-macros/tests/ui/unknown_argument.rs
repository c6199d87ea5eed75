use auth_macros::authenticate;

#[authenticate("jwt", retries = 3)]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
