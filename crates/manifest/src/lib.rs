//! Streaming writers for the training manifest and its exclusions file
//! (issue 20): JSONL, JSONL.zst and Parquet, written row by row into a
//! caller-supplied [`std::io::Write`] (a file, or an adapter onto an
//! object-store multipart upload). Memory stays bounded whatever the row
//! count: JSONL lines go out as they are serialized, zstd through its
//! streaming encoder, Parquet one row group at a time.
//!
//! # Columns
//!
//! [`ManifestRow`] carries exactly the fields of today's export
//! (`provindex_disclosure::build_export`). In JSONL the record location stays
//! the nested `location` object `{framing, length, offset, uri}` and keys are
//! sorted, so a plain JSONL manifest is byte-identical to the one the export
//! wrote before this crate. Parquet has no use for nesting in a join, so the
//! location is flattened into `location_uri`, `location_offset`,
//! `location_length`, `location_framing`.
//!
//! Parquet column choices (see [`manifest_schema`]):
//! * `content_id`, `sha256`, `cluster_id`: lowercase hex strings, not
//!   FixedSizeBinary. The same value is then the join key in JSONL, Parquet,
//!   the CLI, the API and Python (`datasets` renders binary as `bytes`, which
//!   would need `.hex()` before every join). zstd takes most of the 2x size
//!   back.
//! * `capture_time`: `Timestamp(Millisecond, "UTC")`. Parquet has no
//!   second-resolution timestamp (arrow-rs writes `Timestamp(Second)` as a bare
//!   INT64 only arrow readers understand); milliseconds is the coarsest unit
//!   every reader (pyarrow, `datasets`, DuckDB, Spark) sees as a UTC instant.
//!   JSONL keeps today's unix seconds.
//! * `tokens`, `location_offset`, `location_length`: UInt64.
//! * `crawl`, `language`, `license`, `location_uri`, `location_framing`: Utf8
//!   columns, dictionary-encoded *on disk* (Parquet dictionary pages). They are
//!   not Arrow `Dictionary` columns: `datasets` cannot build features from
//!   Arrow dictionary types. The high-cardinality columns (ids, hashes, url)
//!   are written without a dictionary.
//! * The caller's key/value metadata (index digest, format version) goes into
//!   the Parquet footer. JSONL has no header: its metadata belongs in the
//!   export summary.
//!
//! # Memory and determinism
//!
//! Parquet holds at most one row group ([`WriterOptions::row_group_rows`]
//! rows, its encoded pages, and an Arrow batch of at most 8192 of those rows)
//! before writing it out; JSONL holds one line and a 256 KiB I/O buffer,
//! JSONL.zst one line and the encoder's fixed buffers. The same rows and
//! options give the same bytes in every format: zstd runs single-threaded,
//! and Parquet's `created_by` is `parquet-rs version X` of the locked parquet
//! version (kept: readers key writer-bug workarounds on it).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, TimestampMillisecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

/// Errors of the manifest writers.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest output: {0}")]
    Io(#[from] io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unknown manifest format {0:?}: expected jsonl, jsonl.zst or parquet (or a file name ending so)"
    )]
    UnknownFormat(String),
    #[error("metadata key {0:?} is reserved for the Arrow schema")]
    ReservedMetadataKey(String),
    #[error("capture_time {0} is out of range for a millisecond timestamp")]
    CaptureTimeOutOfRange(i64),
    #[error("invalid writer options: {0}")]
    InvalidOptions(&'static str),
}

pub type Result<T, E = ManifestError> = std::result::Result<T, E>;

// ---------------------------------------------------------------- rows

/// Where a record's bytes are: `framing` says how `offset`/`length` address
/// the object (`plain`, `gzip_member` or `decompressed`).
///
/// Fields are declared in key order: JSONL keys are sorted, as
/// `serde_json::json!` (no `preserve_order`) wrote them before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub framing: String,
    pub length: u64,
    pub offset: u64,
    pub uri: String,
}

/// One kept content of the training manifest, with its earliest capture.
///
/// Fields are declared in sorted key order so the JSONL line is
/// byte-identical to the one `build_export` wrote with `serde_json::json!`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRow {
    /// Unix seconds of the earliest capture.
    pub capture_time: i64,
    /// Near-duplicate cluster, 32 lowercase hex digits.
    pub cluster_id: String,
    /// 32 lowercase hex digits.
    pub content_id: String,
    pub crawl: String,
    /// ISO code; `und` when unknown.
    pub language: String,
    /// SPDX id or license id; `unknown` when none was stated.
    pub license: String,
    pub location: Location,
    pub record_id: String,
    /// SHA-256 of the normalized text, 64 lowercase hex digits.
    pub sha256: String,
    pub tokens: u64,
    pub url: String,
}

/// One content left out of the manifest, with the one reason it was left out
/// for (`erased`, `source_blocked`, `crawl_signal:KIND`, `registry:SCOPE_KIND`
/// or `near_duplicate`, see
/// `provindex_policy::export::REASON_RULE`). Keys sorted in JSONL, as for
/// [`ManifestRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionRow {
    /// For `near_duplicate`: the content id of the cluster's keeper (the
    /// content that is in the manifest instead); `None` otherwise.
    pub cluster_keeper: Option<String>,
    pub content_id: String,
    /// What decided it: the registry entry id (`entry:42`) or the signal
    /// (`robots_txt`, …), empty when the reason says it all.
    pub detail: String,
    pub reason: String,
    pub sha256: String,
    pub url: String,
}

// ---------------------------------------------------------------- formats

/// Output format, from a file name (`x.jsonl`, `x.jsonl.zst`, `x.parquet`) or
/// a `--format` value (`jsonl`, `jsonl.zst`, `parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestFormat {
    Jsonl,
    JsonlZst,
    Parquet,
}

impl ManifestFormat {
    pub const ALL: [ManifestFormat; 3] = [Self::Jsonl, Self::JsonlZst, Self::Parquet];

    /// The format a file name (or URI) ends in; `None` for anything else.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl.zst") {
            Some(Self::JsonlZst)
        } else if lower.ends_with(".jsonl") {
            Some(Self::Jsonl)
        } else if lower.ends_with(".parquet") {
            Some(Self::Parquet)
        } else {
            None
        }
    }

    /// `jsonl`, `jsonl.zst` or `parquet`: the `--format` value and the file
    /// extension (without the dot).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::JsonlZst => "jsonl.zst",
            Self::Parquet => "parquet",
        }
    }
}

impl fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ManifestFormat {
    type Err = ManifestError;

    /// A `--format` value (`jsonl`, `jsonl.zst`/`jsonl-zst`, `parquet`, with or
    /// without a leading dot), or a file name ending in one.
    fn from_str(s: &str) -> Result<Self> {
        let bare = s.strip_prefix('.').unwrap_or(s).to_ascii_lowercase();
        match bare.as_str() {
            "jsonl" => Ok(Self::Jsonl),
            "jsonl.zst" | "jsonl-zst" | "jsonl_zst" => Ok(Self::JsonlZst),
            "parquet" => Ok(Self::Parquet),
            _ => Self::from_file_name(s).ok_or_else(|| ManifestError::UnknownFormat(s.to_owned())),
        }
    }
}

// ---------------------------------------------------------------- options

/// Default rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 64 * 1024;
/// Default bound on a Parquet row group's estimated encoded size.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;
/// Default zstd level, for JSONL.zst and the Parquet column codec.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Rows converted to one Arrow batch before they go to the Parquet writer.
const BATCH_ROWS: usize = 8 * 1024;

/// How the writers write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Parquet: rows per row group; also the bound on rows held in memory.
    pub row_group_rows: usize,
    /// Parquet: a row group is also closed once its estimated encoded size
    /// passes this (checked between batches).
    pub row_group_bytes: usize,
    /// zstd level (JSONL.zst stream and Parquet pages).
    pub zstd_level: i32,
    /// Parquet footer key/value metadata (e.g. `provindex.index_digest`,
    /// `provindex.manifest_version`). Ignored by JSONL. Keys starting with
    /// `ARROW:` are refused.
    pub metadata: BTreeMap<String, String>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            metadata: BTreeMap::new(),
        }
    }
}

/// What a finished writer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    pub format: ManifestFormat,
    pub rows: u64,
    /// Bytes handed to the output.
    pub bytes: u64,
    /// Parquet row groups (0 for JSONL).
    pub row_groups: usize,
}

// ---------------------------------------------------------------- sink

/// A streaming row writer. Rows go out (or into a bounded buffer) as they are
/// written; [`RowSink::finish`] writes what is left (Parquet footer, zstd
/// epilogue), flushes, and hands the output back so the caller can complete
/// it (e.g. the multipart upload).
pub trait RowSink {
    type Row;
    type Output;

    fn write_row(&mut self, row: &Self::Row) -> Result<()>;

    /// Rows held in memory and not yet handed to the output's encoder
    /// (Parquet: never more than [`WriterOptions::row_group_rows`]; JSONL: 0).
    fn buffered_rows(&self) -> usize;

    /// Estimated bytes held in memory by the encoder (Parquet: the Arrow
    /// batch being built plus the row group in progress; JSONL: the line and
    /// I/O buffers).
    fn buffered_bytes(&self) -> usize;

    fn finish(self) -> Result<(Self::Output, WriteSummary)>;
}

/// A row type with a JSONL form and a Parquet schema. Sealed: the two row
/// types of this crate.
pub trait Row: Serialize + sealed::Sealed {
    #[doc(hidden)]
    type Columns: Columns<Self>;
    /// The Parquet/Arrow schema.
    fn schema() -> SchemaRef;
    #[doc(hidden)]
    /// Columns written without a Parquet dictionary (high cardinality).
    fn plain_columns() -> &'static [&'static str];
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ManifestRow {}
    impl Sealed for super::ExclusionRow {}
}

#[doc(hidden)]
pub trait Columns<R: ?Sized>: Sized {
    fn new(capacity: usize) -> Self;
    fn push(&mut self, row: &R) -> Result<()>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Estimated bytes held.
    fn memory_size(&self) -> usize;
    /// The rows so far as one batch; the builders are left empty.
    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch>;
}

/// The Parquet schema of [`ManifestRow`].
pub fn manifest_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, false);
    let u64 = |name: &str| Field::new(name, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        utf8("content_id"),
        utf8("sha256"),
        utf8("record_id"),
        utf8("url"),
        utf8("crawl"),
        Field::new(
            "capture_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        utf8("location_uri"),
        u64("location_offset"),
        u64("location_length"),
        utf8("location_framing"),
        u64("tokens"),
        utf8("language"),
        utf8("license"),
        utf8("cluster_id"),
    ]))
}

/// The Parquet schema of [`ExclusionRow`].
pub fn exclusion_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        utf8("content_id"),
        utf8("sha256"),
        utf8("url"),
        utf8("reason"),
        utf8("detail"),
        Field::new("cluster_keeper", DataType::Utf8, true),
    ]))
}

#[doc(hidden)]
pub struct ManifestColumns {
    content_id: StringBuilder,
    sha256: StringBuilder,
    record_id: StringBuilder,
    url: StringBuilder,
    crawl: StringBuilder,
    capture_time: TimestampMillisecondBuilder,
    location_uri: StringBuilder,
    location_offset: UInt64Builder,
    location_length: UInt64Builder,
    location_framing: StringBuilder,
    tokens: UInt64Builder,
    language: StringBuilder,
    license: StringBuilder,
    cluster_id: StringBuilder,
    rows: usize,
    string_bytes: usize,
}

impl Columns<ManifestRow> for ManifestColumns {
    fn new(capacity: usize) -> Self {
        let s = || StringBuilder::with_capacity(capacity, 0);
        let n = || UInt64Builder::with_capacity(capacity);
        Self {
            content_id: s(),
            sha256: s(),
            record_id: s(),
            url: s(),
            crawl: s(),
            capture_time: TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            location_uri: s(),
            location_offset: n(),
            location_length: n(),
            location_framing: s(),
            tokens: n(),
            language: s(),
            license: s(),
            cluster_id: s(),
            rows: 0,
            string_bytes: 0,
        }
    }

    fn push(&mut self, row: &ManifestRow) -> Result<()> {
        let millis = row
            .capture_time
            .checked_mul(1000)
            .ok_or(ManifestError::CaptureTimeOutOfRange(row.capture_time))?;
        self.content_id.append_value(&row.content_id);
        self.sha256.append_value(&row.sha256);
        self.record_id.append_value(&row.record_id);
        self.url.append_value(&row.url);
        self.crawl.append_value(&row.crawl);
        self.capture_time.append_value(millis);
        self.location_uri.append_value(&row.location.uri);
        self.location_offset.append_value(row.location.offset);
        self.location_length.append_value(row.location.length);
        self.location_framing.append_value(&row.location.framing);
        self.tokens.append_value(row.tokens);
        self.language.append_value(&row.language);
        self.license.append_value(&row.license);
        self.cluster_id.append_value(&row.cluster_id);
        self.rows += 1;
        self.string_bytes += [
            &row.content_id,
            &row.sha256,
            &row.record_id,
            &row.url,
            &row.crawl,
            &row.location.uri,
            &row.location.framing,
            &row.language,
            &row.license,
            &row.cluster_id,
        ]
        .iter()
        .map(|s| s.len() + 4)
        .sum::<usize>()
            + 4 * 8;
        Ok(())
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn memory_size(&self) -> usize {
        self.string_bytes
    }

    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.content_id.finish()),
            Arc::new(self.sha256.finish()),
            Arc::new(self.record_id.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.crawl.finish()),
            Arc::new(self.capture_time.finish()),
            Arc::new(self.location_uri.finish()),
            Arc::new(self.location_offset.finish()),
            Arc::new(self.location_length.finish()),
            Arc::new(self.location_framing.finish()),
            Arc::new(self.tokens.finish()),
            Arc::new(self.language.finish()),
            Arc::new(self.license.finish()),
            Arc::new(self.cluster_id.finish()),
        ];
        self.rows = 0;
        self.string_bytes = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

impl Row for ManifestRow {
    type Columns = ManifestColumns;

    fn schema() -> SchemaRef {
        manifest_schema()
    }

    fn plain_columns() -> &'static [&'static str] {
        &["content_id", "sha256", "record_id", "url", "cluster_id"]
    }
}

#[doc(hidden)]
pub struct ExclusionColumns {
    content_id: StringBuilder,
    sha256: StringBuilder,
    url: StringBuilder,
    reason: StringBuilder,
    detail: StringBuilder,
    cluster_keeper: StringBuilder,
    rows: usize,
    string_bytes: usize,
}

impl Columns<ExclusionRow> for ExclusionColumns {
    fn new(capacity: usize) -> Self {
        let s = || StringBuilder::with_capacity(capacity, 0);
        Self {
            content_id: s(),
            sha256: s(),
            url: s(),
            reason: s(),
            detail: s(),
            cluster_keeper: s(),
            rows: 0,
            string_bytes: 0,
        }
    }

    fn push(&mut self, row: &ExclusionRow) -> Result<()> {
        self.content_id.append_value(&row.content_id);
        self.sha256.append_value(&row.sha256);
        self.url.append_value(&row.url);
        self.reason.append_value(&row.reason);
        self.detail.append_value(&row.detail);
        self.cluster_keeper
            .append_option(row.cluster_keeper.as_deref());
        self.rows += 1;
        self.string_bytes += row.content_id.len()
            + row.sha256.len()
            + row.url.len()
            + row.reason.len()
            + row.detail.len()
            + row.cluster_keeper.as_ref().map_or(0, String::len)
            + 6 * 4;
        Ok(())
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn memory_size(&self) -> usize {
        self.string_bytes
    }

    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.content_id.finish()),
            Arc::new(self.sha256.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.detail.finish()),
            Arc::new(self.cluster_keeper.finish()),
        ];
        self.rows = 0;
        self.string_bytes = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

impl Row for ExclusionRow {
    type Columns = ExclusionColumns;

    fn schema() -> SchemaRef {
        exclusion_schema()
    }

    fn plain_columns() -> &'static [&'static str] {
        &["content_id", "sha256", "url", "cluster_keeper"]
    }
}

// ---------------------------------------------------------------- writers

/// Counts the bytes handed to the caller's output.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// I/O buffer in front of the caller's output for plain JSONL: lines are a
/// few hundred bytes, the caller's multipart adapter wants fewer, larger
/// writes.
const JSONL_BUFFER: usize = 256 * 1024;

enum Inner<W: Write + Send, R: Row> {
    Jsonl(BufWriter<Counted<W>>),
    JsonlZst(zstd::stream::write::Encoder<'static, Counted<W>>),
    Parquet(Box<ParquetState<W, R>>),
}

struct ParquetState<W: Write + Send, R: Row> {
    writer: ArrowWriter<Counted<W>>,
    columns: R::Columns,
    schema: SchemaRef,
    row_group_rows: usize,
}

impl<W: Write + Send, R: Row> ParquetState<W, R> {
    /// Hands the rows built so far to the Arrow writer, which closes (and
    /// writes out) the row group once it holds `row_group_rows`.
    fn flush_batch(&mut self) -> Result<()> {
        if !self.columns.is_empty() {
            let batch = self.columns.take(&self.schema)?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }
}

/// The streaming writer of one format over `W`, for manifest rows
/// ([`ManifestWriter`]) or exclusion rows ([`ExclusionWriter`]).
pub struct RowWriter<W: Write + Send, R: Row> {
    format: ManifestFormat,
    inner: Inner<W, R>,
    line: Vec<u8>,
    rows: u64,
}

pub type ManifestWriter<W> = RowWriter<W, ManifestRow>;
pub type ExclusionWriter<W> = RowWriter<W, ExclusionRow>;

impl<W: Write + Send, R: Row> RowWriter<W, R> {
    /// Starts a writer; Parquet writes its magic bytes to `output` at once,
    /// JSONL nothing until the first row.
    pub fn new(output: W, format: ManifestFormat, options: &WriterOptions) -> Result<Self> {
        if options.row_group_rows == 0 || options.row_group_bytes == 0 {
            return Err(ManifestError::InvalidOptions(
                "row_group_rows and row_group_bytes must be positive",
            ));
        }
        let output = Counted {
            inner: output,
            bytes: 0,
        };
        let inner = match format {
            ManifestFormat::Jsonl => Inner::Jsonl(BufWriter::with_capacity(JSONL_BUFFER, output)),
            ManifestFormat::JsonlZst => {
                let mut encoder = zstd::stream::write::Encoder::new(output, options.zstd_level)?;
                // Single-threaded (the default) keeps the output deterministic.
                encoder.include_checksum(true)?;
                Inner::JsonlZst(encoder)
            }
            ManifestFormat::Parquet => Inner::Parquet(Box::new(Self::parquet(output, options)?)),
        };
        Ok(Self {
            format,
            inner,
            line: Vec::with_capacity(1024),
            rows: 0,
        })
    }

    fn parquet(output: Counted<W>, options: &WriterOptions) -> Result<ParquetState<W, R>> {
        if let Some(key) = options.metadata.keys().find(|k| k.starts_with("ARROW:")) {
            return Err(ManifestError::ReservedMetadataKey(key.clone()));
        }
        let schema = R::schema();
        let batch = BATCH_ROWS.min(options.row_group_rows);
        // Data page v1: what every reader (old Spark, DuckDB, pyarrow) reads.
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level)?))
            .set_max_row_group_row_count(Some(options.row_group_rows))
            .set_max_row_group_bytes(Some(options.row_group_bytes))
            .set_write_batch_size(batch)
            .set_key_value_metadata(Some(
                options
                    .metadata
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect(),
            ));
        for column in R::plain_columns() {
            props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
        }
        let writer = ArrowWriter::try_new(output, schema.clone(), Some(props.build()))?;
        Ok(ParquetState {
            writer,
            columns: R::Columns::new(batch),
            schema,
            row_group_rows: options.row_group_rows,
        })
    }

    pub fn format(&self) -> ManifestFormat {
        self.format
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes handed to the output so far (progress of the upload).
    pub fn output_bytes(&self) -> u64 {
        match &self.inner {
            Inner::Jsonl(out) => out.get_ref().bytes,
            Inner::JsonlZst(out) => out.get_ref().bytes,
            Inner::Parquet(state) => state.writer.inner().bytes,
        }
    }
}

impl<W: Write + Send, R: Row> RowSink for RowWriter<W, R> {
    type Row = R;
    type Output = W;

    fn write_row(&mut self, row: &R) -> Result<()> {
        match &mut self.inner {
            Inner::Jsonl(out) => {
                self.line.clear();
                serde_json::to_writer(&mut self.line, row)?;
                self.line.push(b'\n');
                out.write_all(&self.line)?;
            }
            Inner::JsonlZst(out) => {
                self.line.clear();
                serde_json::to_writer(&mut self.line, row)?;
                self.line.push(b'\n');
                out.write_all(&self.line)?;
            }
            Inner::Parquet(state) => {
                state.columns.push(row)?;
                // Never hold more than a row group: hand the batch over when
                // it is full or when it completes the row group in progress.
                let held = state.columns.len() + state.writer.in_progress_rows();
                if state.columns.len() >= BATCH_ROWS || held >= state.row_group_rows {
                    state.flush_batch()?;
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn buffered_rows(&self) -> usize {
        match &self.inner {
            Inner::Parquet(state) => state.columns.len() + state.writer.in_progress_rows(),
            Inner::Jsonl(_) | Inner::JsonlZst(_) => 0,
        }
    }

    fn buffered_bytes(&self) -> usize {
        match &self.inner {
            Inner::Parquet(state) => state.columns.memory_size() + state.writer.memory_size(),
            Inner::Jsonl(out) => self.line.capacity() + out.capacity(),
            // The encoder's window and buffers are fixed by the level.
            Inner::JsonlZst(_) => self.line.capacity(),
        }
    }

    fn finish(self) -> Result<(W, WriteSummary)> {
        let mut row_groups = 0;
        let output = match self.inner {
            Inner::Jsonl(out) => out.into_inner().map_err(|e| e.into_error())?,
            Inner::JsonlZst(out) => out.finish()?,
            Inner::Parquet(mut state) => {
                state.flush_batch()?;
                state.writer.flush()?;
                row_groups = state.writer.flushed_row_groups().len();
                // Writes the footer, then hands the output back.
                state.writer.into_inner()?
            }
        };
        let Counted { mut inner, bytes } = output;
        inner.flush()?;
        Ok((
            inner,
            WriteSummary {
                format: self.format,
                rows: self.rows,
                bytes,
                row_groups,
            },
        ))
    }
}

/// Writes `rows` into a `Vec<u8>`: small manifests and tests.
pub fn write_to_vec<'a, R: Row + 'a>(
    format: ManifestFormat,
    options: &WriterOptions,
    rows: impl IntoIterator<Item = &'a R>,
) -> Result<(Vec<u8>, WriteSummary)> {
    let mut writer = RowWriter::<Vec<u8>, R>::new(Vec::new(), format, options)?;
    for row in rows {
        writer.write_row(row)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_names_and_flags() {
        use ManifestFormat::*;
        for (s, f) in [
            ("jsonl", Jsonl),
            (".jsonl", Jsonl),
            ("jsonl.zst", JsonlZst),
            (".jsonl.zst", JsonlZst),
            ("jsonl-zst", JsonlZst),
            ("parquet", Parquet),
            ("PARQUET", Parquet),
            ("s3://b/k/manifest.jsonl.zst", JsonlZst),
            ("/tmp/m.parquet", Parquet),
            ("m.jsonl", Jsonl),
        ] {
            assert_eq!(s.parse::<ManifestFormat>().unwrap(), f, "{s}");
        }
        for bad in ["", "json", "m.csv", "m.zst", "m.jsonl.gz"] {
            assert!(bad.parse::<ManifestFormat>().is_err(), "{bad}");
        }
        assert_eq!(
            ManifestFormat::from_file_name("x.jsonl.zst"),
            Some(JsonlZst)
        );
        assert_eq!(ManifestFormat::from_file_name("x.json"), None);
        for f in ManifestFormat::ALL {
            assert_eq!(f.to_string().parse::<ManifestFormat>().unwrap(), f);
        }
    }

    /// The line `provindex_disclosure::build_export` writes today, built the
    /// same way (`serde_json::json!`), must be what [`ManifestRow`] writes.
    #[test]
    fn jsonl_line_is_byte_identical_to_the_current_export() {
        let row = ManifestRow {
            capture_time: 1_712_345_678,
            cluster_id: format!("{:032x}", 7u128),
            content_id: format!("{:032x}", 0xfeed_u128),
            crawl: "CC-MAIN-2024-18".into(),
            language: "und".into(),
            license: "unknown".into(),
            location: Location {
                framing: "gzip_member".into(),
                length: 1234,
                offset: 987_654_321,
                uri: "s3://commoncrawl/a.warc.gz".into(),
            },
            record_id: "<urn:uuid:1>".into(),
            sha256: "ab".repeat(32),
            tokens: 42,
            url: "https://example.org/\"q\"?é".into(),
        };
        let today = serde_json::json!({
            "content_id": row.content_id,
            "sha256": row.sha256,
            "url": row.url,
            "license": row.license,
            "language": row.language,
            "tokens": row.tokens,
            "cluster_id": row.cluster_id,
            "crawl": row.crawl,
            "capture_time": row.capture_time,
            "record_id": row.record_id,
            "location": {
                "uri": row.location.uri,
                "offset": row.location.offset,
                "length": row.location.length,
                "framing": row.location.framing,
            },
        });
        let mut expected = today.to_string().into_bytes();
        expected.push(b'\n');
        let (bytes, summary) =
            write_to_vec(ManifestFormat::Jsonl, &WriterOptions::default(), [&row]).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(summary.rows, 1);
        assert_eq!(summary.row_groups, 0);
    }

    #[test]
    fn capture_times_beyond_milliseconds_are_refused_in_parquet() {
        let mut columns = ManifestColumns::new(1);
        let row = ManifestRow {
            capture_time: i64::MAX / 10,
            cluster_id: String::new(),
            content_id: String::new(),
            crawl: String::new(),
            language: String::new(),
            license: String::new(),
            location: Location {
                framing: String::new(),
                length: 0,
                offset: 0,
                uri: String::new(),
            },
            record_id: String::new(),
            sha256: String::new(),
            tokens: 0,
            url: String::new(),
        };
        assert!(matches!(
            columns.push(&row),
            Err(ManifestError::CaptureTimeOutOfRange(_))
        ));
        assert_eq!(columns.len(), 0, "nothing half-appended");
    }

    #[test]
    fn zero_row_groups_are_refused() {
        let options = WriterOptions {
            row_group_rows: 0,
            ..WriterOptions::default()
        };
        assert!(ManifestWriter::new(Vec::new(), ManifestFormat::Parquet, &options).is_err());
    }
}
