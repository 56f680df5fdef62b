//! The registry service (`provindex registry-server`) as a router sees it:
//! the one place that holds the registry and answers from the whole index,
//! to which a router forwards AuditService's calls on the registry's state,
//! FindPersonalData and ReportService (issue 17).

use std::future::Future;
use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// A client of the registry service.
#[derive(Clone)]
pub struct RegistryService {
    url: String,
    channel: Channel,
}

impl std::fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryService")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RegistryService {
    /// A client of the registry service at `url` (`http://host:port`),
    /// connecting on first use (a router starts while the registry is
    /// down); each call is bounded by `timeout`. Must be called inside a
    /// tokio runtime.
    pub fn connect_lazy(url: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            url: url.to_owned(),
            channel: crate::remote_registry::registry_channel(url, timeout)?,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `call` on the registry service with the caller's token (the service
    /// authenticates and authorizes, as one server does). Its answer or
    /// error is passed on; a failure to reach it names it.
    pub(crate) async fn forward<Q, A, F, Fut>(
        &self,
        method: &str,
        request: Request<Q>,
        call: F,
    ) -> Result<Response<A>, Status>
    where
        F: FnOnce(Channel, Request<Q>) -> Fut,
        Fut: Future<Output = Result<Response<A>, Status>>,
    {
        let (metadata, _, message) = request.into_parts();
        let mut forwarded = Request::new(message);
        if let Some(token) = metadata.get("authorization") {
            forwarded
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        match call(self.channel.clone(), forwarded).await {
            Ok(answer) => Ok(Response::new(answer.into_inner())),
            // Not reached, or no answer in time: said to be the registry
            // service's (one server would not have failed this way).
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
                ) =>
            {
                Err(Status::new(
                    status.code(),
                    format!(
                        "registry service {} ({method}): {}",
                        crate::echo(&self.url),
                        status.message()
                    ),
                ))
            }
            Err(status) => Err(status),
        }
    }
}

/// The registry service that answers `method`, or, on a router or
/// partition server without one to forward it to, UNIMPLEMENTED saying what
/// the call needs and what to start.
pub(crate) fn required<'a>(
    registry: Option<&'a RegistryService>,
    method: &str,
    needs: &str,
) -> Result<&'a RegistryService, Status> {
    registry.ok_or_else(|| {
        Status::unimplemented(format!(
            "{method} needs {needs}, which routers and partition servers do not hold: start \
             them with --registry-url URL of the registry service (provindex registry-server), \
             which answers it, or use a `provindex serve --registry DIR` of an unpartitioned \
             build of the index"
        ))
    })
}
