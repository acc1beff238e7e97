//! Request statistics: a count per route and the headers of every part upload.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

use crate::fault::Route;
use crate::util::lock;

/// A snapshot of the emulator's request statistics.
///
/// Every request that reached a route is counted, faulted and unauthorised ones included;
/// requests to unknown paths and to the control endpoints are not.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    counts: [u64; Route::ALL.len()],
    part_upload_headers: Vec<HeaderMap>,
}

impl Stats {
    /// How many requests `route` received.
    pub fn count(&self, route: Route) -> u64 {
        self.counts[route.index()]
    }

    /// How many requests all routes received.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The headers of the part `PUT`s received, in arrival order (the first
    /// [`MAX_RECORDED_PARTS`]), to check what reached a presigned URL. A header whose name
    /// looks like a credential (`Authorization`, `Cookie`, names with `key`, `token`,
    /// `secret`, `auth`, `session` or `password`) is kept with the value `[redacted]`: its
    /// presence shows, its value never does.
    pub fn part_upload_headers(&self) -> &[HeaderMap] {
        &self.part_upload_headers
    }
}

/// How many part uploads have their headers kept.
pub const MAX_RECORDED_PARTS: usize = 10_000;

/// The headers as recorded: credentials redacted.
fn redacted(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for (name, value) in kept.iter_mut() {
        if cloud_task_core::is_secret_header_name(name.as_str()) {
            *value = http::HeaderValue::from_static("[redacted]");
        }
    }
    kept
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct StatsRecorder {
    counts: [AtomicU64; Route::ALL.len()],
    part_upload_headers: Mutex<Vec<HeaderMap>>,
}

impl StatsRecorder {
    /// Counts one request of `route`; keeps the headers of part uploads.
    pub(crate) fn record(&self, route: Route, headers: &HeaderMap) {
        if route == Route::UploadPart {
            // Hold the lock while counting so a snapshot sees both or neither.
            let mut parts = lock(&self.part_upload_headers);
            if parts.len() < MAX_RECORDED_PARTS {
                parts.push(redacted(headers));
            }
            self.counts[route.index()].fetch_add(1, Ordering::Relaxed);
        } else {
            self.counts[route.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let parts = lock(&self.part_upload_headers);
        Stats {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
            part_upload_headers: parts.clone(),
        }
    }

    pub(crate) fn reset(&self) {
        let mut parts = lock(&self.part_upload_headers);
        parts.clear();
        for count in &self.counts {
            count.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_snapshots_and_resets() {
        let recorder = StatsRecorder::default();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/octet-stream".parse().unwrap());
        recorder.record(Route::TaskResult, &HeaderMap::new());
        recorder.record(Route::TaskResult, &HeaderMap::new());
        recorder.record(Route::UploadPart, &headers);
        let stats = recorder.snapshot();
        assert_eq!(stats.count(Route::TaskResult), 2);
        assert_eq!(stats.count(Route::UploadPart), 1);
        assert_eq!(stats.count(Route::CreateTask), 0);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.part_upload_headers(), &[headers]);
        recorder.reset();
        assert_eq!(recorder.snapshot().total(), 0);
        assert!(recorder.snapshot().part_upload_headers().is_empty());
        // The earlier snapshot is unaffected.
        assert_eq!(stats.total(), 3);
    }
}
