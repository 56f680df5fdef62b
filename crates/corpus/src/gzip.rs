//! One gzip member at a time over a [`RawReader`], with one inflate state and
//! one output buffer kept for all the members of a file.
//!
//! It behaves as `BufReader::with_capacity(64 KiB, flate2::bufread::GzDecoder)`
//! did for each member: the same header checks, inflate calls, CRC32/ISIZE
//! check and `io::Error`s (kind and message), and it consumes exactly the
//! member's bytes from the raw reader. A WARC file holds one member per
//! record, so a new decoder per member cost an inflate state, its window and
//! a buffer each time. Where the `BufReader` let a read bypass its buffer, a
//! record's block is inflated straight into the block
//! ([`ReadBlock::read_block`]).

use std::io::{self, BufRead, ErrorKind, Read};

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::input::RawReader;

/// Decompressed bytes buffered per `fill_buf`, as the `BufReader` had.
const BUF_SIZE: usize = 64 * 1024;
/// flate2's bound on a header's file name or comment.
const MAX_HEADER_FIELD: usize = 65535;

const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xe0;

/// A `BufRead` that can also read a record's block of known length.
pub(crate) trait ReadBlock: BufRead + Sized {
    /// Appends up to `n` bytes to `out`, fewer only at the end of the
    /// stream; returns how many.
    fn read_block(&mut self, n: u64, out: &mut Vec<u8>) -> io::Result<usize> {
        self.by_ref().take(n).read_to_end(out)
    }

    /// Bytes already read ahead, to look at without reading on (which
    /// could move where a read ends); none for a reader that does not say.
    fn buffered(&self) -> &[u8] {
        &[]
    }
}

impl<R: Read> ReadBlock for RawReader<R> {
    fn buffered(&self) -> &[u8] {
        self.buffer()
    }
}
impl<R: Read> ReadBlock for io::BufReader<R> {}

/// The state kept from member to member.
pub(crate) struct Inflater {
    st: Inflate,
    /// Decompressed bytes: `buf[pos..end]` not yet consumed. Zeroed once:
    /// flate2 zero-fills any uninitialized output before each inflate call.
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
}

struct Inflate {
    dec: Decompress,
    crc: Crc,
    state: State,
}

enum State {
    Header,
    Body,
    /// CRC32 and ISIZE: bytes read so far.
    Trailer(usize, [u8; 8]),
    End,
}

impl Inflater {
    pub(crate) fn new() -> Box<Inflater> {
        Box::new(Inflater {
            st: Inflate {
                dec: Decompress::new(false),
                crc: Crc::new(),
                state: State::Header,
            },
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
        })
    }

    fn start(&mut self) {
        self.st.dec.reset(false);
        self.st.crc.reset();
        self.st.state = State::Header;
        self.pos = 0;
        self.end = 0;
    }
}

/// The gzip member starting at the raw reader's position.
pub(crate) struct GzMember<R> {
    raw: RawReader<R>,
    z: Box<Inflater>,
}

impl<R: Read> GzMember<R> {
    /// Starts a member with `z` (reset here) at `raw`'s position.
    pub(crate) fn new(raw: RawReader<R>, mut z: Box<Inflater>) -> Self {
        z.start();
        GzMember { raw, z }
    }

    pub(crate) fn raw(&self) -> &RawReader<R> {
        &self.raw
    }

    /// The raw reader, and the inflater for the next member.
    pub(crate) fn into_parts(self) -> (RawReader<R>, Box<Inflater>) {
        (self.raw, self.z)
    }
}

impl Inflate {
    /// Decompresses into `out` as one `GzDecoder::read` did; 0 at the end of
    /// the member (or for an empty `out`).
    fn read<R: Read>(&mut self, raw: &mut RawReader<R>, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                State::Header => {
                    read_header(raw)?;
                    self.state = State::Body;
                }
                State::Body => {
                    if out.is_empty() {
                        return Ok(0);
                    }
                    match inflate(raw, &mut self.dec, out)? {
                        0 => self.state = State::Trailer(0, [0; 8]),
                        n => {
                            self.crc.update(&out[..n]);
                            return Ok(n);
                        }
                    }
                }
                State::Trailer(got, bytes) => {
                    if *got < bytes.len() {
                        *got += read_into(raw, &mut bytes[*got..])?;
                        continue;
                    }
                    let crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    let size = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
                    self.state = State::End;
                    if crc != self.crc.sum() || size != self.crc.amount() {
                        return Err(corrupt());
                    }
                }
                State::End => return Ok(0),
            }
        }
    }
}

impl<R: Read> BufRead for GzMember<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let z = &mut *self.z;
        if z.pos == z.end {
            z.pos = 0;
            z.end = 0;
            z.end = z.st.read(&mut self.raw, &mut z.buf)?;
        }
        Ok(&z.buf[z.pos..z.end])
    }

    fn consume(&mut self, amt: usize) {
        self.z.pos = (self.z.pos + amt).min(self.z.end);
    }
}

impl<R: Read> Read for GzMember<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Zeroed ahead of inflating into a block, at most: a false Content-Length
/// does not allocate more than the data it gets.
const BLOCK_STEP: usize = 1 << 20;

impl<R: Read> ReadBlock for GzMember<R> {
    fn buffered(&self) -> &[u8] {
        &self.z.buf[self.z.pos..self.z.end]
    }

    /// Inflates straight into `out` where the `BufReader` let a read bypass
    /// its buffer (buffer empty, 64 KiB or more to read), so an inflate call
    /// never reads past the block there; the rest goes through the buffer as
    /// before. The output of a failing call is lost, so where calls end
    /// decides whether a block was read whole before a damaged member fails.
    fn read_block(&mut self, n: u64, out: &mut Vec<u8>) -> io::Result<usize> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let start = out.len();
        let mut got = 0;
        while got < n {
            let want = n - got;
            let res = if self.z.pos == self.z.end && want >= BUF_SIZE {
                if out.len() == start + got {
                    out.resize(start + got + want.min(BLOCK_STEP), 0);
                }
                self.z.st.read(&mut self.raw, &mut out[start + got..])
            } else {
                out.truncate(start + got);
                self.fill_buf().map(|buf| {
                    let k = buf.len().min(want);
                    out.extend_from_slice(&buf[..k]);
                    k
                })
            };
            match res {
                Ok(0) => break,
                Ok(k) => {
                    // A no-op after a read past the (empty) buffer.
                    self.consume(k);
                    got += k;
                }
                Err(e) => {
                    out.truncate(start + got);
                    return Err(e);
                }
            }
        }
        out.truncate(start + got);
        Ok(got)
    }
}

/// flate2's `zio::read`: inflates what the reader holds into `out`, reading
/// on until some output, the end of the stream or an error.
fn inflate<R: Read>(
    raw: &mut RawReader<R>,
    dec: &mut Decompress,
    out: &mut [u8],
) -> io::Result<usize> {
    loop {
        let input = raw.fill_buf()?;
        let eof = input.is_empty();
        let flush = if eof {
            FlushDecompress::Finish
        } else {
            FlushDecompress::None
        };
        let (before_in, before_out) = (dec.total_in(), dec.total_out());
        let ret = dec.decompress(input, out, flush);
        let consumed = (dec.total_in() - before_in) as usize;
        let read = (dec.total_out() - before_out) as usize;
        raw.consume(consumed);
        match ret {
            Ok(Status::Ok | Status::BufError) if read == 0 && !eof => continue,
            Ok(Status::Ok | Status::BufError) if read == 0 => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "incomplete deflate stream",
                ));
            }
            Ok(_) => return Ok(read),
            Err(_) => {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "corrupt deflate stream",
                ));
            }
        }
    }
}

/// flate2's gzip header parser (`GzHeaderParser::parse`), keeping nothing.
fn read_header<R: Read>(raw: &mut RawReader<R>) -> io::Result<()> {
    let mut head = [0u8; 10];
    read_full(raw, &mut head)?;
    if head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 || head[3] & FRESERVED != 0 {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "invalid gzip header",
        ));
    }
    let flags = head[3];
    let mut crc = (flags & FHCRC != 0).then(|| {
        let mut c = Crc::new();
        c.update(&head);
        c
    });
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        read_full(raw, &mut xlen)?;
        if let Some(c) = &mut crc {
            c.update(&xlen);
        }
        let mut extra = vec![0u8; u16::from_le_bytes(xlen) as usize];
        read_full(raw, &mut extra)?;
        if let Some(c) = &mut crc {
            c.update(&extra);
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            read_to_nul(raw, crc.as_mut())?;
        }
    }
    if let Some(c) = crc {
        let mut stored = [0u8; 2];
        read_full(raw, &mut stored)?;
        if u16::from_le_bytes(stored) != c.sum() as u16 {
            return Err(corrupt());
        }
    }
    Ok(())
}

fn read_full<R: Read>(raw: &mut RawReader<R>, buf: &mut [u8]) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        got += read_into(raw, &mut buf[got..])?;
    }
    Ok(())
}

/// flate2's `read_into`: end of input is an error.
fn read_into<R: Read>(raw: &mut RawReader<R>, buf: &mut [u8]) -> io::Result<usize> {
    match raw.read(buf) {
        Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// Skips a NUL-terminated header field (file name, comment), bounded as
/// flate2 bounds it.
fn read_to_nul<R: Read>(raw: &mut RawReader<R>, mut crc: Option<&mut Crc>) -> io::Result<()> {
    let mut len = 0;
    loop {
        let buf = raw.fill_buf()?;
        if buf.is_empty() {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let (n, done) = match memchr::memchr(0, buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let field = n - usize::from(done);
        if len + field > MAX_HEADER_FIELD {
            // flate2 fails on the byte after 65535 of them, having read it.
            let n = MAX_HEADER_FIELD - len + 1;
            raw.consume(n);
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "gzip header field too long",
            ));
        }
        len += field;
        if let Some(c) = crc.as_deref_mut() {
            c.update(&buf[..n]);
        }
        raw.consume(n);
        if done {
            return Ok(());
        }
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        ErrorKind::InvalidInput,
        "corrupt gzip stream does not have a matching checksum",
    )
}

#[cfg(test)]
mod tests {
    //! Differential: a member read through [`GzMember`] against
    //! `BufReader::with_capacity(64 KiB, flate2::bufread::GzDecoder)`, the
    //! reader it replaces, on real members and damaged ones.

    use super::*;
    use flate2::{Compression, GzBuilder};
    use std::io::{BufReader, Write};

    /// The output that reached the caller (length, CRC32), the error (kind
    /// and message) and the raw position where reading stopped.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        bytes: (usize, u32),
        error: Option<(ErrorKind, String)>,
        raw_pos: u64,
    }

    /// Reads a member as the WARC parser does: `fill_buf`/`consume` steps of
    /// `step` bytes, with blocks of `block` bytes read in between (0: none).
    /// On an error, what the calls before it returned (a block read only in
    /// part counts for nothing: the parser drops it).
    fn run<B: ReadBlock>(r: &mut B, step: usize, block: u64) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) => return (out, Some(e)),
            };
            if buf.is_empty() {
                return (out, None);
            }
            let n = buf.len().min(step);
            out.extend_from_slice(&buf[..n]);
            r.consume(n);
            if block > 0 {
                let mut b = Vec::with_capacity(block.min(1 << 20) as usize);
                match r.read_block(block, &mut b) {
                    Ok(got) => {
                        assert_eq!(got, b.len());
                        out.extend_from_slice(&b);
                        if (got as u64) < block {
                            return (out, None);
                        }
                    }
                    Err(e) => return (out, Some(e)),
                }
            }
        }
    }

    fn outcome((bytes, error): (Vec<u8>, Option<io::Error>), raw_pos: u64) -> Outcome {
        let mut crc = Crc::new();
        crc.update(&bytes);
        Outcome {
            bytes: (bytes.len(), crc.sum()),
            error: error.map(|e| (e.kind(), e.to_string())),
            raw_pos,
        }
    }

    /// The reference: flate2's decoder behind a 64 KiB `BufReader`, the
    /// block read with `take` + `read_to_end` as before.
    struct Reference<'a>(BufReader<flate2::bufread::GzDecoder<RawReader<&'a [u8]>>>);

    impl Read for Reference<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl BufRead for Reference<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            self.0.fill_buf()
        }
        fn consume(&mut self, amt: usize) {
            self.0.consume(amt)
        }
    }
    impl ReadBlock for Reference<'_> {}

    /// Both readers over `data` (a member, maybe damaged, maybe followed by
    /// more), with blocks of several sizes and one ending just before the
    /// end of the member's data, `len` bytes.
    fn compare(data: &[u8], len: usize, label: &str) {
        let patterns = [
            (usize::MAX, 0),
            (37, 0),
            (200, 5_000),
            (10, 70_000),
            (1, 300_000),
            (300, len.saturating_sub(302).max(1) as u64),
        ];
        for (step, block) in patterns {
            let mut old = Reference(BufReader::with_capacity(
                BUF_SIZE,
                flate2::bufread::GzDecoder::new(RawReader::new(data)),
            ));
            let res = run(&mut old, step, block);
            let want = outcome(res, old.0.get_ref().get_ref().pos());
            let mut new = GzMember::new(RawReader::new(data), Inflater::new());
            let res = run(&mut new, step, block);
            let got = outcome(res, new.raw().pos());
            assert_eq!(got, want, "{label}, step {step}, block {block}");
        }
        // With the inflater of an earlier member reused.
        let mut z = Inflater::new();
        for _ in 0..2 {
            let mut old = flate2::bufread::GzDecoder::new(data);
            let mut want = Vec::new();
            let want_err = old.read_to_end(&mut want).err().map(|e| e.to_string());
            let mut new = GzMember::new(RawReader::new(data), z);
            let mut got = Vec::new();
            let got_err = new.read_to_end(&mut got).err().map(|e| e.to_string());
            assert_eq!(got_err, want_err, "{label}, reused");
            if want_err.is_none() {
                assert_eq!(got, want, "{label}, reused");
            }
            z = new.into_parts().1;
        }
    }

    /// The length of an intact member's data.
    fn inflated_len(member: &[u8]) -> usize {
        let mut d = flate2::bufread::GzDecoder::new(member);
        io::copy(&mut d, &mut io::sink()).unwrap() as usize
    }

    /// The first members of a real per-record-gzip WARC.
    fn real_members(n: usize) -> Vec<Vec<u8>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/corpus/warc/gov.uk-2014-crawl-a.warc.gz"
        );
        let data = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() && out.len() < n {
            let mut d = flate2::bufread::GzDecoder::new(&data[pos..]);
            io::copy(&mut d, &mut io::sink()).unwrap();
            let end = data.len() - d.into_inner().len();
            out.push(data[pos..end].to_vec());
            pos = end;
        }
        out
    }

    /// A member of ~150 KB of text (over two buffers) with every optional header field.
    fn big_member() -> Vec<u8> {
        let mut text = Vec::new();
        let mut x = 12345u32;
        while text.len() < 150_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            write!(text, "word{} ", (x >> 16) % 5000).unwrap();
        }
        let mut e = GzBuilder::new()
            .filename("a.warc")
            .comment("c")
            .extra(vec![1, 2, 3])
            .operating_system(3)
            .write(Vec::new(), Compression::default());
        e.write_all(&text).unwrap();
        let mut m = e.finish().unwrap();
        // GzBuilder writes no header CRC: add one (FHCRC).
        let header_len = 10 + 2 + 3 + 7 + 2;
        m[3] |= FHCRC;
        let mut crc = Crc::new();
        crc.update(&m[..header_len]);
        let sum = (crc.sum() as u16).to_le_bytes();
        m.splice(header_len..header_len, sum);
        m
    }

    #[test]
    fn intact_members_read_the_same() {
        let ms = real_members(40);
        let mut all = Vec::new();
        for (i, m) in ms.iter().enumerate() {
            compare(m, inflated_len(m), &format!("member {i}"));
            all.extend_from_slice(m);
        }
        // Followed by the next members: exactly one member is consumed.
        compare(&all, inflated_len(&ms[0]), "members in a row");
        let big = big_member();
        compare(&big, inflated_len(&big), "big member");
    }

    /// A member whose last deflate block, holding its last 2 bytes, has an
    /// invalid block type: inflating fails just after the rest came out.
    /// Whether a block read ending there is whole before the error depends
    /// on where the inflate calls end, as with flate2 behind the `BufReader`.
    #[test]
    fn a_failing_last_deflate_block_fails_the_same() {
        for len in [2_000, 60_000, 70_000, 150_000, 300_000] {
            let text: Vec<u8> = (0..len)
                .map(|i| b"abcdefgh  \r\n"[i % 11] ^ (i % 7) as u8)
                .collect();
            let mut c = flate2::Compress::new(Compression::default(), false);
            let mut deflate = Vec::with_capacity(len + 1024);
            c.compress_vec(&text[..len - 2], &mut deflate, flate2::FlushCompress::Sync)
                .unwrap();
            let last = deflate.len();
            c.compress_vec(
                &text[len - 2..],
                &mut deflate,
                flate2::FlushCompress::Finish,
            )
            .unwrap();
            let mut m = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
            m.extend_from_slice(&deflate);
            let mut crc = Crc::new();
            crc.update(&text);
            m.extend_from_slice(&crc.sum().to_le_bytes());
            m.extend_from_slice(&(len as u32).to_le_bytes());
            compare(&m, len, &format!("{len} bytes, intact"));
            m[10 + last] |= 0b110;
            compare(&m, len, &format!("{len} bytes, bad last block"));
        }
    }

    #[test]
    fn damaged_members_fail_the_same() {
        let mut ms = real_members(4);
        ms.push(big_member());
        for (i, m) in ms.iter().enumerate() {
            let len = inflated_len(m);
            let next = &ms[(i + 1) % ms.len()];
            let stride = (m.len() / 41).max(1);
            // Every byte of the end: the deflate stream's last blocks, the trailer.
            let end = m.len().saturating_sub(40)..m.len();
            for at in (0..m.len()).step_by(stride).chain(end) {
                compare(&m[..at], len, &format!("member {i} cut at {at}"));
                for bit in [0x01, 0x40] {
                    let mut bad = m.clone();
                    bad[at] ^= bit;
                    bad.extend_from_slice(next);
                    compare(&bad, len, &format!("member {i} byte {at} ^ {bit:#x}"));
                }
            }
            for flag in [FHCRC, FEXTRA, FNAME, FCOMMENT, 0x20] {
                let mut bad = m.clone();
                bad[3] ^= flag;
                bad.extend_from_slice(next);
                compare(&bad, len, &format!("member {i} flag {flag:#x}"));
            }
        }
        // A header field longer than flate2 accepts.
        let mut long = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
        long.extend(std::iter::repeat_n(b'a', 70_000));
        long.push(0);
        compare(&long, 0, "long file name");
        compare(&[], 0, "empty");
        compare(&[0x1f, 0x8b], 0, "two bytes");
    }
}
