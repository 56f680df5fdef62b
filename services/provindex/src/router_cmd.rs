//! Wiring of the router role (issue 17): `provindex router --backend URL…`
//! and `provindex serve --partitions …` over a partitioned index (a
//! server holding partitions answers like a router over them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use provindex_index::IndexReader;
use provindex_rpc::router::{
    Backend, IndexFacts, LocalBackend, RemoteBackend, Router, RouterServerConfig,
};

use crate::fetch;

/// `provindex router`.
#[derive(Args, Debug)]
pub struct RouterArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout as
    /// `listening on ADDR`).
    #[arg(long, default_value = crate::DEFAULT_SERVER)]
    listen: String,
    /// A server of the index's partitions (`http://HOST:PORT`); repeat for
    /// every server. Each is asked what it serves at start: all must serve
    /// the same index and together every partition; servers of the same
    /// partitions are replicas (one is asked, the next when it is
    /// unavailable).
    #[arg(long = "backend", required = true)]
    backends: Vec<String>,
    /// How long to wait at start for every backend to answer Describe.
    #[arg(long, default_value_t = 30)]
    describe_timeout_secs: u64,
    /// Deadline of one call to a backend.
    #[arg(long, default_value_t = 30)]
    backend_timeout_secs: u64,
    /// Serve Prometheus `/metrics` over HTTP on this address (printed as
    /// `metrics on ADDR`).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Serve pywb's CDX server API (`/cdx`), original records
    /// (`/record/{capture_id}`) and the rightholder web page's search (`/`)
    /// over HTTP on this address (printed as `http listening on ADDR`),
    /// answered through the partitions as `serve --http-listen` answers them
    /// over the whole index; the page's sign-in, opt-out and complaint forms
    /// need the registry and name the server to use instead.
    #[arg(long)]
    http_listen: Option<String>,
    /// The registry service (`provindex registry-server`, `http://HOST:PORT`)
    /// AuditService's calls on the registry's state (labels, failure rates,
    /// complaints, claims, mandates), FindPersonalData and ReportService's
    /// calls are forwarded to, with the caller's token; without it they
    /// answer UNIMPLEMENTED. Partition servers consult it with `serve
    /// --registry-url`.
    #[arg(long)]
    registry_url: Option<String>,
    /// Also the deadline of a call forwarded to the registry service.
    #[command(flatten)]
    request: crate::RequestTimeoutArgs,
}

/// The registry service the registry's calls and the whole-index calls go
/// to; made inside the runtime. Each call is bounded by `timeout`, the
/// forwarding server's own deadline of a call: a forwarded call is all of
/// its work (a label draws its sample over the registry service's index, a
/// report walks it).
fn registry_service(
    url: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Option<provindex_rpc::router::RegistryService>> {
    url.map(|url| {
        provindex_rpc::router::RegistryService::connect_lazy(url, timeout)
            .map_err(|e| anyhow::anyhow!("--registry-url: {e}"))
    })
    .transpose()
}

pub fn run_router(args: RouterArgs) -> anyhow::Result<()> {
    let request_timeout = args.request.timeout()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // Made before the backends are described: each is wrapped in its metrics.
    let metrics = args
        .metrics_listen
        .as_ref()
        .map(|_| provindex_rpc::Metrics::new());
    let backend_metrics = metrics
        .as_ref()
        .map(provindex_rpc::metrics::BackendMetrics::register);
    runtime.block_on(async move {
        let timeout = Duration::from_secs(args.backend_timeout_secs.max(1));
        let deadline = Instant::now() + Duration::from_secs(args.describe_timeout_secs);
        let mut described: Vec<(Arc<dyn Backend>, _)> = Vec::new();
        for url in &args.backends {
            let backend = RemoteBackend::new(url, timeout).map_err(anyhow::Error::msg)?;
            // Backends may still be starting: retry until the deadline.
            let description = loop {
                match backend.describe().await {
                    Ok(description) => break description,
                    // Not up yet; anything else (a server without
                    // PartitionService, of another kind) is final.
                    Err(status)
                        if status.code() == tonic::Code::Unavailable
                            && Instant::now() < deadline =>
                    {
                        tracing::info!(backend = url, %status, "waiting for backend");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(status) => anyhow::bail!(
                        "backend {url} did not answer Describe (waited up to {} s): {} ({:?}); \
                         is it a `provindex serve` of a partitioned index?",
                        args.describe_timeout_secs,
                        status.message(),
                        status.code()
                    ),
                }
            };
            tracing::info!(
                backend = url,
                digest = description.index_digest,
                partitions = ?description.partitions,
                of = description.partition_count,
                "backend described"
            );
            let backend: Arc<dyn Backend> = Arc::new(backend);
            let backend = match &backend_metrics {
                Some(metered) => metered.wrap(backend),
                None => backend,
            };
            described.push((backend, description));
        }
        let router = Router::from_descriptions(described)
            .map_err(|reason| anyhow::anyhow!("refusing to start the router: {reason}"))?;
        let facts = router.facts().clone();
        let description = facts.describe((0..facts.partitions).collect());
        let (listener, local) = crate::bind_announced(&args.listen, "listening on").await?;
        let mut config = RouterServerConfig {
            request_timeout,
            registry: registry_service(args.registry_url.as_deref(), request_timeout)?,
            ..RouterServerConfig::default()
        };
        let mut http_metrics = None;
        if let (Some(metrics_listen), Some(metrics)) = (&args.metrics_listen, metrics) {
            let (metrics_listener, _) = crate::bind_announced(metrics_listen, "metrics on").await?;
            tokio::spawn(provindex_rpc::serve_metrics(
                metrics_listener,
                metrics.clone(),
            ));
            if args.http_listen.is_some() {
                http_metrics = Some(provindex_rpc::metrics::HttpMetrics::register(&metrics));
            }
            config.metrics = Some(metrics);
        }
        let router = Arc::new(router);
        if let Some(http_listen) = &args.http_listen {
            serve_router_http(http_listen, &router, http_metrics).await?;
        }
        tracing::info!(%local, digest = facts.digest, partitions = facts.partitions, "routing");
        provindex_rpc::router::serve_router(
            listener,
            router,
            description,
            config,
            crate::shutdown_signal(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("router failed: {e}"))
    })
}

/// `/cdx`, `/record` and the web page's search over `router`'s
/// ProvenanceService on `http_listen` (announced as `http listening on
/// ADDR`), in the background; the page's registry forms say to use the
/// server holding the registry.
async fn serve_router_http(
    http_listen: &str,
    router: &Arc<Router>,
    metrics: Option<provindex_rpc::metrics::HttpMetrics>,
) -> anyhow::Result<()> {
    let lookups = Arc::new(provindex_rpc::router::RouterApi::new(Arc::clone(router)));
    let routes = provindex_http::router_routes(lookups).map_err(anyhow::Error::msg)?;
    let (listener, _) = crate::bind_announced(http_listen, "http listening on").await?;
    tokio::spawn(async move {
        let served =
            provindex_http::serve_routes(listener, routes, metrics, crate::shutdown_signal());
        if let Err(error) = served.await {
            tracing::error!(%error, "http server failed");
        }
    });
    Ok(())
}

/// Whether `serve` must serve `index` as partitions: `--partitions` given,
/// or a publication of more than one partition.
pub fn serves_partitions(index: &Path, partitions: Option<&[u32]>) -> anyhow::Result<bool> {
    if partitions.is_some() {
        return Ok(true);
    }
    Ok(fetch::publication_of(index)?.is_some_and(|p| p.partitions.len() > 1))
}

/// What `serve` over partitions needs from its command line.
pub struct PartitionServe {
    pub index: PathBuf,
    pub cache_dir: Option<PathBuf>,
    pub partitions: Option<Vec<u32>>,
    pub listen: String,
    pub metrics_listen: Option<String>,
    /// `/cdx`, `/record` and the page's search through the partitions
    /// ([`serve_router_http`]).
    pub http_listen: Option<String>,
    pub block_cache_bytes: usize,
    pub connections: provindex_rpc::ConnectionLimits,
    /// `--request-timeout-secs`: of every call, forwarded ones included.
    pub request_timeout: Duration,
    /// `--registry-url`: CheckOptOut on every partition consults it.
    pub access: crate::registry_cli::Access,
}

/// `serve --partitions`: opens the wanted partitions (all by default) of a
/// published index and serves ProvenanceService over them like a router,
/// plus PartitionService; CheckOptOut consults the registry service of
/// `--registry-url` (each partition with its own reader: a content's
/// signature is on its partition), and LedgerService from the partitions'
/// ledgers when the publication is signed, and with `--http-listen` the
/// `/cdx` and `/record` routes and the web page's search over the same
/// routing, and AuditService's DrawSample (each partition's share, merged;
/// its opt-out verdicts from the same registry service) and its registry
/// calls (forwarded to that registry service). The other services of
/// `serve` (OptOut, Report, FindPersonalData, the page's registry forms)
/// need the whole index, the registry or the PII key and are not served
/// here.
pub fn run_partition_serve(args: PartitionServe) -> anyhow::Result<()> {
    let local = fetch::resolve_partitions(
        &args.index,
        args.cache_dir.as_deref(),
        args.partitions.as_deref(),
    )?;
    let published = &local.publication.index;
    let count = u32::try_from(local.publication.partitions.len()).unwrap_or(u32::MAX);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut apis = BTreeMap::new();
    let mut readers = Vec::new();
    let mut ledgers = BTreeMap::new();
    let mut audits = BTreeMap::new();
    for (number, dir) in &local.partitions {
        // The block cache is split between the partitions held.
        let cache = args.block_cache_bytes / local.partitions.len().max(1);
        let reader = IndexReader::open_with_cache(dir, cache)
            .with_context(|| format!("opening partition {number} at {}", dir.display()))?;
        let m = reader.manifest();
        // An unpartitioned index's one database says 0 of 0.
        let (held, of) = if m.partitions == 0 {
            (0, 1)
        } else {
            (m.partition, m.partitions)
        };
        anyhow::ensure!(
            held == *number && of == count,
            "{}: the database is partition {held} of {of}; the publication lists it as partition {number} of {count}",
            dir.display()
        );
        anyhow::ensure!(
            m.normalization_version == published.normalization_version
                && m.sketch_spec == published.sketch_spec,
            "{}: normalization v{} / sketch {:?} differ from the publication's v{} / {:?}",
            dir.display(),
            m.normalization_version,
            m.sketch_spec,
            published.normalization_version,
            published.sketch_spec
        );
        let reader = Arc::new(reader);
        // A signed publication's ledger: <publication>/ledger.json and
        // ledger/<id>.json (issue 17); a partition referenced from a base
        // publication is still proven under this publication's ledger.
        if let Some(ledger) =
            provindex_pipeline::ledger::load_partition_ledger(&reader, &local.publication_dir)
                .with_context(|| format!("ledger of partition {number}"))?
        {
            ledgers.insert(
                *number,
                Arc::new(provindex_rpc::PartitionLedger::new(
                    Arc::new(ledger),
                    Arc::clone(&reader),
                )),
            );
        }
        readers.push((*number, Arc::clone(&reader)));
        let mut api = provindex_rpc::ProvenanceApi::new(Arc::clone(&reader));
        let registry = args
            .access
            .remote_registry(runtime.handle().clone(), Arc::clone(&reader))?
            .map(|registry| registry as Arc<dyn provindex_rpc::OptOutRegistry>);
        if let Some(registry) = &registry {
            api = api.with_registry(Arc::clone(registry));
        }
        apis.insert(*number, api);
        // Samples only: no registry, auth or PII key on a partition server.
        audits.insert(
            *number,
            provindex_rpc::AuditApi::new(reader, None, None, None).with_opt_outs(registry),
        );
    }
    anyhow::ensure!(
        !apis.is_empty(),
        "{}: no partitions to serve",
        args.index.display()
    );
    let facts = IndexFacts {
        digest: published.digest.clone(),
        partitions: count,
        normalization_version: published.normalization_version,
        sketch_spec: published.sketch_spec.clone(),
        format_version: published.format_version,
    };
    let held: Vec<u32> = apis.keys().copied().collect();
    let backend: Arc<dyn Backend> = Arc::new(
        LocalBackend::new(apis)
            .with_ledgers(ledgers)
            .with_audits(audits),
    );
    let router =
        Router::new(facts.clone(), vec![(backend, held.clone())]).map_err(anyhow::Error::msg)?;
    let description = facts.describe(held.clone());
    runtime.block_on(async move {
        let (listener, local_addr) = crate::bind_announced(&args.listen, "listening on").await?;
        let mut config = RouterServerConfig {
            connections: args.connections,
            request_timeout: args.request_timeout,
            registry: registry_service(args.access.registry_url(), args.request_timeout)?,
            ..RouterServerConfig::default()
        };
        let mut http_metrics = None;
        if let Some(metrics_listen) = &args.metrics_listen {
            let metrics = crate::serve_metrics_on(metrics_listen).await?;
            provindex_rpc::metrics::watch_index(&metrics, readers);
            if args.http_listen.is_some() {
                http_metrics = Some(provindex_rpc::metrics::HttpMetrics::register(&metrics));
            }
            config.metrics = Some(metrics);
        }
        let router = Arc::new(router);
        if let Some(http_listen) = &args.http_listen {
            serve_router_http(http_listen, &router, http_metrics).await?;
        }
        tracing::info!(%local_addr, index = %args.index.display(), partitions = ?held, of = count, "serving partitions");
        provindex_rpc::router::serve_router(
            listener,
            router,
            description,
            config,
            crate::shutdown_signal(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
    })
}
