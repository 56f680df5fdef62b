//! `BatchLookup` on a router: each item dispatched like the single call it
//! carries (as `crate::batch` does on one server), answers carrying the
//! item's id, one bad item never ending the stream.

use std::sync::Arc;

use provindex_proto::v1::{
    BatchLookupRequest, BatchLookupResponse, ItemStatus, batch_lookup_request::Lookup,
    batch_lookup_response::Result as ItemResult,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::RouterApi;
use crate::ApiError;
use crate::batch::MAX_IN_FLIGHT;

pub(crate) fn batch_lookup(
    api: RouterApi,
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

async fn answer(api: &RouterApi, item: BatchLookupRequest) -> BatchLookupResponse {
    let router = api.router();
    let result = match item.lookup {
        None => Err(ApiError::invalid("lookup", "set one of url, content or opt_out").into()),
        Some(Lookup::Url(request)) => router.url(request).await.map(ItemResult::Url),
        Some(Lookup::Content(request)) => router.content(request).await.map(ItemResult::Content),
        Some(Lookup::OptOut(request)) => router.opt_out(request).await.map(ItemResult::OptOut),
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
