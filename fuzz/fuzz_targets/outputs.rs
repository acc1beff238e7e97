//! A task's `resultData` decoded as a block's typed outputs (the outputs, or an error that keeps the data and names a handle of the outputs; never a panic).
//! The checks are in `cloud_task_qa::targets::outputs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::outputs(data);
});
