//! The local work of the core's machines, on real files in a temporary directory.

use std::io::Cursor;

use cloud_task_core::machine::{DownloadWork, JournalWork};
use cloud_task_core::{
    Batch, BatchAction, BatchOptions, Config, CreateTaskRequest, Downloaded, PartRecord,
};
use cloud_task_local::{JournalFile, Local, PreparedPart, ReadOnce, read_at};

fn write(offset: u64, bytes: &[u8], validator: Option<&str>) -> DownloadWork {
    DownloadWork::Write {
        offset,
        bytes: bytes.to_vec(),
        validator: validator.map(str::to_owned),
        total: Some(6),
    }
}

#[test]
fn a_part_file_resumes_after_its_bytes_and_is_renamed_once_whole() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");
    let url = "https://files.test/out.bin?sig=1";

    // A first try writes three bytes under a validator, then stops.
    let prepared = PreparedPart::new(&target, url);
    assert!(prepared.resume().is_none(), "nothing held yet");
    let mut part = prepared.open().unwrap();
    part.run(write(0, b"abc", Some("\"v1\""))).unwrap();
    part.abandon();
    let held = std::fs::read(PartRecord::part_path(&target)).unwrap();
    assert_eq!(held, b"abc", "the bytes stay to resume from");
    assert!(PartRecord::record_path(&target).exists());

    // A second try of the same URL resumes after them.
    let prepared = PreparedPart::new(&target, url);
    let resume = prepared.resume().expect("resumes");
    assert_eq!(resume.offset, 3);
    assert_eq!(resume.validator.as_deref(), Some("\"v1\""));
    let mut part = prepared.open().unwrap();
    part.run(write(3, b"def", Some("\"v1\""))).unwrap();
    let _ = part.finish(downloaded_of(6)).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"abcdef");
    assert!(!PartRecord::part_path(&target).exists());
    assert!(!PartRecord::record_path(&target).exists());
}

/// A `Downloaded` of `size` bytes, as a download machine would end with.
fn downloaded_of(size: u64) -> Downloaded {
    use cloud_task_core::machine::Machine;
    use cloud_task_core::{Download, DownloadOptions, http};
    use std::time::Instant;
    let config = Config::default();
    let now = Instant::now();
    let mut download = Download::new(
        &config,
        "https://files.test/x",
        &DownloadOptions::new(),
        None,
        now,
    )
    .unwrap();
    loop {
        match download.poll_step(now) {
            cloud_task_core::machine::Step::Send(t) => {
                let body = vec![b'x'; size as usize];
                let response = http::Response::builder()
                    .status(206)
                    .header("content-range", format!("bytes 0-{}/{size}", size - 1))
                    .body(body)
                    .unwrap();
                Machine::handle_response(&mut download, t.id, response, now);
            }
            cloud_task_core::machine::Step::Work(_) => {
                Machine::handle_work(&mut download, Ok(()), now)
            }
            cloud_task_core::machine::Step::Done(done) => return done.unwrap(),
            _ => {}
        }
    }
}

#[test]
fn a_restart_empties_the_part_and_forgets_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");
    let mut part = PreparedPart::new(&target, "https://files.test/a")
        .open()
        .unwrap();
    part.run(write(0, b"old", Some("\"v1\""))).unwrap();
    part.run(DownloadWork::Restart).unwrap();
    assert_eq!(std::fs::read(PartRecord::part_path(&target)).unwrap(), b"");
    assert!(!PartRecord::record_path(&target).exists());
    // Abandoned without a record: nothing to resume from, the part goes.
    part.abandon();
    assert!(!PartRecord::part_path(&target).exists());
}

#[test]
fn a_part_of_another_url_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");
    let mut part = PreparedPart::new(&target, "https://files.test/a")
        .open()
        .unwrap();
    part.run(write(0, b"abc", Some("\"v1\""))).unwrap();
    part.abandon();
    let other = PreparedPart::new(&target, "https://files.test/b");
    assert!(other.resume().is_none());
    other.open().unwrap();
    assert_eq!(
        std::fs::read(PartRecord::part_path(&target)).unwrap(),
        b"",
        "the bytes of another file are dropped"
    );
}

#[test]
fn a_journal_is_appended_synced_and_read_back_without_its_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.journal");
    let config = Config::builder().api_key("k").build().unwrap();
    let inputs = vec![CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1)];
    let start = std::time::Instant::now();
    let mut batch = Batch::new(
        &config,
        inputs,
        BatchOptions::new().account_limits(false),
        start,
        1,
    )
    .unwrap();

    let (mut journal, replay) = JournalFile::open(&path).unwrap();
    assert!(replay.is_empty());
    let mut records = 0;
    loop {
        match batch.poll_action(start) {
            BatchAction::Record(record) => {
                journal.run(JournalWork::Append(record)).unwrap();
                records += 1;
            }
            BatchAction::Sync => journal.run(JournalWork::Sync).unwrap(),
            _ => break,
        }
    }
    assert_eq!(records, 2, "the header and the input's `sending`");
    drop(journal);

    // A crash mid-write leaves a torn last line: it is cut off, the rest is kept.
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"t\":\"crea");
    std::fs::write(&path, &torn).unwrap();
    let (_, replay) = JournalFile::open(&path).unwrap();
    assert_eq!(replay.records(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), whole);
}

#[test]
fn no_journal_takes_every_record_and_sync() {
    let mut none = JournalFile::none();
    assert!(none.run(JournalWork::Sync).is_ok());
}

#[test]
fn a_reader_read_once_keeps_parts_for_their_retries_and_refuses_a_part_out_of_order() {
    let mut once = ReadOnce::new(true);
    assert_eq!(once.before(1, 0, "src").unwrap(), None, "read it now");
    once.after(1, b"abcd");
    assert_eq!(
        once.before(1, 0, "src").unwrap().as_deref(),
        Some(&b"abcd"[..])
    );
    let error = once.before(3, 8, "src").unwrap_err();
    assert!(
        error.to_string().contains("part 3 starts at byte 8"),
        "{error}"
    );
    once.release(1);
    assert!(
        once.before(1, 0, "src").is_err(),
        "released: the reader moved on"
    );

    let mut without = ReadOnce::new(false);
    without.after(1, b"ab");
    assert!(
        without.before(1, 0, "src").is_err(),
        "nothing kept without retries"
    );
}

#[test]
fn read_at_reads_exactly_the_range_or_fails() {
    let mut source = Cursor::new(b"0123456789".to_vec());
    assert_eq!(read_at(&mut source, 3, 4, "src").unwrap(), b"3456");
    let error = read_at(&mut source, 8, 4, "the source").unwrap_err();
    assert!(error.to_string().contains("the source"), "{error}");
}

/// The records of a journal that holds a header and one `sending` record.
fn a_journal(path: &std::path::Path) -> Vec<u8> {
    let config = Config::builder().api_key("k").build().unwrap();
    let inputs = vec![CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1)];
    let start = std::time::Instant::now();
    let options = BatchOptions::new().account_limits(false);
    let mut batch = Batch::new(&config, inputs, options, start, 1).unwrap();
    let (mut journal, _) = JournalFile::open(path).unwrap();
    loop {
        match batch.poll_action(start) {
            BatchAction::Record(record) => journal.run(JournalWork::Append(record)).unwrap(),
            BatchAction::Sync => journal.run(JournalWork::Sync).unwrap(),
            _ => break,
        }
    }
    drop(journal);
    std::fs::read(path).unwrap()
}

#[test]
fn a_journal_in_use_by_another_batch_is_refused_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.journal");
    let (first, _) = JournalFile::open(&path).unwrap();
    let error = JournalFile::open(&path).unwrap_err().to_string();
    assert!(error.contains("in use by another batch"), "{error}");
    if cfg!(target_os = "linux") {
        let me = format!("process {}", std::process::id());
        assert!(error.contains(&me), "{error}");
    }
    drop(first);
    // No test of this binary starts a process: a child holds a copy of every descriptor
    // between its fork and its exec, the lock's too, which would keep it for a moment.
    assert!(
        JournalFile::open(&path).is_ok(),
        "free again once the first is done"
    );
}

#[test]
fn a_file_that_is_not_a_journal_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    for content in [
        &b"sk-live-0123456789abcdef"[..], // a key file: no newline at all
        b"hello\nworld\n",
        b"{\"t\":\"created\",\"i\":0,\"input\":\"ab\",\"task\":\"t\"}\n", // no header
    ] {
        let path = dir.path().join("precious");
        std::fs::write(&path, content).unwrap();
        let error = JournalFile::open(&path).unwrap_err().to_string();
        assert!(error.contains("journal"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), content, "untouched");
    }
}

#[test]
fn a_header_torn_by_a_crash_is_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.journal");
    let whole = a_journal(&path);
    let header_len = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    // The very first write cut short: part of the header, no newline.
    std::fs::write(&path, &whole[..header_len / 2]).unwrap();
    let (_, replay) = JournalFile::open(&path).unwrap();
    assert!(replay.is_empty());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"",
        "the torn header is cut off"
    );
    // A torn line in the middle is an error naming it.
    let mut damaged = whole[..header_len].to_vec();
    damaged.extend_from_slice(b"{\"t\":\"sen");
    damaged.extend_from_slice(&whole[header_len..]);
    std::fs::write(&path, &damaged).unwrap();
    let error = JournalFile::open(&path).unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
}

#[cfg(unix)]
#[test]
fn only_a_regular_file_is_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    // Made by a call, not a `mkfifo` process: a process started while another test holds
    // a journal would hold its lock for a moment (see the test of a journal in use).
    make_fifo(&fifo);
    let refused = vec![
        (dir.path().to_path_buf(), "a directory"),
        ("/dev/zero".into(), "a device"),
        (fifo, "a FIFO"),
    ];
    for (path, kind) in refused {
        let error = JournalFile::open(&path).unwrap_err().to_string();
        assert!(
            error.contains(kind) && error.contains("regular file"),
            "{error}"
        );
    }
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
fn make_fifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let made = unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo: {}", std::io::Error::last_os_error());
}
