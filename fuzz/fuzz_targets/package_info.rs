//! A registry description from arbitrary bytes, then arbitrary inputs checked against it.
//! The checks are in `cloud_task_qa::targets::package_info`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::package_info(data);
});
