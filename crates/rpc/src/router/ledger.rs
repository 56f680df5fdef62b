//! LedgerService over a partitioned index (issue 17), on a router and on a
//! server holding partitions. Each partition answers with partitioned proofs
//! (its signed partition manifest plus its trees' proof,
//! `provindex-ledger-partitioned-proof-v1`); here they are routed and joined:
//!
//! - ProveContent by content_id goes to the partition owning the id's chunk
//!   (an absent id's proof is that partition's neighbours or edge leaf);
//! - ProveContent by SHA-256 asks every partition: the one holding it
//!   answers; absent everywhere, the partitions' non-inclusion parts are
//!   joined into one proof over all P partitions. A partition that cannot
//!   answer makes it UNAVAILABLE (absence needs every partition);
//! - GetCaptureLink finds the capture like GetCapture (its owner answers)
//!   and proves its content on the content's partition;
//! - GetSignedManifest is the publication's signed manifest (any partition's
//!   copy: they are the same document);
//! - Lineage is forwarded, with the caller's token, to the registry service
//!   (`--registry-url`): it holds the registry's lineage log (the exports
//!   recorded it there) and the whole index, and answers as one server.
//!
//! The router verifies nothing: a client verifies every proof against the
//! publication manifest with the operator's key.

use std::sync::Arc;

use provindex_index::partition::Partitioning;
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::ledger_service_server::LedgerService;
use provindex_proto::v1::prove_content_request::Key;
use provindex_proto::v1::{
    GetCaptureLinkRequest, GetCaptureLinkResponse, GetCaptureRequest, GetSignedManifestRequest,
    GetSignedManifestResponse, LineageRequest, LineageResponse, ProveContentRequest,
    ProveContentResponse,
};
use tonic::{Code, Request, Response, Status};

use super::registry::{RegistryService, required};
use super::{Answer, Call, Router, mismatched};
use crate::partition_service::requested_partition;

impl Router {
    async fn prove(&self, request: ProveContentRequest) -> Result<ProveContentResponse, Status> {
        // One partition (replicas of an unpartitioned index): its answer,
        // in whichever format it proves in.
        if self.facts.partitions == 1 {
            return prove_answer(self.on_partition(0, Call::Prove(request)).await);
        }
        let partitioning = Partitioning::new(self.facts.partitions)
            .map_err(|e| Status::internal(format!("router partitioning: {e}")))?;
        match &request.key {
            Some(Key::ContentId(text)) => {
                // An unparseable id goes anywhere for the server's own error.
                let answer = match crate::convert::hex_u128(text) {
                    Some(id) => {
                        self.on_partition(partitioning.of_content(id), Call::Prove(request))
                            .await
                    }
                    None => self.on_any_partition(Call::Prove(request)).await,
                };
                prove_answer(answer)
            }
            Some(Key::Sha256(_)) => {
                let mut absent = Vec::new();
                let mut unavailable = None;
                for answer in self.on_every_partition(&Call::Prove(request)).await {
                    match answer {
                        Ok(Answer::Prove(r)) if r.present => return Ok(r),
                        Ok(Answer::Prove(r)) => absent.push(r.non_inclusion_json),
                        Ok(_) => return Err(mismatched()),
                        Err(s) if s.code() == Code::Unavailable => {
                            unavailable.get_or_insert(s);
                        }
                        Err(s) => return Err(s),
                    }
                }
                if let Some(status) = unavailable {
                    return Err(Status::unavailable(format!(
                        "absence of a SHA-256 needs every partition: {}",
                        status.message()
                    )));
                }
                let joined = provindex_ledger::wire::merge_partitioned_proofs(&absent)
                    .map_err(|e| Status::internal(format!("joining partition proofs: {e}")))?;
                Ok(ProveContentResponse {
                    non_inclusion_json: joined,
                    ..ProveContentResponse::default()
                })
            }
            None => prove_answer(self.on_any_partition(Call::Prove(request)).await),
        }
    }
}

impl Router {
    /// GetCaptureLink over every partition: the capture's record from its
    /// owner (GetCapture), then its content's inclusion proof from the
    /// content's partition.
    async fn capture_link(
        &self,
        request: GetCaptureLinkRequest,
    ) -> Result<GetCaptureLinkResponse, Status> {
        if self.facts.partitions == 1 {
            return match self.on_partition(0, Call::CaptureLink(request)).await? {
                Answer::CaptureLink(r) => Ok(r),
                _ => Err(mismatched()),
            };
        }
        let found = self
            .capture(GetCaptureRequest {
                capture_id: request.capture_id,
                include_record: false,
            })
            .await?;
        let capture = found.capture.ok_or_else(mismatched)?;
        if capture.content_id.is_empty() {
            return Err(Status::failed_precondition(format!(
                "capture {} has no text, so it links to no content",
                capture.capture_id
            )));
        }
        let proof = self
            .prove(ProveContentRequest {
                key: Some(Key::ContentId(capture.content_id.clone())),
            })
            .await?;
        if !proof.present {
            return Err(Status::internal(format!(
                "capture {} links to content {}, not in the ledger",
                capture.capture_id, capture.content_id
            )));
        }
        Ok(GetCaptureLinkResponse {
            capture_id: capture.capture_id,
            content_id: capture.content_id,
            inclusion_json: proof.inclusion_json,
        })
    }
}

fn prove_answer(answer: Result<Answer, Status>) -> Result<ProveContentResponse, Status> {
    match answer? {
        Answer::Prove(r) => Ok(r),
        _ => Err(mismatched()),
    }
}

/// LedgerService over a shared router; a request naming a partition (the
/// partition header) is that partition's answer alone.
#[derive(Clone)]
pub struct RouterLedgerApi {
    router: Arc<Router>,
    registry: Option<RegistryService>,
    /// The largest message the router sends, and so decodes from the
    /// registry service.
    max_message_bytes: usize,
}

impl RouterLedgerApi {
    pub fn new(router: Arc<Router>) -> Self {
        Self {
            router,
            registry: None,
            max_message_bytes: crate::ServerConfig::default().max_message_bytes,
        }
    }

    /// Lineage forwarded to `registry` (UNIMPLEMENTED without one).
    pub fn with_registry(
        mut self,
        registry: Option<RegistryService>,
        max_message_bytes: usize,
    ) -> Self {
        self.registry = registry;
        self.max_message_bytes = max_message_bytes;
        self
    }
}

#[tonic::async_trait]
impl LedgerService for RouterLedgerApi {
    async fn get_signed_manifest(
        &self,
        request: Request<GetSignedManifestRequest>,
    ) -> Result<Response<GetSignedManifestResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => self.router.on_partition(p, Call::Manifest).await,
            None => self.router.on_any_partition(Call::Manifest).await,
        };
        match answer? {
            Answer::Manifest(r) => Ok(Response::new(r)),
            _ => Err(mismatched()),
        }
    }

    async fn prove_content(
        &self,
        request: Request<ProveContentRequest>,
    ) -> Result<Response<ProveContentResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => prove_answer(
                self.router
                    .on_partition(p, Call::Prove(request.into_inner()))
                    .await,
            ),
            None => self.router.prove(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn get_capture_link(
        &self,
        request: Request<GetCaptureLinkRequest>,
    ) -> Result<Response<GetCaptureLinkResponse>, Status> {
        match requested_partition(request.metadata())? {
            Some(p) => {
                let call = Call::CaptureLink(request.into_inner());
                match self.router.on_partition(p, call).await? {
                    Answer::CaptureLink(r) => Ok(Response::new(r)),
                    _ => Err(mismatched()),
                }
            }
            None => self
                .router
                .capture_link(request.into_inner())
                .await
                .map(Response::new),
        }
    }

    async fn lineage(
        &self,
        request: Request<LineageRequest>,
    ) -> Result<Response<LineageResponse>, Status> {
        let max = self.max_message_bytes;
        required(
            self.registry.as_ref(),
            "Lineage",
            "the whole index and the registry's lineage log",
        )?
        .forward("Lineage", request, |channel, request| async move {
            LedgerServiceClient::new(channel)
                .max_decoding_message_size(max)
                .lineage(request)
                .await
        })
        .await
    }
}
