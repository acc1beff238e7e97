//! The byte ranges of an upload's source: read at an offset from a seekable source, or in
//! order from a reader that can be read only once (keeping each part's bytes for its
//! retries).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use cloud_task_core::{Error, Result};

/// A part's length as a buffer size.
pub fn part_len(len: u64) -> Result<usize> {
    usize::try_from(len).map_err(|_| {
        Error::invalid_input(
            "len",
            format!("a part of {len} bytes does not fit in memory"),
        )
    })
}

/// Reads exactly `len` bytes at `offset` of `source` (`context` names it in an error).
pub fn read_at<S: Read + Seek + ?Sized>(
    source: &mut S,
    offset: u64,
    len: u64,
    context: &str,
) -> Result<Vec<u8>> {
    let mut buffer = vec![0; part_len(len)?];
    source
        .seek(SeekFrom::Start(offset))
        .and_then(|_| source.read_exact(&mut buffer))
        .map_err(|e| Error::io(context, e))?;
    Ok(buffer)
}

/// The bookkeeping of a source read once, in order: where it is, and the bytes of each
/// part read and not uploaded yet (kept for its retries, when there are retries). A
/// driver does the reading itself (a `Read` or an `AsyncRead`), between
/// [`before`](Self::before) and [`after`](Self::after).
#[derive(Debug, Default)]
pub struct ReadOnce {
    position: u64,
    keep: bool,
    kept: HashMap<u32, Vec<u8>>,
}

impl ReadOnce {
    /// A source at its start; with `keep`, each part's bytes are kept until
    /// [`release`](Self::release) (a part may be tried again).
    pub fn new(keep: bool) -> ReadOnce {
        ReadOnce {
            position: 0,
            keep,
            kept: HashMap::new(),
        }
    }

    /// Before reading part `part` at `offset`: its kept bytes (`Ok(Some)`: no read), or
    /// `Ok(None)` when the reader is at `offset` (read `len` bytes now), or the error of a
    /// part out of order.
    pub fn before(&self, part: u32, offset: u64, context: &str) -> Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.kept.get(&part) {
            return Ok(Some(bytes.clone()));
        }
        if offset != self.position {
            return Err(Error::io(
                context,
                std::io::Error::other(format!(
                    "part {part} starts at byte {offset}, but a reader read once is at byte {}",
                    self.position
                )),
            ));
        }
        Ok(None)
    }

    /// After reading `bytes` of part `part`: the reader moved on, and the bytes are kept
    /// when they may be needed again.
    pub fn after(&mut self, part: u32, bytes: &[u8]) {
        self.position += bytes.len() as u64;
        if self.keep {
            self.kept.insert(part, bytes.to_vec());
        }
    }

    /// Part `part` is uploaded: its kept bytes, if any, go.
    pub fn release(&mut self, part: u32) {
        self.kept.remove(&part);
    }
}
