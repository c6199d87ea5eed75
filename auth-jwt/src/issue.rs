//! Issuing tokens.

/// The claim that marks a service principal (`"kind": "service"`).
pub const KIND_CLAIM: &str = "kind";
