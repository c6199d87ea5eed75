use auth_macros::authenticate;

struct Api;

impl Api {
    #[authenticate("jwt")]
    async fn handler(&self) -> &'static str {
        "ok"
    }
}

fn main() {}
