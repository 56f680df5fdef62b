//! `provindex index` (one process, or submitted to a coordinator),
//! `provindex coordinator` and `provindex worker`: wiring only; the stages
//! and rules live in provindex-pipeline, the gRPC adapter in provindex-rpc.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use provindex_pipeline::job::JobState;
use provindex_pipeline::{BuildReport, LocalBuild};
use provindex_proto::v1 as pb;
use provindex_proto::v1::coordinator_service_client::CoordinatorServiceClient;

use crate::progress::{Progress, ProgressArgs};

#[derive(clap::Args)]
pub struct IndexArgs {
    /// Inputs: files, directories (searched recursively), globs, object
    /// URIs (file://, s3://bucket/prefix, https://host/object), or path
    /// lists (NAME.paths, NAME.paths.gz, BASE::LIST) of objects, one a line.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Output index directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Crawl name recorded with every capture.
    #[arg(long, default_value = "crawl")]
    crawl: String,
    /// Worker threads of a one-process build (default: available cores).
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
    /// Submit the job to this coordinator (http://host:port) instead of
    /// building in this process, and follow it until it ends.
    #[arg(long)]
    coordinator: Option<String>,
    /// Staging prefix for intermediate run files (a path, file:// or
    /// s3:// URI). Default: a directory next to --out.
    #[arg(long)]
    staging: Option<String>,
    /// LSH band partitions, i.e. cluster tasks (default 4).
    #[arg(long, default_value_t = 0)]
    partitions: u32,
    /// Index partitions: one build task each, a power of two up to 256
    /// (default 1). Above 1 the output is a publication (publication.json
    /// and partitions/pNNNN/), served by `serve` and `router`.
    #[arg(long, default_value_t = 1)]
    index_partitions: u32,
    /// Job id on the coordinator (default: generated).
    #[arg(long)]
    job_id: Option<String>,
    /// A scan task that keeps failing leaves its input out (listed in the
    /// report) instead of failing the job.
    #[arg(long)]
    skip_failed_inputs: bool,
    /// Lease length in seconds for coordinator jobs (default 30).
    #[arg(long, default_value_t = 0)]
    lease_seconds: u32,
    /// Give up following a coordinator job after this many seconds
    /// (default: follow until it ends).
    #[arg(long)]
    timeout: Option<u64>,
    /// Benchmarking switch: skip license and opt-out signal extraction
    /// (every capture's verdict is `unknown`).
    #[arg(long, hide = true)]
    no_signals: bool,
    /// Ed25519 seed file (32 raw bytes or 64 hex digits): sign the index's
    /// ledger (Merkle roots over its contents) into OUT/ledger.json. With
    /// --coordinator the build worker reads this path.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// PII key file (at least 32 random bytes, kept secret): hash each
    /// e-mail, phone, resident ID and card number found into the index's
    /// keyed-hash table, for data subjects' requests (`serve --pii-key`
    /// with the same file). Without it only PII counts are recorded.
    #[arg(long)]
    pii_key: Option<PathBuf>,
    /// Incremental build: add the inputs to this index (a directory, or a
    /// publication at a path or `s3://` URI). The new index equals a build
    /// over the base's inputs and these; the base is left as it is.
    #[arg(long, value_name = "INDEX")]
    base: Option<String>,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run_index(args: IndexArgs) -> anyhow::Result<()> {
    if let Some(key) = &args.signing_key {
        // Refuse a bad key before building, not after.
        provindex_pipeline::ledger::read_signing_key(key)?;
    }
    if let Some(key) = &args.pii_key {
        provindex_pipeline::pii_key::read_pii_key(key).map_err(anyhow::Error::msg)?;
    }
    let built_at = args.built_at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let started = Instant::now();
    let mut progress = Progress::new(args.progress.progress);
    let report = match &args.coordinator {
        None => {
            let workers = args.workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            provindex_pipeline::build_local_with_progress(
                &LocalBuild {
                    inputs: args.inputs.clone(),
                    skip_failed_inputs: args.skip_failed_inputs,
                    out: args.out.clone(),
                    crawl: args.crawl.clone(),
                    workers,
                    built_at,
                    robots: args.robots.clone(),
                    staging: args.staging.clone(),
                    partitions: args.partitions,
                    no_signals: args.no_signals,
                    signing_key: args.signing_key.as_deref().map(absolute),
                    pii_key: args.pii_key.as_deref().map(absolute),
                    index_partitions: args.index_partitions,
                    base: args.base.clone(),
                },
                &mut |job| progress.job(&provindex_rpc::coordinator::job_status(job)),
            )
            .with_context(|| format!("building index at {}", args.out.display()))?
        }
        Some(coordinator) => submit_and_follow(&args, coordinator, built_at, &mut progress)?,
    };
    progress.finish();
    print_report(&report, &args.out);
    println!("elapsed: {:.2}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn absolute(path: &std::path::Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Inputs given as relative paths are made absolute: the coordinator and
/// the workers run elsewhere.
fn absolute_uri(input: &str) -> String {
    if input.contains("://") {
        input.to_string()
    } else {
        absolute(std::path::Path::new(input)).display().to_string()
    }
}

fn submit_and_follow(
    args: &IndexArgs,
    coordinator: &str,
    built_at: i64,
    progress: &mut Progress,
) -> anyhow::Result<BuildReport> {
    // An object-store --out (a publication) is a URI, not a path to make absolute.
    let out = match args.out.to_str() {
        Some(uri) if provindex_pipeline::publish::is_remote(uri) => args.out.clone(),
        _ => absolute(&args.out),
    };
    let staging = args
        .staging
        .as_deref()
        .map(absolute_uri)
        .unwrap_or_else(|| {
            provindex_pipeline::default_staging(&out)
                .display()
                .to_string()
        });
    let spec = pb::JobSpec {
        inputs: args.inputs.iter().map(|i| absolute_uri(i)).collect(),
        crawl: args.crawl.clone(),
        output: out.display().to_string(),
        staging,
        partitions: args.partitions,
        built_at,
        robots: args
            .robots
            .as_deref()
            .map(|r| absolute(r).display().to_string())
            .unwrap_or_default(),
        max_attempts: 0,
        skip_failed_inputs: args.skip_failed_inputs,
        no_signals: args.no_signals,
        lease_seconds: args.lease_seconds,
        signing_key: args
            .signing_key
            .as_deref()
            .map(|k| absolute(k).display().to_string())
            .unwrap_or_default(),
        pii_key: args
            .pii_key
            .as_deref()
            .map(|k| absolute(k).display().to_string())
            .unwrap_or_default(),
        index_partitions: args.index_partitions,
        base: args.base.as_deref().map(absolute_uri).unwrap_or_default(),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let deadline = args.timeout.map(Duration::from_secs);
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(coordinator.to_string())
            .with_context(|| format!("coordinator address {coordinator:?}"))?
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await
            .with_context(|| format!("connecting to the coordinator at {coordinator}"))?;
        let mut client = CoordinatorServiceClient::new(channel);
        let job_id = client
            .submit_job(pb::SubmitJobRequest {
                spec: Some(spec),
                job_id: args.job_id.clone().unwrap_or_default(),
            })
            .await
            .map_err(|s| anyhow::anyhow!("submitting the job: {}", s.message()))?
            .into_inner()
            .job_id;
        eprintln!("job {job_id} submitted to {coordinator}");
        let follow = async {
            loop {
                // The stream ends when the job ends; a broken stream (the
                // coordinator restarting) is resumed.
                match client
                    .watch_job(pb::GetJobRequest {
                        job_id: job_id.clone(),
                    })
                    .await
                {
                    Ok(stream) => {
                        let mut stream = stream.into_inner();
                        while let Ok(Some(status)) = stream.message().await {
                            progress.job(&status);
                            if status.state != "running" {
                                return Ok::<_, anyhow::Error>(status);
                            }
                        }
                    }
                    Err(status) if status.code() == tonic::Code::NotFound => {
                        anyhow::bail!("job {job_id}: {}", status.message());
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        let status = match deadline {
            Some(limit) => tokio::time::timeout(limit, follow).await.map_err(|_| {
                anyhow::anyhow!("job {job_id} still running after {}s", limit.as_secs())
            })??,
            None => follow.await?,
        };
        if status.state != "succeeded" {
            for failed in &status.failed_tasks {
                eprintln!("failed task {}: {}", failed.task_id, failed.reason);
            }
            anyhow::bail!("job {job_id} failed: {}", status.error);
        }
        serde_json::from_str(&status.report_json).context("reading the job's build report")
    })
}

fn print_report(report: &BuildReport, out: &std::path::Path) {
    for error in &report.errors {
        eprintln!("read error: {error}");
    }
    if report.error_count > report.errors.len() as u64 {
        eprintln!(
            "... and {} more read errors",
            report.error_count - report.errors.len() as u64
        );
    }
    for skipped in &report.skipped_inputs {
        eprintln!("skipped input: {skipped}");
    }
    let m = &report.manifest;
    println!("indexed {} files into {}", report.files, out.display());
    println!("captures: {}", m.captures);
    println!("contents: {}", m.contents);
    println!("urls: {}", m.urls);
    println!(
        "near-duplicate clusters: {} ({} contents)",
        m.clusters, m.clustered_contents
    );
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
}

#[derive(clap::Args)]
pub struct CoordinatorArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:50061")]
    listen: String,
    /// Directory for durable job state (a restarted coordinator resumes
    /// every job found there).
    #[arg(long)]
    state: PathBuf,
    /// Serve Prometheus `/metrics` over HTTP on this address (port 0: a
    /// free port, printed as `metrics on ADDR`). Off unless given.
    #[arg(long)]
    metrics_listen: Option<String>,
}

pub fn run_coordinator(args: CoordinatorArgs) -> anyhow::Result<()> {
    let state = args
        .state
        .to_str()
        .and_then(|s| s.strip_prefix("file://"))
        .map(PathBuf::from)
        .unwrap_or(args.state.clone());
    let coordinator = provindex_pipeline::job::Coordinator::open(&state)
        .with_context(|| format!("opening job state in {}", state.display()))?;
    for job in coordinator.jobs().filter(|j| j.state == JobState::Running) {
        tracing::info!(job = %job.id, stage = job.stage.as_str(), "resuming job");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // The store lists inputs from async handlers: it needs no runtime of its own.
    let store = Arc::new(provindex_corpus::store::CorpusStore::with_handle(
        runtime.handle().clone(),
    ));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let local = listener.local_addr().context("reading the bound address")?;
        println!("listening on {local}");
        std::io::stdout().flush().ok();
        let api = provindex_rpc::coordinator::CoordinatorApi::new(coordinator, store);
        let metrics = match &args.metrics_listen {
            Some(addr) => {
                let metrics = crate::serve_metrics_on(addr).await?;
                provindex_rpc::metrics::watch_coordinator(&metrics, api.coordinator());
                Some(metrics)
            }
            None => None,
        };
        tokio::spawn(api.clone().tick(Duration::from_millis(500)));
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<pb::coordinator_service_server::CoordinatorServiceServer<
                provindex_rpc::coordinator::CoordinatorApi,
            >>()
            .await;
        tonic::transport::Server::builder()
            .timeout(Duration::from_secs(30))
            .add_service(provindex_rpc::Metered::new(health, metrics.clone()))
            .add_service(provindex_rpc::Metered::new(api.into_server(), metrics))
            .serve_with_incoming_shutdown(
                provindex_rpc::incoming(listener),
                crate::shutdown_signal(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("coordinator failed: {e}"))
    })
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The coordinator, http://host:port.
    #[arg(long)]
    coordinator: String,
    /// Worker name in logs and job status (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    /// Concurrent tasks (threads) in this worker.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Local scratch directory (default: the system temp dir).
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Serve Prometheus `/metrics` over HTTP on this address (port 0: a
    /// free port, printed as `metrics on ADDR` before the worker starts).
    /// Off unless given.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Fault injection for tests: sleep this many milliseconds after each
    /// scanned record.
    #[arg(long, hide = true, default_value_t = 0)]
    record_delay_ms: u64,
}

pub fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // A lazy channel spawns its connection task on the current runtime.
    let _entered = runtime.enter();
    let channel = tonic::transport::Endpoint::from_shared(args.coordinator.clone())
        .with_context(|| format!("coordinator address {:?}", args.coordinator))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .connect_lazy();
    let source = provindex_rpc::coordinator::GrpcTaskSource::new(runtime.handle().clone(), channel);
    let metrics = match &args.metrics_listen {
        Some(addr) => Some(runtime.block_on(crate::serve_metrics_on(addr))?),
        None => None,
    };
    let source: Box<dyn provindex_pipeline::worker::TaskSource> = match &metrics {
        Some(metrics) => Box::new(provindex_rpc::metrics::MeteredSource::new(source, metrics)),
        None => Box::new(source),
    };
    let store =
        Arc::new(provindex_corpus::store::CorpusStore::new().context("object store client")?);
    let scratch = args.scratch.unwrap_or_else(std::env::temp_dir);
    let name = args
        .name
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let ctx = provindex_pipeline::tasks::TaskContext {
        store,
        scratch: scratch.join(format!("provindex-{name}")),
        sort_budget: provindex_pipeline::tasks::SORT_BUDGET,
        record_delay: Duration::from_millis(args.record_delay_ms),
    };
    let stop = AtomicBool::new(false);
    println!("worker {name} pulling tasks from {}", args.coordinator);
    std::io::stdout().flush().ok();
    std::thread::scope(|scope| {
        for n in 0..args.threads.max(1) {
            let (source, ctx, stop) = (source.as_ref(), &ctx, &stop);
            let options = provindex_pipeline::worker::WorkerOptions {
                name: if n == 0 {
                    name.clone()
                } else {
                    format!("{name}.{n}")
                },
                idle_poll: Duration::from_millis(250),
            };
            scope
                .spawn(move || provindex_pipeline::worker::run_worker(source, ctx, &options, stop));
        }
    });
    Ok(())
}
