//! The polling state machine fed a sequence of arbitrary answers on a fake clock: it always
//! ends, as the answers say.
//! The checks are in `cloud_task_qa::targets::poller`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::poller(data);
});
