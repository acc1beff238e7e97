//! The three-step file upload, driven by the core's [`UploadPlan`], [`PartRetry`] and
//! [`UploadProgress`].

use std::future::{Future, pending};
use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use cloud_task_core::{
    Error, PartRetry, Result, RetryDecision, UploadInit, UploadOptions, UploadPart, UploadPlan,
    UploadedFile,
};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::Instrument;

use crate::client::Client;
use crate::poll::until_cancelled;

/// The span name of a part `PUT` (parts are not core operations).
const UPLOAD_PART: &str = "upload_part";

type PartFuture<'a> = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>;
type ReadFuture<'a, R> = Pin<Box<dyn Future<Output = (R, Result<Vec<u8>>)> + Send + 'a>>;

/// What the upload loop was woken by.
enum Event<R> {
    Read(R, Result<Vec<u8>>),
    PartDone(Result<u64>),
}

impl Client {
    /// Uploads a file and answers where it can be downloaded (pass its `url` in
    /// `inputValues`).
    ///
    /// Three steps, as the core plans them: `init` (authorised), the parts `PUT` to their
    /// presigned URLs (no `Authorization`, no default headers), `options.concurrency` of
    /// them at once (default 4), each read from the file only when it is sent, so memory
    /// stays near part size × concurrency, whatever the file size (at most twice that: a
    /// part in flight keeps one copy for its retry); each part tried `options.retries` times
    /// (default 3) with the core's waits; then the final URL (authorised). Progress goes
    /// to the options' callback; the options' cancel token ends the upload at once with
    /// [`Error::Cancelled`].
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::UploadOptions;
    /// let file = client
    ///     .upload_file("report.pdf", UploadOptions::new().on_progress(|p| println!("{p}%")))
    ///     .await?;
    /// println!("{}", file.url);
    /// # Ok(()) }
    /// ```
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let path = path.as_ref();
        let context = format!("reading {}", path.display());
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
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
        self.upload_source(file, metadata.len(), &file_name, context, options)
            .await
    }

    /// Uploads bytes held in memory as a file named `file_name` (its extension is sent).
    pub async fn upload_bytes(
        &self,
        bytes: impl Into<Bytes>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let bytes = bytes.into();
        let len = bytes.len() as u64;
        let source = std::io::Cursor::new(bytes);
        let context = "reading the bytes to upload".to_owned();
        self.upload_source(source, len, file_name, context, options)
            .await
    }

    /// Uploads exactly `len` bytes read from `reader` as a file named `file_name`.
    ///
    /// The reader is read sequentially, one part at a time, only when a part can be sent;
    /// a reader that ends early fails the upload with [`Error::Io`].
    pub async fn upload_reader<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let context = "reading the upload source".to_owned();
        self.upload_source(reader, len, file_name, context, options)
            .await
    }

    async fn upload_source<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
        len: u64,
        file_name: &str,
        context: String,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let span = tracing::debug_span!("cloud_task_upload", size = len);
        let upload = async {
            let target = self.execute(&UploadInit::for_file(file_name, len)).await?;
            let plan = UploadPlan::new(&target, len)?;
            let mut progress = plan.progress();
            self.upload_parts(&plan, reader, &context, &options, |len| {
                options.report_progress(progress.on_part_done(len));
            })
            .await?;
            let file = self.execute(&plan.final_url()).await?;
            options.report_progress(progress.on_complete());
            Ok(file)
        };
        until_cancelled(options.get_cancel_token(), upload.instrument(span)).await?
    }

    /// Sends the parts of `plan`, `options.concurrency` at a time, reading each from
    /// `reader` (in order) only when there is room to send it.
    async fn upload_parts<R: AsyncRead + Unpin + Send>(
        &self,
        plan: &UploadPlan,
        reader: R,
        context: &str,
        options: &UploadOptions,
        mut on_part_done: impl FnMut(u64),
    ) -> Result<()> {
        let parts = plan.parts();
        let concurrency = options.get_concurrency().max(1);
        let mut reader = Some(reader);
        let mut next = 0;
        let mut reading: Option<ReadFuture<'_, R>> = None;
        let mut in_flight: FuturesUnordered<PartFuture<'_>> = FuturesUnordered::new();
        loop {
            if reading.is_none()
                && next < parts.len()
                && in_flight.len() < concurrency
                && let Some(source) = reader.take()
            {
                reading = Some(read_part(source, parts[next].len, context));
            }
            if reading.is_none() && in_flight.is_empty() {
                return Ok(());
            }
            let read = async {
                match reading.as_mut() {
                    Some(read) => read.await,
                    None => pending().await,
                }
            };
            let event = tokio::select! {
                Some(done) = in_flight.next(), if !in_flight.is_empty() => Event::PartDone(done),
                (source, bytes) = read => Event::Read(source, bytes),
            };
            match event {
                Event::Read(source, bytes) => {
                    reading = None;
                    reader = Some(source);
                    let part = &parts[next];
                    next += 1;
                    in_flight.push(Box::pin(self.send_part(
                        part,
                        bytes?,
                        options.get_retries(),
                    )));
                }
                Event::PartDone(done) => on_part_done(done?),
            }
        }
    }

    /// Sends one part, retrying as its [`PartRetry`] says; answers its length.
    async fn send_part(&self, part: &UploadPart, body: Vec<u8>, retries: u32) -> Result<u64> {
        let mut retry: PartRetry = part.retry(retries);
        let mut body = Some(body);
        loop {
            // Keep a copy for a retry, except on the last allowed try.
            let bytes = if retry.failures().saturating_add(1) >= retries {
                body.take()
            } else {
                body.clone()
            };
            let outcome = match part.request(bytes.unwrap_or_default()) {
                Ok(request) => match self.send(UPLOAD_PART, None, request).await {
                    Ok(response) => part.parse(response),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) => return Ok(part.len),
                Err(error) => match retry.on_failure(error) {
                    RetryDecision::RetryAfter(wait) => self.inner.timer.sleep(wait).await,
                    RetryDecision::GiveUp(error) => return Err(error),
                },
            }
        }
    }
}

/// Reads exactly `len` bytes from `source`, then hands the source back.
fn read_part<'a, R: AsyncRead + Unpin + Send + 'a>(
    mut source: R,
    len: u64,
    context: &'a str,
) -> ReadFuture<'a, R> {
    Box::pin(async move {
        let bytes = match usize::try_from(len) {
            Ok(len) => {
                let mut buffer = vec![0; len];
                match source.read_exact(&mut buffer).await {
                    Ok(_) => Ok(buffer),
                    Err(e) => Err(Error::io(context, e)),
                }
            }
            Err(_) => Err(Error::invalid_input(
                "len",
                format!("a part of {len} bytes does not fit in memory"),
            )),
        };
        (source, bytes)
    })
}
