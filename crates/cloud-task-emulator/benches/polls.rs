//! Placeholder: the result-poll benchmark is being written.
fn main() {}
