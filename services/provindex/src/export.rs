//! `provindex export`, `provindex report` and `provindex compensation`: argument
//! parsing and output files around [`provindex_disclosure`], which
//! computes all three (the gRPC `ReportService` calls the same functions).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use provindex_disclosure::{self as disclosure, CompensationTerms, Sources};
use provindex_index::{PartitionedIndex, Registry};

use crate::progress::{Progress, ProgressArgs};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The index: a directory, a partitioned index's publication (a local
    /// directory holding publication.json), or a published index's URI
    /// (s3://bucket/prefix, fetched and verified into --cache-dir, as
    /// `serve` does). A publication is read as one index: every partition's
    /// own rows, in order.
    index: PathBuf,
    /// Local cache of fetched indexes (as `serve --cache-dir`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Where to write the manifest: a local path, file:///path or
    /// s3://bucket/key (S3 settings from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
    /// ...). Its extension (.parquet, .jsonl.zst, .jsonl) picks the format
    /// unless --format does. The exclusions go next to it as
    /// STEM.exclusions.EXT and the summary as STEM.summary.json (STEM: the
    /// name without its extension).
    #[arg(long)]
    out: String,
    /// jsonl, jsonl.zst or parquet (default: from --out's extension, else jsonl).
    #[arg(long)]
    format: Option<provindex_disclosure::ManifestFormat>,
    /// Opt-out registry to honour (default: none; only crawl signals apply).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Registry entries in force at this time apply (unix seconds; default now).
    #[arg(long)]
    at: Option<i64>,
    /// Refuse to replace an existing manifest or summary.
    #[arg(long)]
    no_clobber: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The index: a directory, a partitioned index's publication (a local
    /// directory holding publication.json), or a published index's URI
    /// (s3://bucket/prefix, fetched and verified into --cache-dir, as
    /// `serve` does). A publication is read as one index: every partition's
    /// own rows, in order.
    index: PathBuf,
    /// Local cache of fetched indexes (as `serve --cache-dir`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Write the summary as JSON here (default: print it on stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with SVG charts here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// The AI Act summary (issue 19): --aiact-json / --aiact-html and its inputs.
    #[command(flatten)]
    aiact: crate::aiact_cmd::AiActArgs,
    #[command(flatten)]
    progress: ProgressArgs,
}

#[derive(Args, Debug)]
pub struct CompensationArgs {
    /// The index: a directory, a partitioned index's publication (a local
    /// directory holding publication.json), or a published index's URI
    /// (s3://bucket/prefix, fetched and verified into --cache-dir, as
    /// `serve` does). A publication is read as one index: every partition's
    /// own rows, in order.
    index: PathBuf,
    /// Local cache of fetched indexes (as `serve --cache-dir`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// The amount to distribute.
    #[arg(long)]
    pool: f64,
    /// Count contents first seen at or after this time (unix seconds).
    #[arg(long)]
    from: Option<i64>,
    /// Count contents first seen at or before this time (unix seconds).
    #[arg(long)]
    to: Option<i64>,
    /// Opt-out registry naming rightholders (per-rightholder rows; default: none).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Registry entries in force at this time count (unix seconds; default now).
    #[arg(long)]
    at: Option<i64>,
    #[arg(long)]
    csv: PathBuf,
    #[arg(long)]
    json: PathBuf,
}

fn open(index: &Path, cache_dir: Option<&PathBuf>) -> anyhow::Result<PartitionedIndex> {
    crate::fetch::open_whole(index, cache_dir.map(PathBuf::as_path))
}

pub(crate) fn open_registry(path: Option<&PathBuf>) -> anyhow::Result<Option<Registry>> {
    path.map(|path| {
        Registry::open_read_only(path)
            .with_context(|| format!("opening registry {}", path.display()))
    })
    .transpose()
}

/// Writes `path` atomically: into `path.tmp`, fsync, rename, fsync the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?
        .to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let result = (|| -> anyhow::Result<()> {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut writer = BufWriter::new(file);
        writer
            .write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Ok(dir) = File::open(parent.unwrap_or_else(|| Path::new("."))) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Pretty JSON with a final newline.
pub(crate) fn pretty(value: serde_json::Value) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    if let Ok(text) = serde_json::to_vec_pretty(&value) {
        bytes = text;
    }
    bytes.push(b'\n');
    bytes
}

pub fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let index = open(&args.index, args.cache_dir.as_ref())?;
    let registry = open_registry(args.registry.as_ref())?;
    // Multi-threaded: the streaming upload blocks on this runtime's handle
    // from this thread while its parts upload on the workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let store = provindex_corpus::store::CorpusStore::with_handle(runtime.handle().clone());
    // The library names the format `format`; the CLI's flag is `--format`.
    let flag = |e: disclosure::DisclosureError| match e {
        disclosure::DisclosureError::InvalidArgument {
            field: "format",
            reason,
        } => anyhow::anyhow!("--format: {reason}"),
        e => e.into(),
    };
    disclosure::export_names(&args.out, args.format, "--out").map_err(flag)?;
    runtime.block_on(disclosure::check_destination(&store, &args.out, "--out"))?;
    let mut progress = Progress::new(args.progress.progress);
    let summary = disclosure::build_export_observed(
        &store,
        Sources {
            reader: index.view(),
            registry: registry.as_ref(),
            at: args.at.unwrap_or_else(disclosure::now),
        },
        &args.out,
        &disclosure::ExportOptions {
            format: args.format,
            create_only: args.no_clobber,
            ..disclosure::ExportOptions::default()
        },
        "--out",
        &mut |walk| progress.walk("export", walk),
    )
    .map_err(flag)?;
    progress.finish();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

pub fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let index = open(&args.index, args.cache_dir.as_ref())?;
    let mut progress = Progress::new(args.progress.progress);
    let report =
        disclosure::build_report_observed(&index, &mut |walk| progress.walk("report", walk))?;
    progress.finish();
    match &args.json {
        Some(path) => write_atomically(path, &pretty(serde_json::to_value(&report)?))?,
        None => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(path) = &args.html {
        write_atomically(path, disclosure::render_html(&report).as_bytes())?;
    }
    if let Some(path) = &args.json {
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.html {
        println!("html: {}", path.display());
    }
    crate::aiact_cmd::write_aiact(index.view(), &args.aiact)?;
    Ok(())
}

pub fn run_compensation(args: CompensationArgs) -> anyhow::Result<()> {
    let terms = CompensationTerms {
        pool: args.pool,
        from: args.from,
        to: args.to,
    };
    // Bad arguments first, before anything is opened.
    terms.validate().map_err(|e| anyhow::anyhow!("--{e}"))?;
    let index = open(&args.index, args.cache_dir.as_ref())?;
    let registry = open_registry(args.registry.as_ref())?;
    let statement = disclosure::build_compensation(
        Sources {
            reader: index.view(),
            registry: registry.as_ref(),
            at: args.at.unwrap_or_else(disclosure::now),
        },
        terms,
    )?;
    write_atomically(
        &args.csv,
        disclosure::compensation_csv(&statement).as_bytes(),
    )?;
    write_atomically(&args.json, &pretty(serde_json::to_value(&statement)?))?;
    println!(
        "distributed {} over {} domains and {} rightholders ({} contents, {} tokens): {}, {}",
        args.pool,
        statement.shares.len(),
        statement.rightholder_shares.len(),
        statement.contents,
        statement.tokens,
        args.csv.display(),
        args.json.display()
    );
    Ok(())
}
