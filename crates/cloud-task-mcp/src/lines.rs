//! The bound on one request line, and the JSON-RPC error for a line past it.
//!
//! rmcp drops an incoming line past its limit without a word, and the agent that sent it
//! waits until its own timeout. [`LineGuard`] sits between stdin and rmcp: it passes
//! lines through as they come (nothing is buffered here), counts the bytes of each, and
//! when one passes [`MAX_REQUEST_LINE`] it ends what was passed through with a byte that
//! makes it invalid JSON (rmcp ignores it), skips the rest of the line, and hands rmcp in
//! its place a small request of [`OVERSIZED_METHOD`] carrying the line's `id` (found by a
//! scan of the whole line, wherever the client put it), its size and the limit. The
//! server answers that request with a JSON-RPC error that says so (see
//! [`oversized_error`]). A line past the limit that has no `id` (a notification) gets no
//! answer, as JSON-RPC wants.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rmcp::ErrorData;
use rmcp::model::ErrorCode;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

use crate::server::MAX_BASE64_UPLOAD;

/// The longest request line the server reads, in bytes: an `upload_base64` call at its
/// documented maximum ([`MAX_BASE64_UPLOAD`] decoded, four base64 characters per three
/// bytes) and 64 KiB for the rest of the call (the file name, the JSON-RPC envelope).
pub const MAX_REQUEST_LINE: usize = MAX_BASE64_UPLOAD.div_ceil(3) * 4 + 64 * 1024;

/// The method of the request that stands for a line past [`MAX_REQUEST_LINE`].
pub(crate) const OVERSIZED_METHOD: &str = "cloud-task/request-too-large";

/// The longest `id` value kept from a line (ids are numbers or short strings).
const MAX_ID: usize = 256;

/// Passes the lines of `inner` through, replacing each line over the limit by a request
/// of [`OVERSIZED_METHOD`] (see the module's docs).
pub(crate) struct LineGuard<R> {
    inner: R,
    limit: usize,
    /// Bytes of the current line seen so far (passed through, or skipped).
    seen: usize,
    /// The current line is over the limit: its bytes are scanned and skipped.
    skipping: bool,
    scan: IdScan,
    /// Bytes to hand out before reading more: the end of a cut line, a replacement.
    pending: Vec<u8>,
    pending_at: usize,
    /// Bytes read from `inner` and not handed out yet.
    read: Box<[u8]>,
    read_at: usize,
    read_len: usize,
}

impl<R> LineGuard<R> {
    pub(crate) fn new(inner: R, limit: usize) -> Self {
        LineGuard {
            inner,
            limit,
            seen: 0,
            skipping: false,
            scan: IdScan::default(),
            pending: Vec::new(),
            pending_at: 0,
            read: vec![0; 64 * 1024].into_boxed_slice(),
            read_at: 0,
            read_len: 0,
        }
    }

    /// Moves what can go from the read buffer to `out` (or to `pending`), line by line.
    fn process(&mut self, out: &mut ReadBuf<'_>) {
        while self.read_at < self.read_len && out.remaining() > 0 && self.pending.is_empty() {
            let chunk = &self.read[self.read_at..self.read_len];
            let newline = chunk.iter().position(|&b| b == b'\n');
            let segment = &chunk[..newline.map_or(chunk.len(), |i| i + 1)];
            if self.skipping {
                self.scan.feed(segment);
                self.seen += segment.len();
                self.read_at += segment.len();
                if newline.is_some() {
                    self.pending = self.replacement();
                    self.pending_at = 0;
                    self.end_line();
                }
                continue;
            }
            // Pass through at most what the limit and `out` allow.
            let content = segment.len() - usize::from(newline.is_some());
            let room = self.limit - self.seen;
            if content > room {
                // The line goes past the limit: pass its allowed part, then cut it.
                let allowed = room.min(out.remaining());
                let passed = &segment[..allowed];
                self.scan.feed(passed);
                out.put_slice(passed);
                self.seen += allowed;
                self.read_at += allowed;
                if self.seen == self.limit {
                    self.skipping = true;
                    // A NUL makes the cut line invalid JSON, whatever it held.
                    self.pending = b"\0\n".to_vec();
                    self.pending_at = 0;
                }
                continue;
            }
            let take = segment.len().min(out.remaining());
            let passed = &segment[..take];
            self.scan.feed(passed);
            out.put_slice(passed);
            self.seen += take;
            self.read_at += take;
            if newline.is_some() && take == segment.len() {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        self.seen = 0;
        self.skipping = false;
        self.scan = IdScan::default();
    }

    /// The request that stands for the line just skipped, or nothing without an `id`.
    fn replacement(&self) -> Vec<u8> {
        let Some(id) = self.scan.id() else {
            return Vec::new();
        };
        let request = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": OVERSIZED_METHOD,
            "params": {"bytes": self.seen, "limit": self.limit},
        });
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        line
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LineGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let start = out.filled().len();
        loop {
            if this.pending_at < this.pending.len() {
                let n = (this.pending.len() - this.pending_at).min(out.remaining());
                out.put_slice(&this.pending[this.pending_at..this.pending_at + n]);
                this.pending_at += n;
                if this.pending_at == this.pending.len() {
                    this.pending.clear();
                    this.pending_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            this.process(out);
            if out.filled().len() > start || !this.pending.is_empty() {
                if out.filled().len() > start {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // Everything read was handed out: read more.
            let mut buf = ReadBuf::new(&mut this.read);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    this.read_at = 0;
                    this.read_len = n;
                    if n == 0 {
                        // End of input.
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Finds the top-level `id` of one JSON-RPC message, fed in pieces: a byte-level scan
/// (strings, escapes, nesting) that keeps nothing but the value of `id`.
#[derive(Default)]
struct IdScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    capturing_key: bool,
    key: Vec<u8>,
    capturing_value: bool,
    value: Vec<u8>,
    id: Option<Vec<u8>>,
}

impl IdScan {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.capturing_value {
                self.push_value(b);
            }
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.capturing_key = false;
                return;
            }
            if self.capturing_key && self.key.len() <= 2 {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.capturing_key = true;
                    self.key.clear();
                }
                if self.capturing_value {
                    self.push_value(b);
                }
            }
            b'{' | b'[' => {
                // An id is a number or a string: a nested value is not one.
                self.capturing_value = false;
                self.depth += 1;
                self.expect_key = self.depth == 1 && b == b'{';
            }
            b'}' | b']' => {
                if self.depth == 1 {
                    self.finish_value();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b',' if self.depth == 1 => {
                self.finish_value();
                self.expect_key = true;
            }
            b':' if self.depth == 1 => {
                self.expect_key = false;
                if self.key == b"id" && self.id.is_none() {
                    self.capturing_value = true;
                    self.value.clear();
                }
            }
            _ if self.capturing_value && !b.is_ascii_whitespace() => self.push_value(b),
            _ => {}
        }
    }

    fn push_value(&mut self, b: u8) {
        if self.value.len() < MAX_ID {
            self.value.push(b);
        } else {
            self.capturing_value = false;
        }
    }

    fn finish_value(&mut self) {
        if self.capturing_value {
            self.capturing_value = false;
            self.id = Some(std::mem::take(&mut self.value));
        }
    }

    /// The `id`, when the line had one that is a number or a string.
    fn id(&self) -> Option<Value> {
        let value: Value = serde_json::from_slice(self.id.as_deref()?).ok()?;
        (value.is_number() || value.is_string()).then_some(value)
    }
}

/// The JSON-RPC error answered to a request line over the limit: what it was, the limit,
/// and what to do instead.
pub(crate) fn oversized_error(params: Option<&Value>) -> ErrorData {
    let number = |key: &str| {
        params
            .and_then(|p| p.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (bytes, limit) = (number("bytes"), number("limit"));
    ErrorData::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "the request is {bytes} bytes, over the {limit} bytes this server reads in one \
             request: it was not read. upload_base64 takes at most {} MiB once decoded; \
             upload a larger file with upload_file from the machine that runs this server.",
            MAX_BASE64_UPLOAD / (1024 * 1024)
        ),
        Some(json!({"bytes": bytes, "limit": limit})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Reads all of `input` through a guard of `limit`, from a reader that hands out
    /// `piece` bytes at a time.
    async fn guarded(input: &[u8], limit: usize, piece: usize) -> Vec<u8> {
        let reader = tokio_test_reader(input.to_vec(), piece);
        let mut guard = LineGuard::new(reader, limit);
        let mut out = Vec::new();
        guard.read_to_end(&mut out).await.unwrap();
        out
    }

    /// A reader that hands out at most `piece` bytes per read.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self
                .piece
                .min(self.data.len() - self.at)
                .min(out.remaining());
            let at = self.at;
            out.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    fn tokio_test_reader(data: Vec<u8>, piece: usize) -> Pieces {
        Pieces { data, at: 0, piece }
    }

    fn lines(out: &[u8]) -> Vec<&[u8]> {
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect()
    }

    #[tokio::test]
    async fn lines_within_the_limit_pass_unchanged_in_any_pieces() {
        let input = b"{\"id\":1,\"method\":\"a\"}\n\n{\"id\":\"x\",\"method\":\"b\"}\n";
        for piece in [1, 3, 7, 64] {
            assert_eq!(guarded(input, 24, piece).await, input.to_vec(), "{piece}");
        }
        // A line of exactly the limit (newline not counted) passes too.
        let exact = b"{\"id\":1,\"m\":\"abcdefgh\"}\n";
        assert_eq!(guarded(exact, exact.len() - 1, 5).await, exact.to_vec());
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_cut_and_answered_with_its_id_wherever_it_is() {
        let big = "A".repeat(500);
        for (line, id) in [
            (
                format!(
                    r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"d":"{big}"}}}}"#
                ),
                json!(7),
            ),
            // The TypeScript SDK puts the id last.
            (
                format!(
                    r#"{{"method":"tools/call","params":{{"id":1,"d":"{big}\"}}"}},"jsonrpc":"2.0","id":"req-9"}}"#
                ),
                json!("req-9"),
            ),
        ] {
            for piece in [1, 13, 4096] {
                let input = format!("{line}\n{{\"id\":2,\"method\":\"ping\"}}\n");
                let out = guarded(input.as_bytes(), 100, piece).await;
                let got = lines(&out);
                assert_eq!(got.len(), 3, "{}", String::from_utf8_lossy(&out));
                // The cut line: the first 100 bytes and a NUL, not JSON.
                assert_eq!(got[0].len(), 101);
                assert!(serde_json::from_slice::<Value>(got[0]).is_err());
                let replacement: Value = serde_json::from_slice(got[1]).unwrap();
                assert_eq!(replacement["method"], OVERSIZED_METHOD);
                assert_eq!(replacement["id"], id);
                assert_eq!(replacement["params"]["bytes"], line.len() + 1);
                assert_eq!(replacement["params"]["limit"], 100);
                // The next line is intact.
                assert_eq!(got[2], br#"{"id":2,"method":"ping"}"#);
            }
        }
    }

    #[tokio::test]
    async fn a_notification_over_the_limit_gets_nothing() {
        let line = format!(
            r#"{{"method":"notifications/x","params":{{"d":"{}"}}}}"#,
            "B".repeat(300)
        );
        let out = guarded(format!("{line}\n").as_bytes(), 50, 17).await;
        let got = lines(&out);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 51);
    }

    #[test]
    fn the_limit_fits_the_largest_documented_upload() {
        let base64 = MAX_BASE64_UPLOAD.div_ceil(3) * 4;
        assert!(MAX_REQUEST_LINE > base64 + 1000);
        assert!(MAX_REQUEST_LINE < base64 + 1024 * 1024);
        let error = oversized_error(Some(
            &json!({"bytes": 50_000_000, "limit": MAX_REQUEST_LINE}),
        ));
        assert_eq!(error.code, ErrorCode::INVALID_REQUEST);
        assert!(
            error.message.contains("50000000 bytes"),
            "{}",
            error.message
        );
        assert!(error.message.contains("32 MiB"), "{}", error.message);
    }
}
