use auth_core::UserProfile;
use auth_macros::authenticate;

struct NotAnExtractor;

#[authenticate("jwt")]
async fn handler(user: UserProfile, thing: NotAnExtractor) -> String {
    let _ = thing;
    user.id.clone()
}

fn main() {}
