//! Opt-out registry and access control wiring for `provindex serve`
//! (`--registry`, `--create-registry`, `--registry-url`, `--auth`,
//! `--auth-reads`), `provindex registry-server` and `provindex audit`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use provindex_index::Registry;
use provindex_rpc::auth::{Auth, TlsIdentity};

/// Registry and authentication options of `provindex serve`.
#[derive(Args, Debug, Clone)]
pub struct AccessArgs {
    /// The writable opt-out registry (a RocksDB directory; it must exist
    /// unless --create-registry). Default: INDEX.registry next to the index
    /// when that exists, else no registry (CheckOptOut says
    /// registry_checked: false). One process per registry.
    #[arg(long, conflicts_with = "registry_url")]
    registry: Option<PathBuf>,
    /// Create the registry (--registry DIR, or INDEX.registry) when it does
    /// not exist yet; never done without this flag.
    #[arg(long, visible_alias = "create", conflicts_with = "registry_url")]
    create_registry: bool,
    /// Consult the opt-out registry service (`provindex registry-server`)
    /// at this URL (http://HOST:PORT) instead of a local registry, so every
    /// replica gives the same answer. CheckOptOut answers UNAVAILABLE while
    /// it cannot be reached; OptOutService refuses with FAILED_PRECONDITION
    /// naming it (writes go to the registry service).
    #[arg(long)]
    registry_url: Option<String>,
    /// Bearer tokens and roles (JSON; see README "Authentication"). Without
    /// it OptOutService refuses every call.
    #[arg(long)]
    auth: Option<PathBuf>,
    /// Require a token (any role) for ProvenanceService reads too.
    #[arg(long, requires = "auth")]
    auth_reads: bool,
    /// Serve gRPC over TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PII key file the index was built with (`index --pii-key`): enables
    /// AuditService FindPersonalData.
    #[arg(long)]
    pii_key: Option<PathBuf>,
    /// Days from receipt by which a complaint (AuditService FileComplaint)
    /// is due (1–3650).
    #[arg(long, default_value_t = provindex_rpc::DEFAULT_COMPLAINT_DUE_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    complaint_due_days: u32,
}

impl AccessArgs {
    /// `--registry DIR` as given.
    pub fn registry_dir(&self) -> Option<&Path> {
        self.registry.as_deref()
    }

    /// `--registry-url URL` as given.
    pub fn registry_url(&self) -> Option<&str> {
        self.registry_url.as_deref()
    }
}

/// What [`AccessArgs::open`] prepared.
pub struct Access {
    registry: Option<Arc<Registry>>,
    registry_url: Option<String>,
    auth: Option<Arc<Auth>>,
    tls: Option<TlsIdentity>,
    pii_key: Option<Arc<Vec<u8>>>,
    complaint_due_days: u32,
}

/// `INDEX.registry` next to `INDEX` (trailing slashes ignored).
pub fn default_registry_path(index: &Path) -> PathBuf {
    let name = index
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index".into());
    index
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(format!("{name}.registry"))
}

impl AccessArgs {
    /// Loads the auth file and opens the registry (before the server binds,
    /// so a bad file or a registry in use stops it at once).
    pub fn open(&self, index: &Path) -> anyhow::Result<Access> {
        let auth = match &self.auth {
            Some(path) => Some(Arc::new(
                Auth::load(path, self.auth_reads)
                    .with_context(|| format!("loading auth file {}", path.display()))?,
            )),
            None => None,
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let read = |path: &PathBuf| {
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
                };
                let identity = TlsIdentity {
                    cert_pem: read(cert)?,
                    key_pem: read(key)?,
                };
                // Checked now, so a bad certificate or key stops the server before it listens.
                tonic::transport::Server::builder()
                    .tls_config(identity.server_config())
                    .with_context(|| {
                        format!("TLS certificate {} / key {}", cert.display(), key.display())
                    })?;
                Some(identity)
            }
            _ => None,
        };
        let registry = match &self.registry_url {
            Some(_) => None,
            None => open_registry(
                self.registry.as_deref(),
                &default_registry_path(index),
                self.create_registry,
            )?
            .map(Arc::new),
        };
        let pii_key = match &self.pii_key {
            Some(path) => Some(Arc::new(
                provindex_pipeline::pii_key::read_pii_key(path).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        Ok(Access {
            registry,
            registry_url: self.registry_url.clone(),
            auth,
            tls,
            pii_key,
            complaint_due_days: self.complaint_due_days,
        })
    }
}

/// Opens the registry at `given` (which must exist unless `create`), else
/// at `default` when it exists (or `create`); `None` when neither is asked
/// for and `default` does not exist. A registry is never created without
/// `create`: a mistyped path must not start a server with an empty one.
pub fn open_registry(
    given: Option<&Path>,
    default: &Path,
    create: bool,
) -> anyhow::Result<Option<Registry>> {
    let path = given.unwrap_or(default);
    if !is_registry(path) && !create {
        if given.is_none() {
            tracing::warn!(
                "no opt-out registry at {} (pass --registry DIR, --registry-url URL or --create-registry): CheckOptOut answers from crawl signals only",
                path.display()
            );
            return Ok(None);
        }
        anyhow::bail!(
            "no opt-out registry at {}: {} (pass --create-registry, or --create, to create an empty one)",
            path.display(),
            if path.exists() {
                "the directory holds no registry"
            } else {
                "it does not exist"
            }
        );
    }
    let registry = Registry::open(path).with_context(|| {
        format!(
            "opening opt-out registry {} (is another server using it? pass --registry)",
            path.display()
        )
    })?;
    tracing::info!(registry = %path.display(), entries = registry.len(), "opt-out registry open");
    Ok(Some(registry))
}

/// Whether `path` holds a RocksDB database (a registry once opened).
fn is_registry(path: &Path) -> bool {
    path.join("CURRENT").is_file()
}

impl Access {
    /// The registry service client of `--registry-url`: made inside the
    /// server's runtime (its connection task runs there), connected lazily.
    pub fn remote_registry(
        &self,
        runtime: tokio::runtime::Handle,
        index: Arc<provindex_index::IndexReader>,
    ) -> anyhow::Result<Option<Arc<provindex_rpc::RemoteRegistry>>> {
        let Some(url) = &self.registry_url else {
            return Ok(None);
        };
        let remote = provindex_rpc::RemoteRegistry::connect_lazy(
            url,
            runtime,
            index,
            provindex_rpc::remote_registry::DEFAULT_REGISTRY_TIMEOUT,
        )
        .map_err(|e| anyhow::anyhow!("--registry-url: {e}"))?;
        tracing::info!(registry = %url, "consulting the opt-out registry service");
        Ok(Some(Arc::new(remote)))
    }

    /// `--registry-url URL` as given.
    pub fn registry_url(&self) -> Option<&str> {
        self.registry_url.as_deref()
    }

    /// The registry opened (none with --registry-url, or without a registry).
    pub fn registry(&self) -> Option<&Arc<Registry>> {
        self.registry.as_ref()
    }

    pub fn apply(&self, config: &mut provindex_rpc::ServerConfig) {
        config.registry = self.registry.clone();
        config.auth = self.auth.clone();
        config.tls = self.tls.clone();
        config.pii_key = self.pii_key.clone();
        config.complaint_due_days = self.complaint_due_days;
    }
}

/// `provindex audit`: print a registry's audit log.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The registry directory (e.g. INDEX.registry). Readable while a server
    /// holds it open.
    registry: PathBuf,
    /// Only records after this sequence number.
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run_audit(args: AuditArgs) -> anyhow::Result<()> {
    let registry = Registry::open_read_only(&args.registry)
        .with_context(|| format!("opening registry {}", args.registry.display()))?;
    let mut after = args.after;
    loop {
        let records = registry.audit_log(after, 1000)?;
        let Some(last) = records.last() else { break };
        after = last.seq;
        for record in &records {
            if args.json {
                println!("{}", serde_json::to_string(record)?);
            } else {
                println!(
                    "{}  at={}  {}({})  {}  entry={}  {}{}",
                    record.seq,
                    record.at,
                    record.actor.name,
                    record.actor.role,
                    record.action,
                    record
                        .entry_id
                        .map(|id| id.to_string())
                        .unwrap_or_else(|| "-".into()),
                    record.result,
                    if record.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", record.message)
                    }
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sits_next_to_the_index() {
        assert_eq!(
            default_registry_path(Path::new("/data/idx")),
            Path::new("/data/idx.registry")
        );
        assert_eq!(
            default_registry_path(Path::new("/data/idx/")),
            Path::new("/data/idx.registry")
        );
        assert_eq!(
            default_registry_path(Path::new("idx")),
            Path::new("idx.registry")
        );
    }
}
