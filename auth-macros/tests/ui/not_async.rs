use auth_macros::authenticate;

#[authenticate("jwt")]
fn handler() -> &'static str {
    "ok"
}

fn main() {}
