//! Byte-level input: a counting buffered reader with look-ahead, and
//! compression detection by magic bytes.

use std::io::{self, BufRead, Read};

const BUF_SIZE: usize = 64 * 1024;

/// Buffered reader that counts consumed bytes and can peek a few bytes ahead.
pub(crate) struct RawReader<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    pos: u64,
    eof: bool,
}

impl<R: Read> RawReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        RawReader {
            inner,
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    fn read_more(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Up to `n` (≤ 64 KiB) bytes ahead without consuming; fewer only at EOF.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(self.buf.len());
        if self.end - self.start < n {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            while self.end - self.start < n {
                if self.read_more()? == 0 {
                    break;
                }
            }
        }
        let avail = (self.end - self.start).min(n);
        Ok(&self.buf[self.start..self.start + avail])
    }

    /// Scans forward for the next gzip member header (`1f 8b 08` followed by
    /// a flag byte with reserved bits clear). Returns true if found (positioned
    /// on it), false at EOF.
    pub(crate) fn scan_gzip_magic(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match memchr::memchr(0x1f, buf) {
                None => {
                    let n = buf.len();
                    self.consume(n);
                }
                Some(i) => {
                    self.consume(i);
                    let head = self.peek(4)?;
                    if head.len() < 4 {
                        let n = head.len();
                        self.consume(n);
                        return Ok(false);
                    }
                    if head[1] == 0x8b && head[2] == 0x08 && head[3] & 0xe0 == 0 {
                        return Ok(true);
                    }
                    self.consume(1);
                }
            }
        }
    }
}

impl<R: Read> BufRead for RawReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.end - self.start);
        self.start += amt;
        self.pos += amt as u64;
    }
}

impl<R: Read> Read for RawReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Compression of a stored object, by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects the compression from an object's first bytes.
    pub fn detect(head: &[u8]) -> Compression {
        if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
            Compression::Gzip
        } else if head.len() >= 4 && head[..4] == [0x28, 0xb5, 0x2f, 0xfd] {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Multi-frame zstd over a `BufRead`.
pub(crate) struct ZstdMulti<R: BufRead> {
    cur: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
    idle: Option<R>,
}

impl<R: BufRead> ZstdMulti<R> {
    pub(crate) fn new(r: R) -> Self {
        ZstdMulti {
            cur: None,
            idle: Some(r),
        }
    }
}

impl<R: BufRead> Read for ZstdMulti<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(d) = &mut self.cur {
                let n = d.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                if let Some(d) = self.cur.take() {
                    self.idle = Some(d.into_inner());
                }
            }
            let Some(mut r) = self.idle.take() else {
                return Ok(0);
            };
            if r.fill_buf()?.is_empty() {
                self.idle = Some(r);
                return Ok(0);
            }
            match ruzstd::decoding::StreamingDecoder::new(r) {
                Ok(d) => self.cur = Some(d),
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("zstd: {e}"),
                    ));
                }
            }
        }
    }
}
