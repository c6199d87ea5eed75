use auth_core::{Authenticated, UserProfile};
use auth_macros::authenticate;

#[authenticate("jwt")]
async fn handler(user: UserProfile, again: Authenticated<UserProfile>) -> String {
    format!("{}{}", user.id, again.0.id)
}

fn main() {}
