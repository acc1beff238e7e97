//! The reliability suite: the SDK's two clients against the emulator under faults, bad
//! input, broken bodies and hostile redirects, plus the property-test twins of the fuzz
//! targets. One test binary (one link) for all; each module says what it covers.

#[path = "../conformance/driver.rs"]
#[allow(dead_code)] // the reliability suite uses a part of the adapter
mod driver;

mod bad_input;
mod malformed;
mod properties;
mod security;
mod soak;
mod support;
