//! The upload store: files assembled on disk from presigned part uploads.
//!
//! Each upload is one file in the emulator's temporary directory, created at its full
//! (sparse) size by `init`. Parts are streamed into their byte range as they arrive through
//! a small buffer, and the finished file is streamed back from disk: no file is ever held
//! whole in memory.
//!
//! The store is bounded, so that an emulator serving a long CI run keeps a flat footprint:
//! an upload left incomplete expires [`UPLOAD_SESSION_TTL`] after its init, a completed
//! file when its final URL does (24 hours, as the URL says), and past [`MAX_LIVE_UPLOADS`]
//! incomplete uploads (or [`MAX_STORED_FILES`] files) the oldest is dropped. Time is the
//! emulator's clock, so a test with a manual clock sees expiry as soon as it moves it on.
//! An upload costs a few bytes per part while it is open: one signature serves all its
//! parts (they are handed to the same caller at once).

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
/// How long an upload may stay incomplete after its init, on the emulator's clock; then
/// it is dropped with its file, and its part URLs and final URL answer 404.
pub const UPLOAD_SESSION_TTL: Duration = Duration::from_secs(3600);
/// The most incomplete uploads kept at once: an init past it drops the oldest one.
pub const MAX_LIVE_UPLOADS: usize = 1_000;
/// The most completed files kept at once: a completion past it drops the oldest file.
pub const MAX_STORED_FILES: usize = 10_000;

/// An error of the upload API: the emulator's one error form.
pub(crate) type UploadError = ApiError;

struct Upload {
    id: String,
    extension: String,
    size: u64,
    part_size: u64,
    total_parts: u32,
    path: PathBuf,
    /// The signature of every part URL of this upload.
    part_token: String,
    download_token: String,
    /// The order of inits, for dropping the oldest.
    serial: u64,
    state: Mutex<UploadState>,
}

struct UploadState {
    received: Vec<bool>,
    completed: bool,
    /// When the upload (incomplete) or its file (completed) is dropped, epoch milliseconds.
    expires_at_ms: i64,
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
    uploads: Mutex<Store>,
    ids: IdSource,
}

/// The uploads kept, and the count of inits so far.
#[derive(Default)]
struct Store {
    uploads: HashMap<String, Arc<Upload>>,
    serial: u64,
}

impl Store {
    /// Drops what has expired at `now_ms`, then the oldest incomplete uploads past
    /// `max_live` and the oldest files past [`MAX_STORED_FILES`]; answers the paths of the
    /// dropped uploads' files, to delete.
    fn expire(&mut self, now_ms: i64, max_live: usize) -> Vec<PathBuf> {
        let mut dropped = Vec::new();
        self.uploads.retain(|_, upload| {
            let keep = lock(&upload.state).expires_at_ms > now_ms;
            if !keep {
                dropped.push(upload.path.clone());
            }
            keep
        });
        let files = self
            .uploads
            .values()
            .filter(|upload| lock(&upload.state).completed)
            .count();
        let counts = [self.uploads.len() - files, files];
        for (completed, max) in [(false, max_live), (true, MAX_STORED_FILES)] {
            if counts[usize::from(completed)] <= max {
                continue;
            }
            let mut kept: Vec<(u64, String)> = self
                .uploads
                .values()
                .filter(|upload| lock(&upload.state).completed == completed)
                .map(|upload| (upload.serial, upload.id.clone()))
                .collect();
            if kept.len() > max {
                kept.sort_unstable();
                for (_, id) in &kept[..kept.len() - max] {
                    if let Some(upload) = self.uploads.remove(id) {
                        dropped.push(upload.path.clone());
                    }
                }
            }
        }
        dropped
    }
}

impl Uploads {
    pub(crate) fn new(part_size: u64, seed: u64) -> std::io::Result<Self> {
        Ok(Uploads {
            dir: tempfile::Builder::new()
                .prefix("cloud-task-emulator-")
                .tempdir()?,
            part_size,
            uploads: Mutex::new(Store::default()),
            // Another stream than the task IDs', from the same seed.
            ids: IdSource::new(!seed),
        })
    }

    /// The upload `id`, unless it never existed or has expired at `now_ms`.
    fn get(&self, id: &str, now_ms: i64) -> Result<Arc<Upload>, UploadError> {
        lock(&self.uploads)
            .uploads
            .get(id)
            .filter(|upload| lock(&upload.state).expires_at_ms > now_ms)
            .cloned()
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!(
                        "upload {id:?} not found: it never existed or has expired (an incomplete upload is kept {} minutes, a file until its URL expires)",
                        UPLOAD_SESSION_TTL.as_secs() / 60
                    ),
                )
            })
    }

    /// Drops what has expired at `now_ms` and what is past the caps, files included.
    fn expire(&self, now_ms: i64, max_live: usize) {
        let dropped = lock(&self.uploads).expire(now_ms, max_live);
        for path in dropped {
            // A file still being read stays readable until closed (unlinked, not gone).
            let _ = std::fs::remove_file(path);
        }
    }

    /// How many uploads are kept: incomplete ones and completed files.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let store = lock(&self.uploads);
        let completed = store
            .uploads
            .values()
            .filter(|upload| lock(&upload.state).completed)
            .count();
        (store.uploads.len() - completed, completed)
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
        // Room for this one within the cap.
        self.expire(now_epoch_ms, MAX_LIVE_UPLOADS - 1);
        let id = self.ids.next(now_epoch_ms);
        let path = self.dir.path().join(&id);
        let file = tokio::fs::File::create(&path).await.map_err(internal)?;
        file.set_len(request.size).await.map_err(internal)?;
        let part_token = random_token();
        let presigned_urls = (1..=total_parts)
            .map(|number| {
                let url = format!("{base}{PARTS_PATH}/{id}/{number}?signature={part_token}");
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
            part_token,
            download_token: random_token(),
            serial: 0,
            state: Mutex::new(UploadState {
                received: vec![false; total_parts as usize],
                completed: false,
                expires_at_ms: now_epoch_ms.saturating_add(millis(UPLOAD_SESSION_TTL)),
            }),
        };
        let mut store = lock(&self.uploads);
        store.serial += 1;
        let upload = Upload {
            serial: store.serial,
            ..upload
        };
        store.uploads.insert(id.clone(), Arc::new(upload));
        drop(store);
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
        now_epoch_ms: i64,
    ) -> Result<(), UploadError> {
        let upload = self.get(id, now_epoch_ms)?;
        if number == 0 || number > upload.total_parts {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "upload {id:?} has parts 1 to {}, not {number}",
                    upload.total_parts
                ),
            ));
        }
        if signature != Some(upload.part_token.as_str()) {
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
        let upload = self.get(id, now_epoch_ms)?;
        let expires_at_ms = now_epoch_ms.saturating_add(URL_VALIDITY_MS);
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
            if !state.completed {
                state.completed = true;
                state.expires_at_ms = expires_at_ms;
            }
        }
        self.expire(now_epoch_ms, MAX_LIVE_UPLOADS);
        let file_name = upload.file_name();
        let mut file = UploadedFile::new(format!(
            "{base}{FILES_PATH}/{}/{file_name}?signature={}",
            upload.id, upload.download_token
        ));
        file.expires_at = Some(cloud_task_core::timestamp::to_rfc3339_millis(
            lock(&upload.state).expires_at_ms,
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
        now_epoch_ms: i64,
    ) -> Result<(u64, &'static str, Body), UploadError> {
        let upload = self.get(id, now_epoch_ms)?;
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

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
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

    const BASE: &str = "http://emulator.test";
    const T0: i64 = 1_767_225_600_000;

    fn request(size: u64) -> InitUploadRequest {
        serde_json::from_value(serde_json::json!({"file_extension": ".bin", "size": size})).unwrap()
    }

    async fn put(uploads: &Uploads, target: &UploadTarget, now: i64) -> Result<(), UploadError> {
        let url = &target.presigned_urls[&1];
        let signature = url.split("signature=").nth(1);
        uploads
            .put_part(
                &target.upload_id,
                1,
                signature,
                Some(4),
                Body::from("abcd"),
                now,
            )
            .await
    }

    #[tokio::test]
    async fn an_incomplete_upload_expires_after_its_ttl_with_its_file() {
        let uploads = Uploads::new(4, 1).unwrap();
        let target = uploads.init(request(4), BASE, T0).await.unwrap();
        let path = uploads.dir.path().join(&target.upload_id);
        assert!(path.exists());
        let ttl = millis(UPLOAD_SESSION_TTL);
        // Still there one millisecond before the TTL.
        put(&uploads, &target, T0 + ttl - 1).await.unwrap();
        let late = uploads
            .final_url(&target.upload_id, BASE, T0 + ttl)
            .unwrap_err();
        assert_eq!(late.0, StatusCode::NOT_FOUND);
        assert!(late.1.contains("expired"), "{}", late.1);
        // The next init sweeps it, file and all.
        uploads.init(request(4), BASE, T0 + ttl).await.unwrap();
        assert!(!path.exists(), "the expired upload's file is kept");
        assert_eq!(uploads.counts(), (1, 0));
    }

    #[tokio::test]
    async fn a_completed_file_lives_as_long_as_its_url() {
        let uploads = Uploads::new(4, 1).unwrap();
        let target = uploads.init(request(4), BASE, T0).await.unwrap();
        put(&uploads, &target, T0).await.unwrap();
        // Completed just before the session's TTL: the file outlives it.
        let done = T0 + millis(UPLOAD_SESSION_TTL) - 1;
        let file = uploads.final_url(&target.upload_id, BASE, done).unwrap();
        let signature = file.url.split("signature=").nth(1).unwrap().to_owned();
        let read = |now| uploads.download(&target.upload_id, Some(&signature), |n| (0, n), now);
        assert!(read(done + millis(UPLOAD_SESSION_TTL)).await.is_ok());
        assert!(read(done + URL_VALIDITY_MS - 1).await.is_ok());
        let gone = read(done + URL_VALIDITY_MS).await.err().unwrap();
        assert_eq!(gone.0, StatusCode::NOT_FOUND);
        assert_eq!(
            file.expires_at.as_deref(),
            Some(cloud_task_core::timestamp::to_rfc3339_millis(done + URL_VALIDITY_MS).as_str())
        );
    }

    #[tokio::test]
    async fn past_the_cap_the_oldest_incomplete_upload_is_dropped() {
        let uploads = Uploads::new(4, 1).unwrap();
        let mut targets = Vec::new();
        for _ in 0..=MAX_LIVE_UPLOADS {
            targets.push(uploads.init(request(4), BASE, T0).await.unwrap());
        }
        assert_eq!(uploads.counts(), (MAX_LIVE_UPLOADS, 0));
        let oldest = put(&uploads, &targets[0], T0).await.unwrap_err();
        assert_eq!(oldest.0, StatusCode::NOT_FOUND);
        put(&uploads, &targets[1], T0).await.unwrap();
        put(&uploads, &targets[MAX_LIVE_UPLOADS], T0).await.unwrap();
        let files = std::fs::read_dir(uploads.dir.path()).unwrap().count();
        assert_eq!(files, MAX_LIVE_UPLOADS, "a dropped upload's file is kept");
    }

    #[tokio::test]
    async fn one_signature_serves_every_part_of_its_upload_only() {
        let uploads = Uploads::new(4, 1).unwrap();
        let a = uploads.init(request(12), BASE, T0).await.unwrap();
        let b = uploads.init(request(12), BASE, T0).await.unwrap();
        let signature = |t: &UploadTarget| {
            t.presigned_urls[&1]
                .split("signature=")
                .nth(1)
                .unwrap()
                .to_owned()
        };
        assert_eq!(a.presigned_urls.len(), 3);
        assert!(a.presigned_urls[&3].ends_with(&signature(&a)));
        assert_ne!(signature(&a), signature(&b));
        let forged = uploads
            .put_part(
                &a.upload_id,
                2,
                Some(&signature(&b)),
                Some(4),
                Body::from("abcd"),
                T0,
            )
            .await
            .unwrap_err();
        assert_eq!(forged.0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_type(".PDF"), "application/pdf");
        assert_eq!(mime_type("."), "application/octet-stream");
    }
}
