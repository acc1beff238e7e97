//! Integration tests of the emulator over HTTP, with a plain HTTP client (not the SDK's
//! drivers): every endpoint, auth, errors, the scheduler, listing, the catalogue, uploads,
//! faults, statistics, the control endpoints, the lifecycle and the binary.

mod support;

mod account;
mod binary;
mod control;
mod faults;
mod files;
mod lifecycle;
mod listing;
mod registry;
mod scheduler;
mod tasks;
mod uploads;
mod virtual_time;
