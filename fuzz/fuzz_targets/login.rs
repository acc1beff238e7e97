//! A device sign-in against a server answering as the input says (never a panic, no key sent, the code shown once, bounded in time and requests).
//! The checks are in `cloud_task_qa::targets::login`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::login(data);
});
