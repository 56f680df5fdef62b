//! `provindex lineage`: which index versions and recorded exports held a
//! content, a URL's contents or a work (exact and near-duplicates), and
//! whether a registry entry covered it at each export's time — the
//! answer LedgerService.Lineage gives ([`provindex_rpc::lineage`]), printed
//! as JSON, from the index and registry directories.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use provindex_index::{IndexReader, Registry};
use provindex_proto::v1::{LineageRequest, lineage_request::Subject};
use provindex_rpc::ApiError;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["content_id", "url", "text"])))]
pub struct LineageArgs {
    /// The served index directory.
    #[arg(long)]
    index: PathBuf,
    /// The opt-out registry whose lineage log (REGISTRY/lineage.jsonl)
    /// records the exports (default: none; index versions only).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// A content id (32 hex digits).
    #[arg(long)]
    content_id: Option<String>,
    /// An exact URL: the contents of its captures.
    #[arg(long)]
    url: Option<String>,
    /// A file holding a work's text (UTF-8): its exact content and its
    /// near-duplicates.
    #[arg(long)]
    text: Option<PathBuf>,
    /// Near-duplicates of --text at or above this estimated Jaccard.
    #[arg(long)]
    min_similarity: Option<f64>,
}

/// The flag a request field came from.
fn flag(field: &str) -> &str {
    match field {
        "content_id" => "--content-id",
        "work_text" => "--text",
        "min_similarity" => "--min-similarity",
        "url" => "--url",
        other => other,
    }
}

pub fn run(args: LineageArgs) -> anyhow::Result<()> {
    let subject = match (&args.content_id, &args.url, &args.text) {
        (Some(id), _, _) => Subject::ContentId(id.clone()),
        (_, Some(url), _) => Subject::Url(url.clone()),
        (_, _, Some(path)) => Subject::WorkText(
            std::fs::read_to_string(path)
                .with_context(|| format!("--text: reading {}", path.display()))?,
        ),
        _ => anyhow::bail!("give one of --content-id, --url or --text"),
    };
    let request = LineageRequest {
        subject: Some(subject),
        min_similarity: args.min_similarity,
    };
    let reader = IndexReader::open(&args.index)
        .with_context(|| format!("opening index {}", args.index.display()))?;
    let registry = args
        .registry
        .as_ref()
        .map(|path| {
            Registry::open_read_only(path)
                .with_context(|| format!("opening registry {}", path.display()))
        })
        .transpose()?;
    // Export files may live in object stores: read on this runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let store = provindex_corpus::store::CorpusStore::with_handle(runtime.handle().clone());
    let answer = provindex_rpc::lineage::lineage(&store, &reader, registry.as_ref(), &request)
        .map_err(|error| match error {
            ApiError::InvalidArgument { field, reason } => {
                anyhow::anyhow!("{}: {reason}", flag(field))
            }
            other => anyhow::anyhow!(other),
        })?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
