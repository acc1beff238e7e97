//! A batch journal on disk: opened (created when missing) and read back to resume from,
//! then appended and synced as the batch says.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use cloud_task_core::machine::JournalWork;
use cloud_task_core::{Error, JournalReplay, Result};

use crate::Local;

/// The journal of a batch, when it has one: the local side of a [`Batch`]'s engine.
///
/// [`Batch`]: cloud_task_core::Batch
#[derive(Debug, Default)]
pub struct JournalFile {
    file: Option<File>,
}

impl JournalFile {
    /// No journal: every record is dropped, every sync is done at once.
    pub fn none() -> JournalFile {
        JournalFile { file: None }
    }

    /// Opens (creating) the journal at `path` and reads back what it holds; the file is
    /// cut after its last complete record (a record torn by a crash is dropped), and
    /// records are appended after it.
    pub fn open(path: &Path) -> Result<(JournalFile, JournalReplay)> {
        let context = || format!("opening the batch journal {}", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(context(), e))?;
        let replay = JournalReplay::read_from(BufReader::new(&mut file))?;
        file.set_len(replay.valid_len())
            .and_then(|()| file.seek(SeekFrom::End(0)))
            .map_err(|e| Error::io(context(), e))?;
        Ok((JournalFile { file: Some(file) }, replay))
    }
}

impl Local<JournalWork, Result<()>> for JournalFile {
    fn run(&mut self, work: JournalWork) -> Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        match work {
            // One write per record: a record is never split between two writes.
            JournalWork::Append(record) => file
                .write_all(record.to_line().as_bytes())
                .map_err(|e| Error::io("writing the batch journal", e)),
            JournalWork::Sync => file
                .sync_data()
                .map_err(|e| Error::io("syncing the batch journal", e)),
        }
    }
}
