//! The three-step file upload, driven by the core's [`UploadPlan`], [`PartRetry`] and
//! [`UploadProgress`], with the parts sent on a bounded number of scoped threads.
//!
//! [`PartRetry`]: cloud_task_core::PartRetry

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use cloud_task_core::{
    CancelToken, Error, Result, RetryDecision, UploadInit, UploadOptions, UploadPart, UploadPlan,
    UploadProgress, UploadedFile,
};

use crate::client::Client;

/// The span name of a part `PUT` (parts are not core operations).
const UPLOAD_PART: &str = "upload_part";

/// `Err(Cancelled)` once `token` has fired.
fn check_cancelled(token: Option<&CancelToken>) -> Result<()> {
    match token {
        Some(token) if token.is_cancelled() => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

impl Client {
    /// Uploads a file and answers where it can be downloaded (pass its `url` in
    /// `inputValues`).
    ///
    /// Three steps, as the core plans them: `init` (authorised), the parts `PUT` to their
    /// presigned URLs (no `Authorization`, no default headers), then the final URL
    /// (authorised). The parts go `options.concurrency` at a time (default 4) on scoped
    /// threads, each read from the file only when it is sent (and read again for a retry),
    /// so memory stays near part size × concurrency whatever the file size. Each part is
    /// tried `options.retries` times (default 3) with the core's waits. Progress goes to
    /// the options' callback, called from the part threads in increasing order. The
    /// options' cancel token ends the upload with [`Error::Cancelled`]: waits end at once,
    /// no new part starts, and the parts already on the wire are let finish (each within
    /// the request timeout).
    ///
    /// ```no_run
    /// use cloud_task_blocking::{Client, UploadOptions};
    /// let client = Client::from_env()?;
    /// let file = client.upload_file("report.pdf", UploadOptions::new().on_progress(|p| println!("{p}%")))?;
    /// println!("{}", file.url);
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let path = path.as_ref();
        let context = format!("reading {}", path.display());
        let file = File::open(path).map_err(|e| Error::io(context.clone(), e))?;
        let metadata = file.metadata().map_err(|e| Error::io(context.clone(), e))?;
        if !metadata.is_file() {
            return Err(Error::invalid_input(
                "path",
                format!("{} is not a regular file", path.display()),
            ));
        }
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.upload_source(file, 0, metadata.len(), &file_name, &context, options)
    }

    /// Uploads bytes held in memory as a file named `file_name` (its extension is sent).
    pub fn upload_bytes(
        &self,
        bytes: impl AsRef<[u8]>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let bytes = bytes.as_ref();
        let context = "reading the bytes to upload";
        self.upload_source(
            Cursor::new(bytes),
            0,
            bytes.len() as u64,
            file_name,
            context,
            options,
        )
    }

    /// Uploads what `reader` holds from its current position to its end, as a file named
    /// `file_name`.
    ///
    /// The size is found by seeking to the end; each part is then read (after seeking to
    /// its offset) only when it is sent, as [`upload_file`](Self::upload_file) does. A
    /// source that ends early fails the upload with [`Error::Io`].
    pub fn upload_reader<R: Read + Seek + Send>(
        &self,
        mut reader: R,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let context = "reading the upload source";
        let io = |e| Error::io(context, e);
        let start = reader.stream_position().map_err(io)?;
        let end = reader.seek(SeekFrom::End(0)).map_err(io)?;
        let len = end.saturating_sub(start);
        self.upload_source(reader, start, len, file_name, context, options)
    }

    /// The three steps, for `len` bytes of `source` from offset `base`.
    fn upload_source<R: Read + Seek + Send>(
        &self,
        source: R,
        base: u64,
        len: u64,
        file_name: &str,
        context: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let span = tracing::debug_span!("cloud_task_upload", size = len);
        let _entered = span.enter();
        let token = options.get_cancel_token();
        check_cancelled(token)?;
        let target = self.execute(&UploadInit::for_file(file_name, len))?;
        let plan = UploadPlan::new(&target, len)?;
        let progress = Mutex::new(plan.progress());
        let source = PartSource {
            inner: Mutex::new(source),
            base,
            context,
        };
        self.upload_parts(&plan, &source, &options, &progress, &span)?;
        check_cancelled(token)?;
        let file = self.execute(&plan.final_url())?;
        let mut progress = progress
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        options.report_progress(progress.on_complete());
        Ok(file)
    }

    /// Sends the parts of `plan` on `options.concurrency` scoped threads. Each thread takes
    /// the next part, reads it, sends it (retrying as the core says), reports progress, and
    /// stops at the first failure of any part or at cancellation.
    fn upload_parts<R: Read + Seek + Send>(
        &self,
        plan: &UploadPlan,
        source: &PartSource<'_, R>,
        options: &UploadOptions,
        progress: &Mutex<UploadProgress>,
        span: &tracing::Span,
    ) -> Result<()> {
        let parts = plan.parts();
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        // Fired by the first failure or by the user's token: ends the other threads' waits.
        let stop = CancelToken::new();
        let _on_cancel = options.get_cancel_token().map(|token| {
            let stop = stop.clone();
            token.on_cancel(move || stop.cancel())
        });
        let workers = options.get_concurrency().clamp(1, parts.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let _entered = span.enter();
                    while !stop.is_cancelled() {
                        let Some(part) = parts.get(next.fetch_add(1, Ordering::SeqCst)) else {
                            return;
                        };
                        match self.send_part(part, source, options.get_retries(), &stop) {
                            Ok(()) => {
                                let mut progress =
                                    progress.lock().unwrap_or_else(PoisonError::into_inner);
                                options.report_progress(progress.on_part_done(part.len));
                            }
                            Err(error) => {
                                failure
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .get_or_insert(error);
                                stop.cancel();
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(error);
        }
        check_cancelled(options.get_cancel_token())
    }

    /// Sends one part, reading it from `source` for each try, retrying as its
    /// [`PartRetry`](cloud_task_core::PartRetry) says.
    fn send_part<R: Read + Seek>(
        &self,
        part: &UploadPart,
        source: &PartSource<'_, R>,
        retries: u32,
        stop: &CancelToken,
    ) -> Result<()> {
        let mut retry = part.retry(retries);
        loop {
            check_cancelled(Some(stop))?;
            let outcome = source
                .read(part)
                .and_then(|body| part.request(body))
                .and_then(|request| self.send(UPLOAD_PART, None, request))
                .and_then(|response| part.parse(response));
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) => match retry.on_failure(error) {
                    RetryDecision::RetryAfter(wait) => self.timer().sleep(wait, Some(stop))?,
                    RetryDecision::GiveUp(error) => return Err(error),
                },
            }
        }
    }
}

/// The bytes being uploaded: a seekable source shared by the part threads, read one part
/// at a time.
struct PartSource<'a, R> {
    inner: Mutex<R>,
    /// The source offset of the upload's first byte.
    base: u64,
    /// What an I/O error says was being read.
    context: &'a str,
}

impl<R: Read + Seek> PartSource<'_, R> {
    /// Reads exactly the bytes of `part`.
    fn read(&self, part: &UploadPart) -> Result<Vec<u8>> {
        let len = usize::try_from(part.len).map_err(|_| {
            Error::invalid_input(
                "len",
                format!("a part of {} bytes does not fit in memory", part.len),
            )
        })?;
        let mut buffer = vec![0; len];
        let mut source = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        source
            .seek(SeekFrom::Start(self.base.saturating_add(part.offset)))
            .and_then(|_| source.read_exact(&mut buffer))
            .map_err(|e| Error::io(self.context, e))?;
        Ok(buffer)
    }
}
