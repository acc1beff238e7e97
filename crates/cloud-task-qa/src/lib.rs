//! Benchmarks and the reliability suite of the OOMOL Cloud Task SDK.
//!
//! The benchmarks (`benches/`, run with `cargo bench -p cloud-task-qa --bench <name>`) print
//! figures; the reliability suite (`tests/`) runs with `cargo test`. This library holds what
//! they share, and the bodies of the fuzz targets (`fuzz/` at the repository root, run by
//! hand with cargo-fuzz; their property-test twins run in `tests/properties.rs`):
//!
//! - [`loopback`]: a minimal HTTP/1.1 server and client on `std`, to serve what the
//!   emulator never would (truncated bodies, redirects) and see exactly what a client sent;
//! - [`hostile`]: a hostile or broken server, one mode per way a server can try to make
//!   a client buffer without end, wait past its deadline, loop or leak a secret;
//! - [`emulator`]: the `cloud-task-emulator` binary as a separate process;
//! - [`measure`]: peak memory of this process, and re-running a benchmark binary for one
//!   scenario in a process of its own;
//! - [`targets`]: the fuzz targets' bodies, each checking its invariants by panicking.
//!
//! It depends on the core alone, so the fuzz targets build quickly.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod emulator;
pub mod hostile;
pub mod loopback;
pub mod measure;
pub mod targets;
