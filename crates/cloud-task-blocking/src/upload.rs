//! The three-step file upload, driven by the core's [`Upload`] machine: this file only
//! opens sources, reads the byte ranges the machine asks for (on the caller's thread), and
//! hands the parts to the client's sender threads.

use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use cloud_task_core::machine::{UploadWork, UploadWorkDone};
use cloud_task_core::{Error, Result, Upload, UploadOptions, UploadedFile, check_upload_source};
use cloud_task_local::{ReadOnce, part_len, read_at};

use crate::client::Client;
use crate::engine::{Engine, Local};

impl Client {
    /// Uploads a file and answers where it can be downloaded (pass its `url` in
    /// `inputValues`).
    ///
    /// The path is checked before it is opened: only a regular file is uploaded (a
    /// directory, a named pipe or a device is refused with [`Error::InvalidInput`], so
    /// nothing can block on opening it). Then three steps, as the core's [`Upload`] machine
    /// decides: `init` (authorised), the parts `PUT` to their presigned URLs (no
    /// `Authorization`, no default headers), then the final URL (authorised). The parts go
    /// `options.concurrency` at a time (default 4; fewer when parts are large, to stay
    /// within the configuration's `max_upload_buffer`) on the client's sender threads, each
    /// read from the file (on this thread) only when it can be sent, and read again for a
    /// retry, so memory stays near part size × parts in flight whatever the file size.
    /// Each part is tried `options.retries` times (default 3) with the core's waits and
    /// `options.part_timeout` per try. Progress goes to the options' callback, on this
    /// thread, in increasing order. The options' cancel token, fired from any thread, ends
    /// the upload at once with [`Error::Cancelled`]: parts in flight are abandoned (their
    /// answers ignored), as in the async client.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{UploadOptions, blocking::Client};
    /// let client = Client::from_env()?;
    /// let file = client.upload_file("report.pdf", UploadOptions::new().on_progress(|p| println!("{p}%")))?;
    /// println!("{}", file.url);
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let path = path.as_ref();
        // Bad options are refused before the path is touched.
        options.validate()?;
        let context = format!("reading {}", path.display());
        // `stat` first: opening a named pipe would block until a writer comes.
        let metadata = std::fs::metadata(path).map_err(|e| Error::io(context.clone(), e))?;
        check_upload_source(path, &metadata)?;
        let file = File::open(path).map_err(|e| Error::io(context.clone(), e))?;
        let metadata = file.metadata().map_err(|e| Error::io(context.clone(), e))?;
        check_upload_source(path, &metadata)?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = Source::<std::io::Empty, _>::Seekable(file);
        self.upload_source(source, metadata.len(), &file_name, &context, options)
    }

    /// Uploads bytes held in memory as a file named `file_name` (its extension is sent).
    ///
    /// Each part is copied from `bytes` when it is sent (and again for a retry), so the
    /// upload itself holds about part size × parts in flight.
    pub fn upload_bytes(
        &self,
        bytes: impl AsRef<[u8]>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let bytes = bytes.as_ref();
        let len = bytes.len() as u64;
        let source = Source::<std::io::Empty, _>::Seekable(Cursor::new(bytes));
        self.upload_source(
            source,
            len,
            file_name,
            "reading the bytes to upload",
            options,
        )
    }

    /// Uploads exactly `len` bytes read from `reader` as a file named `file_name`.
    ///
    /// The reader is read in order, one part at a time, only when a part can be sent; a
    /// reader that ends early fails the upload with [`Error::Io`]. It cannot be read
    /// again, so a part's bytes are kept from its read until it is uploaded, for its
    /// retries: memory stays near twice part size × parts in flight. Prefer
    /// [`upload_file`](Self::upload_file) for a file.
    pub fn upload_reader<R: Read>(
        &self,
        reader: R,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let source = Source::<_, std::io::Empty>::Sequential {
            reader,
            once: ReadOnce::new(options.get_retries() > 1),
        };
        self.upload_source(source, len, file_name, "reading the upload source", options)
    }

    /// Runs the core's [`Upload`] machine over the `len` bytes of `source`.
    fn upload_source<R: Read, S: Read + Seek>(
        &self,
        source: Source<R, S>,
        len: u64,
        file_name: &str,
        context: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let upload = Upload::new(self.config(), file_name, len, &options, self.now())?;
        Engine::with_local(self, upload, Reads { source, context })
            .run(|_, percent| options.report_progress(percent))
    }
}

/// A source and what its errors say: the local side of an upload's engine.
struct Reads<'c, R, S> {
    source: Source<R, S>,
    context: &'c str,
}

impl<R: Read, S: Read + Seek> Local<UploadWork, UploadWorkDone> for Reads<'_, R, S> {
    fn run(&mut self, work: UploadWork) -> UploadWorkDone {
        match work {
            UploadWork::Read { part, offset, len } => UploadWorkDone::Read {
                part,
                bytes: self.source.read(part, offset, len, self.context),
            },
            UploadWork::Release(part) => {
                self.source.release(part);
                UploadWorkDone::Released
            }
        }
    }
}

/// Where the bytes of an upload come from.
enum Source<R, S> {
    /// A file or bytes in memory: seek to the part and read it, again for each try.
    Seekable(S),
    /// A reader read once, in order: a part's bytes are kept from its read until the
    /// machine reports it uploaded, for its retries.
    Sequential { reader: R, once: ReadOnce },
}

impl<R: Read, S: Read + Seek> Source<R, S> {
    /// Reads the `len` bytes at `offset` (part `part`).
    fn read(&mut self, part: u32, offset: u64, len: u64, context: &str) -> Result<Vec<u8>> {
        match self {
            Source::Seekable(source) => read_at(source, offset, len, context),
            Source::Sequential { reader, once } => {
                if let Some(bytes) = once.before(part, offset, context)? {
                    return Ok(bytes);
                }
                let mut buffer = vec![0; part_len(len)?];
                reader
                    .read_exact(&mut buffer)
                    .map_err(|e| Error::io(context, e))?;
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
