//! Integration tests of the emulator over HTTP, with a plain HTTP client.

mod support;

mod faults;
mod listing;
mod scheduler;
mod tasks;
mod uploads;
