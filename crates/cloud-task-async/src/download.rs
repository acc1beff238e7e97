//! Downloads of result files and uploaded files, driven by the core's [`Download`]
//! machine: this file only writes the chunks it hands out.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use cloud_task_core::machine::DownloadWork;
use cloud_task_core::{
    Download, DownloadOptions, Downloaded, Error, MAX_PART_RECORD, PartBook, PartRecord, Result,
    WRITE_PIECE,
};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::client::Client;
use crate::engine::{Engine, Local};

/// Where the chunks of a download go.
enum Sink<'a, 'p> {
    /// A partial file on disk, with its record.
    Part(&'a mut PartFile<'p>),
    /// A writer: written in order, never rewound.
    Writer(&'a mut (dyn AsyncWrite + Unpin + Send)),
}

/// A partial file on disk, with its record; the core's [`PartBook`] decides what to keep.
/// The file is written on tokio's blocking pool, one task per chunk.
struct PartFile<'p> {
    file: Arc<File>,
    part: &'p Path,
    record: &'p Path,
    book: PartBook,
}

/// Runs `f` on the file on tokio's blocking pool.
async fn on_file<T: Send + 'static>(
    file: &Arc<File>,
    f: impl FnOnce(&File) -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || f(&file))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

impl PartFile<'_> {
    /// Empties the partial file and forgets its record.
    async fn restart(&mut self) -> Result<()> {
        let io = |e| Error::io(format!("cannot empty {}", self.part.display()), e);
        // Only a file that holds bytes is emptied (a truncation makes some file systems
        // write the file out early, as they do for a file replaced by a rewrite).
        on_file(&self.file, |file| {
            if file.metadata()?.len() > 0 {
                file.set_len(0)?;
            }
            Ok(())
        })
        .await
        .map_err(io)?;
        self.book.restarted();
        remove_if_present(self.record).await
    }

    /// Writes `bytes` at `offset`.
    async fn write_at(&self, offset: u64, bytes: Vec<u8>) -> Result<()> {
        let io = |e| Error::io(format!("cannot write {}", self.part.display()), e);
        on_file(&self.file, move |mut file| {
            file.seek(SeekFrom::Start(offset))?;
            bytes
                .chunks(WRITE_PIECE)
                .try_for_each(|piece| file.write_all(piece))
        })
        .await
        .map_err(io)
    }

    /// Writes the record when the book says it changed (after the bytes it names: they
    /// are in the file, std's `File` has no buffer of its own).
    async fn remember(&mut self, validator: Option<&str>, total: Option<u64>) -> Result<()> {
        match self.book.written(validator, total) {
            Some(json) => tokio::fs::write(self.record, json)
                .await
                .map_err(|e| Error::io(format!("cannot write {}", self.record.display()), e)),
            None => Ok(()),
        }
    }
}

impl Local<DownloadWork, Result<()>> for Sink<'_, '_> {
    async fn run(&mut self, work: DownloadWork) -> Result<()> {
        match work {
            DownloadWork::Write {
                offset,
                bytes,
                validator,
                total,
            } => self.write(offset, bytes, validator.as_deref(), total).await,
            DownloadWork::Restart => self.restart().await,
        }
    }
}

impl Sink<'_, '_> {
    /// Writes `bytes` at `offset`, and records the validator they were read under.
    async fn write(
        &mut self,
        offset: u64,
        bytes: Vec<u8>,
        validator: Option<&str>,
        total: Option<u64>,
    ) -> Result<()> {
        match self {
            Sink::Part(part) => {
                part.write_at(offset, bytes).await?;
                part.remember(validator, total).await
            }
            Sink::Writer(writer) => write_pieces(*writer, &bytes).await.map_err(writer_error),
        }
    }

    /// The server sends the whole file again: empties the destination.
    async fn restart(&mut self) -> Result<()> {
        match self {
            Sink::Part(part) => part.restart().await,
            Sink::Writer(_) => Err(Error::protocol(
                "download",
                "the file changed during the download (the server sent it whole again) and a writer cannot be rewound: download it again, or to a path",
            )),
        }
    }
}

/// Writes `bytes` in pieces of [`WRITE_PIECE`] (see there why).
async fn write_pieces(
    writer: &mut (impl AsyncWrite + Unpin + Send + ?Sized),
    bytes: &[u8],
) -> std::io::Result<()> {
    for piece in bytes.chunks(WRITE_PIECE) {
        writer.write_all(piece).await?;
    }
    Ok(())
}

fn writer_error(e: std::io::Error) -> Error {
    Error::io("cannot write the download to its writer", e)
}

/// The record beside a partial file, read back (at most [`MAX_PART_RECORD`] bytes and one
/// more, so that a larger file is told apart), and the partial file's length.
async fn read_back(record: &Path, part: &Path) -> (Option<Vec<u8>>, Option<u64>) {
    let bytes = match tokio::fs::File::open(record).await {
        Ok(file) => {
            let mut bytes = Vec::new();
            match file.take(MAX_PART_RECORD + 1).read_to_end(&mut bytes).await {
                Ok(_) => Some(bytes),
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let held = tokio::fs::metadata(part).await.ok().map(|m| m.len());
    (bytes, held)
}

async fn remove_if_present(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
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
    /// a storage host), redirects within the URL's origin only.
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client, url: &str) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::DownloadOptions;
    /// let options = DownloadOptions::new().on_progress(|done, total| println!("{done}/{total:?}"));
    /// let downloaded = client.download(url, "result.bin", options).await?;
    /// println!("{} bytes", downloaded.size);
    /// # Ok(()) }
    /// ```
    pub async fn download(
        &self,
        url: &str,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let path = path.as_ref();
        let span = tracing::debug_span!("cloud_task_download", path = %path.display());
        async {
            let part = PartRecord::part_path(path);
            let record = PartRecord::record_path(path);
            let (kept, held) = read_back(&record, &part).await;
            let (book, resume) = PartBook::open(url, kept.as_deref(), held);
            let starts_over = resume.is_none();
            let download = Download::new(self.config(), url, &options, resume.clone(), self.now())?;
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&part)
                .await
                .map_err(|e| Error::io(format!("cannot open {}", part.display()), e))?
                .into_std()
                .await;
            let mut held = PartFile {
                file: Arc::new(file),
                part: &part,
                record: &record,
                book,
            };
            if starts_over {
                held.restart().await?;
            }
            let outcome = self
                .drive_download(download, &options, &mut Sink::Part(&mut held))
                .await;
            let downloaded = match outcome {
                Ok(downloaded) => downloaded,
                Err(error) => {
                    if !held.book.keeps_part() {
                        drop(held);
                        let _ = tokio::fs::remove_file(&part).await;
                    }
                    return Err(error);
                }
            };
            let io = |e| Error::io(format!("cannot write {}", part.display()), e);
            // Never longer than the file (a partial file holds no more than it).
            let size = downloaded.size;
            on_file(&held.file, move |file| {
                if file.metadata()?.len() > size {
                    file.set_len(size)?;
                }
                Ok(())
            })
            .await
            .map_err(io)?;
            drop(held);
            tokio::fs::rename(&part, path).await.map_err(|e| {
                Error::io(
                    format!("cannot rename {} to {}", part.display(), path.display()),
                    e,
                )
            })?;
            remove_if_present(&record).await?;
            Ok(downloaded)
        }
        .instrument(span)
        .await
    }

    /// Downloads `url` into `writer`, in order, with the bounds of
    /// [`download`](Self::download) (chunks retried, bounded memory, credentials only to
    /// the API's origins). A writer cannot be rewound: when the file changes during the
    /// download, it ends with [`Error::Protocol`] (download to a path to resume).
    pub async fn download_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        url: &str,
        writer: &mut W,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let download = Download::new(self.config(), url, &options, None, self.now())?;
        let downloaded = self
            .drive_download(download, &options, &mut Sink::Writer(writer))
            .await?;
        writer.flush().await.map_err(writer_error)?;
        Ok(downloaded)
    }

    /// Drives `download` to its end, writing its chunks to `sink` as they come (the
    /// write of a chunk is not overlapped with the next request: measured, the overlap
    /// cost throughput on two cores and held a second chunk in memory).
    async fn drive_download(
        &self,
        download: Download,
        options: &DownloadOptions,
        sink: &mut Sink<'_, '_>,
    ) -> Result<Downloaded> {
        Engine::with_local(self, download, sink)
            .run(|_, p| options.report_progress(p.written, p.total))
            .await
    }
}
