//! A batch journal on disk: opened (created when missing) and read back to resume from,
//! then appended and synced as the batch says.

use std::fs::{File, OpenOptions, TryLockError};
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

    /// The batch of `requests` with its journal: the journal `options` name opened
    /// ([`open`](Self::open): owned, read back, cut after its last complete record), or
    /// none; then [`Batch::resume`](cloud_task_core::Batch::resume) from what it holds, at
    /// `now()` (read once the journal is open) and the wall clock ([`wall_ms`](crate::wall_ms)).
    /// What both clients do to start `run_many`; the async one calls it on its blocking
    /// pool.
    pub fn start_batch(
        config: &cloud_task_core::Config,
        requests: Vec<cloud_task_core::CreateTaskRequest>,
        options: cloud_task_core::BatchOptions,
        now: impl FnOnce() -> std::time::Instant,
    ) -> Result<(cloud_task_core::Batch, JournalFile)> {
        let (journal, replay) = match options.get_journal() {
            Some(path) => JournalFile::open(path)?,
            None => (JournalFile::none(), JournalReplay::new()),
        };
        let batch = cloud_task_core::Batch::resume(
            config,
            requests,
            options,
            &replay,
            now(),
            crate::wall_ms(),
        )?;
        Ok((batch, journal))
    }

    /// Opens (creating) the journal at `path`, owns it, and reads back what it holds; the
    /// file is cut after its last complete record (a record torn by a crash is dropped),
    /// and records are appended after it.
    ///
    /// What it refuses, before writing anything:
    /// - a path that is not a regular file (a directory, a FIFO, a device, a socket):
    ///   nothing is opened, so nothing can block on it;
    /// - a journal another batch has open (this one's lock, an exclusive advisory lock
    ///   held until the journal is dropped): two batches on one journal would create every
    ///   task twice;
    /// - a file that is not a batch journal, or a line over
    ///   [`MAX_JOURNAL_LINE`](cloud_task_core::MAX_JOURNAL_LINE): it is left as it is.
    pub fn open(path: &Path) -> Result<(JournalFile, JournalReplay)> {
        let context = || format!("opening the batch journal {}", path.display());
        let mut file = crate::open_regular(
            path,
            "a batch journal",
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput => Error::invalid_input("journal", e.to_string()),
            _ => Error::io(context(), e),
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = lock_holder(&file)
                    .map(|pid| format!(" (process {pid})"))
                    .unwrap_or_default();
                return Err(Error::invalid_input(
                    "journal",
                    format!(
                        "{} is in use by another batch{holder}: wait for it to end, or name another journal",
                        path.display()
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(context(), e)),
        }
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

/// The process that holds the lock of `file`, when the system says (Linux: `/proc/locks`,
/// read up to 1 MiB).
fn lock_holder(file: &File) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let inode = file.metadata().ok()?.ino();
        let mut locks = String::new();
        File::open("/proc/locks")
            .ok()?
            .take(1 << 20)
            .read_to_string(&mut locks)
            .ok()?;
        // `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`: the PID, then major:minor:inode.
        locks.lines().find_map(|line| {
            if line.contains("->") {
                return None; // a process waiting for the lock, not holding it
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (pid, id) = (fields.get(4)?, fields.get(5)?);
            let ino: u64 = id.rsplit(':').next()?.parse().ok()?;
            (ino == inode).then(|| pid.parse().ok()).flatten()
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}
