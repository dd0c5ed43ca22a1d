//! Delegate HTTP.
