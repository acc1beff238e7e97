//! Downloads of result files and uploaded files, driven by the core's [`Download`]
//! machine: this file only writes the chunks it hands out.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use cloud_task_core::machine::DownloadWork;
use cloud_task_core::{
    Download, DownloadOptions, Downloaded, Error, MAX_PART_RECORD, PartBook, PartRecord, Result,
    WRITE_PIECE,
};

use crate::client::Client;
use crate::engine::{Engine, Local};

/// Where the chunks of a download go.
enum Sink<'a, 'p> {
    /// A partial file on disk, with its record.
    Part(&'a mut PartFile<'p>),
    /// A writer: written in order, never rewound.
    Writer(&'a mut dyn Write),
}

/// A partial file on disk, with its record; the core's [`PartBook`] decides what to keep.
struct PartFile<'p> {
    file: File,
    part: &'p Path,
    record: &'p Path,
    book: PartBook,
}

impl PartFile<'_> {
    /// Empties the partial file and forgets its record.
    fn restart(&mut self) -> Result<()> {
        let io = |e| Error::io(format!("cannot empty {}", self.part.display()), e);
        // Only a file that holds bytes is emptied (a truncation makes some file systems
        // write the file out early, as they do for a file replaced by a rewrite).
        if self.file.metadata().map_err(io)?.len() > 0 {
            self.file.set_len(0).map_err(io)?;
        }
        self.book.restarted();
        remove_if_present(self.record)
    }

    /// Writes the record when the book says it changed (after the bytes it names: `File`
    /// has no buffer of its own, so they are in the file).
    fn remember(&mut self, validator: Option<&str>, total: Option<u64>) -> Result<()> {
        match self.book.written(validator, total) {
            Some(json) => std::fs::write(self.record, json)
                .map_err(|e| Error::io(format!("cannot write {}", self.record.display()), e)),
            None => Ok(()),
        }
    }
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

impl Local<DownloadWork, Result<()>> for Sink<'_, '_> {
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

impl Sink<'_, '_> {
    /// Writes `bytes` at `offset`, and records the validator they were read under.
    fn write(
        &mut self,
        offset: u64,
        bytes: &[u8],
        validator: Option<&str>,
        total: Option<u64>,
    ) -> Result<()> {
        match self {
            Sink::Part(part) => {
                let io = |e| Error::io(format!("cannot write {}", part.part.display()), e);
                part.file.seek(SeekFrom::Start(offset)).map_err(io)?;
                write_pieces(&mut part.file, bytes).map_err(io)?;
                part.remember(validator, total)
            }
            Sink::Writer(writer) => write_pieces(*writer, bytes).map_err(writer_error),
        }
    }

    /// The server sends the whole file again: empties the destination.
    fn restart(&mut self) -> Result<()> {
        match self {
            Sink::Part(part) => part.restart(),
            Sink::Writer(_) => Err(Error::protocol(
                "download",
                "the file changed during the download (the server sent it whole again) and a writer cannot be rewound: download it again, or to a path",
            )),
        }
    }
}

/// Writes `bytes` in pieces of [`WRITE_PIECE`] (see there why).
fn write_pieces(writer: &mut (impl Write + ?Sized), bytes: &[u8]) -> std::io::Result<()> {
    bytes
        .chunks(WRITE_PIECE)
        .try_for_each(|piece| writer.write_all(piece))
}

fn writer_error(e: std::io::Error) -> Error {
    Error::io("cannot write the download to its writer", e)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("cannot remove {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

impl Client {
    /// Downloads `url` (a task's `resultURL`, or an uploaded file's URL) to the file
    /// `path`, resuming a partial download of the same file left by an earlier try.
    ///
    /// The bytes go to `path` + `.part` as they arrive, with a small record beside it
    /// (`.part.json`: the URL without its query, and the server's `ETag` or
    /// `Last-Modified`); once the file is whole it is renamed to `path` (replacing any
    /// file there) and the record removed. When the download stops (a network failure
    /// past the retries, a cancellation, a crash), both stay: the next download to the
    /// same path resumes after the bytes held, with `Range` and `If-Range`, so a file that
    /// changed since is fetched whole instead of spliced. The core's [`Download`] decides
    /// every request: chunks of [`DownloadOptions::chunk_size`] (8 MiB; the memory a
    /// download holds), each retried, credentials only to the API's own origins (never to
    /// a storage host), redirects within the URL's origin only. Cancelling the options'
    /// token from another thread ends it at once.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{Client, DownloadOptions};
    /// let client = Client::from_env()?;
    /// # let url = "";
    /// let options = DownloadOptions::new().on_progress(|done, total| println!("{done}/{total:?}"));
    /// let downloaded = client.download(url, "result.bin", options)?;
    /// println!("{} bytes", downloaded.size);
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn download(
        &self,
        url: &str,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let path = path.as_ref();
        let span = tracing::debug_span!("cloud_task_download", path = %path.display());
        let _entered = span.enter();
        let part = PartRecord::part_path(path);
        let record = PartRecord::record_path(path);
        let (kept, held) = read_back(&record, &part);
        let (book, resume) = PartBook::open(url, kept.as_deref(), held);
        let starts_over = resume.is_none();
        let download = Download::new(self.config(), url, &options, resume.clone(), self.now())?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| Error::io(format!("cannot open {}", part.display()), e))?;
        let mut held = PartFile {
            file,
            part: &part,
            record: &record,
            book,
        };
        if starts_over {
            held.restart()?;
        }
        let outcome = self.drive_download(download, &options, &mut Sink::Part(&mut held));
        let flushed = held.file.flush();
        let downloaded = match outcome {
            Ok(downloaded) => downloaded,
            Err(error) => {
                if !held.book.keeps_part() {
                    drop(held);
                    let _ = std::fs::remove_file(&part);
                }
                return Err(error);
            }
        };
        let io = |e| Error::io(format!("cannot write {}", part.display()), e);
        flushed.map_err(io)?;
        // Never longer than the file (a partial file holds no more than it).
        if held.file.metadata().map_err(io)?.len() > downloaded.size {
            held.file.set_len(downloaded.size).map_err(io)?;
        }
        drop(held);
        std::fs::rename(&part, path).map_err(|e| {
            Error::io(
                format!("cannot rename {} to {}", part.display(), path.display()),
                e,
            )
        })?;
        remove_if_present(&record)?;
        Ok(downloaded)
    }

    /// Downloads `url` into `writer`, in order, with the bounds of
    /// [`download`](Self::download) (chunks retried, bounded memory, credentials only to
    /// the API's origins). A writer cannot be rewound: when the file changes during the
    /// download, it ends with [`Error::Protocol`] (download to a path to resume).
    pub fn download_to_writer<W: Write>(
        &self,
        url: &str,
        writer: &mut W,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let download = Download::new(self.config(), url, &options, None, self.now())?;
        let downloaded = self.drive_download(download, &options, &mut Sink::Writer(writer))?;
        writer.flush().map_err(writer_error)?;
        Ok(downloaded)
    }

    /// Drives `download` to its end, writing its chunks to `sink`.
    fn drive_download(
        &self,
        download: Download,
        options: &DownloadOptions,
        sink: &mut Sink<'_, '_>,
    ) -> Result<Downloaded> {
        Engine::with_local(self, download, sink)
            .run(|_, p| options.report_progress(p.written, p.total))
    }
}
