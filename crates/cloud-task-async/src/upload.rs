//! The three-step file upload, driven by the core's [`Upload`] machine: this file only
//! opens sources, reads the byte ranges the machine asks for, and moves bytes.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, PoisonError};

use cloud_task_core::machine::{UploadWork, UploadWorkDone};
use cloud_task_core::{Error, Result, Upload, UploadOptions, UploadedFile, check_upload_source};
use cloud_task_local::{ReadOnce, part_len};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::client::Client;
use crate::engine::{Engine, Local};

/// Where the bytes of an upload come from.
enum Source<'b, R> {
    /// An open file: seek to the part and read it, on tokio's blocking pool (one read
    /// straight into the part's buffer), again for each try.
    File(Arc<std::sync::Mutex<std::fs::File>>),
    /// Bytes in memory: copy the part's slice, again for each try.
    Bytes(&'b [u8]),
    /// A reader read once, in order: a part's bytes are kept from its read until the
    /// machine reports it uploaded, for its retries.
    Sequential { reader: R, once: ReadOnce },
}

impl<R: AsyncRead + Unpin + Send> Source<'_, R> {
    /// Reads the `len` bytes at `offset` (part `part`).
    async fn read(&mut self, part: u32, offset: u64, len: u64, context: &str) -> Result<Vec<u8>> {
        let io = |e| Error::io(context, e);
        let len = part_len(len)?;
        match self {
            Source::Bytes(bytes) => usize::try_from(offset)
                .ok()
                .and_then(|start| bytes.get(start..start.checked_add(len)?))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("part {part} lies beyond the bytes"),
                    ))
                }),
            Source::File(file) => {
                let file = Arc::clone(file);
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
                    Ok(read) => read.map_err(io),
                    Err(e) => Err(io(std::io::Error::other(e))),
                }
            }
            Source::Sequential { reader, once } => {
                if let Some(bytes) = once.before(part, offset, context)? {
                    return Ok(bytes);
                }
                let mut buffer = vec![0; len];
                reader.read_exact(&mut buffer).await.map_err(io)?;
                once.after(part, &buffer);
                Ok(buffer)
            }
        }
    }

    /// Part `part` is uploaded: its kept bytes, if any, go.
    fn release(&mut self, part: u32) {
        if let Source::Sequential { once, .. } = self {
            once.release(part);
        }
    }
}

/// A source and what its errors say: the local side of an upload's engine.
struct Reads<'b, R> {
    source: Source<'b, R>,
    context: &'b str,
}

impl<R: AsyncRead + Unpin + Send> Local<UploadWork, UploadWorkDone> for Reads<'_, R> {
    async fn run(&mut self, work: UploadWork) -> UploadWorkDone {
        match work {
            UploadWork::Read { part, offset, len } => UploadWorkDone::Read {
                part,
                bytes: self.source.read(part, offset, len, self.context).await,
            },
            UploadWork::Release(part) => {
                self.source.release(part);
                UploadWorkDone::Released
            }
        }
    }
}

impl Client {
    /// Uploads a file and answers where it can be downloaded (pass its `url` in
    /// `inputValues`).
    ///
    /// The path is checked before it is opened: only a regular file is uploaded (a
    /// directory, a named pipe or a device is refused with [`Error::InvalidInput`], so
    /// nothing can block on opening it). Then three steps, as the core's [`Upload`] machine
    /// decides: `init` (authorised), the parts `PUT` to their presigned URLs (no
    /// `Authorization`, no default headers), `options.concurrency` of them at once (default
    /// 4; fewer when parts are large, to stay within the configuration's
    /// `max_upload_buffer`), each read from the file only when it is sent, and read again
    /// for a retry, so memory stays near part size × parts in flight, whatever the file
    /// size; each part tried `options.retries` times (default 3) with the core's waits and
    /// `options.part_timeout` per try; then the final URL (authorised). Progress goes to the
    /// options' callback; the options' cancel token ends the upload at once with
    /// [`Error::Cancelled`] (parts in flight are dropped).
    ///
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::UploadOptions;
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
        // Bad options are refused before the path is touched.
        options.validate()?;
        let context = format!("reading {}", path.display());
        // `stat` first: opening a named pipe would block until a writer comes.
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        check_upload_source(path, &metadata)?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|e| Error::io(context.clone(), e))?;
        check_upload_source(path, &metadata)?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = Arc::new(std::sync::Mutex::new(file.into_std().await));
        let source = Source::<tokio::io::Empty>::File(file);
        self.upload_source(source, metadata.len(), &file_name, &context, options)
            .await
    }

    /// Uploads bytes held in memory as a file named `file_name` (its extension is sent).
    ///
    /// Each part is copied from `bytes` when it is sent (and again for a retry), so the
    /// upload itself holds about part size × parts in flight.
    pub async fn upload_bytes(
        &self,
        bytes: impl AsRef<[u8]> + Send + Sync,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let bytes = bytes.as_ref();
        let len = bytes.len() as u64;
        let source = Source::<tokio::io::Empty>::Bytes(bytes);
        self.upload_source(
            source,
            len,
            file_name,
            "reading the bytes to upload",
            options,
        )
        .await
    }

    /// Uploads exactly `len` bytes read from `reader` as a file named `file_name`.
    ///
    /// The reader is read sequentially, one part at a time, only when a part can be sent;
    /// a reader that ends early fails the upload with [`Error::Io`]. It cannot be read
    /// again, so a part's bytes are kept from its read until it is uploaded, for its
    /// retries: memory stays near twice part size × parts in flight. Prefer
    /// [`upload_file`](Self::upload_file) for a file.
    pub async fn upload_reader<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let source = Source::Sequential {
            reader,
            once: ReadOnce::new(options.get_retries() > 1),
        };
        self.upload_source(source, len, file_name, "reading the upload source", options)
            .await
    }

    /// Runs the core's [`Upload`] machine over `source`.
    async fn upload_source<R: AsyncRead + Unpin + Send>(
        &self,
        source: Source<'_, R>,
        len: u64,
        file_name: &str,
        context: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let upload = Upload::new(self.config(), file_name, len, &options, self.now())?;
        Engine::with_local(self, upload, Reads { source, context })
            .run(|_, percent| options.report_progress(percent))
            .await
    }
}
