//! The router role (issue 17): ProvenanceService over a partitioned index,
//! each request sent to the partitions owning its keys
//! ([`provindex_index::partition`]) and their answers merged into the answer
//! one server over the whole index gives.
//!
//! - LookupUrl in exact, prefix and host mode, and in domain mode on a
//!   registered domain or below, is one partition's answer; a domain query on
//!   a public suffix (`com`, `co.uk`) asks every partition and merges their
//!   pages by `urls` key ([`merge`]); its page token is a `urls` key, as one
//!   server's is.
//! - LookupContent by id or text and CheckOptOut go to the content's or the
//!   URL's partition; LookupContent by SHA-256 and GetCapture ask every
//!   partition and take the one that has it.
//! - FindWork asks every partition (each one's LSH buckets hold only its
//!   contents) and merges by rank; its page token records each partition's
//!   position.
//! - AuditService's DrawSample asks every partition for its share of the
//!   sample and merges them (`audit`, [`merge`]); its calls on the
//!   registry's state, FindPersonalData and ReportService's calls (which walk
//!   the whole index) go to the registry service (`--registry-url`,
//!   [`RegistryService`]), which holds the registry, the PII key and the
//!   whole index and answers them as one server does.
//!
//! Partitions are reached through [`Backend`]s: in-process (`serve
//! --partitions 0,1` holding several) or remote (`provindex router`), any
//! number per partition; a backend answering UNAVAILABLE is skipped for the
//! next. A partition none of whose backends answers makes every request
//! needing it UNAVAILABLE, naming the partition — never a partial answer.

mod audit;
mod backend;
mod ledger;
mod merge;
mod registry;
mod report;
mod serve;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use provindex_index::Manifest;
use provindex_index::partition::{Partitioning, domain_chunk};
use provindex_proto::v1::provenance_service_server::ProvenanceService;
use provindex_proto::v1::{
    BatchLookupRequest, BatchLookupResponse, CheckOptOutRequest, CheckOptOutResponse,
    DescribeResponse, FindWorkRequest, FindWorkResponse, GetCaptureRequest, GetCaptureResponse,
    LookupContentRequest, LookupContentResponse, LookupUrlRequest, LookupUrlResponse, UrlMatch,
    check_opt_out_request::Target, lookup_content_request::Key,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

pub use audit::RouterAuditApi;
pub use backend::{Answer, Backend, Call, LocalBackend, RemoteBackend};
pub use ledger::RouterLedgerApi;
pub use registry::RegistryService;
pub use report::RouterReportApi;
pub use serve::{RouterServerConfig, serve_router};

use crate::ApiError;
use crate::findwork::{DEFAULT_MAX_RESULTS, MAX_MAX_RESULTS};
use crate::partition_service::requested_partition;

/// What every backend of a router must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFacts {
    pub digest: String,
    pub partitions: u32,
    pub normalization_version: u32,
    pub sketch_spec: String,
    pub format_version: u32,
}

impl IndexFacts {
    /// The Describe answer of a server holding `held` of these partitions.
    pub fn describe(&self, held: Vec<u32>) -> DescribeResponse {
        DescribeResponse {
            index_digest: self.digest.clone(),
            partition_count: self.partitions,
            partitions: held,
            normalization_version: self.normalization_version,
            sketch_spec: self.sketch_spec.clone(),
            format_version: self.format_version,
        }
    }

    fn of_description(d: &DescribeResponse) -> Self {
        Self {
            digest: d.index_digest.clone(),
            partitions: d.partition_count,
            normalization_version: d.normalization_version,
            sketch_spec: d.sketch_spec.clone(),
            format_version: d.format_version,
        }
    }
}

/// The backends of one partition, tried in turn from a rotating start.
#[derive(Default)]
struct Replicas {
    backends: Vec<Arc<dyn Backend>>,
    next: AtomicUsize,
}

pub struct Router {
    facts: IndexFacts,
    partitioning: Partitioning,
    replicas: Vec<Replicas>,
}

impl Router {
    /// A router over `backends`, each serving the listed partitions of the
    /// index `facts` describes. A partition without a backend is allowed
    /// here (a server holding some partitions answers UNAVAILABLE for the
    /// others); [`Router::from_descriptions`] refuses it.
    pub fn new(
        facts: IndexFacts,
        backends: Vec<(Arc<dyn Backend>, Vec<u32>)>,
    ) -> Result<Self, String> {
        let partitioning = Partitioning::new(facts.partitions)?;
        let mut replicas: Vec<Replicas> =
            (0..facts.partitions).map(|_| Replicas::default()).collect();
        for (backend, partitions) in backends {
            for p in partitions {
                let slot = replicas.get_mut(p as usize).ok_or_else(|| {
                    format!(
                        "{} serves partition {p}, but the index has {} partitions",
                        backend.name(),
                        facts.partitions
                    )
                })?;
                slot.backends.push(Arc::clone(&backend));
            }
        }
        Ok(Self {
            facts,
            partitioning,
            replicas,
        })
    }

    /// A router over remote backends and what each Describe answered:
    /// refuses backends of different indexes and an index with a partition
    /// no backend serves (naming the missing partitions).
    pub fn from_descriptions(
        backends: Vec<(Arc<dyn Backend>, DescribeResponse)>,
    ) -> Result<Self, String> {
        let Some((first, first_description)) = backends.first() else {
            return Err("no backends".into());
        };
        let facts = IndexFacts::of_description(first_description);
        for (backend, description) in &backends {
            let theirs = IndexFacts::of_description(description);
            if theirs != facts {
                return Err(format!(
                    "backends serve different indexes: {} has digest {} with {} partitions \
                     (normalization v{}, sketch {:?}), {} has digest {} with {} partitions \
                     (normalization v{}, sketch {:?})",
                    first.name(),
                    facts.digest,
                    facts.partitions,
                    facts.normalization_version,
                    facts.sketch_spec,
                    backend.name(),
                    theirs.digest,
                    theirs.partitions,
                    theirs.normalization_version,
                    theirs.sketch_spec
                ));
            }
        }
        let router = Self::new(
            facts,
            backends
                .into_iter()
                .map(|(backend, d)| (backend, d.partitions))
                .collect(),
        )?;
        let missing: Vec<String> = router
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.backends.is_empty())
            .map(|(p, _)| p.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "partitions {} of {} are served by no backend; start servers with \
                 --partitions covering them",
                missing.join(", "),
                router.facts.partitions
            ));
        }
        Ok(router)
    }

    pub fn facts(&self) -> &IndexFacts {
        &self.facts
    }

    /// One partition's answer: its backends in turn, from a rotating start,
    /// until one answers with anything but UNAVAILABLE.
    async fn on_partition(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        let count = self.facts.partitions;
        let Some(replicas) = self.replicas.get(partition as usize) else {
            return Err(Status::failed_precondition(format!(
                "partition {partition}: the index has {count} partitions"
            )));
        };
        let backends = &replicas.backends;
        if backends.is_empty() {
            return Err(Status::unavailable(format!(
                "partition {partition} of {count} is not served here"
            )));
        }
        let start = replicas.next.fetch_add(1, Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..backends.len() {
            let backend = &backends[(start + i) % backends.len()];
            match backend.call(partition, call.clone()).await {
                Err(status) if status.code() == Code::Unavailable => {
                    tracing::warn!(partition, backend = backend.name(), %status, "backend unavailable");
                    failures.push(format!("{}: {}", backend.name(), status.message()));
                }
                answer => return answer,
            }
        }
        Err(Status::unavailable(format!(
            "partition {partition} of {count} is unavailable: {}",
            failures.join("; ")
        )))
    }

    /// Every partition's answer, in partition order.
    async fn on_every_partition(&self, call: &Call) -> Vec<Result<Answer, Status>> {
        join_all((0..self.facts.partitions).map(|p| self.on_partition(p, call.clone()))).await
    }

    /// The answer of the first partition that can give one: for requests
    /// the router cannot route because they are invalid (the partition
    /// gives the same error one server does).
    async fn on_any_partition(&self, call: Call) -> Result<Answer, Status> {
        let mut last = Status::unavailable("no partitions");
        for p in 0..self.facts.partitions {
            match self.on_partition(p, call.clone()).await {
                Err(status) if status.code() == Code::Unavailable => last = status,
                answer => return answer,
            }
        }
        Err(last)
    }

    /// Asks every partition for something exactly one holds (a capture by
    /// id, a content by SHA-256): the first found; NOT_FOUND only when every
    /// partition said so; UNAVAILABLE when some could not answer.
    async fn first_found(&self, call: Call) -> Result<Answer, Status> {
        let mut unavailable = None;
        let mut not_found = None;
        for answer in self.on_every_partition(&call).await {
            match answer {
                Ok(answer) => return Ok(answer),
                Err(s) if s.code() == Code::NotFound => not_found = Some(s),
                Err(s) if s.code() == Code::Unavailable => {
                    unavailable.get_or_insert(s);
                }
                Err(s) => return Err(s),
            }
        }
        Err(unavailable
            .or(not_found)
            .unwrap_or_else(|| Status::not_found("no partitions")))
    }

    /// The partition a URL query stays in; `None`: it spans every partition.
    fn url_partition(&self, url: &str, mode: UrlMatch) -> Result<Option<u32>, ApiError> {
        let prefixes = crate::provenance::url_prefixes(url, mode)?;
        let Some(first) = prefixes.first() else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(first);
        Ok(match mode {
            UrlMatch::Domain => {
                // `com,example)`: the host key, labels reversed.
                let key = text.trim_end_matches(')');
                let host = key.split(',').rev().collect::<Vec<_>>().join(".");
                domain_chunk(&host).map(|chunk| self.partitioning.of_chunk(chunk))
            }
            _ => {
                let surt =
                    text.trim_end_matches(char::from(provindex_index::keys::SURT_TERMINATOR));
                self.partitioning.of_url(surt)
            }
        })
    }

    pub(crate) async fn url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status> {
        let routed = UrlMatch::try_from(request.r#match)
            .ok()
            .filter(|_| !request.url.trim().is_empty())
            .map(|mode| self.url_partition(&request.url, mode));
        let partition = match routed {
            Some(Ok(partition)) => partition,
            // Invalid: a partition gives one server's error.
            None | Some(Err(_)) => {
                return url_answer(self.on_any_partition(Call::Url(request)).await);
            }
        };
        if let Some(p) = partition {
            return url_answer(self.on_partition(p, Call::Url(request)).await);
        }
        let limit = match request.page_size {
            0 => crate::provenance::DEFAULT_PAGE_SIZE as usize,
            n if n <= crate::provenance::MAX_PAGE_SIZE => n as usize,
            // Too large: a partition gives one server's error.
            _ => return url_answer(self.on_any_partition(Call::Url(request)).await),
        };
        let mode = request.r#match();
        let reverse = request.newest_first;
        let first_page = request.page_token.is_empty();
        let call = Call::Url(request.clone());
        let mut pages = Vec::new();
        let mut unavailable = None;
        for answer in self.on_every_partition(&call).await {
            match url_answer(answer) {
                Ok(page) => pages.push(page),
                // A partition without captures of the domain.
                Err(s) if s.code() == Code::NotFound && first_page => {}
                Err(s) if s.code() == Code::Unavailable => {
                    unavailable.get_or_insert(s);
                }
                Err(s) => return Err(s),
            }
        }
        if let Some(status) = unavailable {
            return Err(status);
        }
        let page = merge::merge_url_pages(pages, limit, reverse)?;
        if first_page && page.captures.is_empty() && page.next_page_token.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no captures for {} (match {})",
                crate::echo(&request.url),
                mode.as_str_name()
            ))
            .into());
        }
        Ok(page)
    }

    pub(crate) async fn content(
        &self,
        request: LookupContentRequest,
    ) -> Result<LookupContentResponse, Status> {
        let partition = match &request.key {
            Some(Key::ContentId(hex_id)) => crate::provenance::parse_id("content_id", hex_id)
                .ok()
                .map(|id| self.partitioning.of_content(id)),
            Some(Key::Text(text)) => self
                .text_content_id(text)
                .map(|id| self.partitioning.of_content(id)),
            Some(Key::Sha256(_)) => {
                return content_answer(self.first_found(Call::Content(request)).await);
            }
            None => None,
        };
        let call = Call::Content(request);
        content_answer(match partition {
            Some(p) => self.on_partition(p, call).await,
            None => self.on_any_partition(call).await,
        })
    }

    /// The content id of a text as the index normalizes it; `None` when it
    /// cannot be computed (a partition then gives the error).
    fn text_content_id(&self, text: &str) -> Option<u128> {
        let mut manifest = Manifest::empty();
        manifest.normalization_version = self.facts.normalization_version;
        let (_, normalized) = crate::findwork::normalize_query(&manifest, text).ok()?;
        (!normalized.is_empty()).then(|| provindex_sketch::content_id(&normalized).0)
    }

    pub(crate) async fn opt_out(
        &self,
        request: CheckOptOutRequest,
    ) -> Result<CheckOptOutResponse, Status> {
        let partition = match &request.target {
            Some(Target::Url(url)) if !url.trim().is_empty() => {
                self.url_partition(url, UrlMatch::Exact).ok().flatten()
            }
            Some(Target::ContentId(hex_id)) => crate::provenance::parse_id("content_id", hex_id)
                .ok()
                .map(|id| self.partitioning.of_content(id)),
            _ => None,
        };
        let call = Call::OptOut(request);
        match match partition {
            Some(p) => self.on_partition(p, call).await?,
            None => self.on_any_partition(call).await?,
        } {
            Answer::OptOut(answer) => Ok(answer),
            _ => Err(mismatched()),
        }
    }

    async fn capture(&self, request: GetCaptureRequest) -> Result<GetCaptureResponse, Status> {
        let call = Call::Capture(request);
        let answer = if crate::provenance::parse_id("capture_id", capture_id_of(&call)).is_err() {
            self.on_any_partition(call).await?
        } else {
            self.first_found(call).await?
        };
        match answer {
            Answer::Capture(answer) => Ok(*answer),
            _ => Err(mismatched()),
        }
    }

    async fn work(&self, request: FindWorkRequest) -> Result<FindWorkResponse, Status> {
        let count = self.facts.partitions as usize;
        let max_results = match request.max_results {
            0 => DEFAULT_MAX_RESULTS as usize,
            n if n <= MAX_MAX_RESULTS => n as usize,
            // A partition gives one server's error.
            _ => return work_answer(self.on_any_partition(Call::Work(request)).await),
        };
        let token = if request.page_token.is_empty() {
            None
        } else {
            Some(
                merge::WorkToken::decode(&request.page_token, count)
                    .map_err(|reason| ApiError::invalid("page_token", reason))?,
            )
        };
        let offsets = token
            .as_ref()
            .map_or_else(|| vec![0; count], |t| t.offsets.clone());
        let calls = offsets.iter().map(|&offset| {
            let mut partition_request = request.clone();
            partition_request.max_results = max_results as u32;
            partition_request.page_token = match &token {
                Some(t) if offset > 0 => format!("{:032x}{offset:016x}", t.content_id),
                _ => String::new(),
            };
            Call::Work(partition_request)
        });
        let answers = join_all(
            calls
                .enumerate()
                .map(|(p, call)| self.on_partition(p as u32, call)),
        )
        .await;
        let mut pages = Vec::with_capacity(count);
        let mut unavailable = None;
        for answer in answers {
            match work_answer(answer) {
                Ok(page) => pages.push(page),
                Err(s) if s.code() == Code::Unavailable => {
                    unavailable.get_or_insert(s);
                }
                Err(s) => return Err(s),
            }
        }
        if let Some(status) = unavailable {
            return Err(status);
        }
        let content_id = pages
            .first()
            .and_then(|p| crate::convert::hex_u128(&p.content_id))
            .unwrap_or_default();
        if let Some(t) = &token
            && t.content_id != content_id
        {
            return Err(ApiError::invalid(
                "page_token",
                "does not belong to this query (the text must not change between pages)",
            )
            .into());
        }
        let (mut merged, next_offsets) = merge::merge_work_pages(pages, &offsets, max_results);
        let given: u64 = next_offsets.iter().map(|&o| o as u64).sum();
        if given < u64::from(merged.total_matches) {
            merged.next_page_token = merge::WorkToken {
                content_id,
                offsets: next_offsets,
            }
            .encode();
        }
        Ok(merged)
    }
}

fn capture_id_of(call: &Call) -> &str {
    match call {
        Call::Capture(r) => &r.capture_id,
        _ => "",
    }
}

fn mismatched() -> Status {
    Status::internal("a backend answered another kind of call")
}

fn url_answer(answer: Result<Answer, Status>) -> Result<LookupUrlResponse, Status> {
    match answer? {
        Answer::Url(a) => Ok(a),
        _ => Err(mismatched()),
    }
}

fn content_answer(answer: Result<Answer, Status>) -> Result<LookupContentResponse, Status> {
    match answer? {
        Answer::Content(a) => Ok(a),
        _ => Err(mismatched()),
    }
}

fn work_answer(answer: Result<Answer, Status>) -> Result<FindWorkResponse, Status> {
    match answer? {
        Answer::Work(a) => Ok(a),
        _ => Err(mismatched()),
    }
}

/// ProvenanceService over a shared router. A request naming a partition
/// (the partition header: a router asking this server) is that partition's
/// answer alone.
#[derive(Clone)]
pub struct RouterApi {
    router: Arc<Router>,
}

impl RouterApi {
    pub fn new(router: Arc<Router>) -> Self {
        Self { router }
    }
}

impl crate::batch::ItemLookups for RouterApi {
    async fn url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status> {
        self.router.url(request).await
    }
    async fn content(
        &self,
        request: LookupContentRequest,
    ) -> Result<LookupContentResponse, Status> {
        self.router.content(request).await
    }
    async fn opt_out(&self, request: CheckOptOutRequest) -> Result<CheckOptOutResponse, Status> {
        self.router.opt_out(request).await
    }
}

#[tonic::async_trait]
impl ProvenanceService for RouterApi {
    type BatchLookupStream = ReceiverStream<Result<BatchLookupResponse, Status>>;

    async fn lookup_url(
        &self,
        request: Request<LookupUrlRequest>,
    ) -> Result<Response<LookupUrlResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => url_answer(
                self.router
                    .on_partition(p, Call::Url(request.into_inner()))
                    .await,
            ),
            None => self.router.url(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn lookup_content(
        &self,
        request: Request<LookupContentRequest>,
    ) -> Result<Response<LookupContentResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => content_answer(
                self.router
                    .on_partition(p, Call::Content(request.into_inner()))
                    .await,
            ),
            None => self.router.content(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn get_capture(
        &self,
        request: Request<GetCaptureRequest>,
    ) -> Result<Response<GetCaptureResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => match self
                .router
                .on_partition(p, Call::Capture(request.into_inner()))
                .await?
            {
                Answer::Capture(a) => Ok(*a),
                _ => Err(mismatched()),
            },
            None => self.router.capture(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn find_work(
        &self,
        request: Request<FindWorkRequest>,
    ) -> Result<Response<FindWorkResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => work_answer(
                self.router
                    .on_partition(p, Call::Work(request.into_inner()))
                    .await,
            ),
            None => self.router.work(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn check_opt_out(
        &self,
        request: Request<CheckOptOutRequest>,
    ) -> Result<Response<CheckOptOutResponse>, Status> {
        let answer = match requested_partition(request.metadata())? {
            Some(p) => match self
                .router
                .on_partition(p, Call::OptOut(request.into_inner()))
                .await?
            {
                Answer::OptOut(a) => Ok(a),
                _ => Err(mismatched()),
            },
            None => self.router.opt_out(request.into_inner()).await,
        };
        answer.map(Response::new)
    }

    async fn batch_lookup(
        &self,
        request: Request<Streaming<BatchLookupRequest>>,
    ) -> Result<Response<Self::BatchLookupStream>, Status> {
        Ok(Response::new(crate::batch::batch_lookup(
            self.clone(),
            request.into_inner(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use provindex_proto::v1::Capture;

    /// A backend whose partitions answer GetCapture with a fixed outcome.
    struct Fake {
        name: String,
        /// Per partition: `Ok(capture url)` or the status code to answer.
        answers: BTreeMap<u32, Result<String, Code>>,
    }

    #[tonic::async_trait]
    impl Backend for Fake {
        fn name(&self) -> &str {
            &self.name
        }

        async fn call(&self, partition: u32, call: Call) -> Result<Answer, Status> {
            assert!(matches!(call, Call::Capture(_)));
            match self.answers.get(&partition) {
                Some(Ok(url)) => Ok(Answer::Capture(Box::new(GetCaptureResponse {
                    capture: Some(Capture {
                        url: url.clone(),
                        ..Default::default()
                    }),
                    record: Vec::new(),
                }))),
                Some(Err(code)) => Err(Status::new(*code, format!("{} says {code:?}", self.name))),
                None => Err(Status::failed_precondition("not held")),
            }
        }
    }

    fn fake(name: &str, answers: &[(u32, Result<&str, Code>)]) -> Arc<dyn Backend> {
        Arc::new(Fake {
            name: name.into(),
            answers: answers
                .iter()
                .map(|(p, a)| (*p, a.map(str::to_owned)))
                .collect(),
        })
    }

    fn facts(partitions: u32) -> IndexFacts {
        IndexFacts {
            digest: "d".into(),
            partitions,
            normalization_version: 2,
            sketch_spec: "s".into(),
            format_version: 6,
        }
    }

    fn capture_request() -> GetCaptureRequest {
        GetCaptureRequest {
            capture_id: format!("{:032x}", 7),
            include_record: false,
        }
    }

    async fn get(router: &Router) -> Result<String, Status> {
        router
            .capture(capture_request())
            .await
            .map(|r| r.capture.unwrap_or_default().url)
    }

    #[tokio::test]
    async fn a_down_replica_is_skipped_and_all_down_names_the_partition() {
        let down = fake(
            "down",
            &[(0, Err(Code::NotFound)), (1, Err(Code::Unavailable))],
        );
        let up = fake("up", &[(1, Ok("found"))]);
        let router = Router::new(
            facts(2),
            vec![(Arc::clone(&down), vec![0, 1]), (Arc::clone(&up), vec![1])],
        )
        .expect("router");
        // Whichever replica of partition 1 is tried first, the answer is found.
        for _ in 0..3 {
            assert_eq!(get(&router).await.expect("found"), "found");
        }
        // Partition 1 with no live replica: UNAVAILABLE naming it, although
        // partition 0 answered NOT_FOUND.
        let router = Router::new(facts(2), vec![(down, vec![0, 1])]).expect("router");
        let status = get(&router).await.expect_err("unavailable");
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().contains("partition 1 of 2"),
            "{}",
            status.message()
        );
        // Every partition says NOT_FOUND: NOT_FOUND.
        let none = fake(
            "none",
            &[(0, Err(Code::NotFound)), (1, Err(Code::NotFound))],
        );
        let router = Router::new(facts(2), vec![(none, vec![0, 1])]).expect("router");
        assert_eq!(
            get(&router).await.expect_err("absent").code(),
            Code::NotFound
        );
    }

    #[test]
    fn backends_must_agree_and_cover_every_partition() {
        let a = fake("a", &[]);
        let b = fake("b", &[]);
        let described = |facts: &IndexFacts, held: Vec<u32>| facts.describe(held);
        let four = facts(4);
        let missing = Router::from_descriptions(vec![
            (Arc::clone(&a), described(&four, vec![0, 1])),
            (Arc::clone(&b), described(&four, vec![1])),
        ])
        .err()
        .expect("uncovered");
        assert!(missing.contains("partitions 2, 3 of 4"), "{missing}");
        let mut other = facts(4);
        other.digest = "e".into();
        let mixed = Router::from_descriptions(vec![
            (Arc::clone(&a), described(&four, vec![0, 1])),
            (Arc::clone(&b), described(&other, vec![2, 3])),
        ])
        .err()
        .expect("different indexes");
        assert!(mixed.contains("different indexes"), "{mixed}");
        let beyond = Router::from_descriptions(vec![(Arc::clone(&a), described(&four, vec![4]))])
            .err()
            .expect("partition beyond P");
        assert!(beyond.contains("partition 4"), "{beyond}");
        assert!(
            Router::from_descriptions(vec![
                (a, described(&four, vec![0, 1])),
                (b, described(&four, vec![2, 3])),
            ])
            .is_ok()
        );
    }

    #[test]
    fn url_queries_route_to_the_registered_domain_partition_or_everywhere() {
        let router = Router::new(facts(4), Vec::new()).expect("router");
        let p = Partitioning::new(4).expect("4");
        let chunk = domain_chunk("example.com").expect("registered");
        let home = p.of_chunk(chunk);
        for (url, mode) in [
            ("http://www.example.com/a?b=1", UrlMatch::Exact),
            ("http://example.com/a", UrlMatch::Prefix),
            ("https://blog.example.com/", UrlMatch::Host),
            ("example.com", UrlMatch::Domain),
            ("blog.example.com", UrlMatch::Domain),
        ] {
            assert_eq!(
                router.url_partition(url, mode).expect("valid"),
                Some(home),
                "{url} {mode:?}"
            );
        }
        for suffix in ["com", "co.uk"] {
            assert_eq!(
                router
                    .url_partition(suffix, UrlMatch::Domain)
                    .expect("valid"),
                None
            );
        }
        assert!(router.url_partition("http://", UrlMatch::Exact).is_err());
    }
}
