//! The typing of a log entry (stringified, raw and broken fields): never a panic, the type
//! kept, an untyped entry kept as it came, and the event serializes.
//! The checks are in `cloud_task_qa::targets::log_event`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::log_event(data);
});
