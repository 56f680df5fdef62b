//! `BatchLookup`: a bidirectional stream of mixed lookups. Each item runs on
//! its own task (at most [`MAX_IN_FLIGHT`] per stream); its answer carries the
//! item's id and either a result or an [`ItemStatus`], so one bad item never
//! ends the stream. A client that stops reading answers stops the server
//! reading requests (bounded channel + in-flight permits).

use std::future::Future;
use std::sync::Arc;

use provindex_proto::v1::{
    BatchLookupRequest, BatchLookupResponse, CheckOptOutRequest, CheckOptOutResponse, ItemStatus,
    LookupContentRequest, LookupContentResponse, LookupUrlRequest, LookupUrlResponse,
    batch_lookup_request::Lookup, batch_lookup_response::Result as ItemResult,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::{ApiError, ProvenanceApi};

/// Items of one stream being answered at the same time.
pub const MAX_IN_FLIGHT: usize = 16;

/// The lookups a batch item may carry: one server's, or a router's.
pub(crate) trait ItemLookups: Clone + Send + Sync + 'static {
    fn url(
        &self,
        request: LookupUrlRequest,
    ) -> impl Future<Output = Result<LookupUrlResponse, Status>> + Send;
    fn content(
        &self,
        request: LookupContentRequest,
    ) -> impl Future<Output = Result<LookupContentResponse, Status>> + Send;
    fn opt_out(
        &self,
        request: CheckOptOutRequest,
    ) -> impl Future<Output = Result<CheckOptOutResponse, Status>> + Send;
}

impl ItemLookups for ProvenanceApi {
    async fn url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status> {
        ProvenanceApi::url(self, request).await
    }
    async fn content(
        &self,
        request: LookupContentRequest,
    ) -> Result<LookupContentResponse, Status> {
        ProvenanceApi::content(self, request).await
    }
    async fn opt_out(&self, request: CheckOptOutRequest) -> Result<CheckOptOutResponse, Status> {
        ProvenanceApi::opt_out(self, request).await
    }
}

pub(crate) fn batch_lookup<A: ItemLookups>(
    api: A,
    mut inbound: Streaming<BatchLookupRequest>,
) -> ReceiverStream<Result<BatchLookupResponse, Status>> {
    let (sender, receiver) = mpsc::channel(2 * MAX_IN_FLIGHT);
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let item = match inbound.message().await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(status) => {
                    // The request stream itself broke (not one item): end with it.
                    let _ = sender.send(Err(status)).await;
                    break;
                }
            };
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let api = api.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let answer = answer(&api, item).await;
                let _ = sender.send(Ok(answer)).await;
                drop(permit);
            });
        }
    });
    ReceiverStream::new(receiver)
}

async fn answer<A: ItemLookups>(api: &A, item: BatchLookupRequest) -> BatchLookupResponse {
    let result = match item.lookup {
        None => Err(ApiError::invalid("lookup", "set one of url, content or opt_out").into()),
        Some(Lookup::Url(request)) => api.url(request).await.map(ItemResult::Url),
        Some(Lookup::Content(request)) => api.content(request).await.map(ItemResult::Content),
        Some(Lookup::OptOut(request)) => api.opt_out(request).await.map(ItemResult::OptOut),
    };
    BatchLookupResponse {
        id: item.id,
        result: Some(result.unwrap_or_else(|status| {
            ItemResult::Error(ItemStatus {
                code: status.code() as i32,
                message: status.message().to_owned(),
            })
        })),
    }
}
