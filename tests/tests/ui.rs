//! Compile-fail and must-compile tests of the macros' diagnostics and forms.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p
//! eventsource-tests --test ui`, then read every changed `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*/*/*.rs");
    t.pass("ui/pass/*.rs");
}
