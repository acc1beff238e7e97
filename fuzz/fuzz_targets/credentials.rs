//! Arbitrary bytes as a stored credentials file (never a panic, never the key in an error).
//! The checks are in `cloud_task_qa::targets::credentials`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::credentials(data);
});
