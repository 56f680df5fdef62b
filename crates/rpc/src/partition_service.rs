//! `PartitionService` (internal): what a server serves — the index digest,
//! its partition count and the partitions held here — so a router can check
//! its backends agree and cover every partition (issue 17).

use provindex_proto::v1::partition_service_server::PartitionService;
use provindex_proto::v1::{DescribeRequest, DescribeResponse};
use tonic::{Request, Response, Status};

/// Metadata header naming the one partition a request is for (see
/// `proto/provindex/v1/partition.proto`).
pub const PARTITION_HEADER: &str = "x-provindex-partition";

/// Answers Describe with a fixed description.
#[derive(Debug, Clone)]
pub struct PartitionApi {
    description: DescribeResponse,
}

impl PartitionApi {
    pub fn new(description: DescribeResponse) -> Self {
        Self { description }
    }
}

#[tonic::async_trait]
impl PartitionService for PartitionApi {
    async fn describe(
        &self,
        _request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        Ok(Response::new(self.description.clone()))
    }
}

/// The partition named by a request's [`PARTITION_HEADER`], if any;
/// INVALID_ARGUMENT when it is not a number.
pub fn requested_partition(metadata: &tonic::metadata::MetadataMap) -> Result<Option<u32>, Status> {
    let Some(value) = metadata.get(PARTITION_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map(Some)
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "metadata {PARTITION_HEADER}: {value:?} is not a partition number"
            ))
        })
}
