//! What the OOMOL Cloud Task SDK keeps on the user's machine, written once for both of its
//! clients: the local work the core's machines ask for.
//!
//! The core's machines never touch a file: they ask their driver for local work
//! ([`DownloadWork`](cloud_task_core::machine::DownloadWork),
//! [`JournalWork`](cloud_task_core::machine::JournalWork), the reads of an upload). This
//! crate does that work with plain `std` I/O, behind one trait, [`Local`]:
//!
//! - [`PartFile`]: a download to a path, resumable: `path.part` and its record
//!   `path.part.json`, renamed to `path` once whole;
//! - [`JournalFile`]: a batch journal, appended and synced as the batch says, read back to
//!   resume from;
//! - [`read_at`] and [`ReadOnce`]: the byte ranges of an upload's source, from a seekable
//!   source, or from a reader that can be read only once;
//! - [`read_small`] and [`read_bounded`]: a small file (inputs, a key) read whole, a
//!   regular file only and with a bound;
//! - [`credentials`]: the stored profile of a sign-in (owner-only, written atomically), and
//!   the order in which a key is found.
//!
//! The blocking client runs it on the caller's thread; the async client on tokio's
//! blocking pool, so that no file operation ever blocks an async runtime.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod credentials;
mod download;
mod journal;
mod small;
mod source;

use cloud_task_core::machine::NoWork;

pub use download::{PartFile, PreparedPart};
pub use journal::JournalFile;
pub use small::{
    MAX_INPUTS_FILE, MAX_KEY_FILE, open_regular, read_bounded, read_small, regular_file,
    replace_file,
};
pub use source::{ReadOnce, part_len, read_at};

/// Milliseconds since the Unix epoch, now (0 before it): the wall clock a batch stamps its
/// journal records with (the core reads no clock; both clients read it here).
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Does the local work `W` a machine asks for, answering its outcome `D` (fed back to the
/// machine with [`Machine::handle_work`](cloud_task_core::machine::Machine::handle_work)).
pub trait Local<W, D> {
    /// Does `work` to its end and answers its outcome.
    fn run(&mut self, work: W) -> D;
}

impl<W, D, L: Local<W, D> + ?Sized> Local<W, D> for &mut L {
    fn run(&mut self, work: W) -> D {
        (**self).run(work)
    }
}

/// The local side of a machine that asks for no local work.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLocal;

impl Local<NoWork, NoWork> for NoLocal {
    fn run(&mut self, work: NoWork) -> NoWork {
        match work {}
    }
}
