use auth_macros::authenticate;

#[authenticate("jwt", principal = "robot")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
