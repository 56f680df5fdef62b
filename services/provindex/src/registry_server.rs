//! `provindex registry-server`: the opt-out registry's single writer as a
//! service of its own. It serves OptOutService (register, revoke, list,
//! with the same tokens and audit log as `serve`) and RegistryReadService,
//! which index servers started with `serve --registry-url` consult for
//! CheckOptOut, so every replica of an index gives the same opt-out answer.
//! The registry directory is created only with `--create`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::registry_cli::AccessArgs;

/// Where `registry-server` listens unless told otherwise.
pub const DEFAULT_REGISTRY_LISTEN: &str = "127.0.0.1:50061";

/// Block cache of the registry server's index, in bytes: it reads only the
/// manifest (sketch spec) and, for content registrations of rightholders
/// with granted scopes, a content's captures.
const INDEX_BLOCK_CACHE_BYTES: usize = 64 << 20;

#[derive(Args)]
pub struct RegistryServerArgs {
    /// The index the registry's entries apply to: work registrations are
    /// sketched with its sketch spec and normalization, content
    /// registrations of rightholders checked against its captures. A local
    /// directory or a published index's URI (fetched as `serve` does).
    #[arg(long)]
    index: PathBuf,
    /// Local cache of fetched indexes (as `serve --cache-dir`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (printed on stdout as
    /// `listening on ADDR`).
    #[arg(long, default_value = DEFAULT_REGISTRY_LISTEN)]
    listen: String,
    /// Serve Prometheus `/metrics` over HTTP on this address (printed as
    /// `metrics on ADDR`). Off unless given.
    #[arg(long)]
    metrics_listen: Option<String>,
    #[command(flatten)]
    connections: crate::ConnectionArgs,
    /// --registry DIR (required), --create, --auth, TLS.
    #[command(flatten)]
    access: AccessArgs,
}

pub fn run(args: RegistryServerArgs) -> anyhow::Result<()> {
    let Some(dir) = args.access.registry_dir().map(|d| d.to_path_buf()) else {
        anyhow::bail!("registry-server needs --registry DIR: the registry it is the writer of");
    };
    anyhow::ensure!(
        args.access.registry_url().is_none(),
        "--registry-url is for index servers (`serve`); registry-server holds the registry itself"
    );
    anyhow::ensure!(
        args.connections.max_connections > 0,
        "--max-connections must be at least 1"
    );
    let request_timeout = args.connections.request.timeout()?;
    let reader = crate::fetch::open_one_database(
        &args.index,
        args.cache_dir.as_deref(),
        INDEX_BLOCK_CACHE_BYTES,
    )?;
    let access = args.access.open(&args.index)?;
    let registry = Arc::clone(
        access
            .registry()
            .with_context(|| format!("opt-out registry {} was not opened", dir.display()))?,
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let (listener, bound) = crate::bind_announced(&args.listen, "listening on").await?;
        let mut config = provindex_rpc::ServerConfig {
            connections: args.connections.limits(),
            request_timeout,
            ..Default::default()
        };
        access.apply(&mut config);
        if let Some(metrics_listen) = &args.metrics_listen {
            config.metrics = Some(crate::serve_metrics_on(metrics_listen).await?);
        }
        tracing::info!(%bound, registry = %dir.display(), entries = registry.len(), "serving the opt-out registry");
        provindex_rpc::serve_registry(
            listener,
            registry,
            Arc::new(reader),
            config,
            crate::shutdown_signal(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("registry server failed: {e}"))
    })
}
