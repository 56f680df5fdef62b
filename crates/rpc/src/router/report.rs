//! ReportService on a router and on a server holding partitions (issue 17):
//! not answered. The transparency summary, the compensation statement and
//! the export walk every content and capture of the whole index (the
//! compensation statement and the export with the registry too); a router
//! holds no partition and the partitions' own answers would not add up to
//! one server's (top domains, duplicates and keepers are over the whole
//! index). The CLI reads a publication as one index, so each call's
//! UNIMPLEMENTED names the command that answers it, rather than leaving a
//! client with gRPC's bare "unknown service".

use provindex_proto::v1 as pb;
use provindex_proto::v1::report_service_server::ReportService;
use tonic::{Request, Response, Status};

fn elsewhere(method: &str, command: &str) -> Status {
    Status::unimplemented(format!(
        "{method} is not served through the router or partition servers: it walks the whole \
         index, which they do not hold; `{command}` computes it over every partition of the \
         publication read as one index"
    ))
}

/// ReportService answering every call UNIMPLEMENTED with the command that
/// computes it.
#[derive(Clone, Copy, Default)]
pub struct RouterReportApi;

#[tonic::async_trait]
impl ReportService for RouterReportApi {
    async fn get_transparency_report(
        &self,
        _request: Request<pb::GetTransparencyReportRequest>,
    ) -> Result<Response<pb::TransparencyReport>, Status> {
        Err(elsewhere(
            "GetTransparencyReport",
            "provindex report PUBLICATION",
        ))
    }

    async fn get_compensation_statement(
        &self,
        _request: Request<pb::GetCompensationStatementRequest>,
    ) -> Result<Response<pb::CompensationStatement>, Status> {
        Err(elsewhere(
            "GetCompensationStatement",
            "provindex compensation PUBLICATION --pool AMOUNT --csv FILE --json FILE [--registry DIR]",
        ))
    }

    async fn export_training_manifest(
        &self,
        _request: Request<pb::ExportTrainingManifestRequest>,
    ) -> Result<Response<pb::ExportSummary>, Status> {
        Err(elsewhere(
            "ExportTrainingManifest",
            "provindex export PUBLICATION --out URI",
        ))
    }
}
