//! The basic strategy (work in progress).
