//! Conformance suites for backend implementations (feature `testing`).
