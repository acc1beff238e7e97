//! Downloads of result files and uploaded files, driven by the core's [`Download`]
//! machine: this file only writes the chunks it hands out.

use std::io::Write;
use std::path::Path;

use cloud_task_core::machine::DownloadWork;
use cloud_task_core::{Download, DownloadOptions, Downloaded, Error, Result, WRITE_PIECE};
use cloud_task_local::{PartFile, PreparedPart};

use crate::client::Client;
use crate::engine::{Engine, Local};

/// Where the chunks of a download go.
enum Sink<'a> {
    /// A partial file on disk, with its record.
    Part(&'a mut PartFile),
    /// A writer: written in order, never rewound.
    Writer(&'a mut dyn Write),
}

impl Local<DownloadWork, Result<()>> for Sink<'_> {
    fn run(&mut self, work: DownloadWork) -> Result<()> {
        match (self, work) {
            (Sink::Part(part), work) => part.run(work),
            (Sink::Writer(writer), DownloadWork::Write { bytes, .. }) => bytes
                .chunks(WRITE_PIECE)
                .try_for_each(|piece| writer.write_all(piece))
                .map_err(writer_error),
            (Sink::Writer(_), DownloadWork::Restart) => Err(Error::protocol(
                "download",
                "the file changed during the download (the server sent it whole again) and a writer cannot be rewound: download it again, or to a path",
            )),
        }
    }
}

fn writer_error(e: std::io::Error) -> Error {
    Error::io("cannot write the download to its writer", e)
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
    /// every request: chunks of [`DownloadOptions::chunk_size`] (8 MiB), each checked by
    /// its head before a byte of it is written, then written as it arrives (a download
    /// holds about [`BODY_PIECE`](cloud_task_core::BODY_PIECE) at a time, 1 MiB; a chunk
    /// cut short keeps what came, and its next try asks for the rest), each retried, credentials only to the API's own origins (never to
    /// a storage host), redirects within the URL's origin only. Cancelling the options'
    /// token from another thread ends it at once (a download with a token runs on the
    /// client's sender threads, which gather each chunk whole: 8 MiB held instead of 1).
    ///
    /// ```no_run
    /// use oomol_cloud_task::{DownloadOptions, blocking::Client};
    /// let client = Client::from_env()?;
    /// # let url = "";
    /// let options = DownloadOptions::new().on_progress(|done, total| println!("{done}/{total:?}"));
    /// let downloaded = client.download(url, "result.bin", options)?;
    /// println!("{} bytes", downloaded.size);
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn download(
        &self,
        url: &str,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let path = path.as_ref();
        let prepared = PreparedPart::new(path, url);
        let download = Download::new(self.config(), url, &options, prepared.resume(), self.now())?;
        let mut held = prepared.open()?;
        match self.drive_download(download, &options, &mut Sink::Part(&mut held)) {
            Ok(downloaded) => held.finish(downloaded),
            Err(error) => {
                held.abandon();
                Err(error)
            }
        }
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
        sink: &mut Sink<'_>,
    ) -> Result<Downloaded> {
        Engine::with_local(self, download, sink)
            .run(|_, p| options.report_progress(p.written, p.total))
    }
}
