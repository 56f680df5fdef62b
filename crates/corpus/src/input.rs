//! Byte-level input: a counting buffered reader with look-ahead, and
//! compression detection by magic bytes.

use std::io::{self, BufRead, Read};

const BUF_SIZE: usize = 64 * 1024;
/// Kept bytes of a recording are trimmed once they reach this size (and then
/// each time they double).
const TRIM_AT: usize = 64 * 1024;
/// At most this many consumed bytes are kept for a rewind. A decoder that
/// reads further past a damaged member before it notices loses the members
/// it ran over (each later candidate is still kept).
const MAX_KEPT: usize = 8 * 1024 * 1024;

/// Buffered reader that counts consumed bytes and can peek a few bytes ahead.
/// It can also keep the bytes consumed since a mark and hand them back
/// ([`RawReader::rewind`]), so that a damaged gzip member is rescanned from
/// its own start rather than from wherever inflating it failed.
pub(crate) struct RawReader<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    pos: u64,
    eof: bool,
    /// Bytes handed back by `rewind`, served before `inner` is read again.
    replay: Vec<u8>,
    replay_at: usize,
    recording: Option<Recording>,
    /// The last recording's buffer, reused: one per member would cost an
    /// allocation and its growth copies on every member.
    spare: Vec<u8>,
}

/// Consumed bytes from position `from` on, less any prefix that holds no
/// possible gzip member start (a rewind only looks for one).
struct Recording {
    from: u64,
    /// The kept bytes: these, then `buf[in_buf..start]` of the reader (not
    /// copied while they stay there: most members end before it is reused).
    bytes: Vec<u8>,
    in_buf: usize,
    trim_at: usize,
    /// `bytes[0]` is still the mark (a member's first byte, never rescanned).
    at_mark: bool,
}

/// Whether `b` starts like a gzip member: `1f 8b 08` and a flag byte with
/// its reserved bits clear.
fn is_member_start(b: &[u8]) -> bool {
    b.len() >= 4 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08 && b[3] & 0xe0 == 0
}

/// Index of the first possible member start at or after `from`; a match cut
/// by the end of `b` counts, since the next bytes may complete it.
fn next_member_start(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        let j = i + memchr::memchr(0x1f, &b[i..])?;
        let tail = &b[j..];
        if is_member_start(tail) || (tail.len() < 4 && is_prefix_of_member_start(tail)) {
            return Some(j);
        }
        i = j + 1;
    }
    None
}

fn is_prefix_of_member_start(tail: &[u8]) -> bool {
    let magic = [0x1f, 0x8b, 0x08];
    tail.iter().zip(magic).all(|(a, b)| *a == b)
}

impl Recording {
    fn trim(&mut self) {
        let from = usize::from(self.at_mark);
        let cut = next_member_start(&self.bytes, from).unwrap_or(self.bytes.len());
        self.drop_front(cut);
        while self.bytes.len() > MAX_KEPT {
            // Over the bound: give up the earliest candidate.
            let cut = next_member_start(&self.bytes, 1).unwrap_or(self.bytes.len());
            self.drop_front(cut);
        }
        self.trim_at = (self.bytes.len() * 2).max(TRIM_AT);
    }

    fn drop_front(&mut self, n: usize) {
        if n > 0 {
            self.at_mark = false;
        }
        self.bytes.drain(..n);
        self.from += n as u64;
    }
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
            replay: Vec::new(),
            replay_at: 0,
            recording: None,
            spare: Vec::new(),
        }
    }

    /// Starts keeping the bytes consumed from here on (replacing any earlier
    /// recording), for a later [`RawReader::rewind`].
    pub(crate) fn start_recording(&mut self) {
        self.stop_recording();
        let mut bytes = std::mem::take(&mut self.spare);
        if bytes.capacity() > 2 * TRIM_AT {
            // Grown by a long read past a damaged member: not kept for good.
            bytes = Vec::new();
        }
        bytes.clear();
        self.recording = Some(Recording {
            from: self.pos,
            bytes,
            in_buf: self.start,
            trim_at: TRIM_AT,
            at_mark: true,
        });
    }

    pub(crate) fn stop_recording(&mut self) {
        if let Some(rec) = self.recording.take() {
            self.spare = rec.bytes;
        }
    }

    /// Goes back to position `to` (after the recording's mark), or to the
    /// first kept byte after it if the bytes before hold no member start, so
    /// the next reads return those bytes again. Ends the recording; false if
    /// there was none.
    pub(crate) fn rewind(&mut self, to: u64) -> bool {
        self.keep_recorded();
        let Some(rec) = self.recording.take() else {
            return false;
        };
        let to = to.max(rec.from);
        if to > self.pos {
            return false;
        }
        let skip = (to - rec.from) as usize;
        let mut replay = Vec::with_capacity(
            rec.bytes.len() - skip + (self.end - self.start) + (self.replay.len() - self.replay_at),
        );
        replay.extend_from_slice(&rec.bytes[skip..]);
        replay.extend_from_slice(&self.buf[self.start..self.end]);
        replay.extend_from_slice(&self.replay[self.replay_at..]);
        self.replay = replay;
        self.replay_at = 0;
        self.spare = rec.bytes;
        self.start = 0;
        self.end = 0;
        self.pos = to;
        true
    }

    /// Copies the recorded bytes still in `buf` to the recording, before
    /// `start` moves to 0.
    fn keep_recorded(&mut self) {
        if let Some(rec) = &mut self.recording {
            rec.bytes
                .extend_from_slice(&self.buf[rec.in_buf..self.start]);
            rec.in_buf = 0;
        }
    }

    /// The recording's start and kept bytes.
    #[cfg(test)]
    fn recorded(&self) -> Option<(u64, Vec<u8>)> {
        self.recording.as_ref().map(|rec| {
            let mut bytes = rec.bytes.clone();
            bytes.extend_from_slice(&self.buf[rec.in_buf..self.start]);
            (rec.from, bytes)
        })
    }

    /// The bytes read ahead and not consumed yet.
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    fn read_more(&mut self) -> io::Result<usize> {
        if self.replay_at < self.replay.len() {
            let n = (self.replay.len() - self.replay_at).min(self.buf.len() - self.end);
            self.buf[self.end..self.end + n]
                .copy_from_slice(&self.replay[self.replay_at..self.replay_at + n]);
            self.end += n;
            self.replay_at += n;
            if self.replay_at == self.replay.len() {
                self.replay = Vec::new();
                self.replay_at = 0;
            }
            return Ok(n);
        }
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
                self.keep_recorded();
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
                    if is_member_start(head) {
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
            self.keep_recorded();
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.end - self.start);
        if let Some(rec) = &mut self.recording {
            let end = self.start + amt;
            // Trimmed as soon as the kept bytes reach the size.
            if rec.bytes.len() + (end - rec.in_buf) >= rec.trim_at {
                rec.bytes.extend_from_slice(&self.buf[rec.in_buf..end]);
                rec.in_buf = end;
                rec.trim();
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// Filler without any 0x1f byte, so it holds no member start.
    fn filler(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| match (i % 251) as u8 {
                0x1f => 0x20,
                b => b,
            })
            .collect()
    }

    /// Consumes `n` bytes through `BufRead`, as a decoder would.
    fn consume(r: &mut RawReader<&[u8]>, mut n: usize) {
        while n > 0 {
            let k = r.fill_buf().unwrap().len().min(n);
            assert!(k > 0);
            r.consume(k);
            n -= k;
        }
    }

    #[test]
    fn rewind_replays_the_consumed_bytes_then_the_rest() {
        let data = filler(300_000);
        let mut r = RawReader::new(&data[..]);
        consume(&mut r, 10);
        r.start_recording();
        consume(&mut r, 1000);
        let _ = r.peek(100).unwrap();
        assert!(r.rewind(11));
        assert_eq!(r.pos(), 11);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[11..]);
    }

    /// A member start far behind the failure point is found again, however
    /// often the kept bytes were trimmed on the way.
    #[test]
    fn rewind_after_trimming_keeps_the_first_member_start() {
        let mut data = filler(200_000);
        data.extend_from_slice(&[0x1f, 0x8b, 0x08, 0x00]);
        data.extend(filler(400_000));
        let mut r = RawReader::new(&data[..]);
        r.start_recording();
        consume(&mut r, data.len() - 10);
        assert!(r.rewind(1));
        assert!(r.scan_gzip_magic().unwrap());
        assert_eq!(r.pos(), 200_000);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Consume(usize),
        Peek(usize),
        Read(usize),
        Record,
    }

    proptest::proptest! {
        /// The kept bytes are those of a recording that copies every
        /// consumed byte at once (trimmed whenever they reach the size),
        /// whatever the reads and peeks in between.
        #[test]
        fn recording_keeps_what_copying_each_byte_kept(
            chunks in proptest::collection::vec(
                proptest::prop_oneof![
                    (1usize..40_000).prop_map(filler),
                    proptest::strategy::Just(vec![0x1f, 0x8b, 0x08, 0x00]),
                    proptest::strategy::Just(vec![0x1f]),
                ],
                1..40,
            ),
            ops in proptest::collection::vec(proptest::prop_oneof![
                (1usize..30_000).prop_map(Op::Consume),
                (1usize..70_000).prop_map(Op::Peek),
                (1usize..100_000).prop_map(Op::Read),
                proptest::strategy::Just(Op::Record),
            ], 1..60),
        ) {
            let data = chunks.concat();
            let mut r = RawReader::new(&data[..]);
            let mut shadow: Option<Recording> = None;
            for op in ops {
                let before = r.pos() as usize;
                match op {
                    // (One `consume` per step, as the shadow trims.)
                    Op::Consume(n) => {
                        let k = r.fill_buf().unwrap().len().min(n);
                        r.consume(k);
                    }
                    Op::Peek(n) => {
                        let _ = r.peek(n).unwrap();
                    }
                    Op::Read(n) => {
                        let mut buf = vec![0; n];
                        let _ = r.read(&mut buf).unwrap();
                    }
                    Op::Record => {
                        r.start_recording();
                        shadow = Some(Recording {
                            from: r.pos(),
                            bytes: Vec::new(),
                            in_buf: 0,
                            trim_at: TRIM_AT,
                            at_mark: true,
                        });
                    }
                }
                if let Some(rec) = &mut shadow {
                    rec.bytes.extend_from_slice(&data[before..r.pos() as usize]);
                    if r.pos() as usize > before && rec.bytes.len() >= rec.trim_at {
                        rec.trim();
                    }
                }
                let want = shadow.as_ref().map(|rec| (rec.from, rec.bytes.clone()));
                proptest::prop_assert_eq!(r.recorded(), want);
            }
        }
    }

    #[test]
    fn rewind_never_rescans_the_mark() {
        let mut data = vec![0x1f, 0x8b, 0x08, 0x00];
        data.extend(filler(100_000));
        let mut r = RawReader::new(&data[..]);
        r.start_recording();
        consume(&mut r, data.len());
        assert!(r.rewind(1));
        assert!(!r.scan_gzip_magic().unwrap());
    }
}
