//! AuditService over a partitioned index (issue 17), on a router and on a
//! server holding partitions.
//!
//! - DrawSample asks every partition for its share (its own contents of the
//!   source with the smallest ranks, at most n, and their count: a partition
//!   holds copies of every capture of its contents, so source membership is
//!   decided there) and merges them ([`super::merge::merge_sample_shares`]);
//!   the merged count gives one server's NOT_FOUND and FAILED_PRECONDITION
//!   (`crate::audit`), and a partition's INVALID_ARGUMENT is one server's.
//!   A partition none of whose backends answers makes it UNAVAILABLE.
//! - The calls on the registry's state (RecordLabel, SourceFailureRate,
//!   FileComplaint, GetComplaint, ReviewComplaint, ClaimContent,
//!   RegisterMandate, RevokeClaim) and FindPersonalData are forwarded, with
//!   the caller's `authorization` metadata, to the registry service
//!   (`router --registry-url`, [`RegistryService`]), which answers them with
//!   the one server's code (`crate::audit`) over the registry, the whole
//!   index it applies to and its PII key (`registry-server --pii-key`): one
//!   writer, so every router and replica gives the same answer, and the
//!   rules are in one place. Its answers and errors are passed on as they
//!   are; a registry service that cannot be reached is UNAVAILABLE naming
//!   its URL. Without `--registry-url` they are UNIMPLEMENTED, saying what
//!   to start.

use std::sync::Arc;

use provindex_proto::v1 as pb;
use provindex_proto::v1::audit_service_client::AuditServiceClient;
use provindex_proto::v1::audit_service_server::AuditService;
use tonic::{Code, Request, Response, Status};

use super::registry::{RegistryService, required};
use super::{Answer, Call, Router, merge, mismatched};
use crate::partition_service::requested_partition;

impl Router {
    pub(crate) async fn sample(
        &self,
        request: pb::DrawSampleRequest,
    ) -> Result<pb::DrawSampleResponse, Status> {
        let seed = request.seed;
        let n = request.n;
        // A server of an unpartitioned index knows no partition header: it
        // answers the whole sample, or one server's error, passed on.
        let call = Call::Sample(request);
        let mut shares = Vec::new();
        let mut unavailable = None;
        for answer in self.on_every_partition(&call).await {
            match sample_answer(answer) {
                Ok(share) => shares.push(share),
                Err(s) if s.code() == Code::Unavailable => {
                    unavailable.get_or_insert(s);
                }
                // Invalid (every partition validates as one server does).
                Err(s) => return Err(s),
            }
        }
        if let Some(status) = unavailable {
            return Err(Status::unavailable(format!(
                "a sample needs every partition: {}",
                status.message()
            )));
        }
        let source = shares.first().and_then(|s| s.source.clone());
        let (items, source_contents) = merge::merge_sample_shares(shares, seed, n as usize)?;
        crate::audit::check_merged_sample(source.clone(), n, source_contents)?;
        Ok(pb::DrawSampleResponse {
            source,
            seed,
            source_contents,
            items,
        })
    }
}

fn sample_answer(answer: Result<Answer, Status>) -> Result<pb::DrawSampleResponse, Status> {
    match answer? {
        Answer::Sample(r) => Ok(r),
        _ => Err(mismatched()),
    }
}

/// AuditService over a shared router; a DrawSample naming a partition (the
/// partition header) is that partition's share alone.
#[derive(Clone)]
pub struct RouterAuditApi {
    router: Arc<Router>,
    registry: Option<RegistryService>,
}

impl RouterAuditApi {
    pub fn new(router: Arc<Router>) -> Self {
        Self {
            router,
            registry: None,
        }
    }

    /// Forwards the calls on the registry's state to `registry`.
    #[must_use]
    pub fn with_registry(mut self, registry: Option<RegistryService>) -> Self {
        self.registry = registry;
        self
    }
}

const COMPLAINTS: &str = "the registry's complaints";
const CLAIMS: &str = "the registry's claims";

#[tonic::async_trait]
impl AuditService for RouterAuditApi {
    async fn draw_sample(
        &self,
        request: Request<pb::DrawSampleRequest>,
    ) -> Result<Response<pb::DrawSampleResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => sample_answer(
                self.router
                    .on_partition(p, Call::Sample(request.into_inner()))
                    .await,
            ),
            None => self.router.sample(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn record_label(
        &self,
        request: Request<pb::RecordLabelRequest>,
    ) -> Result<Response<pb::RecordLabelResponse>, Status> {
        required(
            self.registry.as_ref(),
            "RecordLabel",
            "the registry (a label is appended to its audit log)",
        )?
        .forward("RecordLabel", request, |c, r| async move {
            AuditServiceClient::new(c).record_label(r).await
        })
        .await
    }

    async fn source_failure_rate(
        &self,
        request: Request<pb::SourceFailureRateRequest>,
    ) -> Result<Response<pb::SourceFailureRateResponse>, Status> {
        required(
            self.registry.as_ref(),
            "SourceFailureRate",
            "the labels in the registry's audit log",
        )?
        .forward("SourceFailureRate", request, |c, r| async move {
            AuditServiceClient::new(c).source_failure_rate(r).await
        })
        .await
    }

    async fn find_personal_data(
        &self,
        request: Request<pb::FindPersonalDataRequest>,
    ) -> Result<Response<pb::FindPersonalDataResponse>, Status> {
        required(
            self.registry.as_ref(),
            "FindPersonalData",
            "the PII key the index was built with and the registry's audit log",
        )?
        .forward("FindPersonalData", request, |c, r| async move {
            AuditServiceClient::new(c).find_personal_data(r).await
        })
        .await
    }

    async fn file_complaint(
        &self,
        request: Request<pb::FileComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        required(self.registry.as_ref(), "FileComplaint", COMPLAINTS)?
            .forward("FileComplaint", request, |c, r| async move {
                AuditServiceClient::new(c).file_complaint(r).await
            })
            .await
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        required(self.registry.as_ref(), "GetComplaint", COMPLAINTS)?
            .forward("GetComplaint", request, |c, r| async move {
                AuditServiceClient::new(c).get_complaint(r).await
            })
            .await
    }

    async fn review_complaint(
        &self,
        request: Request<pb::ReviewComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        required(
            self.registry.as_ref(),
            "ReviewComplaint",
            "the registry's complaints (upholding one writes a registry entry)",
        )?
        .forward("ReviewComplaint", request, |c, r| async move {
            AuditServiceClient::new(c).review_complaint(r).await
        })
        .await
    }

    async fn claim_content(
        &self,
        request: Request<pb::ClaimContentRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        required(self.registry.as_ref(), "ClaimContent", CLAIMS)?
            .forward("ClaimContent", request, |c, r| async move {
                AuditServiceClient::new(c).claim_content(r).await
            })
            .await
    }

    async fn register_mandate(
        &self,
        request: Request<pb::RegisterMandateRequest>,
    ) -> Result<Response<pb::RegisterMandateResponse>, Status> {
        required(
            self.registry.as_ref(),
            "RegisterMandate",
            "the registry's mandates",
        )?
        .forward("RegisterMandate", request, |c, r| async move {
            AuditServiceClient::new(c).register_mandate(r).await
        })
        .await
    }

    async fn revoke_claim(
        &self,
        request: Request<pb::RevokeClaimRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        required(self.registry.as_ref(), "RevokeClaim", CLAIMS)?
            .forward("RevokeClaim", request, |c, r| async move {
                AuditServiceClient::new(c).revoke_claim(r).await
            })
            .await
    }
}
