//! The checks of every local file the SDK, the CLI and the MCP server read: only a
//! regular file ([`regular_file`]), and small files read whole with a bound
//! ([`read_small`]): inputs files, key files.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The most bytes [`read_small`] reads for a JSON inputs file: 16 MiB, well over any
/// task's inputs (the API refuses larger bodies long before).
pub const MAX_INPUTS_FILE: u64 = 16 * 1024 * 1024;

/// The most bytes read of an API key file: 64 KiB (a key is under 100).
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// The metadata of `path` when it is a regular file (symbolic links followed). A
/// directory, a FIFO, a device or a socket is refused with
/// [`io::ErrorKind::InvalidInput`], naming what it is and what was wanted (`what`, e.g.
/// `"a batch journal"`), before anything opens it: opening a FIFO blocks until a writer
/// comes, and a device such as `/dev/zero` never ends. A missing file is the system's
/// [`io::ErrorKind::NotFound`].
///
/// ```
/// # use cloud_task_local::regular_file;
/// let error = regular_file(&std::env::temp_dir(), "an inputs file").unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(error.to_string().contains("is a directory, not a regular file: an inputs file must be one"));
/// ```
pub fn regular_file(path: &Path, what: &str) -> io::Result<Metadata> {
    let metadata = std::fs::metadata(path)?;
    if metadata.is_file() {
        return Ok(metadata);
    }
    Err(not_regular(path, &metadata, what))
}

/// Opens `path` with `options` as a regular file, and only as one. What is there is
/// looked at first ([`regular_file`]'s check; a missing path is left to `options`, which
/// may create it), then the open is made without blocking (`O_NONBLOCK` on Unix) and the
/// open file checked again (`fstat`), so that a path swapped for a FIFO or a device in
/// between is refused, not waited on. Reads and writes of a regular file are not changed
/// by the flag.
pub fn open_regular(path: &Path, what: &str, options: &mut OpenOptions) -> io::Result<File> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => return Err(not_regular(path, &metadata, what)),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular(path, &metadata, what));
    }
    Ok(file)
}

fn not_regular(path: &Path, metadata: &Metadata, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}, not a regular file: {what} must be one",
            path.display(),
            kind_of(metadata)
        ),
    )
}

/// What kind of file `metadata` describes, in words.
pub(crate) fn kind_of(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Reads a small file whole: a regular file only (a directory, a FIFO or a device is
/// refused before it is opened, so that `/dev/zero` cannot fill the memory nor a FIFO
/// hang the caller), of at most `max` bytes. `what` says what the file was to be, e.g.
/// `"an inputs file"`; errors name the path.
///
/// ```
/// # use cloud_task_local::read_small;
/// let dir = std::env::temp_dir().join(format!("read-small-doc-{}", std::process::id()));
/// std::fs::write(&dir, b"{}").unwrap();
/// assert_eq!(read_small(&dir, 16, "the inputs file").unwrap(), b"{}");
/// let error = read_small(&dir, 1, "the inputs file").unwrap_err();
/// assert!(error.to_string().ends_with("is larger than 1 bytes, the most read"));
/// # std::fs::remove_file(&dir).unwrap();
/// ```
pub fn read_small(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let file = open_regular(path, what, OpenOptions::new().read(true))?;
    read_bounded(file, max, &path.display().to_string())
}

/// Reads `reader` to its end, refusing more than `max` bytes (stdin given as `-`, say).
pub fn read_bounded(reader: impl Read, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} is larger than {max} bytes, the most read"),
        ));
    }
    Ok(bytes)
}

/// Replaces the file at `path` with `bytes`, whole or not at all: written to a temporary
/// file beside it (created new, with `mode` on Unix when given), synced, then renamed over
/// it. A path that exists and is not a regular file (a directory, a symlink, a FIFO) is
/// refused, naming it `what`; the temporary file is removed when anything fails.
pub fn replace_file(path: &Path, bytes: &[u8], what: &str, mode: Option<u32>) -> io::Result<()> {
    if let Ok(metadata) = std::fs::symlink_metadata(path)
        && !metadata.is_file()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file: {what} must be one",
                path.display()
            ),
        ));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&temporary)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO reached by the open itself (as when a path is swapped after its check) is
    /// refused at once, never waited on for a writer.
    #[cfg(unix)]
    #[test]
    fn a_fifo_opened_directly_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("open-regular-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(open_regular(
                &path,
                "a journal",
                OpenOptions::new().read(true),
            ));
        });
        let opened = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the open returned instead of waiting for a writer");
        let error = opened.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("is a FIFO, not a regular file"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_endless_reader_stops_at_the_bound() {
        let error = read_bounded(io::repeat(b'x'), 1000, "stdin").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error
                .to_string()
                .contains("stdin is larger than 1000 bytes")
        );
        assert_eq!(read_bounded(&b"abc"[..], 3, "x").unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused_before_they_are_read() {
        for path in ["/dev/zero", "/tmp"] {
            let error = read_small(Path::new(path), 10, path).unwrap_err();
            assert!(error.to_string().contains("not a regular file"), "{error}");
        }
    }
}
