use auth_macros::authenticate;

#[authenticate("jwt", roles = "admin")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
