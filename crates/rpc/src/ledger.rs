//! LedgerService (ledger.proto): the served index's signed manifest and
//! proofs from its two Merkle trees, held in memory since server start
//! ([`provindex_pipeline::ledger::load_ledger`] rebuilt them from the index
//! and checked them against `ledger.json`; about 350 bytes per content).

use std::sync::Arc;

use provindex_index::IndexReader;
use provindex_ledger::{TreeKind, wire};
use provindex_pipeline::ledger::{LedgerTrees, LoadedLedger, LoadedPartitionLedger};
use provindex_proto::v1::ledger_service_server::LedgerService;
use provindex_proto::v1::prove_content_request::Key;
use provindex_proto::v1::{
    GetCaptureLinkRequest, GetCaptureLinkResponse, GetSignedManifestRequest,
    GetSignedManifestResponse, ProveContentRequest, ProveContentResponse,
};
use tonic::{Request, Response, Status};

use crate::convert::hex_u128;
use crate::error::{ApiError, echo};

/// Why an unsigned index answers the ledger's calls UNIMPLEMENTED.
pub const NO_LEDGER: &str = "the index has no ledger (built without --signing-key)";

pub struct LedgerApi {
    /// `Err`: why GetSignedManifest, ProveContent and GetCaptureLink are
    /// UNIMPLEMENTED here (Lineage needs no ledger).
    ledger: Result<Arc<LoadedLedger>, &'static str>,
    index: Arc<IndexReader>,
    // Lineage reads the registry's lineage log and the exports' files.
    registry: Option<Arc<provindex_index::Registry>>,
    store: Arc<provindex_corpus::store::CorpusStore>,
}

impl LedgerApi {
    /// Must be called inside a tokio runtime (Lineage reads export files
    /// through object stores on it).
    pub fn new(ledger: Arc<LoadedLedger>, index: Arc<IndexReader>) -> Self {
        Self::with_ledger(Ok(ledger), index)
    }

    /// Lineage only: the ledger's own calls answer UNIMPLEMENTED saying
    /// `why` (e.g. [`NO_LEDGER`]). Must be called inside a tokio runtime.
    pub fn lineage_only(index: Arc<IndexReader>, why: &'static str) -> Self {
        Self::with_ledger(Err(why), index)
    }

    fn with_ledger(
        ledger: Result<Arc<LoadedLedger>, &'static str>,
        index: Arc<IndexReader>,
    ) -> Self {
        Self {
            ledger,
            index,
            registry: None,
            store: Arc::new(provindex_corpus::store::CorpusStore::with_handle(
                tokio::runtime::Handle::current(),
            )),
        }
    }

    /// Lineage answers from this registry's lineage log.
    pub fn with_registry(mut self, registry: Option<Arc<provindex_index::Registry>>) -> Self {
        self.registry = registry;
        self
    }

    fn ledger(&self) -> Result<&Arc<LoadedLedger>, Status> {
        self.ledger
            .as_ref()
            .map_err(|why| Status::unimplemented(*why))
    }
}

/// A proof the server's own tree cannot make is the server's fault.
fn internal(error: provindex_ledger::LedgerError) -> ApiError {
    ApiError::Internal(format!("ledger: {error}"))
}

fn parse_content_id(text: &str) -> Result<u128, ApiError> {
    hex_u128(text).ok_or_else(|| {
        ApiError::invalid(
            "content_id",
            format!("{:?} is not 32 hex digits", echo(text)),
        )
    })
}

fn parse_sha256(text: &str) -> Result<[u8; 32], ApiError> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "sha256",
            format!("{:?} is not 64 hex digits", echo(text)),
        ));
    }
    let bytes = hex::decode(text).map_err(|e| ApiError::invalid("sha256", e.to_string()))?;
    Ok(bytes.try_into().expect("64 hex digits are 32 bytes"))
}

/// The content tree inclusion proof of `content_id`, if it is a leaf.
fn content_inclusion(trees: &LedgerTrees, content_id: u128) -> Result<Option<String>, ApiError> {
    let tree = &trees.content;
    match tree.position(&content_id) {
        Ok(index) => {
            let proof = tree.leaf_proof(index).map_err(internal)?;
            Ok(Some(wire::inclusion_to_json(TreeKind::Content, &proof)))
        }
        Err(_) => Ok(None),
    }
}

pub fn prove(
    ledger: &LoadedLedger,
    request: &ProveContentRequest,
) -> Result<ProveContentResponse, ApiError> {
    prove_in(&ledger.trees, request)
}

/// ProveContent over one set of trees (a whole index's or a partition's).
fn prove_in(
    trees: &LedgerTrees,
    request: &ProveContentRequest,
) -> Result<ProveContentResponse, ApiError> {
    let mut response = ProveContentResponse::default();
    match &request.key {
        None => return Err(ApiError::invalid("key", "set content_id or sha256")),
        Some(Key::ContentId(text)) => {
            let content_id = parse_content_id(text)?;
            match content_inclusion(trees, content_id)? {
                Some(json) => {
                    response.present = true;
                    response.inclusion_json = json;
                    response.content_id = format!("{content_id:032x}");
                }
                None => {
                    let proof = trees
                        .content
                        .non_inclusion_proof(&content_id)
                        .map_err(internal)?;
                    response.non_inclusion_json = wire::non_inclusion_to_json(
                        TreeKind::Content,
                        &content_id.to_be_bytes(),
                        &proof,
                    );
                }
            }
        }
        Some(Key::Sha256(text)) => {
            let sha = parse_sha256(text)?;
            let tree = &trees.sha256;
            match tree.position(&sha) {
                Ok(index) => {
                    let content_id = tree.leaves()[index].content_id;
                    let proof = tree.leaf_proof(index).map_err(internal)?;
                    response.present = true;
                    response.sha256_inclusion_json =
                        wire::inclusion_to_json(TreeKind::Sha256, &proof);
                    response.inclusion_json =
                        content_inclusion(trees, content_id)?.ok_or_else(|| {
                            ApiError::Internal(format!(
                                "sha256 leaf names content {content_id:032x}, not in the content tree"
                            ))
                        })?;
                    response.content_id = format!("{content_id:032x}");
                }
                Err(_) => {
                    let proof = tree.non_inclusion_proof(&sha).map_err(internal)?;
                    response.non_inclusion_json =
                        wire::non_inclusion_to_json(TreeKind::Sha256, &sha, &proof);
                }
            }
        }
    }
    Ok(response)
}

/// The capture a `GetCaptureLink` request names (32 hex digits) and the
/// content its text links to; `scope` (" in partition N" or empty) ends the
/// NOT_FOUND message.
fn linked_content(
    index: &IndexReader,
    raw_capture_id: &str,
    scope: &str,
) -> Result<(u128, u128), ApiError> {
    let capture_id = hex_u128(raw_capture_id).ok_or_else(|| {
        ApiError::invalid(
            "capture_id",
            format!("{:?} is not 32 hex digits", echo(raw_capture_id)),
        )
    })?;
    let record = index
        .capture(capture_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no capture {}{scope}", echo(raw_capture_id))))?;
    let content_id = record.content_id().ok_or_else(|| {
        ApiError::FailedPrecondition(format!(
            "capture {capture_id:032x} has no text, so it links to no content"
        ))
    })?;
    Ok((capture_id, content_id))
}

pub fn capture_link(
    ledger: &LoadedLedger,
    index: &IndexReader,
    request: &GetCaptureLinkRequest,
) -> Result<GetCaptureLinkResponse, ApiError> {
    let (capture_id, content_id) = linked_content(index, &request.capture_id, "")?;
    let inclusion_json = content_inclusion(&ledger.trees, content_id)?.ok_or_else(|| {
        ApiError::Internal(format!(
            "capture {capture_id:032x} links to content {content_id:032x}, not in the ledger"
        ))
    })?;
    Ok(GetCaptureLinkResponse {
        capture_id: format!("{capture_id:032x}"),
        content_id: format!("{content_id:032x}"),
        inclusion_json,
    })
}

/// One partition's ledger (issue 17): answers like the whole index's, each
/// proof wrapped with the partition's signed manifest
/// (`provindex-ledger-partitioned-proof-v1`), so a router or client joins
/// or passes them on and a verifier needs only the publication manifest.
pub struct PartitionLedger {
    ledger: Arc<LoadedPartitionLedger>,
    index: Arc<IndexReader>,
}

impl PartitionLedger {
    pub fn new(ledger: Arc<LoadedPartitionLedger>, index: Arc<IndexReader>) -> Self {
        Self { ledger, index }
    }

    fn wrap(&self, inner: String) -> Result<String, ApiError> {
        if inner.is_empty() {
            return Ok(inner);
        }
        wire::partitioned_proof_to_json(&[(&self.ledger.partition, &inner)]).map_err(internal)
    }

    fn partition(&self) -> u32 {
        self.ledger.partition.manifest.partition
    }

    /// ProveContent in this partition. A content_id of another partition is
    /// refused (its absence here would prove nothing); a SHA-256 is
    /// answered here alone (absent: this partition's part of the proof).
    pub fn prove(&self, request: &ProveContentRequest) -> Result<ProveContentResponse, ApiError> {
        if let Some(Key::ContentId(text)) = &request.key {
            let content_id = parse_content_id(text)?;
            let m = &self.ledger.partition.manifest;
            if !m.owns(content_id) {
                return Err(ApiError::invalid(
                    "content_id",
                    format!(
                        "{content_id:032x} is not in partition {}'s chunks [{}, {})",
                        m.partition, m.chunk_start, m.chunk_end
                    ),
                ));
            }
        }
        let mut response = prove_in(&self.ledger.trees, request)?;
        response.inclusion_json = self.wrap(std::mem::take(&mut response.inclusion_json))?;
        response.sha256_inclusion_json =
            self.wrap(std::mem::take(&mut response.sha256_inclusion_json))?;
        response.non_inclusion_json =
            self.wrap(std::mem::take(&mut response.non_inclusion_json))?;
        Ok(response)
    }

    /// GetCaptureLink in this partition: NOT_FOUND unless it owns the
    /// capture and its content (a router asks the capture's owner for its
    /// content, then the content's partition for the proof).
    pub fn capture_link(
        &self,
        request: &GetCaptureLinkRequest,
    ) -> Result<GetCaptureLinkResponse, ApiError> {
        let (capture_id, content_id) = linked_content(
            &self.index,
            &request.capture_id,
            &format!(" in partition {}", self.partition()),
        )?;
        if !self.ledger.partition.manifest.owns(content_id) {
            return Err(ApiError::NotFound(format!(
                "capture {capture_id:032x}'s content {content_id:032x} is not in partition {}",
                self.partition()
            )));
        }
        let inclusion = content_inclusion(&self.ledger.trees, content_id)?.ok_or_else(|| {
            ApiError::Internal(format!(
                "capture {capture_id:032x} links to content {content_id:032x}, not in partition {}'s ledger",
                self.partition()
            ))
        })?;
        Ok(GetCaptureLinkResponse {
            capture_id: format!("{capture_id:032x}"),
            content_id: format!("{content_id:032x}"),
            inclusion_json: self.wrap(inclusion)?,
        })
    }

    /// The publication's signed manifest (the same on every partition).
    pub fn manifest(&self) -> GetSignedManifestResponse {
        let signed = &self.ledger.publication;
        GetSignedManifestResponse {
            signed_manifest_json: self.ledger.publication_json.clone(),
            // A publication has one pair of roots per partition, in the
            // partition manifests; the proofs carry them.
            content_root: String::new(),
            sha256_root: String::new(),
            content_count: signed.manifest.content_count,
            public_key: hex::encode(signed.public_key),
            manifest_digest: hex::encode(signed.manifest.digest()),
        }
    }
}

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn get_signed_manifest(
        &self,
        _request: Request<GetSignedManifestRequest>,
    ) -> Result<Response<GetSignedManifestResponse>, Status> {
        let ledger = self.ledger()?;
        let signed = &ledger.signed;
        let manifest = &signed.manifest;
        Ok(Response::new(GetSignedManifestResponse {
            signed_manifest_json: ledger.json.clone(),
            content_root: hex::encode(manifest.content_root),
            sha256_root: hex::encode(manifest.sha256_root),
            content_count: manifest.content_count,
            public_key: hex::encode(signed.public_key),
            manifest_digest: hex::encode(manifest.digest()),
        }))
    }

    async fn prove_content(
        &self,
        request: Request<ProveContentRequest>,
    ) -> Result<Response<ProveContentResponse>, Status> {
        Ok(Response::new(prove(self.ledger()?, &request.into_inner())?))
    }

    async fn get_capture_link(
        &self,
        request: Request<GetCaptureLinkRequest>,
    ) -> Result<Response<GetCaptureLinkResponse>, Status> {
        let request = request.into_inner();
        let (ledger, index) = (Arc::clone(self.ledger()?), Arc::clone(&self.index));
        let response = tokio::task::spawn_blocking(move || capture_link(&ledger, &index, &request))
            .await
            .map_err(|join| ApiError::Internal(format!("query task failed: {join}")))??;
        Ok(Response::new(response))
    }

    async fn lineage(
        &self,
        request: Request<provindex_proto::v1::LineageRequest>,
    ) -> Result<Response<provindex_proto::v1::LineageResponse>, Status> {
        let request = request.into_inner();
        let (index, registry, store) = (
            Arc::clone(&self.index),
            self.registry.clone(),
            Arc::clone(&self.store),
        );
        let answer = tokio::task::spawn_blocking(move || {
            crate::lineage::lineage(&store, &index, registry.as_deref(), &request)
        })
        .await
        .map_err(|join| ApiError::Internal(format!("lineage task failed: {join}")))??;
        Ok(Response::new(crate::lineage::to_response(answer)))
    }
}
