use auth_macros::authenticate;

#[authenticate("jwt", "basic", "jwt")]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
