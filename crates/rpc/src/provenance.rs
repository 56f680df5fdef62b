//! `ProvenanceService`: read-only lookups over a published index.

use std::sync::Arc;

use provindex_index::{IndexReader, UrlScan, keys};
use provindex_proto::v1::{
    BatchLookupRequest, CheckOptOutRequest, CheckOptOutResponse, FindWorkRequest, FindWorkResponse,
    GetCaptureRequest, GetCaptureResponse, LookupContentRequest, LookupContentResponse,
    LookupUrlRequest, LookupUrlResponse, UrlMatch, lookup_content_request::Key,
    provenance_service_server::ProvenanceService,
};
use provindex_signals::MatchMode;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::checkoptout::{OptOutRegistry, check_opt_out};
use crate::findwork::{WorkSearch, find_work};
use crate::{ApiError, convert};

/// Page size when the request leaves it 0.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Largest page answered on the async worker itself (point lookups; 0 is
/// the default page, 100).
const INLINE_PAGE_SIZE: u32 = DEFAULT_PAGE_SIZE;

/// An exact-URL lookup of a small page: a seek and a few point reads.
fn is_point_url_lookup(request: &LookupUrlRequest) -> bool {
    matches!(request.r#match(), UrlMatch::Exact | UrlMatch::Unspecified)
        && request.page_size <= INLINE_PAGE_SIZE
        && request.from_time.is_none()
        && request.to_time.is_none()
}

/// A content lookup by id or SHA-256 with a small page of captures (text
/// lookups normalize and hash the text: they go to the blocking pool).
fn is_point_content_lookup(request: &LookupContentRequest) -> bool {
    matches!(request.key, Some(Key::ContentId(_) | Key::Sha256(_)))
        && request.page_size <= INLINE_PAGE_SIZE
}

/// Largest original record GetCapture returns (under the 8 MiB message limit).
pub const MAX_RECORD_BYTES: u64 = 7 << 20;

/// A capture's original WARC record, read back from its object: the gzip
/// member or plain record at its location (GetCapture include_record and the
/// HTTP `/record/{capture_id}` both read it here).
pub async fn read_original_record(
    store: &provindex_corpus::store::CorpusStore,
    record: &provindex_index::records::CaptureRecord,
) -> Result<Vec<u8>, ApiError> {
    let uri = &record.location_uri;
    match record.location_framing().as_str() {
        "plain" | "gzip_member" => {}
        framing => {
            return Err(ApiError::FailedPrecondition(format!(
                "the record is inside a whole-file compressed object ({uri}, framing \
                 {framing:?}): there is no byte range to read; fetch the object and \
                 decompress to offset {}",
                record.location_offset
            )));
        }
    }
    if record.location_length > MAX_RECORD_BYTES {
        return Err(ApiError::ResourceExhausted(format!(
            "the record is {} bytes; at most {MAX_RECORD_BYTES} are returned",
            record.location_length
        )));
    }
    store
        .read_range_async(uri, record.location_offset, record.location_length)
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|e| ApiError::Unavailable(format!("reading the record back: {e}")))
}

#[derive(Clone)]
pub struct ProvenanceApi {
    index: Arc<IndexReader>,
    search: Arc<WorkSearch>,
    registry: Option<Arc<dyn OptOutRegistry>>,
    /// Reads original records back (GetCapture include_record); made on first use.
    store: Arc<std::sync::OnceLock<Arc<provindex_corpus::store::CorpusStore>>>,
}

impl ProvenanceApi {
    pub fn new(index: Arc<IndexReader>) -> Self {
        let search = Arc::new(WorkSearch::for_index(&index));
        Self {
            index,
            search,
            registry: None,
            store: Arc::default(),
        }
    }

    /// The record's original bytes, read back from its object.
    async fn original_record(
        &self,
        record: &provindex_index::records::CaptureRecord,
    ) -> Result<Vec<u8>, ApiError> {
        let store = Arc::clone(self.store.get_or_init(|| {
            Arc::new(provindex_corpus::store::CorpusStore::with_handle(
                tokio::runtime::Handle::current(),
            ))
        }));
        read_original_record(&store, record).await
    }

    /// Consults `registry` in CheckOptOut (issue 8's opt-out registry).
    #[must_use]
    pub fn with_registry(mut self, registry: Arc<dyn OptOutRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub(crate) async fn url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status> {
        if is_point_url_lookup(&request) {
            // A few point reads from the block cache: cheaper inline than a
            // hand-off to the blocking pool.
            return lookup_url(&self.index, &request).map_err(Into::into);
        }
        self.blocking(move |index| lookup_url(index, &request))
            .await
    }

    pub(crate) async fn content(
        &self,
        request: LookupContentRequest,
    ) -> Result<LookupContentResponse, Status> {
        if is_point_content_lookup(&request) {
            return lookup_content(&self.index, &request).map_err(Into::into);
        }
        self.blocking(move |index| lookup_content(index, &request))
            .await
    }

    pub(crate) async fn opt_out(
        &self,
        request: CheckOptOutRequest,
    ) -> Result<CheckOptOutResponse, Status> {
        let registry = self.registry.clone();
        self.blocking(move |index| check_opt_out(index, registry.as_deref(), &request))
            .await
    }

    /// Runs a blocking index query off the async workers.
    async fn blocking<T, F>(&self, query: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&IndexReader) -> Result<T, ApiError> + Send + 'static,
    {
        let index = Arc::clone(&self.index);
        tokio::task::spawn_blocking(move || query(&index))
            .await
            .map_err(|join| ApiError::Internal(format!("query task failed: {join}")))?
            .map_err(Into::into)
    }
}

#[tonic::async_trait]
impl ProvenanceService for ProvenanceApi {
    type BatchLookupStream =
        ReceiverStream<Result<provindex_proto::v1::BatchLookupResponse, Status>>;

    async fn find_work(
        &self,
        request: Request<FindWorkRequest>,
    ) -> Result<Response<FindWorkResponse>, Status> {
        let request = request.into_inner();
        let search = Arc::clone(&self.search);
        let response = self
            .blocking(move |index| find_work(index, &search, &request))
            .await?;
        Ok(Response::new(response))
    }

    async fn check_opt_out(
        &self,
        request: Request<CheckOptOutRequest>,
    ) -> Result<Response<CheckOptOutResponse>, Status> {
        Ok(Response::new(self.opt_out(request.into_inner()).await?))
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

    async fn lookup_url(
        &self,
        request: Request<LookupUrlRequest>,
    ) -> Result<Response<LookupUrlResponse>, Status> {
        Ok(Response::new(self.url(request.into_inner()).await?))
    }

    async fn lookup_content(
        &self,
        request: Request<LookupContentRequest>,
    ) -> Result<Response<LookupContentResponse>, Status> {
        Ok(Response::new(self.content(request.into_inner()).await?))
    }

    async fn get_capture(
        &self,
        request: Request<GetCaptureRequest>,
    ) -> Result<Response<GetCaptureResponse>, Status> {
        let capture_id = parse_id("capture_id", &request.get_ref().capture_id)?;
        let record = self
            .index
            .capture(capture_id)
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no capture {capture_id:032x}")))?;
        let original = if request.get_ref().include_record {
            self.original_record(&record).await?
        } else {
            Vec::new()
        };
        Ok(Response::new(GetCaptureResponse {
            capture: Some(convert::capture(capture_id, record)),
            record: original,
        }))
    }
}

fn page_size(requested: u32) -> Result<usize, ApiError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        n if n <= MAX_PAGE_SIZE => Ok(n as usize),
        n => Err(ApiError::invalid(
            "page_size",
            format!("{n} is larger than the maximum {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Key prefixes of the `urls` table that a URL and match mode cover.
pub fn url_prefixes(url: &str, mode: UrlMatch) -> Result<Vec<Vec<u8>>, ApiError> {
    let mode = match mode {
        UrlMatch::Unspecified | UrlMatch::Exact => MatchMode::Exact,
        UrlMatch::Prefix => MatchMode::Prefix,
        UrlMatch::Host => MatchMode::Host,
        UrlMatch::Domain => MatchMode::Domain,
    };
    let prefix = provindex_signals::surt_scan_prefix(url, mode)
        .map_err(|error| ApiError::invalid("url", crate::error::url_error(&error)))?;
    Ok(match mode {
        MatchMode::Exact => {
            let mut key = prefix.into_bytes();
            key.push(keys::SURT_TERMINATOR);
            vec![key]
        }
        MatchMode::Prefix | MatchMode::Host => vec![prefix.into_bytes()],
        // The host itself, its subdomains and its explicit ports, in key order.
        MatchMode::Domain => [")", ",", ":"]
            .iter()
            .map(|boundary| format!("{prefix}{boundary}").into_bytes())
            .collect(),
    })
}

fn lookup_url(
    index: &IndexReader,
    request: &LookupUrlRequest,
) -> Result<LookupUrlResponse, ApiError> {
    if request.url.trim().is_empty() {
        return Err(ApiError::invalid("url", "is empty"));
    }
    let mode = UrlMatch::try_from(request.r#match).map_err(|_| {
        ApiError::invalid("match", format!("unknown match mode {}", request.r#match))
    })?;
    if let (Some(from), Some(to)) = (request.from_time, request.to_time)
        && from > to
    {
        return Err(ApiError::invalid(
            "from_time",
            format!("{from} is after to_time {to}"),
        ));
    }
    let limit = page_size(request.page_size)?;
    let prefixes = url_prefixes(&request.url, mode)?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        let key = hex::decode(&request.page_token)
            .map_err(|e| ApiError::invalid("page_token", format!("not a page token: {e}")))?;
        let belongs = keys::decode_url_key(&key).is_some()
            && prefixes.iter().any(|prefix| key.starts_with(prefix));
        if !belongs {
            return Err(ApiError::invalid(
                "page_token",
                "does not belong to this query (url and match must not change between pages)",
            ));
        }
        Some(key)
    };
    let first_page = after.is_none();
    let page = url_captures(
        index,
        &UrlScan {
            prefixes,
            from_time: request.from_time,
            to_time: request.to_time,
            after,
            limit,
            reverse: request.newest_first,
        },
    )?;
    if first_page && page.captures.is_empty() && page.next.is_none() {
        return Err(ApiError::NotFound(format!(
            "no captures for {} (match {})",
            crate::echo(&request.url),
            mode.as_str_name()
        )));
    }
    let captures = page
        .captures
        .into_iter()
        .map(|(capture_id, record)| convert::capture(capture_id, record))
        .collect();
    Ok(LookupUrlResponse {
        captures,
        next_page_token: page.next.map(hex::encode).unwrap_or_default(),
    })
}

/// One page of a URL query: the captures in `urls` key order (or reversed)
/// with their records, and the key to resume after when more may follow.
#[derive(Debug, Default)]
pub struct UrlCapturesPage {
    pub captures: Vec<(u128, provindex_index::records::CaptureRecord)>,
    pub next: Option<Vec<u8>>,
}

/// The URL query behind LookupUrl (which HTTP `/cdx` pages through): a scan of
/// the `urls` table (prefixes from [`url_prefixes`]) and the capture records
/// of its hits.
pub fn url_captures(index: &IndexReader, scan: &UrlScan) -> Result<UrlCapturesPage, ApiError> {
    let page = index.scan_urls(scan)?;
    let capture_ids: Vec<u128> = page.hits.iter().map(|hit| hit.capture_id).collect();
    let mut captures = Vec::with_capacity(capture_ids.len());
    for (capture_id, record) in capture_ids.iter().zip(index.captures(&capture_ids)?) {
        let record = record.ok_or_else(|| provindex_index::IndexError::Corrupt {
            cf: provindex_index::schema::CAPTURES,
            reason: format!("url entry for missing capture {capture_id:032x}"),
        })?;
        captures.push((*capture_id, record));
    }
    Ok(UrlCapturesPage {
        captures,
        next: page.next,
    })
}

fn lookup_content(
    index: &IndexReader,
    request: &LookupContentRequest,
) -> Result<LookupContentResponse, ApiError> {
    let limit = page_size(request.page_size)?;
    let content_id = match &request.key {
        None => {
            return Err(ApiError::invalid(
                "key",
                "set one of content_id, sha256 or text",
            ));
        }
        Some(Key::ContentId(hex_id)) => parse_id("content_id", hex_id)?,
        Some(Key::Sha256(hex_sha)) => {
            let sha = parse_sha256(hex_sha)?;
            index
                .content_id_by_sha256(&sha)?
                .ok_or_else(|| ApiError::NotFound(format!("no content with sha256 {hex_sha}")))?
        }
        Some(Key::Text(text)) => {
            let (_, normalized) = crate::findwork::normalize_query(index.manifest(), text)
                .map_err(|reason| ApiError::invalid("text", reason))?;
            if normalized.is_empty() {
                return Err(ApiError::invalid("text", "is empty after normalization"));
            }
            provindex_sketch::content_id(&normalized).0
        }
    };
    let record = index
        .content(content_id)?
        .ok_or_else(|| ApiError::NotFound(format!("no content {content_id:032x}")))?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(parse_id("page_token", &request.page_token)?)
    };
    let (captures, more) = index.content_captures(content_id, after, limit)?;
    let next_page_token = match (more, captures.last()) {
        (true, Some((last, _))) => format!("{last:032x}"),
        _ => String::new(),
    };
    let captures = convert::content_captures(captures);
    Ok(LookupContentResponse {
        content: Some(convert::content(content_id, record)),
        captures,
        next_page_token,
    })
}

/// Parses a 128-bit id written as 32 hex characters.
pub(crate) fn parse_id(field: &'static str, text: &str) -> Result<u128, ApiError> {
    if text.len() != 32 {
        return Err(ApiError::invalid(
            field,
            format!("expected 32 hex characters, got {}", text.len()),
        ));
    }
    convert::hex_u128(text)
        .ok_or_else(|| ApiError::invalid(field, format!("{text:?} is not hexadecimal")))
}

fn parse_sha256(text: &str) -> Result<[u8; 32], ApiError> {
    if text.len() != 64 {
        return Err(ApiError::invalid(
            "sha256",
            format!("expected 64 hex characters, got {}", text.len()),
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| ApiError::invalid("sha256", format!("{text:?} is not hexadecimal")))?;
    Ok(out)
}
