//! `provindex`: build a provenance index from a crawl, serve it, query it.

mod export;
mod lookup;
mod registry_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use provindex_index::IndexReader;
use provindex_pipeline::LocalBuild;

/// Where `lookup` looks for a server unless told otherwise.
pub const DEFAULT_SERVER: &str = "127.0.0.1:50051";

#[derive(Parser)]
#[command(
    name = "provindex",
    version,
    about = "A provenance index for web-crawl training corpora"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an index from WARC/WET/JSONL files or directories.
    Index {
        /// Input files or directories (searched recursively).
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Output index directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        /// Crawl name recorded with every capture.
        #[arg(long, default_value = "crawl")]
        crawl: String,
        /// Reader threads (default: available cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Build time to record, unix seconds (default: now).
        #[arg(long)]
        built_at: Option<i64>,
        /// robots.txt set given to the job: a file, or a directory of files,
        /// each named by its host (`example.com` or `example.com.txt`). Used
        /// for hosts whose robots.txt is not captured in the crawl.
        #[arg(long)]
        robots: Option<PathBuf>,
        /// Benchmarking switch: skip license and opt-out signal extraction
        /// (every capture's verdict is `unknown`).
        #[arg(long, hide = true)]
        no_signals: bool,
    },
    /// Serve an index over gRPC (ProvenanceService, OptOutService,
    /// ReportService, health, reflection).
    Serve {
        #[arg(long)]
        index: PathBuf,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, default_value = DEFAULT_SERVER)]
        listen: String,
        /// Serve Prometheus `/metrics` over HTTP on this address (port 0: a
        /// free port, printed as `metrics on ADDR`). Off unless given.
        #[arg(long)]
        metrics_listen: Option<String>,
        #[command(flatten)]
        access: registry_cli::AccessArgs,
    },
    /// Ask a running server.
    Lookup(lookup::LookupArgs),
    /// Print the audit log of an opt-out registry.
    Audit(registry_cli::AuditArgs),
    /// Write the training manifest (JSONL): every content not opted out by
    /// crawl signals or the registry, with a summary of what was excluded.
    Export(export::ExportArgs),
    /// Transparency summary of the indexed corpus (JSON, HTML with SVG charts).
    Report(export::ReportArgs),
    /// Pro-rata compensation statement per registered domain and per
    /// rightholder named in the registry (CSV, JSON).
    Compensation(export::CompensationArgs),
    /// Print an index's manifest: counts, parameters, crawls, digest.
    Info {
        index: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Index {
            inputs,
            out,
            crawl,
            workers,
            built_at,
            robots,
            no_signals,
        } => {
            provindex_pipeline::site_signals::set_signal_extraction(!no_signals);
            run_index(inputs, out, crawl, workers, built_at, robots)
        }
        Command::Serve {
            index,
            listen,
            metrics_listen,
            access,
        } => run_serve(index, listen, metrics_listen, access),
        Command::Lookup(args) => return lookup::run(args),
        Command::Audit(args) => registry_cli::run_audit(args),
        Command::Info { index, json } => run_info(index, json),
        Command::Export(args) => export::run_export(args),
        Command::Report(args) => export::run_report(args),
        Command::Compensation(args) => export::run_compensation(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(lookup::EXIT_ERROR)
        }
    }
}

fn run_index(
    inputs: Vec<String>,
    out: PathBuf,
    crawl: String,
    workers: Option<usize>,
    built_at: Option<i64>,
    robots: Option<PathBuf>,
) -> anyhow::Result<()> {
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let built_at = built_at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let started = std::time::Instant::now();
    let report = provindex_pipeline::build_local(&LocalBuild {
        inputs,
        out: out.clone(),
        crawl,
        workers,
        max_reported_errors: 50,
        built_at,
        robots,
    })
    .with_context(|| format!("building index at {}", out.display()))?;
    for error in &report.errors {
        eprintln!("read error: {error}");
    }
    if report.error_count > report.errors.len() as u64 {
        eprintln!(
            "... and {} more read errors",
            report.error_count - report.errors.len() as u64
        );
    }
    let m = &report.manifest;
    println!("indexed {} files into {}", report.files, out.display());
    println!("captures: {}", m.captures);
    println!("contents: {}", m.contents);
    println!("urls: {}", m.urls);
    println!("read errors: {}", report.error_count);
    println!("captures without text: {}", report.captures_without_text);
    println!("urls without SURT key: {}", report.url_errors);
    println!(
        "revisits: {} resolved, {} unresolved",
        report.revisits_resolved, report.revisits_unresolved
    );
    println!("duplicate capture ids skipped: {}", m.duplicate_captures);
    let site = &report.site_signals;
    println!(
        "site files: {} kept, {} dropped, {} truncated, {} given robots.txt",
        site.files_kept, site.files_dropped, site.files_truncated, site.given_robots
    );
    println!(
        "site signals: {} captures updated of {} on {} hosts",
        site.captures_updated, site.captures_visited, site.hosts
    );
    println!("digest: {}", m.digest);
    println!("elapsed: {:.2}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run_serve(
    index: PathBuf,
    listen: String,
    metrics_listen: Option<String>,
    access: registry_cli::AccessArgs,
) -> anyhow::Result<()> {
    let reader =
        IndexReader::open(&index).with_context(|| format!("opening index {}", index.display()))?;
    let access = access.open(&index)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        // Tests and scripts read this line to learn the port.
        println!("listening on {local}");
        let mut config = provindex_rpc::ServerConfig::default();
        access.apply(&mut config);
        if let Some(metrics_listen) = &metrics_listen {
            let metrics_listener = tokio::net::TcpListener::bind(metrics_listen)
                .await
                .with_context(|| format!("binding {metrics_listen}"))?;
            let metrics_local = metrics_listener
                .local_addr()
                .context("reading the metrics address")?;
            println!("metrics on {metrics_local}");
            let metrics = provindex_rpc::Metrics::new();
            tokio::spawn(provindex_rpc::serve_metrics(
                metrics_listener,
                metrics.clone(),
            ));
            config.metrics = Some(metrics);
        }
        use std::io::Write as _;
        std::io::stdout().flush().ok();
        tracing::info!(%local, index = %index.display(), "serving");
        provindex_rpc::serve(listener, Arc::new(reader), config, shutdown_signal())
            .await
            .map_err(|e| anyhow::anyhow!("server failed: {e}"))
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn run_info(index: PathBuf, json: bool) -> anyhow::Result<()> {
    let reader =
        IndexReader::open(&index).with_context(|| format!("opening index {}", index.display()))?;
    let m = reader.manifest();
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    println!("index: {}", index.display());
    println!("format version: {}", m.format_version);
    println!("normalization version: {}", m.normalization_version);
    println!("crawls: {}", m.crawls.join(", "));
    println!("inputs: {}", m.inputs.len());
    println!("built at: {}", m.built_at);
    println!("captures: {}", m.captures);
    println!("contents: {}", m.contents);
    println!("urls: {}", m.urls);
    println!("read errors: {}", m.read_errors);
    println!("duplicate capture ids skipped: {}", m.duplicate_captures);
    println!("digest: {}", m.digest);
    Ok(())
}
