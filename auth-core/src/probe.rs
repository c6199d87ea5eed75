//! Compile-time classification of handler arguments for `#[authenticate]`.
//!
//! The macro sees only the tokens of an argument's type, so it recognises
//! `Option<UserProfile>` written out but not behind a type alias
//! (`type MaybeUser = Option<UserProfile>;`). The generated code asks the
//! compiler instead, through method resolution on the concrete type: the
//! inherent-looking call `(&ArgProbe::<T>::new()).is_optional_profile()`
//! resolves to [`OptionalProfileArg`] when `T` is an optional profile and to
//! [`OtherArg`] (one auto-reference further) for every other type. A small
//! piece of hand-written machinery because no crate offers this: it is the
//! well-known "autoref specialisation" technique, sound on stable Rust for
//! concrete types, which handlers always have (the macro refuses generics).

use std::marker::PhantomData;

use crate::{Authenticated, UserProfile};

/// A zero-sized stand-in for a handler argument of type `T`.
#[derive(Debug)]
pub struct ArgProbe<T>(PhantomData<fn() -> T>);

impl<T> ArgProbe<T> {
    /// A probe for `T`.
    pub const fn new() -> Self {
        ArgProbe(PhantomData)
    }
}

impl<T> Default for ArgProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Chosen when the argument is `Option<UserProfile>` or
/// `Option<Authenticated<T>>`, however it is spelt.
pub trait OptionalProfileArg {
    /// Whether the argument makes authentication optional.
    fn is_optional_profile(&self) -> bool {
        true
    }
}

impl OptionalProfileArg for ArgProbe<Option<UserProfile>> {}
impl<T> OptionalProfileArg for ArgProbe<Option<Authenticated<T>>> {}

/// Chosen for every other argument type.
pub trait OtherArg {
    /// Whether the argument makes authentication optional.
    fn is_optional_profile(&self) -> bool {
        false
    }
}

impl<T> OtherArg for &ArgProbe<T> {}

#[cfg(test)]
// The borrow is what selects the trait: clippy's suggestion would change it.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    type MaybeUser = Option<UserProfile>;
    type MaybeAuthenticated = Option<Authenticated<String>>;
    type User = UserProfile;

    #[test]
    fn optional_profiles_are_recognised_behind_aliases() {
        assert!((&ArgProbe::<Option<UserProfile>>::new()).is_optional_profile());
        assert!((&ArgProbe::<MaybeUser>::new()).is_optional_profile());
        assert!((&ArgProbe::<MaybeAuthenticated>::new()).is_optional_profile());
        assert!((&ArgProbe::<Option<Authenticated>>::new()).is_optional_profile());
    }

    #[test]
    fn other_types_are_not() {
        assert!(!(&ArgProbe::<User>::new()).is_optional_profile());
        assert!(!(&ArgProbe::<UserProfile>::new()).is_optional_profile());
        assert!(!(&ArgProbe::<Option<String>>::new()).is_optional_profile());
        assert!(!(&ArgProbe::<Authenticated>::new()).is_optional_profile());
        assert!(!(&ArgProbe::<String>::new()).is_optional_profile());
    }
}
