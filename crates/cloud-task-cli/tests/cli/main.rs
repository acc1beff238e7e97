//! End-to-end tests of the `cloud-task` binary against the emulator, started in-process
//! on a free port by each test with a tiny time scale.

mod account;
mod batch;
mod checks;
mod commands;
mod errors;
mod listing;
mod live;
mod mcp;
mod queue;
mod readme;
mod signals;
mod support;
mod tasks;
mod upload;
