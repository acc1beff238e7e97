//! The download machine against a host serving two versions of a file and misbehaving:
//! chunks written in order, a bounded number of requests, and never a success for a file
//! that is not one whole version; and a part record read back from disk.
//! The checks are in `cloud_task_qa::targets::download`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::download(data);
});
