//! A registry description turned into Rust types (never a panic; the source holds no raw control character, its items balance, each type is defined once).
//! The checks are in `cloud_task_qa::targets::codegen`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::codegen(data);
});
