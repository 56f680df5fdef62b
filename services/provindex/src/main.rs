//! `provindex`: build a provenance index from a crawl, serve it, query it.

mod aiact_cmd;
mod audit_cmd;
mod client;
mod export;
mod fetch;
mod info_cmd;
mod jobs;
mod lineage_cmd;
mod lookup;
mod progress;
mod registry_cli;
mod registry_server;
mod router_cmd;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use provindex_index::IndexReader;
use provindex_rpc::conn;

// glibc's malloc was the largest single cost of the query server (tonic boxes
// every request's future, RocksDB allocates per iterator); mimalloc's
// thread-local free lists make those allocations cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Build an index from WARC/WET/JSONL inputs: in this process (a
    /// coordinator and worker threads), or as a job on a coordinator.
    Index(jobs::IndexArgs),
    /// Run the build coordinator (CoordinatorService) with durable job state.
    Coordinator(jobs::CoordinatorArgs),
    /// Run a build worker pulling tasks from a coordinator.
    Worker(jobs::WorkerArgs),
    /// Serve an index over gRPC (ProvenanceService, OptOutService,
    /// ReportService, health, reflection).
    Serve {
        /// The index: a local directory, or the object-store URI of a
        /// published index (`s3://bucket/prefix`), fetched into --cache-dir
        /// and verified against its publication.json before serving.
        #[arg(long)]
        index: PathBuf,
        /// Local cache of fetched indexes (default
        /// `$XDG_CACHE_HOME/provindex/indexes`, else `~/.cache/provindex/indexes`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, default_value = DEFAULT_SERVER)]
        listen: String,
        /// Serve Prometheus `/metrics` over HTTP on this address (port 0: a
        /// free port, printed as `metrics on ADDR`). Off unless given.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// Also serve HTTP on this address: pywb's CDX server API at `/cdx`
        /// and original WARC records at `/record/{capture_id}` (port 0: a
        /// free port, printed as `http listening on ADDR`). Off unless given.
        #[arg(long)]
        http_listen: Option<String>,
        /// Block cache for the index's uncompressed blocks, in MiB, shared by
        /// all tables. Lookups whose blocks are cached cost no read and no
        /// decompression; size it to the hot part of the index (memory is
        /// taken only as blocks are read).
        #[arg(long, default_value_t = DEFAULT_BLOCK_CACHE_MB)]
        block_cache_mb: usize,
        #[command(flatten)]
        connections: ConnectionArgs,
        #[command(flatten)]
        access: registry_cli::AccessArgs,
        /// Serve only these partitions of a partitioned (published) index,
        /// e.g. `0,1`; default: all it lists. Such a server answers
        /// ProvenanceService like a router over its partitions (UNAVAILABLE
        /// for keys of the others) and PartitionService for routers.
        #[arg(long, value_delimiter = ',')]
        partitions: Option<Vec<u32>>,
    },
    /// Route ProvenanceService requests to the servers of a partitioned
    /// index's partitions and merge their answers.
    Router(router_cmd::RouterArgs),
    /// Ask a running server: captures of a URL, a content, a capture.
    Lookup(lookup::LookupArgs),
    /// One capture; with --record its original WARC record's bytes.
    Capture(lookup::CaptureArgs),
    /// Where does a work appear? Exact and near-duplicate matches with their sources.
    FindWork(lookup::FindWorkArgs),
    /// Opt-out status of a URL or a content, with what decided it.
    CheckOptout(lookup::CheckOptOutArgs),
    /// Register, list and revoke opt-outs in a server's registry.
    Optout(lookup::OptOutArgs),
    /// Audit samples: draw one reproducibly, label its items (admin), and
    /// read per-source failure rates (AuditService).
    Sample(audit_cmd::SampleArgs),
    /// Which contents hold a data subject's identifier (admin; by keyed hash).
    PersonalData(audit_cmd::PersonalDataArgs),
    /// File a complaint, show it, review it (admin).
    Complaint(audit_cmd::ComplaintArgs),
    /// Claim contents for payment, revoke a claim, or record a CMO's
    /// mandate (admin).
    Claim(audit_cmd::ClaimArgs),
    /// Print the audit log of an opt-out registry.
    Audit(registry_cli::AuditArgs),
    /// Serve the opt-out registry as its single writer: OptOutService and the
    /// RegistryReadService index servers consult (`serve --registry-url`).
    RegistryServer(registry_server::RegistryServerArgs),
    /// Write the training manifest (JSONL): every content not opted out by
    /// crawl signals or the registry, with a summary of what was excluded.
    Export(export::ExportArgs),
    /// Transparency summary of the indexed corpus (JSON, HTML with SVG charts).
    Report(export::ReportArgs),
    /// Pro-rata compensation statement per registered domain and per
    /// rightholder named in the registry (CSV, JSON).
    Compensation(export::CompensationArgs),
    /// Check a signed ledger manifest and inclusion / non-inclusion proofs
    /// offline, from the trusted public key alone; exits 1 naming the
    /// failed check.
    Verify(verify::VerifyArgs),
    /// Which index versions and recorded exports held a content, a URL's
    /// contents or a work (exact and near-duplicates), and whether a
    /// registry entry covered it at each export's time (JSON).
    Lineage(lineage_cmd::LineageArgs),
    /// Print an index's manifest: counts, parameters, crawls, digest.
    Info {
        /// A local index directory, a local publication directory (its
        /// publication.json and partitions), or a published index's URI
        /// (fetched and verified into --cache-dir, as `serve` does).
        index: PathBuf,
        #[arg(long)]
        json: bool,
        /// Local cache of fetched indexes (as `serve --cache-dir`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Also walk every table: rows, key and value bytes, SST bytes on
        /// disk, and bytes per capture.
        #[arg(long)]
        tables: bool,
    },
}

/// Connection limits of `provindex serve`: idle or half-open connections
/// must not hold the server's sockets forever.
#[derive(clap::Args)]
struct ConnectionArgs {
    /// Connections served at once; a connection beyond is closed as soon as
    /// it is accepted.
    #[arg(long, default_value_t = conn::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Close a connection that has not sent the HTTP/2 preface and its
    /// SETTINGS frame (with TLS: its first request) within this many
    /// seconds; 0: never.
    #[arg(long, default_value_t = conn::DEFAULT_HANDSHAKE_TIMEOUT.as_secs())]
    handshake_timeout_secs: u64,
    /// Close a connection without a call in flight for this many seconds
    /// (clients reconnect on their next call); 0: never.
    #[arg(long, default_value_t = conn::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout_secs: u64,
    #[command(flatten)]
    request: RequestTimeoutArgs,
}

/// `--request-timeout-secs`, of every server role.
#[derive(clap::Args, Debug, Clone, Copy)]
struct RequestTimeoutArgs {
    /// Deadline of one call, after which it ends in DEADLINE_EXCEEDED. A
    /// transparency report, compensation statement or export walks the
    /// whole index: raise it on the server that answers them (`serve`,
    /// `registry-server`) and on a router forwarding them.
    #[arg(long, default_value_t = provindex_rpc::DEFAULT_REQUEST_TIMEOUT.as_secs())]
    request_timeout_secs: u64,
}

impl RequestTimeoutArgs {
    fn timeout(self) -> anyhow::Result<std::time::Duration> {
        anyhow::ensure!(
            self.request_timeout_secs > 0,
            "--request-timeout-secs must be at least 1"
        );
        Ok(std::time::Duration::from_secs(self.request_timeout_secs))
    }
}

impl ConnectionArgs {
    fn limits(&self) -> conn::ConnectionLimits {
        let secs = |n: u64| (n > 0).then(|| std::time::Duration::from_secs(n));
        conn::ConnectionLimits {
            max_connections: self.max_connections,
            handshake_timeout: secs(self.handshake_timeout_secs),
            idle_timeout: secs(self.idle_timeout_secs),
        }
    }
}

/// Default block cache of `provindex serve`, in MiB.
const DEFAULT_BLOCK_CACHE_MB: usize = 1024;

/// `provindex … | head` closes standard output before the command is done:
/// `println!` then panics on the broken pipe. End as a command killed by
/// SIGPIPE would (status 141, nothing on stderr), not with a panic report.
fn exit_quietly_when_stdout_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_when_stdout_closes();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Index(args) => jobs::run_index(args),
        Command::Coordinator(args) => jobs::run_coordinator(args),
        Command::Worker(args) => jobs::run_worker(args),
        Command::Serve {
            index,
            cache_dir,
            listen,
            metrics_listen,
            http_listen,
            block_cache_mb,
            connections,
            access,
            partitions,
        } => match router_cmd::serves_partitions(&index, partitions.as_deref()) {
            Ok(true) => run_partition_serve(
                index,
                cache_dir,
                partitions,
                listen,
                metrics_listen,
                http_listen,
                block_cache_mb,
                &connections,
                &access,
            ),
            Ok(false) => run_serve(
                index,
                cache_dir,
                listen,
                metrics_listen,
                http_listen,
                block_cache_mb,
                connections,
                access,
            ),
            Err(error) => Err(error),
        },
        Command::Router(args) => router_cmd::run_router(args),
        Command::Lookup(args) => return lookup::run(args),
        Command::Capture(args) => return lookup::run_capture(args),
        Command::FindWork(args) => return lookup::run_find_work(args),
        Command::CheckOptout(args) => return lookup::run_check_optout(args),
        Command::Optout(args) => return lookup::run_optout(args),
        Command::Sample(args) => return audit_cmd::run_sample(args),
        Command::PersonalData(args) => return audit_cmd::run_personal_data(args),
        Command::Complaint(args) => return audit_cmd::run_complaint(args),
        Command::Claim(args) => return audit_cmd::run_claim(args),
        Command::Audit(args) => registry_cli::run_audit(args),
        Command::RegistryServer(args) => registry_server::run(args),
        Command::Info {
            index,
            json,
            cache_dir,
            tables,
        } => info_cmd::run(index, json, cache_dir, tables),
        Command::Export(args) => export::run_export(args),
        Command::Report(args) => export::run_report(args),
        Command::Compensation(args) => export::run_compensation(args),
        Command::Verify(args) => return verify::run_verify(args),
        Command::Lineage(args) => lineage_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(client::EXIT_ERROR)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_serve(
    index: PathBuf,
    cache_dir: Option<PathBuf>,
    listen: String,
    metrics_listen: Option<String>,
    http_listen: Option<String>,
    block_cache_mb: usize,
    connections: ConnectionArgs,
    access: registry_cli::AccessArgs,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        connections.max_connections > 0,
        "--max-connections must be at least 1"
    );
    let request_timeout = connections.request.timeout()?;
    let block_cache_bytes = block_cache_mb
        .checked_mul(1 << 20)
        .with_context(|| format!("--block-cache-mb {block_cache_mb} is too large"))?;
    let local = fetch::resolve(&index, cache_dir.as_deref())?;
    let reader = IndexReader::open_with_cache(&local.dir, block_cache_bytes)
        .with_context(|| format!("opening index {}", local.dir.display()))?;
    local.check(reader.manifest())?;
    let access = access.open(&local.registry_base)?;
    // A ledger.json that does not describe this index refuses to serve.
    let ledger = provindex_pipeline::ledger::load_ledger(&reader)
        .context("checking the index's ledger.json")?
        .map(Arc::new);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let reader = Arc::new(reader);
    let remote_registry = access.remote_registry(runtime.handle().clone(), Arc::clone(&reader))?;
    runtime.block_on(async move {
        let (listener, local) = bind_announced(&listen, "listening on").await?;
        let mut config = provindex_rpc::ServerConfig {
            connections: connections.limits(),
            request_timeout,
            ..Default::default()
        };
        access.apply(&mut config);
        config.remote_registry = remote_registry;
        config.ledger = ledger;
        let mut http_metrics = None;
        if let Some(metrics_listen) = &metrics_listen {
            let metrics = serve_metrics_on(metrics_listen).await?;
            let partition = reader.manifest().partition;
            provindex_rpc::metrics::watch_index(&metrics, vec![(partition, Arc::clone(&reader))]);
            if http_listen.is_some() {
                http_metrics = Some(provindex_rpc::metrics::HttpMetrics::register(&metrics));
            }
            config.metrics = Some(metrics);
        }
        if let Some(http_listen) = &http_listen {
            let (http_listener, _) = bind_announced(http_listen, "http listening on").await?;
            let index = Arc::clone(&reader);
            let backends = provindex_http::Backends {
                registry: config.registry.clone(),
                auth: config.auth.clone(),
                remote_registry: config
                    .remote_registry
                    .clone()
                    .map(|r| r as Arc<dyn provindex_rpc::OptOutRegistry>),
                complaint_due_days: Some(config.complaint_due_days),
            };
            tokio::spawn(async move {
                let served = provindex_http::serve(
                    http_listener,
                    index,
                    backends,
                    http_metrics,
                    shutdown_signal(),
                );
                if let Err(error) = served.await {
                    tracing::error!(%error, "http server failed");
                }
            });
        }
        tracing::info!(%local, index = %index.display(), "serving");
        provindex_rpc::serve(listener, reader, config, shutdown_signal())
            .await
            .map_err(|e| anyhow::anyhow!("server failed: {e}"))
    })
}

/// `serve` over partitions ([`router_cmd::run_partition_serve`]): CheckOptOut
/// consults `--registry-url`; the options it does not implement are
/// refused, not ignored.
#[allow(clippy::too_many_arguments)]
fn run_partition_serve(
    index: PathBuf,
    cache_dir: Option<PathBuf>,
    partitions: Option<Vec<u32>>,
    listen: String,
    metrics_listen: Option<String>,
    http_listen: Option<String>,
    block_cache_mb: usize,
    connections: &ConnectionArgs,
    access: &registry_cli::AccessArgs,
) -> anyhow::Result<()> {
    let access = access.open(&index)?;
    let mut config = provindex_rpc::ServerConfig::default();
    access.apply(&mut config);
    anyhow::ensure!(
        config.registry.is_none()
            && config.auth.is_none()
            && config.tls.is_none()
            && config.pii_key.is_none(),
        "serving partitions of {}: a local opt-out registry (use --registry-url), \
         --auth, TLS and --pii-key are not supported there yet (ProvenanceService, \
         PartitionService, LedgerService, AuditService's DrawSample, and over HTTP \
         /cdx, /record and the web page's search only)",
        index.display()
    );
    let block_cache_bytes = block_cache_mb
        .checked_mul(1 << 20)
        .with_context(|| format!("--block-cache-mb {block_cache_mb} is too large"))?;
    router_cmd::run_partition_serve(router_cmd::PartitionServe {
        index,
        cache_dir,
        partitions,
        listen,
        metrics_listen,
        http_listen,
        block_cache_bytes,
        connections: connections.limits(),
        request_timeout: connections.request.timeout()?,
        access,
    })
}

pub(crate) async fn shutdown_signal() {
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

/// `--metrics-listen ADDR` of every role: binds it (announced as `metrics
/// on ADDR`) and serves the process's metric registry there, which the role
/// then registers its families in.
pub(crate) async fn serve_metrics_on(addr: &str) -> anyhow::Result<provindex_rpc::Metrics> {
    let (listener, _) = bind_announced(addr, "metrics on").await?;
    let metrics = provindex_rpc::Metrics::new();
    tokio::spawn(provindex_rpc::serve_metrics(listener, metrics.clone()));
    Ok(metrics)
}

/// Binds `addr` and prints `LABEL ADDR` once bound: tests and scripts read
/// these lines, in the order serve binds (gRPC, metrics, HTTP), to learn the
/// ports. A reader that stopped reading must not stop the server, so a
/// failed write is ignored.
async fn bind_announced(
    addr: &str,
    label: &str,
) -> anyhow::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    use std::io::Write as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("reading the address bound for {addr}"))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{label} {local}").and_then(|()| stdout.flush());
    Ok((listener, local))
}
