//! The opt-out registry of another process: [`RemoteRegistry`] implements
//! the [`OptOutRegistry`] seam with calls to the registry writer's
//! `RegistryReadService` (`provindex registry-server`), so every index
//! server consulting it gives the same CheckOptOut answer. An unreachable,
//! slow or failing registry makes the check fail with UNAVAILABLE naming the
//! registry's URL — never an answer without the registry.
//!
//! [`OptOutRedirect`] is the OptOutService of such a server: writes go to the
//! registry service only (one writer), so it refuses every call with
//! FAILED_PRECONDITION naming where to send it.

use std::sync::Arc;
use std::time::Duration;

use provindex_index::IndexReader;
use provindex_policy::RegistryCover;
use provindex_proto::v1::{
    CaptureKey, CoversForContentRequest, CoversForUrlRequest, CoversResponse, ListOptOutsRequest,
    ListOptOutsResponse, RegisterOptOutRequest, RegisterOptOutResponse, RevokeOptOutRequest,
    RevokeOptOutResponse, opt_out_service_server::OptOutService,
    registry_read_service_client::RegistryReadServiceClient,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::ApiError;
use crate::checkoptout::OptOutRegistry;
use crate::registry_read::cover_from_proto;

/// Deadline of one registry call, connecting included.
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// The registry service at `url`, asked from blocking code.
pub struct RemoteRegistry {
    url: String,
    runtime: tokio::runtime::Handle,
    client: RegistryReadServiceClient<Channel>,
    index: Arc<IndexReader>,
    timeout: Duration,
}

impl std::fmt::Debug for RemoteRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRegistry")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteRegistry {
    /// A client of the registry service at `url` (`http://host:port`); it
    /// connects on first use (so a server starts while the registry is
    /// down, and answers UNAVAILABLE until it is up). `index` gives the
    /// contents' MinHash signatures for near-duplicate work matches; calls
    /// run on `runtime`. Must be called inside that runtime.
    pub fn connect_lazy(
        url: &str,
        runtime: tokio::runtime::Handle,
        index: Arc<IndexReader>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let _entered = runtime.enter();
        let channel = registry_channel(url, timeout)?;
        Ok(Self {
            url: url.to_owned(),
            runtime,
            client: RegistryReadServiceClient::new(channel),
            index,
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one call on the runtime and waits for it from this (blocking)
    /// thread, at most the deadline plus a second: never unbounded, and
    /// never a panic when called from an async context by mistake.
    fn call<F, Fut>(&self, what: &str, f: F) -> Result<Vec<RegistryCover>, ApiError>
    where
        F: FnOnce(RegistryReadServiceClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<CoversResponse>, Status>> + Send + 'static,
    {
        let future = f(self.client.clone());
        let timeout = self.timeout;
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        // Detached: the wait below is bounded whatever the task does.
        let _task = self.runtime.spawn(async move {
            let result = tokio::time::timeout(timeout, future).await;
            let _ = sender.send(result);
        });
        let unavailable = |why: String| {
            ApiError::Unavailable(format!(
                "opt-out registry {} ({what}): {why}",
                crate::echo(&self.url)
            ))
        };
        let answer = match receiver.recv_timeout(timeout + Duration::from_secs(1)) {
            Err(_) => return Err(unavailable(format!("no answer within {timeout:?}"))),
            Ok(Err(_)) => return Err(unavailable(format!("no answer within {timeout:?}"))),
            Ok(Ok(Err(status))) => {
                return Err(unavailable(format!(
                    "{:?}: {}",
                    status.code(),
                    status.message()
                )));
            }
            Ok(Ok(Ok(response))) => response.into_inner(),
        };
        answer
            .covers
            .into_iter()
            .map(cover_from_proto)
            .collect::<Result<Vec<_>, String>>()
            .map_err(|why| {
                ApiError::Internal(format!(
                    "opt-out registry {} ({what}): {why}",
                    crate::echo(&self.url)
                ))
            })
    }
}

/// A lazily connected channel to the registry service at `url`
/// (`http://host:port`), each call bounded by `timeout`, connecting
/// included. Must be called inside a tokio runtime.
pub(crate) fn registry_channel(url: &str, timeout: Duration) -> Result<Channel, String> {
    let endpoint =
        Endpoint::from_shared(url.to_owned()).map_err(|e| format!("registry URL {url:?}: {e}"))?;
    match endpoint.uri().scheme_str() {
        Some("http") => {}
        other => {
            return Err(format!(
                "registry URL {url:?}: scheme {:?} is not http (e.g. http://registry:50061)",
                other.unwrap_or("")
            ));
        }
    }
    Ok(endpoint
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect_lazy())
}

impl OptOutRegistry for RemoteRegistry {
    fn covers_for_url(&self, url: &str, surt: &str) -> Result<Vec<RegistryCover>, ApiError> {
        let request = CoversForUrlRequest {
            url: url.to_owned(),
            surt: surt.to_owned(),
        };
        self.call("CoversForUrl", move |mut client| async move {
            client.covers_for_url(request).await
        })
    }

    fn covers_for_content(
        &self,
        content_id: u128,
        captures: &[(&str, &str)],
    ) -> Result<Vec<RegistryCover>, ApiError> {
        // A partition holds its own contents' signatures only; the registry
        // service reads another partition's from its (whole) index.
        let signature = self.index.signature(content_id)?;
        let signature_from_index = signature.is_none() && !self.index.holds_content(content_id);
        let request = CoversForContentRequest {
            content_id: format!("{content_id:032x}"),
            signature: signature.unwrap_or_default(),
            signature_from_index,
            captures: captures
                .iter()
                .map(|(surt, domain)| CaptureKey {
                    surt: (*surt).to_owned(),
                    registered_domain: (*domain).to_owned(),
                })
                .collect(),
        };
        self.call("CoversForContent", move |mut client| async move {
            client.covers_for_content(request).await
        })
    }
}

/// OptOutService of an index server whose registry is a service elsewhere:
/// refuses every call, naming the registry service to send it to (one
/// writer; reads of the list are the writer's too, so a rightholder sees
/// one state).
#[derive(Debug, Clone)]
pub struct OptOutRedirect {
    url: String,
}

impl OptOutRedirect {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }

    fn refuse(&self, call: &str) -> Status {
        Status::failed_precondition(format!(
            "this index server does not hold the opt-out registry: send {call} to the registry service at {}",
            crate::echo(&self.url)
        ))
    }
}

#[tonic::async_trait]
impl OptOutService for OptOutRedirect {
    async fn register_opt_out(
        &self,
        _request: Request<RegisterOptOutRequest>,
    ) -> Result<Response<RegisterOptOutResponse>, Status> {
        Err(self.refuse("RegisterOptOut"))
    }

    async fn revoke_opt_out(
        &self,
        _request: Request<RevokeOptOutRequest>,
    ) -> Result<Response<RevokeOptOutResponse>, Status> {
        Err(self.refuse("RevokeOptOut"))
    }

    async fn list_opt_outs(
        &self,
        _request: Request<ListOptOutsRequest>,
    ) -> Result<Response<ListOptOutsResponse>, Status> {
        Err(self.refuse("ListOptOuts"))
    }
}
