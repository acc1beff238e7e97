//! The three-step file upload, driven by the core's [`UploadPlan`], [`PartRetry`] and
//! [`UploadProgress`].

use std::future::{Future, pending, ready};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};

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

/// What the upload loop of a sequential reader was woken by.
enum Event<R> {
    Read(R, Result<Vec<u8>>),
    PartDone(Result<u64>),
}

/// Where the bytes of an upload come from.
enum Source<R> {
    /// A source any part can be read from again, for each try: nothing is kept between
    /// tries.
    Rereadable(Rereadable),
    /// A reader read once, in order: a part in flight keeps its bytes for a retry.
    Sequential(R),
}

/// A source any part can be read from, any number of times.
enum Rereadable {
    /// An open file: seek to the part and read it, on tokio's blocking pool (one read
    /// straight into the part's buffer).
    File(Arc<std::sync::Mutex<std::fs::File>>),
    /// Bytes in memory: copy the part's slice.
    Bytes(Bytes),
}

impl Rereadable {
    /// Reads the bytes of `part`.
    async fn read(&self, part: &UploadPart, context: &str) -> Result<Vec<u8>> {
        let len = part_len(part.len)?;
        match self {
            Rereadable::Bytes(bytes) => usize::try_from(part.offset)
                .ok()
                .and_then(|start| bytes.get(start..start.checked_add(len)?))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    Error::io(
                        context,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("part {} lies beyond the bytes", part.number),
                        ),
                    )
                }),
            Rereadable::File(file) => {
                let file = file.clone();
                let offset = part.offset;
                // Allocated here, not on a blocking thread: the blocking pool's many
                // threads would each grow an allocator arena of their own.
                let mut buffer = vec![0; len];
                let read = tokio::task::spawn_blocking(move || {
                    let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                    file.seek(SeekFrom::Start(offset))?;
                    file.read_exact(&mut buffer)?;
                    Ok(buffer)
                });
                match read.await {
                    Ok(read) => read.map_err(|e| Error::io(context, e)),
                    Err(e) => Err(Error::io(context, std::io::Error::other(e))),
                }
            }
        }
    }
}

/// A part's length as a buffer size.
fn part_len(len: u64) -> Result<usize> {
    usize::try_from(len).map_err(|_| {
        Error::invalid_input(
            "len",
            format!("a part of {len} bytes does not fit in memory"),
        )
    })
}

impl Client {
    /// Uploads a file and answers where it can be downloaded (pass its `url` in
    /// `inputValues`).
    ///
    /// Three steps, as the core plans them: `init` (authorised), the parts `PUT` to their
    /// presigned URLs (no `Authorization`, no default headers), `options.concurrency` of
    /// them at once (default 4), each read from the file only when it is sent, and read
    /// again for a retry, so memory stays near part size × concurrency, whatever the file
    /// size; each part tried `options.retries` times (default 3) with the core's waits;
    /// then the final URL (authorised). Progress goes to the options' callback; the
    /// options' cancel token ends the upload at once with [`Error::Cancelled`].
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
        let file = Arc::new(std::sync::Mutex::new(file.into_std().await));
        let source = Source::<tokio::io::Empty>::Rereadable(Rereadable::File(file));
        self.upload_source(source, metadata.len(), &file_name, context, options)
            .await
    }

    /// Uploads bytes held in memory as a file named `file_name` (its extension is sent).
    ///
    /// Each part is copied from `bytes` when it is sent (and again for a retry), so the
    /// upload itself holds about part size × concurrency.
    pub async fn upload_bytes(
        &self,
        bytes: impl Into<Bytes>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let bytes = bytes.into();
        let len = bytes.len() as u64;
        let source = Source::<tokio::io::Empty>::Rereadable(Rereadable::Bytes(bytes));
        let context = "reading the bytes to upload".to_owned();
        self.upload_source(source, len, file_name, context, options)
            .await
    }

    /// Uploads exactly `len` bytes read from `reader` as a file named `file_name`.
    ///
    /// The reader is read sequentially, one part at a time, only when a part can be sent;
    /// a reader that ends early fails the upload with [`Error::Io`]. It cannot be read
    /// again, so each part in flight keeps its bytes for a retry: memory stays near twice
    /// part size × concurrency. Prefer [`upload_file`](Self::upload_file) for a file.
    pub async fn upload_reader<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let context = "reading the upload source".to_owned();
        self.upload_source(Source::Sequential(reader), len, file_name, context, options)
            .await
    }

    async fn upload_source<R: AsyncRead + Unpin + Send>(
        &self,
        source: Source<R>,
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
            let on_part_done = |len| options.report_progress(progress.on_part_done(len));
            match source {
                Source::Rereadable(source) => {
                    self.upload_rereadable(&plan, &source, &context, &options, on_part_done)
                        .await?
                }
                Source::Sequential(reader) => {
                    self.upload_sequential(&plan, reader, &context, &options, on_part_done)
                        .await?
                }
            }
            let file = self.execute(&plan.final_url()).await?;
            options.report_progress(progress.on_complete());
            Ok(file)
        };
        until_cancelled(options.get_cancel_token(), upload.instrument(span)).await?
    }

    /// Sends the parts of `plan`, `options.concurrency` at a time, each read from `source`
    /// for each of its tries.
    async fn upload_rereadable(
        &self,
        plan: &UploadPlan,
        source: &Rereadable,
        context: &str,
        options: &UploadOptions,
        mut on_part_done: impl FnMut(u64),
    ) -> Result<()> {
        let retries = options.get_retries();
        let concurrency = options.get_concurrency().max(1);
        let mut parts = plan.parts().iter();
        let mut in_flight: FuturesUnordered<PartFuture<'_>> = FuturesUnordered::new();
        loop {
            while in_flight.len() < concurrency
                && let Some(part) = parts.next()
            {
                let body = move |_last: bool| source.read(part, context);
                in_flight.push(Box::pin(self.send_part(part, retries, body)));
            }
            match in_flight.next().await {
                Some(done) => on_part_done(done?),
                None => return Ok(()),
            }
        }
    }

    /// Sends the parts of `plan`, `options.concurrency` at a time, reading each from
    /// `reader` (in order) only when there is room to send it.
    async fn upload_sequential<R: AsyncRead + Unpin + Send>(
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
                    // Keep the bytes for a retry, except for the last allowed try.
                    let mut kept = Some(bytes?);
                    let body = move |last: bool| {
                        ready(
                            if last { kept.take() } else { kept.clone() }
                                .ok_or_else(|| Error::invalid_input("body", "no bytes left")),
                        )
                    };
                    in_flight.push(Box::pin(self.send_part(part, options.get_retries(), body)));
                }
                Event::PartDone(done) => on_part_done(done?),
            }
        }
    }

    /// Sends one part, retrying as its [`PartRetry`] says; answers its length. `body`
    /// gives the part's bytes for each try, told whether it is the last allowed one.
    async fn send_part<F>(
        &self,
        part: &UploadPart,
        retries: u32,
        mut body: impl FnMut(bool) -> F,
    ) -> Result<u64>
    where
        F: Future<Output = Result<Vec<u8>>>,
    {
        let mut retry: PartRetry = part.retry(retries);
        loop {
            let last = retry.failures().saturating_add(1) >= retries;
            let outcome = match body(last).await.and_then(|bytes| part.request(bytes)) {
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
        let bytes = match part_len(len) {
            Ok(len) => {
                let mut buffer = vec![0; len];
                match source.read_exact(&mut buffer).await {
                    Ok(_) => Ok(buffer),
                    Err(e) => Err(Error::io(context, e)),
                }
            }
            Err(e) => Err(e),
        };
        (source, bytes)
    })
}
