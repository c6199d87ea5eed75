use auth_core::UserProfile;
use auth_macros::authenticate;

#[authenticate(skip)]
async fn handler(user: UserProfile) -> String {
    user.id.clone()
}

fn main() {}
