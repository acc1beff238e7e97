//! The upload store: files assembled on disk from presigned part uploads.
//!
//! Each upload is one file in the emulator's temporary directory, created at its full
//! (sparse) size by `init`. Parts are streamed into their byte range as they arrive through
//! a small buffer, and the finished file is streamed back from disk: no file is ever held
//! whole in memory.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use cloud_task_core::upload::{InitUploadRequest, UploadTarget, UploadedFile};
use futures_util::StreamExt;
use http::StatusCode;
use tempfile::TempDir;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::api::ApiError;
use crate::ids::{IdSource, random_token};
use crate::util::lock;

/// The path of the upload API under the emulator's address.
pub const UPLOAD_PATH: &str = "/api/tasks/files/remote-cache";
/// The path prefix of presigned part URLs.
pub(crate) const PARTS_PATH: &str = "/storage/parts";
/// The path prefix of uploaded files' URLs.
pub(crate) const FILES_PATH: &str = "/storage/files";
/// The most parts one upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// How long a final URL is said to be valid, in milliseconds.
const URL_VALIDITY_MS: i64 = 24 * 3600 * 1000;
/// The write buffer of one part upload.
const WRITE_BUFFER: usize = 1 << 20;

/// An error of the upload API: the emulator's one error form.
pub(crate) type UploadError = ApiError;

struct Upload {
    id: String,
    extension: String,
    size: u64,
    part_size: u64,
    total_parts: u32,
    path: PathBuf,
    part_tokens: Vec<String>,
    download_token: String,
    state: Mutex<UploadState>,
}

#[derive(Default)]
struct UploadState {
    received: Vec<bool>,
    completed: bool,
}

impl Upload {
    fn part_len(&self, number: u32) -> u64 {
        let offset = u64::from(number - 1) * self.part_size;
        self.size.min(offset + self.part_size) - offset.min(self.size)
    }

    fn file_name(&self) -> String {
        if self.extension == "." {
            self.id.clone()
        } else {
            format!("{}{}", self.id, self.extension)
        }
    }
}

/// Every upload of one emulator, stored under a temporary directory that is removed with it.
pub(crate) struct Uploads {
    dir: TempDir,
    part_size: u64,
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
    ids: IdSource,
}

impl Uploads {
    pub(crate) fn new(part_size: u64, seed: u64) -> std::io::Result<Self> {
        Ok(Uploads {
            dir: tempfile::Builder::new()
                .prefix("cloud-task-emulator-")
                .tempdir()?,
            part_size,
            uploads: Mutex::new(HashMap::new()),
            // Another stream than the task IDs', from the same seed.
            ids: IdSource::new(!seed),
        })
    }

    fn get(&self, id: &str) -> Result<Arc<Upload>, UploadError> {
        lock(&self.uploads)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("upload {id:?} not found")))
    }

    /// Starts an upload; its part URLs point at `base` (the emulator's own address).
    pub(crate) async fn init(
        &self,
        request: InitUploadRequest,
        base: &str,
        now_epoch_ms: i64,
    ) -> Result<UploadTarget, UploadError> {
        let bad = ApiError::bad_request;
        let extension = request.file_extension;
        if !extension.starts_with('.')
            || extension.len() > 32
            || !extension[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
        {
            return Err(bad(format!(
                "file_extension must be a dot followed by at most 31 letters or digits, like \".pdf\" (or \".\" for none), not {extension:?}"
            )));
        }
        let parts = request.size.div_ceil(self.part_size).max(1);
        if parts > MAX_PARTS {
            return Err(bad(format!(
                "size {} is too large: at most {MAX_PARTS} parts of {} bytes",
                request.size, self.part_size
            )));
        }
        let total_parts = u32::try_from(parts).map_err(|_| bad("too many parts".to_owned()))?;
        let id = self.ids.next(now_epoch_ms);
        let path = self.dir.path().join(&id);
        let file = tokio::fs::File::create(&path).await.map_err(internal)?;
        file.set_len(request.size).await.map_err(internal)?;
        let part_tokens: Vec<String> = (0..total_parts).map(|_| random_token()).collect();
        let presigned_urls = part_tokens
            .iter()
            .zip(1..)
            .map(|(token, number)| {
                let url = format!("{base}{PARTS_PATH}/{id}/{number}?signature={token}");
                (number, url)
            })
            .collect();
        let upload = Upload {
            id: id.clone(),
            extension,
            size: request.size,
            part_size: self.part_size,
            total_parts,
            path,
            part_tokens,
            download_token: random_token(),
            state: Mutex::new(UploadState {
                received: vec![false; total_parts as usize],
                completed: false,
            }),
        };
        lock(&self.uploads).insert(id.clone(), Arc::new(upload));
        Ok(UploadTarget::new(
            id,
            self.part_size,
            total_parts,
            presigned_urls,
        ))
    }

    /// Streams one part's body into its byte range. Refuses a wrong signature, a part of
    /// the wrong size (before reading when `Content-Length` says so), and writes to a
    /// completed upload.
    pub(crate) async fn put_part(
        &self,
        id: &str,
        number: u32,
        signature: Option<&str>,
        content_length: Option<u64>,
        body: Body,
    ) -> Result<(), UploadError> {
        let upload = self.get(id)?;
        if number == 0 || number > upload.total_parts {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "upload {id:?} has parts 1 to {}, not {number}",
                    upload.total_parts
                ),
            ));
        }
        if signature != Some(upload.part_tokens[number as usize - 1].as_str()) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "the signature of this presigned URL is missing or wrong".to_owned(),
            ));
        }
        if lock(&upload.state).completed {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("upload {id:?} is already complete"),
            ));
        }
        let expected = upload.part_len(number);
        let wrong_size = |got: String| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("part {number} must be {expected} bytes, got {got}"),
            )
        };
        if let Some(len) = content_length
            && len != expected
        {
            return Err(wrong_size(len.to_string()));
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&upload.path)
            .await
            .map_err(internal)?;
        file.seek(SeekFrom::Start(u64::from(number - 1) * upload.part_size))
            .await
            .map_err(internal)?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written: u64 = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("reading part {number} failed: {e}"),
                )
            })?;
            written += chunk.len() as u64;
            if written > expected {
                return Err(wrong_size("more".to_owned()));
            }
            writer.write_all(&chunk).await.map_err(internal)?;
        }
        if written != expected {
            return Err(wrong_size(written.to_string()));
        }
        writer.flush().await.map_err(internal)?;
        lock(&upload.state).received[number as usize - 1] = true;
        Ok(())
    }

    /// Completes an upload whose parts all arrived; answers its final URL under `base`.
    pub(crate) fn final_url(
        &self,
        id: &str,
        base: &str,
        now_epoch_ms: i64,
    ) -> Result<UploadedFile, UploadError> {
        let upload = self.get(id)?;
        {
            let mut state = lock(&upload.state);
            let missing: Vec<String> = state
                .received
                .iter()
                .zip(1..)
                .filter(|(received, _)| !**received)
                .map(|(_, number): (_, u32)| number.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "upload {id:?} is incomplete: part(s) {} not received",
                        missing.join(", ")
                    ),
                ));
            }
            state.completed = true;
        }
        let file_name = upload.file_name();
        let mut file = UploadedFile::new(format!(
            "{base}{FILES_PATH}/{}/{file_name}?signature={}",
            upload.id, upload.download_token
        ));
        file.expires_at = Some(cloud_task_core::timestamp::to_rfc3339_millis(
            now_epoch_ms.saturating_add(URL_VALIDITY_MS),
        ));
        file.file_size = Some(upload.size);
        file.mime_type = Some(mime_type(&upload.extension).to_owned());
        file.file_name = Some(file_name);
        Ok(file)
    }

    /// Opens a completed upload for download: its size, MIME type and a streaming body.
    /// The bytes `start..end` of a completed upload for a request signed `signature`.
    pub(crate) async fn download(
        &self,
        id: &str,
        signature: Option<&str>,
        range: impl FnOnce(u64) -> (u64, u64),
    ) -> Result<(u64, &'static str, Body), UploadError> {
        let upload = self.get(id)?;
        if signature != Some(upload.download_token.as_str()) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "the signature of this file URL is missing or wrong".to_owned(),
            ));
        }
        if !lock(&upload.state).completed {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("upload {id:?} is not complete"),
            ));
        }
        let (start, end) = range(upload.size);
        let mut file = tokio::fs::File::open(&upload.path)
            .await
            .map_err(internal)?;
        file.seek(SeekFrom::Start(start)).await.map_err(internal)?;
        let part = tokio::io::AsyncReadExt::take(file, end.saturating_sub(start));
        let stream = tokio_util::io::ReaderStream::with_capacity(part, 256 * 1024);
        Ok((
            upload.size,
            mime_type(&upload.extension),
            Body::from_stream(stream),
        ))
    }
}

fn internal(e: std::io::Error) -> UploadError {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the emulator's upload storage failed: {e}"),
    )
}

/// The MIME type of a file extension (with its dot), `application/octet-stream` when unknown.
pub(crate) fn mime_type(extension: &str) -> &'static str {
    match extension.to_ascii_lowercase().as_str() {
        ".pdf" => "application/pdf",
        ".json" => "application/json",
        ".txt" | ".log" => "text/plain",
        ".csv" => "text/csv",
        ".html" | ".htm" => "text/html",
        ".md" => "text/markdown",
        ".png" => "image/png",
        ".jpg" | ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".svg" => "image/svg+xml",
        ".mp3" => "audio/mpeg",
        ".wav" => "audio/wav",
        ".mp4" => "video/mp4",
        ".zip" => "application/zip",
        ".gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types() {
        assert_eq!(mime_type(".PDF"), "application/pdf");
        assert_eq!(mime_type("."), "application/octet-stream");
    }
}
