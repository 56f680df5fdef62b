//! Where a router's per-partition calls go: a [`Backend`] answers one
//! ProvenanceService call for one partition. In-process ([`LocalBackend`]:
//! a `ProvenanceApi` per partition held by this process) or remote
//! ([`RemoteBackend`]: another `provindex serve`, asked with the
//! partition header), so one routing code path serves both. AuditService's
//! DrawSample is a call too: a partition answers its share of the sample.

use std::collections::BTreeMap;
use std::time::Duration;

use provindex_proto::v1::audit_service_client::AuditServiceClient;
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::partition_service_client::PartitionServiceClient;
use provindex_proto::v1::provenance_service_client::ProvenanceServiceClient;
use provindex_proto::v1::provenance_service_server::ProvenanceService;
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, DescribeRequest, DescribeResponse, DrawSampleRequest,
    DrawSampleResponse, FindWorkRequest, FindWorkResponse, GetCaptureLinkRequest,
    GetCaptureLinkResponse, GetCaptureRequest, GetCaptureResponse, GetSignedManifestRequest,
    GetSignedManifestResponse, LookupContentRequest, LookupContentResponse, LookupUrlRequest,
    LookupUrlResponse, ProveContentRequest, ProveContentResponse,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::partition_service::PARTITION_HEADER;
use crate::{AuditApi, ProvenanceApi};

/// One ProvenanceService call.
#[derive(Debug, Clone)]
pub enum Call {
    Url(LookupUrlRequest),
    Content(LookupContentRequest),
    Capture(GetCaptureRequest),
    Work(FindWorkRequest),
    OptOut(CheckOptOutRequest),
    /// LedgerService calls (issue 17).
    Prove(ProveContentRequest),
    CaptureLink(GetCaptureLinkRequest),
    Manifest,
    /// AuditService.DrawSample: the partition's share
    /// ([`AuditApi::draw_sample_share`]).
    Sample(DrawSampleRequest),
}

/// Its answer (the variant of the call).
#[derive(Debug, Clone)]
pub enum Answer {
    Url(LookupUrlResponse),
    Content(LookupContentResponse),
    // Boxed: a capture (its record, its signals) is twice the size of the
    // next largest answer.
    Capture(Box<GetCaptureResponse>),
    Work(FindWorkResponse),
    OptOut(CheckOptOutResponse),
    Prove(ProveContentResponse),
    CaptureLink(GetCaptureLinkResponse),
    Manifest(GetSignedManifestResponse),
    Sample(DrawSampleResponse),
}

/// Answers calls for the partitions it holds. UNAVAILABLE means "try another
/// replica"; every other status is the partition's answer.
#[tonic::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// For messages: `in-process` or the backend's URL.
    fn name(&self) -> &str;
    async fn call(&self, partition: u32, call: Call) -> Result<Answer, Status>;
}

/// Partitions opened in this process.
pub struct LocalBackend {
    apis: BTreeMap<u32, ProvenanceApi>,
    /// The partitions' ledgers, when the publication is signed.
    ledgers: BTreeMap<u32, std::sync::Arc<crate::PartitionLedger>>,
    /// The partitions' audit samples (no registry, labels or PII key).
    audits: BTreeMap<u32, AuditApi>,
}

impl LocalBackend {
    pub fn new(apis: BTreeMap<u32, ProvenanceApi>) -> Self {
        Self {
            apis,
            ledgers: BTreeMap::new(),
            audits: BTreeMap::new(),
        }
    }

    pub fn with_ledgers(
        mut self,
        ledgers: BTreeMap<u32, std::sync::Arc<crate::PartitionLedger>>,
    ) -> Self {
        self.ledgers = ledgers;
        self
    }

    pub fn with_audits(mut self, audits: BTreeMap<u32, AuditApi>) -> Self {
        self.audits = audits;
        self
    }

    async fn ledger_call(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        let ledger = self
            .ledgers
            .get(&partition)
            .cloned()
            .ok_or_else(|| Status::unimplemented(crate::ledger::NO_LEDGER))?;
        // Proofs and capture reads run off the async workers.
        let answer = tokio::task::spawn_blocking(move || match call {
            Call::Prove(r) => ledger.prove(&r).map(Answer::Prove),
            Call::CaptureLink(r) => ledger.capture_link(&r).map(Answer::CaptureLink),
            _ => Ok(Answer::Manifest(ledger.manifest())),
        })
        .await
        .map_err(|join| Status::internal(format!("ledger task failed: {join}")))?;
        Ok(answer?)
    }

    pub fn partitions(&self) -> impl Iterator<Item = u32> + '_ {
        self.apis.keys().copied()
    }
}

#[tonic::async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        "in-process"
    }

    async fn call(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        let api = self.apis.get(&partition).ok_or_else(|| {
            Status::failed_precondition(format!("this server does not hold partition {partition}"))
        })?;
        Ok(match call {
            Call::Url(request) => Answer::Url(api.url(request).await?),
            Call::Content(request) => Answer::Content(api.content(request).await?),
            Call::OptOut(request) => Answer::OptOut(api.opt_out(request).await?),
            Call::Capture(request) => Answer::Capture(Box::new(
                api.get_capture(Request::new(request)).await?.into_inner(),
            )),
            Call::Work(request) => {
                Answer::Work(api.find_work(Request::new(request)).await?.into_inner())
            }
            call @ (Call::Prove(_) | Call::CaptureLink(_) | Call::Manifest) => {
                self.ledger_call(partition, call).await?
            }
            Call::Sample(request) => {
                let audit = self.audits.get(&partition).ok_or_else(|| {
                    Status::unimplemented(format!(
                        "partition {partition} is served here without AuditService"
                    ))
                })?;
                Answer::Sample(audit.draw_sample_share(request).await?)
            }
        })
    }
}

/// Another server, reached over gRPC.
pub struct RemoteBackend {
    url: String,
    provenance: ProvenanceServiceClient<Channel>,
    partitions: PartitionServiceClient<Channel>,
    ledger: LedgerServiceClient<Channel>,
    audit: AuditServiceClient<Channel>,
}

/// Largest message a router accepts from a backend (a page of 1000 captures
/// with records fits; the servers' own limit is 8 MiB).
const MAX_BACKEND_MESSAGE_BYTES: usize = 16 << 20;

impl RemoteBackend {
    /// A lazily connected client of `url` (`http://host:port`, or `host:port`).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| format!("backend {url}: not a URL: {e}"))?
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        Ok(Self {
            provenance: ProvenanceServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_BACKEND_MESSAGE_BYTES),
            ledger: LedgerServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_BACKEND_MESSAGE_BYTES),
            audit: AuditServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_BACKEND_MESSAGE_BYTES),
            partitions: PartitionServiceClient::new(channel),
            url,
        })
    }

    pub async fn describe(&self) -> Result<DescribeResponse, Status> {
        Ok(self
            .partitions
            .clone()
            .describe(DescribeRequest {})
            .await?
            .into_inner())
    }
}

fn for_partition<T>(partition: u32, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        PARTITION_HEADER,
        partition
            .to_string()
            .parse()
            .expect("a decimal number is a valid metadata value"),
    );
    request
}

#[tonic::async_trait]
impl Backend for RemoteBackend {
    fn name(&self) -> &str {
        &self.url
    }

    async fn call(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        self.ask(partition, call).await.map_err(unanswered)
    }
}

/// A remote call's status as the router reads it: the router cancels no
/// call, so CANCELLED is a connection the backend dropped mid-call (killed,
/// restarting) — the backend did not answer: UNAVAILABLE, so the next
/// replica is asked.
fn unanswered(status: Status) -> Status {
    match status.code() {
        Code::Cancelled => Status::unavailable(format!(
            "the connection was lost during the call ({})",
            status.message()
        )),
        _ => status,
    }
}

impl RemoteBackend {
    async fn ask(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        let mut client = self.provenance.clone();
        Ok(match call {
            Call::Url(r) => Answer::Url(
                client
                    .lookup_url(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::Content(r) => Answer::Content(
                client
                    .lookup_content(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::Capture(r) => Answer::Capture(Box::new(
                client
                    .get_capture(for_partition(partition, r))
                    .await?
                    .into_inner(),
            )),
            Call::Work(r) => Answer::Work(
                client
                    .find_work(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::OptOut(r) => Answer::OptOut(
                client
                    .check_opt_out(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::Prove(r) => Answer::Prove(
                self.ledger
                    .clone()
                    .prove_content(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::CaptureLink(r) => Answer::CaptureLink(
                self.ledger
                    .clone()
                    .get_capture_link(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
            Call::Manifest => Answer::Manifest(
                self.ledger
                    .clone()
                    .get_signed_manifest(for_partition(partition, GetSignedManifestRequest {}))
                    .await?
                    .into_inner(),
            ),
            Call::Sample(r) => Answer::Sample(
                self.audit
                    .clone()
                    .draw_sample(for_partition(partition, r))
                    .await?
                    .into_inner(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_connection_is_unavailable_other_statuses_pass() {
        let lost = unanswered(Status::cancelled("operation was canceled"));
        assert_eq!(lost.code(), Code::Unavailable);
        assert!(
            lost.message().contains("operation was canceled"),
            "{lost:?}"
        );
        for code in [
            Code::NotFound,
            Code::InvalidArgument,
            Code::Unavailable,
            Code::DeadlineExceeded,
        ] {
            let status = unanswered(Status::new(code, "as answered"));
            assert_eq!((status.code(), status.message()), (code, "as answered"));
        }
    }
}
