//! Every response parser of the core: the first byte picks the operation (task API and
//! upload steps), the second the status, the rest is the body.
//! The checks are in `cloud_task_qa::targets::responses`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::responses(data);
});
