use auth_core::UserProfile;
use auth_macros::authenticate;

struct NotAResponder;

#[authenticate("jwt")]
async fn handler(user: UserProfile) -> NotAResponder {
    let _ = user;
    NotAResponder
}

fn main() {}
