//! The jwt strategy (work in progress).
