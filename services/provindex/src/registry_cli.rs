//! Opt-out registry and access control wiring for `provindex serve`
//! (`--registry`, `--auth`, `--auth-reads`) and `provindex audit`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use provindex_index::Registry;
use provindex_rpc::auth::{Auth, TlsIdentity};

/// Registry and authentication options of `provindex serve`.
#[derive(Args, Debug, Clone)]
pub struct AccessArgs {
    /// The writable opt-out registry (a RocksDB directory, created if missing).
    /// Default: INDEX.registry next to the index. One server per registry.
    #[arg(long)]
    registry: Option<PathBuf>,
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
}

/// What [`AccessArgs::open`] prepared.
pub struct Access {
    registry: Arc<Registry>,
    auth: Option<Arc<Auth>>,
    tls: Option<TlsIdentity>,
    pii_key: Option<Arc<Vec<u8>>>,
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
        let path = self
            .registry
            .clone()
            .unwrap_or_else(|| default_registry_path(index));
        let registry = Registry::open(&path).with_context(|| {
            format!(
                "opening opt-out registry {} (is another server using it? pass --registry)",
                path.display()
            )
        })?;
        let pii_key = match &self.pii_key {
            Some(path) => Some(Arc::new(
                provindex_pipeline::pii_key::read_pii_key(path).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        tracing::info!(registry = %path.display(), entries = registry.len(), "opt-out registry open");
        Ok(Access {
            registry: Arc::new(registry),
            auth,
            tls,
            pii_key,
        })
    }
}

impl Access {
    pub fn apply(&self, config: &mut provindex_rpc::ServerConfig) {
        config.registry = Some(Arc::clone(&self.registry));
        config.auth = self.auth.clone();
        config.tls = self.tls.clone();
        config.pii_key = self.pii_key.clone();
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
