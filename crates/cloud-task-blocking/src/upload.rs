//! The three-step file upload, driven by the core's [`Upload`] machine: this file only
//! opens sources, reads the byte ranges the machine asks for (on the caller's thread), and
//! hands the parts to the client's sender threads.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use cloud_task_core::{
    Error, Result, Upload, UploadAction, UploadOptions, UploadedFile, check_upload_source,
};

use crate::client::Client;
use crate::flights::{Event, Flights, Pause};

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

    /// Runs the core's [`Upload`] machine over `len` bytes of `source` from offset `base`.
    fn upload_source<R: Read + Seek>(
        &self,
        mut source: R,
        base: u64,
        len: u64,
        file_name: &str,
        context: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        let span = tracing::debug_span!("cloud_task_upload", size = len);
        let _entered = span.enter();
        let mut upload = Upload::new(self.config(), file_name, len, &options, self.now())?;
        let mut flights = Flights::new(self, options.get_cancel_token());
        loop {
            let pause = match upload.poll_action(self.now()) {
                UploadAction::Send(transmit) => {
                    flights.send(transmit, None);
                    continue;
                }
                UploadAction::Read { part, offset, len } => {
                    let bytes = read_at(&mut source, base.saturating_add(offset), len, context);
                    upload.handle_read(part, bytes, self.now());
                    continue;
                }
                UploadAction::Progress { percent, .. } => {
                    options.report_progress(percent);
                    continue;
                }
                UploadAction::Done(outcome) => return outcome,
                UploadAction::Wait(duration) => Pause::Sleep(duration),
                UploadAction::AwaitResponse(duration) => Pause::Answer(duration),
            };
            match flights.next(pause) {
                Some(Event::Answer(id, Ok(response))) => {
                    upload.handle_response(id, response, self.now());
                }
                Some(Event::Answer(id, Err(error))) => {
                    upload.handle_transport_error(id, error, self.now());
                }
                Some(Event::Cancelled) => upload.cancel(),
                None => {}
            }
        }
    }
}

/// Reads exactly `len` bytes at `offset` of `source`.
fn read_at<R: Read + Seek>(
    source: &mut R,
    offset: u64,
    len: u64,
    context: &str,
) -> Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| {
        Error::invalid_input(
            "len",
            format!("a part of {len} bytes does not fit in memory"),
        )
    })?;
    let mut buffer = vec![0; len];
    source
        .seek(SeekFrom::Start(offset))
        .and_then(|_| source.read_exact(&mut buffer))
        .map_err(|e| Error::io(context, e))?;
    Ok(buffer)
}
