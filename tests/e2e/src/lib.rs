//! end-to-end suites live in tests/
