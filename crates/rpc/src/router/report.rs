//! ReportService on a router (issue 17). The transparency summary, the
//! compensation statement and the export walk every content and capture of
//! the whole index (the statement and the export with the registry too); a
//! router holds no partition, and the partitions' own answers would not add
//! up to one server's (top domains, duplicates and keepers are over the
//! whole index). So each call is forwarded, with the caller's token, to the
//! registry service (`router --registry-url`), which holds the whole index
//! and the registry and answers it as one server does. Without one, each
//! call's UNIMPLEMENTED names what answers it.

use provindex_proto::v1 as pb;
use provindex_proto::v1::report_service_client::ReportServiceClient;
use provindex_proto::v1::report_service_server::ReportService;
use tonic::{Request, Response, Status};

use super::registry::{RegistryService, no_registry};

/// Answers the reports carry: larger than a request, bounded all the same.
const MAX_REPORT_BYTES: usize = 64 << 20;

const WHOLE_INDEX: &str = "a walk over the whole index";

/// ReportService forwarding every call to the registry service.
#[derive(Clone, Debug, Default)]
pub struct RouterReportApi {
    registry: Option<RegistryService>,
}

impl RouterReportApi {
    pub fn new(registry: Option<RegistryService>) -> Self {
        Self { registry }
    }

    fn registry(&self, method: &str, needs: &str) -> Result<&RegistryService, Status> {
        self.registry
            .as_ref()
            .ok_or_else(|| no_registry(method, needs))
    }
}

fn client(channel: tonic::transport::Channel) -> ReportServiceClient<tonic::transport::Channel> {
    ReportServiceClient::new(channel).max_decoding_message_size(MAX_REPORT_BYTES)
}

#[tonic::async_trait]
impl ReportService for RouterReportApi {
    async fn get_transparency_report(
        &self,
        request: Request<pb::GetTransparencyReportRequest>,
    ) -> Result<Response<pb::TransparencyReport>, Status> {
        self.registry("GetTransparencyReport", WHOLE_INDEX)?
            .forward("GetTransparencyReport", request, |c, r| async move {
                client(c).get_transparency_report(r).await
            })
            .await
    }

    async fn get_compensation_statement(
        &self,
        request: Request<pb::GetCompensationStatementRequest>,
    ) -> Result<Response<pb::CompensationStatement>, Status> {
        self.registry(
            "GetCompensationStatement",
            "a walk over the whole index and the registry's claims",
        )?
        .forward("GetCompensationStatement", request, |c, r| async move {
            client(c).get_compensation_statement(r).await
        })
        .await
    }

    async fn export_training_manifest(
        &self,
        request: Request<pb::ExportTrainingManifestRequest>,
    ) -> Result<Response<pb::ExportSummary>, Status> {
        self.registry(
            "ExportTrainingManifest",
            "a walk over the whole index and the registry's opt-outs",
        )?
        .forward("ExportTrainingManifest", request, |c, r| async move {
            client(c).export_training_manifest(r).await
        })
        .await
    }
}
