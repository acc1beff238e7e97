//! The upload plan from an arbitrary init answer and file size: the parts cover the file
//! exactly, or the plan is refused cleanly.
//! The checks are in `cloud_task_qa::targets::upload_plan`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::upload_plan(data);
});
