//! The live view of a task against a server that writes logs, ends and fails as the input
//! says: each log entry once, in order, none skipped; `Finished` last; a bounded number of
//! requests.
//! The checks are in `cloud_task_qa::targets::follower`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::follower(data);
});
