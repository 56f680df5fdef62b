//! Memory stays bounded whatever the row count: 1,000,000 rows through a
//! counting `Write`, in every format.

mod common;

use std::io::{self, Write};

use common::manifest_row;
use provindex_manifest::{ManifestFormat, ManifestWriter, RowSink, WriterOptions};

/// Records what the caller's output (e.g. a multipart upload) would see.
#[derive(Default)]
struct Counting {
    bytes: u64,
    writes: u64,
    max_write: usize,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.writes += 1;
        self.max_write = self.max_write.max(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const ROWS: u64 = 1_000_000;

fn next_row(row: &mut provindex_manifest::ManifestRow, i: u64) {
    use std::fmt::Write as _;
    row.content_id.clear();
    write!(row.content_id, "{i:032x}").unwrap();
    row.sha256.clear();
    write!(row.sha256, "{:064x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).unwrap();
    row.url.truncate("https://example0.org/page/".len());
    write!(row.url, "{i}").unwrap();
    row.capture_time = 1_700_000_000 + i as i64;
    row.location.offset = i * 4096;
    row.tokens = 100 + i % 1000;
}

struct Seen {
    output: Counting,
    max_buffered_rows: usize,
    /// Max of `buffered_bytes` over the first tenth of the rows, and overall.
    max_bytes_early: usize,
    max_bytes: usize,
    /// Bytes the output had received half way through.
    bytes_at_half: u64,
    row_groups: usize,
}

fn stream(format: ManifestFormat, options: &WriterOptions) -> Seen {
    let mut writer = ManifestWriter::new(Counting::default(), format, options).unwrap();
    let (mut max_rows, mut max_bytes_early, mut max_bytes) = (0, 0, 0);
    let mut bytes_at_half = 0;
    let mut row = manifest_row(0);
    for i in 0..ROWS {
        // Distinct ids and offsets without formatting a whole row each time
        // (debug builds): the rest repeats, as crawl and license do.
        next_row(&mut row, i);
        writer.write_row(&row).unwrap();
        max_rows = max_rows.max(writer.buffered_rows());
        // buffered_bytes walks the column writers: sample it.
        if i % 97 == 0 {
            max_bytes = max_bytes.max(writer.buffered_bytes());
            if i < ROWS / 10 {
                max_bytes_early = max_bytes;
            }
        }
        if i == ROWS / 2 {
            bytes_at_half = writer.output_bytes();
        }
    }
    let (output, summary) = writer.finish().unwrap();
    assert_eq!(summary.rows, ROWS);
    assert_eq!(summary.bytes, output.bytes);
    Seen {
        output,
        max_buffered_rows: max_rows,
        max_bytes_early,
        max_bytes,
        bytes_at_half,
        row_groups: summary.row_groups,
    }
}

#[test]
fn a_million_parquet_rows_stay_within_one_row_group() {
    let bound = 20_000;
    let options = WriterOptions {
        row_group_rows: bound,
        ..WriterOptions::default()
    };
    let seen = stream(ManifestFormat::Parquet, &options);
    assert_eq!(seen.row_groups, (ROWS as usize).div_ceil(bound));
    assert!(
        seen.max_buffered_rows <= bound,
        "{}",
        seen.max_buffered_rows
    );
    assert!(seen.max_buffered_rows >= bound - 1, "row groups fill up");
    // The row groups written after the first tenth hold no more memory than
    // the first ones: memory does not grow with the row count.
    assert!(
        seen.max_bytes <= seen.max_bytes_early + seen.max_bytes_early / 4,
        "{} early, {} overall",
        seen.max_bytes_early,
        seen.max_bytes
    );
    assert!(
        seen.bytes_at_half > seen.output.bytes / 3,
        "streamed, not held to the end"
    );
    // No single write larger than a column chunk of one row group; far below
    // the file size.
    assert!(
        seen.output.max_write < 4 << 20 && (seen.output.max_write as u64) < seen.output.bytes / 20,
        "max write {} of {}",
        seen.output.max_write,
        seen.output.bytes
    );
    eprintln!(
        "parquet: {} bytes in {} writes, max write {}, max buffered {} rows / {} bytes",
        seen.output.bytes,
        seen.output.writes,
        seen.output.max_write,
        seen.max_buffered_rows,
        seen.max_bytes
    );
}

fn assert_streams_lines(format: ManifestFormat) {
    let seen = stream(format, &WriterOptions::default());
    assert_eq!(seen.max_buffered_rows, 0);
    assert!(seen.max_bytes <= 512 << 10, "{}", seen.max_bytes);
    assert!(
        seen.output.max_write <= 512 << 10,
        "{}",
        seen.output.max_write
    );
    assert!(seen.bytes_at_half > seen.output.bytes / 3, "streamed");
    eprintln!(
        "{format}: {} bytes in {} writes, max write {}",
        seen.output.bytes, seen.output.writes, seen.output.max_write
    );
}

#[test]
fn a_million_jsonl_zst_rows_stream_through_small_writes() {
    assert_streams_lines(ManifestFormat::JsonlZst);
}

#[test]
fn a_million_jsonl_rows_stream_through_small_writes() {
    assert_streams_lines(ManifestFormat::Jsonl);
}

#[test]
fn writers_can_move_to_a_blocking_thread() {
    fn send<T: Send>() {}
    send::<ManifestWriter<Counting>>();
    send::<provindex_manifest::ExclusionWriter<std::fs::File>>();
}
