//! Streamed answers: one JSON document per line (NDJSON), read as the network
//! delivers them.

use super::GatewayError;
use std::collections::VecDeque;

/// Splits a byte stream into lines whatever the chunk boundaries: a line (or
/// a UTF-8 character) split across two chunks comes out whole.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
}

impl LineBuffer {
    /// Adds a chunk; returns the lines it completes, without `\n` or `\r\n`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(i) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + i;
            let mut line = &self.buf[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            lines.push(line.to_vec());
            start = end + 1;
            self.scanned = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        lines
    }

    /// The stream ended: the last line, if it had no newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        self.scanned = 0;
        let rest = std::mem::take(&mut self.buf);
        (!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest)
    }
}

/// An open NDJSON answer.
#[derive(Debug)]
pub struct NdjsonStream {
    gateway: String,
    resp: reqwest::Response,
    lines: LineBuffer,
    ready: VecDeque<Vec<u8>>,
    ended: bool,
}

impl NdjsonStream {
    pub(super) fn new(gateway: &str, resp: reqwest::Response) -> Self {
        Self {
            gateway: gateway.to_owned(),
            resp,
            lines: LineBuffer::default(),
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The next line (without its newline); `None` once the gateway ended
    /// the answer properly. An answer that breaks off is an error; the
    /// lines completed before the break come first.
    pub async fn next_line(&mut self) -> Result<Option<Vec<u8>>, GatewayError> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Ok(Some(line));
            }
            if self.ended {
                return Ok(None);
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => self.ready.extend(self.lines.push(&bytes)),
                Ok(None) => {
                    self.ended = true;
                    self.ready.extend(self.lines.finish());
                }
                Err(e) => {
                    return Err(GatewayError::Read {
                        gateway: self.gateway.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_split_across_chunks_is_reassembled() {
        let mut b = LineBuffer::default();
        let whole = "{\"data\":\"h\u{e9}llo\"}\n";
        let bytes = whole.as_bytes();
        // Split in the middle of the two-byte `é`.
        let cut = whole.find('\u{e9}').unwrap() + 1;
        assert!(b.push(&bytes[..cut]).is_empty());
        assert_eq!(b.push(&bytes[cut..]), vec![whole.trim_end().as_bytes()]);
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn byte_by_byte_and_several_lines_per_chunk_agree() {
        let text = "a\r\nb\n\nc\n";
        let mut one = LineBuffer::default();
        let at_once = one.push(text.as_bytes());
        let mut two = LineBuffer::default();
        let mut bytewise = Vec::new();
        for byte in text.as_bytes() {
            bytewise.extend(two.push(std::slice::from_ref(byte)));
        }
        assert_eq!(at_once, bytewise);
        assert_eq!(
            at_once,
            vec![b"a".to_vec(), b"b".to_vec(), vec![], b"c".to_vec()]
        );
    }

    #[test]
    fn a_last_line_without_newline_is_kept() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"{}").is_empty());
        assert_eq!(b.finish(), Some(b"{}".to_vec()));
        let mut blank = LineBuffer::default();
        blank.push(b"  ");
        assert_eq!(blank.finish(), None);
    }
}
