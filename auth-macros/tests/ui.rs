//! Misuse of `#[authenticate]` is a compile error that points at the mistake.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
