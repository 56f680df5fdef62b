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
//! - Every other call needs the registry (labels, rates, complaints,
//!   claims, mandates) or the PII key, which neither a router nor a
//!   partition server holds, and the registry service does not serve
//!   AuditService: they are UNIMPLEMENTED, saying so, rather than answered
//!   from a part of what one server would read.

use std::sync::Arc;

use provindex_proto::v1 as pb;
use provindex_proto::v1::audit_service_server::AuditService;
use tonic::{Code, Request, Response, Status};

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

/// What a call needs that a router does not have, as its UNIMPLEMENTED
/// answer.
fn not_routed(method: &str, needs: &str) -> Status {
    Status::unimplemented(format!(
        "{method} is not served through the router or partition servers: it needs {needs}, which \
         they do not hold, and the registry service (registry-server) serves no AuditService; \
         a `provindex serve --registry DIR` of an unpartitioned build of the index answers it"
    ))
}

const REGISTRY_LOG: &str = "the registry's audit log";

/// AuditService over a shared router; a DrawSample naming a partition (the
/// partition header) is that partition's share alone.
#[derive(Clone)]
pub struct RouterAuditApi {
    router: Arc<Router>,
}

impl RouterAuditApi {
    pub fn new(router: Arc<Router>) -> Self {
        Self { router }
    }
}

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
        _request: Request<pb::RecordLabelRequest>,
    ) -> Result<Response<pb::RecordLabelResponse>, Status> {
        Err(not_routed(
            "RecordLabel",
            "the registry (a label is appended to its audit log)",
        ))
    }

    async fn source_failure_rate(
        &self,
        _request: Request<pb::SourceFailureRateRequest>,
    ) -> Result<Response<pb::SourceFailureRateResponse>, Status> {
        Err(not_routed(
            "SourceFailureRate",
            &format!("the labels in {REGISTRY_LOG}"),
        ))
    }

    async fn find_personal_data(
        &self,
        _request: Request<pb::FindPersonalDataRequest>,
    ) -> Result<Response<pb::FindPersonalDataResponse>, Status> {
        Err(not_routed(
            "FindPersonalData",
            "the PII key the index was built with (serve --pii-key, which partition servers \
             refuse) and an audit log to record the look-up in",
        ))
    }

    async fn file_complaint(
        &self,
        _request: Request<pb::FileComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        Err(not_routed("FileComplaint", "the registry's complaints"))
    }

    async fn get_complaint(
        &self,
        _request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        Err(not_routed("GetComplaint", "the registry's complaints"))
    }

    async fn review_complaint(
        &self,
        _request: Request<pb::ReviewComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        Err(not_routed(
            "ReviewComplaint",
            "the registry's complaints (upholding one writes a registry entry)",
        ))
    }

    async fn claim_content(
        &self,
        _request: Request<pb::ClaimContentRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        Err(not_routed("ClaimContent", "the registry's claims"))
    }

    async fn register_mandate(
        &self,
        _request: Request<pb::RegisterMandateRequest>,
    ) -> Result<Response<pb::RegisterMandateResponse>, Status> {
        Err(not_routed("RegisterMandate", "the registry's mandates"))
    }

    async fn revoke_claim(
        &self,
        _request: Request<pb::RevokeClaimRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        Err(not_routed("RevokeClaim", "the registry's claims"))
    }
}
