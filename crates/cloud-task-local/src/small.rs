//! Small local files read whole, with a bound: inputs files, key files.

use std::io::{self, Read};
use std::path::Path;

/// The most bytes [`read_small`] reads for a JSON inputs file: 16 MiB, well over any
/// task's inputs (the API refuses larger bodies long before).
pub const MAX_INPUTS_FILE: u64 = 16 * 1024 * 1024;

/// Reads a small file whole: a regular file only (a directory, a FIFO or a device is
/// refused before it is opened, so that `/dev/zero` cannot fill the memory nor a FIFO
/// hang the caller), of at most `max` bytes. `what` names the file in the errors, e.g.
/// `--inputs @inputs.json`.
///
/// ```
/// # use cloud_task_local::read_small;
/// let dir = std::env::temp_dir().join(format!("read-small-doc-{}", std::process::id()));
/// std::fs::write(&dir, b"{}").unwrap();
/// assert_eq!(read_small(&dir, 16, "the inputs file").unwrap(), b"{}");
/// let error = read_small(&dir, 1, "the inputs file").unwrap_err();
/// assert!(error.to_string().contains("larger than 1 bytes"));
/// # std::fs::remove_file(&dir).unwrap();
/// ```
pub fn read_small(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is not a regular file (a directory, FIFO or device is refused)"),
        ));
    }
    let file = std::fs::File::open(path)?;
    read_bounded(file, max, what)
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

#[cfg(test)]
mod tests {
    use super::*;

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
