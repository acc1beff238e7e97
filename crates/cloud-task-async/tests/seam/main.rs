//! Unit tests of the driver on its seams: a mockall `HttpTransport` and a fake `Timer`.
//!
//! They check that the driver sends exactly the core's requests, maps errors as the core
//! says, and sleeps exactly what the core's state machines ask for. Nothing sleeps for real.

mod ops;
mod polling;
mod support;
mod upload;
