//! The reliability suite: the SDK's two clients against the emulator under faults, bad
//! input, broken bodies and hostile redirects, plus the property-test twins of the fuzz
//! targets. One test binary (one link) for all; each module says what it covers.

mod bad_input;
mod malformed;
mod properties;
mod security;
mod soak;
mod support;
