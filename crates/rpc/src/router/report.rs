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
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::registry::{RegistryService, required};

const WHOLE_INDEX: &str = "a walk over the whole index";

/// ReportService forwarding every call to the registry service.
#[derive(Clone, Debug)]
pub struct RouterReportApi {
    registry: Option<RegistryService>,
    /// The largest message the router sends, and so decodes from the
    /// registry service.
    max_message_bytes: usize,
}

impl RouterReportApi {
    pub fn new(registry: Option<RegistryService>, max_message_bytes: usize) -> Self {
        Self {
            registry,
            max_message_bytes,
        }
    }

    fn client(&self, channel: Channel) -> ReportServiceClient<Channel> {
        ReportServiceClient::new(channel).max_decoding_message_size(self.max_message_bytes)
    }
}

#[tonic::async_trait]
impl ReportService for RouterReportApi {
    async fn get_transparency_report(
        &self,
        request: Request<pb::GetTransparencyReportRequest>,
    ) -> Result<Response<pb::TransparencyReport>, Status> {
        required(self.registry.as_ref(), "GetTransparencyReport", WHOLE_INDEX)?
            .forward("GetTransparencyReport", request, |c, r| async move {
                self.client(c).get_transparency_report(r).await
            })
            .await
    }

    async fn get_compensation_statement(
        &self,
        request: Request<pb::GetCompensationStatementRequest>,
    ) -> Result<Response<pb::CompensationStatement>, Status> {
        required(
            self.registry.as_ref(),
            "GetCompensationStatement",
            "a walk over the whole index and the registry's claims",
        )?
        .forward("GetCompensationStatement", request, |c, r| async move {
            self.client(c).get_compensation_statement(r).await
        })
        .await
    }

    async fn export_training_manifest(
        &self,
        request: Request<pb::ExportTrainingManifestRequest>,
    ) -> Result<Response<pb::ExportSummary>, Status> {
        required(
            self.registry.as_ref(),
            "ExportTrainingManifest",
            "a walk over the whole index and the registry's opt-outs",
        )?
        .forward("ExportTrainingManifest", request, |c, r| async move {
            self.client(c).export_training_manifest(r).await
        })
        .await
    }
}
