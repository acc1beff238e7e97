//! The Retry-After header and the API error of a non-2xx answer, from arbitrary bytes.
//! The checks are in `cloud_task_qa::targets::retry_after_header`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::retry_after_header(data);
});
