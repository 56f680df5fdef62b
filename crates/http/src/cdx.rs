//! `GET /cdx`: pywb's CDX server API, translated to LookupUrl pages of a
//! [`CaptureLookups`] (a served index or a router over partitions).
//!
//! Parameters (as pywb's CDX server): `url` (required; a trailing `*` means
//! `matchType=prefix`, a leading `*.` `matchType=domain`), `matchType`
//! (`exact`, `prefix`, `host`, `domain`), `from`/`to`/`closest` (timestamps
//! of 4 to 14 digits, `YYYY[MM[DD[hh[mm[ss]]]]]`, UTC; `from` and `closest` pad
//! with the earliest, `to` with the latest instant), `limit` (at most
//! [`MAX_LIMIT`], the default), `sort` (`reverse`: newest first; `closest`:
//! nearest to `closest` first), `output` (`text`, `json`, `cdxj`), `fl`
//! (comma-separated fields) and `filter` (repeatable, `[!]field:regex`,
//! `[!]=field:value`, `[!]~field:substring`, as pywb). Other parameters are
//! ignored (pywb sends some of its own).

use provindex_proto::v1::{Capture, LookupUrlRequest, UrlMatch};
use provindex_rpc::ApiError;
use serde_json::Value;
use tonic::{Code, Status};

use crate::CaptureLookups;

/// Largest `limit`, and the default one.
pub const MAX_LIMIT: usize = 10_000;
/// Captures fetched per LookupUrl page (its largest page).
const PAGE: usize = provindex_rpc::MAX_URL_PAGE_SIZE as usize;
/// Scan pages one request may read (filters that reject most captures stop
/// here and the answer says it is truncated).
const MAX_PAGES: usize = 100;
/// Filters per request.
const MAX_FILTERS: usize = 32;

/// Every field `/cdx` knows: pywb's, then provindex's own.
const FIELDS: &[&str] = &[
    "urlkey",
    "timestamp",
    "url",
    "mime",
    "status",
    "digest",
    "redirect",
    "robotflags",
    "length",
    "offset",
    "filename",
    "capture_id",
    "content_id",
    "cluster",
    "license",
    "optout",
];
/// Text output without `fl`: pywb's CDX 11 line.
const TEXT_FIELDS: &[&str] = &[
    "urlkey",
    "timestamp",
    "url",
    "mime",
    "status",
    "digest",
    "redirect",
    "robotflags",
    "length",
    "offset",
    "filename",
];
/// JSON and CDXJ output without `fl`.
const JSON_FIELDS: &[&str] = &[
    "urlkey",
    "timestamp",
    "url",
    "mime",
    "status",
    "digest",
    "length",
    "offset",
    "filename",
    "capture_id",
    "content_id",
    "cluster",
    "license",
    "optout",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
    Cdxj,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Ascending,
    Reverse,
    Closest,
}

#[derive(Debug)]
enum Test {
    Regex(regex::Regex),
    Exact(String),
    Contains(String),
}

#[derive(Debug)]
struct Filter {
    field: &'static str,
    negate: bool,
    test: Test,
}

impl Filter {
    fn parse(text: &str) -> Result<Self, ApiError> {
        let (negate, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (kind, rest) = match rest.as_bytes().first() {
            Some(b'=') => ('=', &rest[1..]),
            Some(b'~') => ('~', &rest[1..]),
            _ => (' ', rest),
        };
        let Some((field, value)) = rest.split_once(':') else {
            return Err(ApiError::invalid(
                "filter",
                format!("{:?} is not [!][=|~]field:value", provindex_rpc::echo(text)),
            ));
        };
        let field = field_name("filter", field)?;
        let test = match kind {
            '=' => Test::Exact(value.to_owned()),
            '~' => Test::Contains(value.to_owned()),
            _ => Test::Regex(
                regex::RegexBuilder::new(&format!("^(?:{value})"))
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        ApiError::invalid("filter", format!("bad regular expression: {e}"))
                    })?,
            ),
        };
        Ok(Self {
            field,
            negate,
            test,
        })
    }

    fn accepts(&self, value: &str) -> bool {
        let hit = match &self.test {
            Test::Regex(regex) => regex.is_match(value),
            Test::Exact(expected) => value == expected,
            Test::Contains(part) => value.contains(part.as_str()),
        };
        hit != self.negate
    }
}

/// A parsed `/cdx` request.
#[derive(Debug)]
pub struct CdxQuery {
    url: String,
    mode: UrlMatch,
    from: Option<i64>,
    to: Option<i64>,
    closest: Option<i64>,
    limit: usize,
    sort: Sort,
    output: Output,
    fields: Vec<&'static str>,
    filters: Vec<Filter>,
}

fn field_name(parameter: &'static str, name: &str) -> Result<&'static str, ApiError> {
    FIELDS
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid(
                parameter,
                format!(
                    "unknown field {:?} (known: {})",
                    provindex_rpc::echo(name),
                    FIELDS.join(", ")
                ),
            )
        })
}

/// A timestamp of 4 to 14 digits as Unix seconds, the missing parts the
/// earliest (`latest == false`) or latest instant they could name.
fn parse_timestamp(parameter: &'static str, text: &str, latest: bool) -> Result<i64, ApiError> {
    let bad = |reason: String| ApiError::invalid(parameter, reason);
    if !(4..=14).contains(&text.len()) || !text.len().is_multiple_of(2) {
        return Err(bad(format!(
            "{:?} is not a timestamp of 4, 6, 8, 10, 12 or 14 digits (YYYYMMDDhhmmss)",
            provindex_rpc::echo(text)
        )));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!(
            "{:?} is not a timestamp: digits only (YYYYMMDDhhmmss)",
            provindex_rpc::echo(text)
        )));
    }
    let part = |start: usize| -> Option<u32> { text.get(start..start + 2)?.parse().ok() };
    let year: i32 = text[..4].parse().map_err(|_| bad("bad year".into()))?;
    let month = part(4).unwrap_or(if latest { 12 } else { 1 });
    let month = time::Month::try_from(u8::try_from(month).unwrap_or(0))
        .map_err(|_| bad(format!("month {month} is out of range in {text}")))?;
    let last_day = time::util::days_in_month(month, year);
    let day = part(6).unwrap_or(if latest { u32::from(last_day) } else { 1 });
    let hour = part(8).unwrap_or(if latest { 23 } else { 0 });
    let minute = part(10).unwrap_or(if latest { 59 } else { 0 });
    let second = part(12).unwrap_or(if latest { 59 } else { 0 });
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).unwrap_or(0))
        .map_err(|e| bad(format!("{text}: {e}")))?;
    let time = time::Time::from_hms(
        u8::try_from(hour).unwrap_or(99),
        u8::try_from(minute).unwrap_or(99),
        u8::try_from(second).unwrap_or(99),
    )
    .map_err(|e| bad(format!("{text}: {e}")))?;
    Ok(time::PrimitiveDateTime::new(date, time)
        .assume_utc()
        .unix_timestamp())
}

/// Unix seconds as a 14-digit UTC timestamp.
fn timestamp(time: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(time) {
        Ok(t) => format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "00000000000000".to_owned(),
    }
}

impl CdxQuery {
    /// Parses the query string of a `/cdx` request; every error names its
    /// parameter.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut url = None;
        let mut mode = None;
        let (mut from, mut to, mut closest) = (None, None, None);
        let mut limit = MAX_LIMIT;
        let mut sort = None;
        let mut output = Output::Text;
        let mut fields = None;
        let mut filters = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "url" => url = Some(value.into_owned()),
                "matchType" => {
                    mode = Some(match value.as_ref() {
                        "exact" => UrlMatch::Exact,
                        "prefix" => UrlMatch::Prefix,
                        "host" => UrlMatch::Host,
                        "domain" => UrlMatch::Domain,
                        other => {
                            return Err(ApiError::invalid(
                                "matchType",
                                format!(
                                    "{:?} is not one of exact, prefix, host, domain",
                                    provindex_rpc::echo(other)
                                ),
                            ));
                        }
                    })
                }
                "from" if !value.is_empty() => from = Some(parse_timestamp("from", &value, false)?),
                "to" if !value.is_empty() => to = Some(parse_timestamp("to", &value, true)?),
                "closest" if !value.is_empty() => {
                    closest = Some(parse_timestamp("closest", &value, false)?)
                }
                "limit" => {
                    let n: i64 = value.trim().parse().map_err(|_| {
                        ApiError::invalid(
                            "limit",
                            format!("{:?} is not a number", provindex_rpc::echo(&value)),
                        )
                    })?;
                    if n < 1 {
                        return Err(ApiError::invalid("limit", format!("{n} is below 1")));
                    }
                    if n > MAX_LIMIT as i64 {
                        return Err(ApiError::invalid(
                            "limit",
                            format!("{n} is larger than the maximum {MAX_LIMIT}"),
                        ));
                    }
                    limit = n as usize;
                }
                "sort" => {
                    sort = match value.as_ref() {
                        "" | "default" | "asc" => Some(Sort::Ascending),
                        "reverse" => Some(Sort::Reverse),
                        "closest" => Some(Sort::Closest),
                        other => {
                            return Err(ApiError::invalid(
                                "sort",
                                format!(
                                    "{:?} is not one of reverse, closest",
                                    provindex_rpc::echo(other)
                                ),
                            ));
                        }
                    }
                }
                "output" => {
                    output = match value.as_ref() {
                        "" | "text" | "cdx" => Output::Text,
                        "json" => Output::Json,
                        "cdxj" => Output::Cdxj,
                        other => {
                            return Err(ApiError::invalid(
                                "output",
                                format!(
                                    "{:?} is not one of text, json, cdxj",
                                    provindex_rpc::echo(other)
                                ),
                            ));
                        }
                    }
                }
                "fl" if !value.is_empty() => {
                    fields = Some(
                        value
                            .split(',')
                            .map(|name| field_name("fl", name.trim()))
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                }
                "filter" if !value.is_empty() => {
                    if filters.len() == MAX_FILTERS {
                        return Err(ApiError::invalid(
                            "filter",
                            format!("at most {MAX_FILTERS} filters"),
                        ));
                    }
                    filters.push(Filter::parse(&value)?);
                }
                _ => {}
            }
        }
        let mut url = url
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| ApiError::invalid("url", "is missing or empty"))?;
        // pywb's shorthands: `URL*` is a prefix query, `*.DOMAIN` a domain one.
        if mode.is_none() {
            if let Some(rest) = url.strip_prefix("*.") {
                url = rest.to_owned();
                mode = Some(UrlMatch::Domain);
            } else if let Some(rest) = url.strip_suffix('*') {
                url = rest.to_owned();
                mode = Some(UrlMatch::Prefix);
            }
        }
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ApiError::invalid("from", "is after to"));
        }
        let sort = match sort {
            // pywb's own client asks `sort=closest&closest=` without a time.
            Some(Sort::Closest) if closest.is_none() => Sort::Ascending,
            Some(sort) => sort,
            None => Sort::Ascending,
        };
        let fields = fields.unwrap_or_else(|| match output {
            Output::Text => TEXT_FIELDS.to_vec(),
            Output::Json | Output::Cdxj => JSON_FIELDS.to_vec(),
        });
        Ok(Self {
            url,
            mode: mode.unwrap_or(UrlMatch::Exact),
            from,
            to,
            closest,
            limit,
            sort,
            output,
            fields,
            filters,
        })
    }
}

/// The answer to a `/cdx` request.
pub(crate) struct CdxAnswer {
    pub content_type: &'static str,
    pub body: String,
    /// The scan stopped at its page budget before `limit` captures passed
    /// the filters.
    pub truncated: bool,
}

/// One capture with its CDX field values.
struct Row {
    capture: Capture,
}

impl Row {
    fn time(&self) -> i64 {
        self.capture.capture_time
    }

    fn field(&self, name: &str) -> String {
        let c = &self.capture;
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        let location = c.location.as_ref();
        match name {
            "urlkey" => c.surt.clone(),
            "timestamp" => timestamp(c.capture_time),
            "url" => c.url.clone(),
            "mime" => {
                if c.record_kind == "revisit" {
                    "warc/revisit".to_owned()
                } else {
                    let mime = c.content_type.split(';').next().unwrap_or("").trim();
                    if mime.is_empty() {
                        "unk".to_owned()
                    } else {
                        mime.to_ascii_lowercase()
                    }
                }
            }
            "status" => match c.http_status {
                0 => "-".to_owned(),
                status => status.to_string(),
            },
            "digest" => or_dash(
                c.payload_digest
                    .strip_prefix("sha1:")
                    .or_else(|| c.payload_digest.strip_prefix("SHA1:"))
                    .unwrap_or(&c.payload_digest),
            ),
            "length" => location.map_or(0, |l| l.length).to_string(),
            "offset" => location.map_or(0, |l| l.offset).to_string(),
            "filename" => {
                let uri = location.map_or("", |l| l.uri.as_str());
                or_dash(uri.rsplit('/').next().unwrap_or(uri))
            }
            "capture_id" => c.capture_id.clone(),
            "content_id" => or_dash(&c.content_id),
            "cluster" => or_dash(&c.cluster_id),
            "license" => match &c.license {
                Some(license) if !license.id.is_empty() => license.id.clone(),
                Some(license) => license.class.clone(),
                None => "-".to_owned(),
            },
            "optout" => c
                .optout
                .as_ref()
                .map_or_else(|| "-".to_owned(), |o| o.verdict.clone()),
            // redirect, robotflags: not recorded.
            _ => "-".to_owned(),
        }
    }
}

/// Captures of `query` in one direction, after its filters: at most `limit`,
/// reading at most [`MAX_PAGES`] LookupUrl pages. Returns them and whether
/// the page budget cut the scan short.
async fn collect(
    lookups: &dyn CaptureLookups,
    query: &CdxQuery,
    from: Option<i64>,
    to: Option<i64>,
    reverse: bool,
) -> Result<(Vec<Row>, bool), Status> {
    let mut rows = Vec::new();
    if from.zip(to).is_some_and(|(from, to)| from > to) {
        return Ok((rows, false));
    }
    let mut request = LookupUrlRequest {
        url: query.url.clone(),
        r#match: query.mode as i32,
        from_time: from,
        to_time: to,
        newest_first: reverse,
        ..Default::default()
    };
    for _ in 0..MAX_PAGES {
        request.page_size = PAGE.min(query.limit - rows.len()).max(1) as u32;
        let page = match lookups.lookup_url(request.clone()).await {
            Ok(page) => page,
            // LookupUrl's answer to a query without captures.
            Err(status) if status.code() == Code::NotFound && request.page_token.is_empty() => {
                return Ok((rows, false));
            }
            Err(status) => return Err(status),
        };
        for capture in page.captures {
            let row = Row { capture };
            if query
                .filters
                .iter()
                .all(|filter| filter.accepts(&row.field(filter.field)))
            {
                rows.push(row);
                if rows.len() == query.limit {
                    return Ok((rows, false));
                }
            }
        }
        if page.next_page_token.is_empty() {
            return Ok((rows, false));
        }
        request.page_token = page.next_page_token;
    }
    Ok((rows, true))
}

/// A JSON object of `fields` in their order (as `fl` lists them).
fn json_object<'a>(row: &Row, fields: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("{");
    for (i, name) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(name.to_owned()).to_string());
        out.push(':');
        out.push_str(&Value::String(row.field(name)).to_string());
    }
    out.push('}');
    out
}

/// Runs a parsed `/cdx` request.
pub(crate) async fn run(
    lookups: &dyn CaptureLookups,
    query: &CdxQuery,
) -> Result<CdxAnswer, Status> {
    let (rows, truncated) = match (query.sort, query.closest) {
        (Sort::Closest, Some(closest)) => {
            // The nearest captures are the first ones on each side of `closest`.
            let after_from = query.from.map_or(closest, |from| from.max(closest));
            let (later, cut_later) =
                collect(lookups, query, Some(after_from), query.to, false).await?;
            let before_to = query.to.map_or(closest - 1, |to| to.min(closest - 1));
            let (earlier, cut_earlier) =
                collect(lookups, query, query.from, Some(before_to), true).await?;
            let mut rows: Vec<Row> = later.into_iter().chain(earlier).collect();
            rows.sort_by_key(|row| (row.time().abs_diff(closest), row.time() < closest));
            rows.truncate(query.limit);
            (rows, cut_later || cut_earlier)
        }
        (sort, _) => collect(lookups, query, query.from, query.to, sort == Sort::Reverse).await?,
    };
    if rows.is_empty() && !truncated {
        return Err(Status::from(ApiError::NotFound(format!(
            "no captures for {} (matchType {})",
            provindex_rpc::echo(&query.url),
            match query.mode {
                UrlMatch::Prefix => "prefix",
                UrlMatch::Host => "host",
                UrlMatch::Domain => "domain",
                UrlMatch::Exact | UrlMatch::Unspecified => "exact",
            }
        ))));
    }
    let mut body = String::new();
    for row in &rows {
        match query.output {
            Output::Text => {
                let values: Vec<String> = query
                    .fields
                    .iter()
                    .map(|name| row.field(name).replace(' ', "%20"))
                    .collect();
                body.push_str(&values.join(" "));
            }
            Output::Json => {
                body.push_str(&json_object(row, query.fields.iter().copied()));
            }
            Output::Cdxj => {
                body.push_str(&row.field("urlkey").replace(' ', "%20"));
                body.push(' ');
                body.push_str(&row.field("timestamp"));
                body.push(' ');
                body.push_str(&json_object(
                    row,
                    query
                        .fields
                        .iter()
                        .copied()
                        .filter(|name| !matches!(*name, "urlkey" | "timestamp")),
                ));
            }
        }
        body.push('\n');
    }
    Ok(CdxAnswer {
        content_type: match query.output {
            Output::Json => "application/x-ndjson",
            Output::Text | Output::Cdxj => "text/plain; charset=utf-8",
        },
        body,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: ApiError) -> &'static str {
        match error {
            ApiError::InvalidArgument { field, .. } => field,
            other => panic!("not an invalid argument: {other}"),
        }
    }

    #[test]
    fn timestamps_pad_like_pywb() {
        assert_eq!(
            parse_timestamp("from", "2014", false).unwrap(),
            1_388_534_400
        );
        assert_eq!(parse_timestamp("to", "2014", true).unwrap(), 1_420_070_399);
        assert_eq!(
            parse_timestamp("to", "201402", true).unwrap(),
            parse_timestamp("from", "20140228235959", false).unwrap()
        );
        assert_eq!(timestamp(1_388_534_400), "20140101000000");
        assert_eq!(
            field_of(parse_timestamp("from", "2014x", false).unwrap_err()),
            "from"
        );
        assert_eq!(
            field_of(parse_timestamp("to", "20141301", true).unwrap_err()),
            "to"
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        for (query, field) in [
            ("", "url"),
            ("url=a.org&matchType=fuzzy", "matchType"),
            ("url=a.org&from=20x4", "from"),
            ("url=a.org&to=123", "to"),
            ("url=a.org&limit=10001", "limit"),
            ("url=a.org&limit=-1", "limit"),
            ("url=a.org&sort=sideways", "sort"),
            ("url=a.org&output=xml", "output"),
            ("url=a.org&fl=urlkey,nope", "fl"),
            ("url=a.org&filter=nocolon", "filter"),
            ("url=a.org&filter=status:(", "filter"),
        ] {
            assert_eq!(
                field_of(CdxQuery::parse(query).unwrap_err()),
                field,
                "{query}"
            );
        }
    }

    #[test]
    fn filters_follow_pywb_forms() {
        let f = Filter::parse("!~mime:html").unwrap();
        assert!(!f.accepts("text/html") && f.accepts("image/png"));
        let f = Filter::parse("=status:200").unwrap();
        assert!(f.accepts("200") && !f.accepts("2000"));
        let f = Filter::parse("status:2..").unwrap();
        assert!(f.accepts("200") && !f.accepts("404"));
        let q = CdxQuery::parse("url=example.org/*").unwrap();
        assert_eq!(q.mode, UrlMatch::Prefix);
        assert_eq!(q.url, "example.org/");
    }
}
