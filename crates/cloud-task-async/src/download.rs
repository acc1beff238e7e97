//! Downloads of result files and uploaded files, driven by the core's [`Download`]
//! machine: this file only writes the chunks it hands out.

use std::io::SeekFrom;
use std::path::Path;

use cloud_task_core::{
    Download, DownloadAction, DownloadOptions, Downloaded, Error, PartRecord, Result,
};
use tokio::io::{AsyncSeekExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::client::{Client, Sent};
use crate::poll::until_cancelled;

/// Where the chunks of a download go.
enum Sink<'a, 'p> {
    /// A partial file on disk, with its record.
    Part(&'a mut PartFile<'p>),
    /// A writer: written in order, never rewound.
    Writer(&'a mut (dyn AsyncWrite + Unpin + Send)),
}

/// A partial file on disk, with its record.
struct PartFile<'p> {
    file: tokio::fs::File,
    part: &'p Path,
    record: &'p Path,
    url: &'p str,
    /// What the record on disk says (validator, total), once written.
    recorded: Option<(String, Option<u64>)>,
}

impl PartFile<'_> {
    /// Empties the partial file and forgets its record.
    async fn restart(&mut self) -> Result<()> {
        let io = |e| Error::io(format!("cannot empty {}", self.part.display()), e);
        self.file.set_len(0).await.map_err(io)?;
        self.recorded = None;
        remove_if_present(self.record).await
    }

    /// Records that the bytes on disk were read under `validator` (a file of `total`).
    async fn remember(&mut self, validator: Option<&str>, total: Option<u64>) -> Result<()> {
        let Some(validator) = validator else {
            return Ok(());
        };
        if self
            .recorded
            .as_ref()
            .is_some_and(|(v, t)| v == validator && *t == total)
        {
            return Ok(());
        }
        // The bytes first: a record never names bytes that are not on disk.
        let io = |e| Error::io(format!("cannot write {}", self.record.display()), e);
        self.file.flush().await.map_err(io)?;
        let record = PartRecord::new(self.url, validator, total);
        tokio::fs::write(self.record, record.to_json())
            .await
            .map_err(io)?;
        self.recorded = Some((validator.to_owned(), total));
        Ok(())
    }
}

impl Sink<'_, '_> {
    /// Writes `bytes` at `offset`, and records the validator they were read under.
    async fn write(&mut self, offset: u64, bytes: &[u8], download: &Download) -> Result<()> {
        match self {
            Sink::Part(part) => {
                let io = |e| Error::io(format!("cannot write {}", part.part.display()), e);
                part.file.seek(SeekFrom::Start(offset)).await.map_err(io)?;
                part.file.write_all(bytes).await.map_err(io)?;
                part.remember(download.validator(), download.total()).await
            }
            Sink::Writer(writer) => writer.write_all(bytes).await.map_err(writer_error),
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

fn writer_error(e: std::io::Error) -> Error {
    Error::io("cannot write the download to its writer", e)
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
            let resume = match tokio::fs::read(&record).await {
                Ok(bytes) => match (
                    PartRecord::from_json(&bytes),
                    tokio::fs::metadata(&part).await,
                ) {
                    (Some(kept), Ok(meta)) => kept.resume(url, meta.len()),
                    _ => None,
                },
                Err(_) => None,
            };
            let download = Download::new(self.config(), url, &options, resume.clone(), self.now())?;
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&part)
                .await
                .map_err(|e| Error::io(format!("cannot open {}", part.display()), e))?;
            let recorded = resume.and_then(|r| r.validator).map(|v| (v, None));
            let mut held = PartFile {
                file,
                part: &part,
                record: &record,
                url,
                recorded,
            };
            if held.recorded.is_none() {
                held.restart().await?;
            }
            let outcome = self
                .drive_download(download, &options, &mut Sink::Part(&mut held))
                .await;
            let flushed = held.file.flush().await;
            let downloaded = match outcome {
                Ok(downloaded) => downloaded,
                Err(error) => {
                    // Bytes without a validator cannot be resumed safely: not kept.
                    if held.recorded.is_none() {
                        drop(held);
                        let _ = tokio::fs::remove_file(&part).await;
                    }
                    return Err(error);
                }
            };
            let io = |e| Error::io(format!("cannot write {}", part.display()), e);
            flushed.map_err(io)?;
            held.file.set_len(downloaded.size).await.map_err(io)?;
            held.file.sync_all().await.map_err(io)?;
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

    /// Drives `download` to its end, writing its chunks to `sink`.
    async fn drive_download(
        &self,
        mut download: Download,
        options: &DownloadOptions,
        sink: &mut Sink<'_, '_>,
    ) -> Result<Downloaded> {
        let token = options.get_cancel_token().cloned();
        loop {
            match download.poll_action(self.now()) {
                DownloadAction::Send(transmit) => {
                    match self.transmit(transmit, None, token.as_ref()).await {
                        Sent::Answer(id, Ok(response)) => {
                            download.handle_response(id, response, self.now());
                        }
                        Sent::Answer(id, Err(error)) => {
                            download.handle_transport_error(id, error, self.now());
                        }
                        Sent::Cancelled => download.cancel(),
                    }
                }
                DownloadAction::Write { offset, bytes } => {
                    sink.write(offset, &bytes, &download).await?;
                }
                DownloadAction::Restart => sink.restart().await?,
                DownloadAction::Progress { written, total } => {
                    options.report_progress(written, total);
                }
                DownloadAction::Wait(duration) => {
                    let sleep = self.inner.timer.sleep(duration);
                    if until_cancelled(token.as_ref(), sleep).await.is_err() {
                        download.cancel();
                    }
                }
                DownloadAction::Done(outcome) => return outcome,
            }
        }
    }
}
