//! `provindex lookup`: a gRPC client of `ProvenanceService`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use provindex_proto::v1::{
    Capture, Content, GetCaptureRequest, LookupContentRequest, LookupUrlRequest, UrlMatch,
    lookup_content_request::Key, provenance_service_client::ProvenanceServiceClient,
};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

/// Exit status when the server answered NOT_FOUND.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit status when the request was rejected as invalid.
pub const EXIT_INVALID: u8 = 2;
/// Exit status for every other failure (server unreachable, internal error).
pub const EXIT_ERROR: u8 = 3;

#[derive(Args)]
pub struct LookupArgs {
    #[command(subcommand)]
    what: LookupWhat,
    /// Server address, host:port.
    #[arg(long, global = true, default_value = crate::DEFAULT_SERVER)]
    server: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum LookupWhat {
    /// Captures of a URL (CDX-like).
    Url {
        url: String,
        #[arg(long = "match", value_enum, default_value_t = MatchArg::Exact)]
        match_mode: MatchArg,
        /// Earliest capture time, unix seconds.
        #[arg(long)]
        from: Option<i64>,
        /// Latest capture time, unix seconds.
        #[arg(long)]
        to: Option<i64>,
        /// Captures per page (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        newest_first: bool,
        /// Follow page tokens until the result is complete.
        #[arg(long)]
        all: bool,
    },
    /// A content by id, by SHA-256, or by the text in a file.
    Content {
        /// content_id (32 hex characters).
        #[arg(required_unless_present_any = ["text", "sha256"])]
        content_id: Option<String>,
        /// Look up the text of this file (normalized by the server).
        #[arg(long, conflicts_with_all = ["content_id", "sha256"])]
        text: Option<PathBuf>,
        /// SHA-256 of the normalized text (64 hex characters).
        #[arg(long, conflicts_with = "content_id")]
        sha256: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One capture by capture_id.
    Capture { capture_id: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum MatchArg {
    Exact,
    Prefix,
    Host,
    Domain,
}

impl From<MatchArg> for UrlMatch {
    fn from(value: MatchArg) -> Self {
        match value {
            MatchArg::Exact => UrlMatch::Exact,
            MatchArg::Prefix => UrlMatch::Prefix,
            MatchArg::Host => UrlMatch::Host,
            MatchArg::Domain => UrlMatch::Domain,
        }
    }
}

pub fn run(args: LookupArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(lookup(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            eprintln!("{}: {}", code_name(status.code()), status.message());
            ExitCode::from(match status.code() {
                Code::NotFound => EXIT_NOT_FOUND,
                Code::InvalidArgument => EXIT_INVALID,
                _ => EXIT_ERROR,
            })
        }
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::NotFound => "not found",
        Code::InvalidArgument => "invalid argument",
        Code::Unavailable => "server unavailable",
        Code::DeadlineExceeded => "deadline exceeded",
        _ => "error",
    }
}

async fn connect(server: &str) -> Result<ProvenanceServiceClient<Channel>, tonic::Status> {
    let uri = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let endpoint = Channel::from_shared(uri.clone())
        .map_err(|e| tonic::Status::invalid_argument(format!("server address {server:?}: {e}")))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("cannot connect to {uri}: {e}")))?;
    Ok(ProvenanceServiceClient::new(channel))
}

async fn lookup(args: LookupArgs) -> Result<(), tonic::Status> {
    let mut client = connect(&args.server).await?;
    match args.what {
        LookupWhat::Url {
            url,
            match_mode,
            from,
            to,
            limit,
            newest_first,
            all,
        } => {
            let mut request = LookupUrlRequest {
                url,
                r#match: UrlMatch::from(match_mode) as i32,
                from_time: from,
                to_time: to,
                page_size: limit,
                page_token: String::new(),
                newest_first,
            };
            let mut captures = Vec::new();
            loop {
                let response = client.lookup_url(request.clone()).await?.into_inner();
                captures.extend(response.captures);
                if !all || response.next_page_token.is_empty() {
                    request.page_token = response.next_page_token;
                    break;
                }
                request.page_token = response.next_page_token;
            }
            if args.json {
                let value = json!({
                    "captures": captures.iter().map(capture_json).collect::<Vec<_>>(),
                    "next_page_token": request.page_token,
                });
                println!("{value:#}");
            } else {
                for capture in &captures {
                    print_capture_line(capture);
                }
                if !request.page_token.is_empty() {
                    println!("(more: --all, or page token {})", request.page_token);
                }
            }
        }
        LookupWhat::Content {
            content_id,
            text,
            sha256,
            limit,
        } => {
            let key = match (content_id, text, sha256) {
                (Some(id), _, _) => Key::ContentId(id),
                (_, Some(path), _) => Key::Text(std::fs::read_to_string(&path).map_err(|e| {
                    tonic::Status::invalid_argument(format!("reading {}: {e}", path.display()))
                })?),
                (_, _, Some(sha)) => Key::Sha256(sha),
                (None, None, None) => {
                    return Err(tonic::Status::invalid_argument(
                        "give a content_id, --text FILE or --sha256 HEX",
                    ));
                }
            };
            let response = client
                .lookup_content(LookupContentRequest {
                    key: Some(key),
                    page_size: limit,
                    page_token: String::new(),
                })
                .await?
                .into_inner();
            if args.json {
                let value = json!({
                    "content": response.content.as_ref().map(content_json),
                    "captures": response.captures.iter().map(capture_json).collect::<Vec<_>>(),
                    "next_page_token": response.next_page_token,
                });
                println!("{value:#}");
            } else {
                if let Some(content) = &response.content {
                    print_content(content);
                }
                println!("captures:");
                for capture in &response.captures {
                    print_capture_line(capture);
                }
                if !response.next_page_token.is_empty() {
                    println!("(more captures: page token {})", response.next_page_token);
                }
            }
        }
        LookupWhat::Capture { capture_id } => {
            let response = client
                .get_capture(GetCaptureRequest {
                    capture_id,
                    include_record: false,
                })
                .await?
                .into_inner();
            let capture = response
                .capture
                .ok_or_else(|| tonic::Status::internal("server sent an empty capture"))?;
            if args.json {
                println!("{:#}", capture_json(&capture));
            } else {
                for (key, value) in capture_json(&capture).as_object().into_iter().flatten() {
                    println!(
                        "{key}: {}",
                        value
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| value.to_string())
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_capture_line(capture: &Capture) {
    let status = if capture.http_status == 0 {
        "-".to_owned()
    } else {
        capture.http_status.to_string()
    };
    let content = if capture.content_id.is_empty() {
        "-"
    } else {
        capture.content_id.as_str()
    };
    let license = capture
        .license
        .as_ref()
        .map(|l| {
            if l.spdx.is_empty() {
                l.id.as_str()
            } else {
                l.spdx.as_str()
            }
        })
        .unwrap_or("unknown");
    let optout = capture
        .optout
        .as_ref()
        .map(|o| o.verdict.as_str())
        .unwrap_or("unknown");
    println!(
        "{}  {}  {}  {}  content={}  license={}  optout={}  capture={}",
        capture.capture_time_raw,
        status,
        capture.record_kind,
        capture.url,
        content,
        license,
        optout,
        capture.capture_id
    );
}

fn print_content(content: &Content) {
    println!("content_id: {}", content.content_id);
    println!("sha256: {}", content.sha256);
    println!(
        "length: {} bytes, {} tokens",
        content.length_bytes, content.token_count
    );
    println!("captures: {}", content.capture_count);
    println!("first seen: {}", content.first_seen);
    if let Some(cluster) = &content.cluster {
        println!(
            "near-duplicate cluster: {} ({} contents, keeper {}{})",
            cluster.cluster_id,
            cluster.size,
            cluster.keeper,
            if content.is_keeper { ": this one" } else { "" }
        );
    }
    println!("preview: {}", content.preview);
}

fn capture_json(capture: &Capture) -> Value {
    let location = capture.location.clone().unwrap_or_default();
    json!({
        "capture_id": capture.capture_id,
        "url": capture.url,
        "surt": capture.surt,
        "capture_time": capture.capture_time,
        "capture_time_raw": capture.capture_time_raw,
        "http_status": capture.http_status,
        "content_type": capture.content_type,
        "language": capture.language,
        "location": {"uri": location.uri, "offset": location.offset, "length": location.length},
        "payload_digest": capture.payload_digest,
        "content_id": capture.content_id,
        "record_id": capture.record_id,
        "record_kind": capture.record_kind,
        "crawl": capture.crawl,
        "host": capture.host,
        "registered_domain": capture.registered_domain,
        "refers_to": capture.refers_to,
        "location_framing": location.framing,
        "license": capture.license.as_ref().map(|l| json!({
            "class": l.class, "id": l.id, "spdx": l.spdx, "location": l.location,
            "evidence": l.evidence, "conflict": l.conflict,
        })),
        "optout": capture.optout.as_ref().map(|o| json!({
            "verdict": o.verdict,
            "deciding_signal": o.deciding_signal.as_ref().map(signal_json),
            "signals": o.signals.iter().map(signal_json).collect::<Vec<_>>(),
        })),
    })
}

fn content_json(content: &Content) -> Value {
    json!({
        "content_id": content.content_id,
        "sha256": content.sha256,
        "length_bytes": content.length_bytes,
        "token_count": content.token_count,
        "capture_count": content.capture_count,
        "first_seen": content.first_seen,
        "cluster": content.cluster.as_ref().map(|c| json!({
            "cluster_id": c.cluster_id,
            "size": c.size,
            "keeper": c.keeper,
        })),
        "is_keeper": content.is_keeper,
        "preview": content.preview,
    })
}

fn signal_json(signal: &provindex_proto::v1::OptOutSignal) -> Value {
    json!({
        "kind": signal.kind,
        "source": signal.source,
        "stance": signal.stance,
        "value": signal.value,
        "agent": signal.agent,
        "evidence": signal.evidence,
        "seen_at": signal.seen_at,
    })
}
