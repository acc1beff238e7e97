//! A download to a path, resumable: the bytes go to `path.part` as they arrive, with a
//! small record beside it (`path.part.json`); once whole, the file is renamed to `path`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use cloud_task_core::machine::DownloadWork;
use cloud_task_core::{
    Downloaded, Error, MAX_PART_RECORD, PartBook, PartRecord, Result, Resume, WRITE_PIECE,
};

use crate::Local;

/// A partial download found beside a path, read back but not opened yet: where to resume
/// from. Nothing is created before [`open`](Self::open), so that a download refused for
/// bad input leaves no file behind.
#[derive(Debug)]
pub struct PreparedPart {
    target: PathBuf,
    part: PathBuf,
    record: PathBuf,
    book: PartBook,
    resume: Option<Resume>,
}

impl PreparedPart {
    /// Where the download of `url` to `path` resumes: after the bytes of `path.part`, when
    /// its record says they are of the same file; else from the start.
    pub fn new(path: &Path, url: &str) -> PreparedPart {
        let part = PartRecord::part_path(path);
        let record = PartRecord::record_path(path);
        let (kept, held) = read_back(&record, &part);
        let (book, resume) = PartBook::open(url, kept.as_deref(), held);
        PreparedPart {
            target: path.to_owned(),
            part,
            record,
            book,
            resume,
        }
    }

    /// Where to resume from (`None`: from the start).
    pub fn resume(&self) -> Option<Resume> {
        self.resume.clone()
    }

    /// Opens (creating) the partial file; empties it when the download starts over.
    pub fn open(self) -> Result<PartFile> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&self.part)
            .map_err(|e| Error::io(format!("cannot open {}", self.part.display()), e))?;
        let starts_over = self.resume.is_none();
        let mut held = PartFile {
            file,
            target: self.target,
            part: self.part,
            record: self.record,
            book: self.book,
        };
        if starts_over {
            held.restart()?;
        }
        Ok(held)
    }
}

/// A partial file on disk, with its record; the core's [`PartBook`] decides what to keep.
/// The local side of a [`Download`](cloud_task_core::Download)'s engine.
#[derive(Debug)]
pub struct PartFile {
    file: File,
    target: PathBuf,
    part: PathBuf,
    record: PathBuf,
    book: PartBook,
}

impl PartFile {
    /// The download is whole: the partial file is cut to its size, renamed to the target
    /// (replacing any file there) and its record removed.
    pub fn finish(mut self, downloaded: Downloaded) -> Result<Downloaded> {
        let io = |e| Error::io(format!("cannot write {}", self.part.display()), e);
        self.file.flush().map_err(io)?;
        // Never longer than the file (a partial file holds no more than it).
        if self.file.metadata().map_err(io)?.len() > downloaded.size {
            self.file.set_len(downloaded.size).map_err(io)?;
        }
        drop(self.file);
        std::fs::rename(&self.part, &self.target).map_err(|e| {
            Error::io(
                format!(
                    "cannot rename {} to {}",
                    self.part.display(),
                    self.target.display()
                ),
                e,
            )
        })?;
        remove_if_present(&self.record)?;
        Ok(downloaded)
    }

    /// The download failed: the partial file stays to resume from when its record says
    /// what it holds, and is removed otherwise.
    pub fn abandon(self) {
        if !self.book.keeps_part() {
            drop(self.file);
            let _ = std::fs::remove_file(&self.part);
        }
    }

    /// Empties the partial file and forgets its record.
    fn restart(&mut self) -> Result<()> {
        let io = |e| Error::io(format!("cannot empty {}", self.part.display()), e);
        // Only a file that holds bytes is emptied (a truncation makes some file systems
        // write the file out early, as they do for a file replaced by a rewrite).
        if self.file.metadata().map_err(io)?.len() > 0 {
            self.file.set_len(0).map_err(io)?;
        }
        self.book.restarted();
        remove_if_present(&self.record)
    }

    /// Writes `bytes` at `offset`, then the record when the book says it changed (after
    /// the bytes it names: `File` has no buffer of its own, so they are in the file).
    fn write(
        &mut self,
        offset: u64,
        bytes: &[u8],
        validator: Option<&str>,
        total: Option<u64>,
    ) -> Result<()> {
        let io = |e| Error::io(format!("cannot write {}", self.part.display()), e);
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        write_pieces(&mut self.file, bytes).map_err(io)?;
        match self.book.written(validator, total) {
            Some(json) => std::fs::write(&self.record, json)
                .map_err(|e| Error::io(format!("cannot write {}", self.record.display()), e)),
            None => Ok(()),
        }
    }
}

impl Local<DownloadWork, Result<()>> for PartFile {
    fn run(&mut self, work: DownloadWork) -> Result<()> {
        match work {
            DownloadWork::Write {
                offset,
                bytes,
                validator,
                total,
            } => self.write(offset, &bytes, validator.as_deref(), total),
            DownloadWork::Restart => self.restart(),
        }
    }
}

/// Writes `bytes` in pieces of [`WRITE_PIECE`] (see there why).
pub(crate) fn write_pieces(
    writer: &mut (impl Write + ?Sized),
    bytes: &[u8],
) -> std::io::Result<()> {
    bytes
        .chunks(WRITE_PIECE)
        .try_for_each(|piece| writer.write_all(piece))
}

/// The record beside a partial file, read back (at most [`MAX_PART_RECORD`] bytes and one
/// more, so that a larger file is told apart), and the partial file's length.
fn read_back(record: &Path, part: &Path) -> (Option<Vec<u8>>, Option<u64>) {
    let bytes = File::open(record).ok().and_then(|file| {
        let mut bytes = Vec::new();
        file.take(MAX_PART_RECORD + 1)
            .read_to_end(&mut bytes)
            .ok()
            .map(|_| bytes)
    });
    let held = std::fs::metadata(part).ok().map(|m| m.len());
    (bytes, held)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("cannot remove {}", path.display()), e))
        }
        _ => Ok(()),
    }
}
