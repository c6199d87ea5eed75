use auth_macros::authenticate;

#[authenticate("basic"(realm = some_constant))]
async fn handler() -> &'static str {
    "ok"
}

fn main() {}
