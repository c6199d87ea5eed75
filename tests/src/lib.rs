//! Workspace-level end-to-end tests live in `tests/`.

/// The README's code, compiled as a doctest so the front door cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
