//! Benches crate (the benches live beside it).
