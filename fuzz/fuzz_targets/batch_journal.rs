//! A batch crashed at any step, its journal cut anywhere after its last sync, replayed and
//! resumed against the same server: no input is ever created twice; or arbitrary bytes as
//! a journal: the replay refuses rather than guesses, and a resume never creates an input
//! the journal holds a task for.
//! The checks are in `cloud_task_qa::targets::batch_journal`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloud_task_qa::targets::batch_journal(data);
});
