use auth_macros::authenticate;

#[authenticate("jwt", roles = [admin, 1])]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
