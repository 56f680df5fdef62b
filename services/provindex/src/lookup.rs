//! The client commands: `provindex lookup url|content|capture`, `capture`,
//! `find-work`, `check-optout` (ProvenanceService) and `optout
//! register|list|revoke` (OptOutService).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use provindex_proto::v1::{
    Capture, CheckOptOutRequest, CheckOptOutResponse, Content, FindWorkRequest, GetCaptureRequest,
    ListOptOutsRequest, LookupContentRequest, LookupUrlRequest, OptOutFinding, OptOutRegistration,
    OptOutScope, RegisterOptOutRequest, RevokeOptOutRequest, UrlMatch,
    check_opt_out_request::Target, lookup_content_request::Key, opt_out_scope::Scope,
};
use serde_json::json;

use crate::client::{
    self, ClientOpts, Conn, capture_json, check_optout_json, content_json, registration_json,
    work_match_json,
};

#[derive(Args)]
pub struct LookupArgs {
    #[command(subcommand)]
    what: LookupWhat,
    #[command(flatten)]
    client: ClientOpts,
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
        /// Look up the text of this file, or of standard input for -
        /// (normalized by the server).
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
    client::run(lookup(args))
}

async fn lookup(args: LookupArgs) -> Result<(), tonic::Status> {
    let conn = Conn::open(&args.client).await?;
    let mut client = conn.provenance();
    let json_out = args.client.json;
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
                let response = client
                    .lookup_url(conn.request(request.clone()))
                    .await?
                    .into_inner();
                captures.extend(response.captures);
                if !all || response.next_page_token.is_empty() {
                    request.page_token = response.next_page_token;
                    break;
                }
                request.page_token = response.next_page_token;
            }
            if json_out {
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
                (_, Some(path), _) => Key::Text(client::read_text(&path)?),
                (_, _, Some(sha)) => Key::Sha256(sha),
                (None, None, None) => {
                    return Err(tonic::Status::invalid_argument(
                        "give a content_id, --text FILE or --sha256 HEX",
                    ));
                }
            };
            let response = client
                .lookup_content(conn.request(LookupContentRequest {
                    key: Some(key),
                    page_size: limit,
                    page_token: String::new(),
                }))
                .await?
                .into_inner();
            if json_out {
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
            show_capture(&conn, capture_id, false, json_out).await?;
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
    if !content.language.is_empty() {
        println!("language: {}", content.language);
    }
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

/// `provindex capture ID [--record]`.
#[derive(Args)]
pub struct CaptureArgs {
    /// capture_id (32 hex characters).
    capture_id: String,
    /// Write the original WARC record's bytes (exactly as stored: a gzip
    /// member for per-record gzip) to standard output, and nothing else.
    #[arg(long)]
    record: bool,
    #[command(flatten)]
    client: ClientOpts,
}

pub fn run_capture(args: CaptureArgs) -> ExitCode {
    client::run(async move {
        if args.record && args.client.json {
            return Err(tonic::Status::invalid_argument(
                "--record writes the record's raw bytes: it does not go with --json",
            ));
        }
        let conn = Conn::open(&args.client).await?;
        show_capture(&conn, args.capture_id, args.record, args.client.json).await
    })
}

async fn show_capture(
    conn: &Conn,
    capture_id: String,
    record: bool,
    json_out: bool,
) -> Result<(), tonic::Status> {
    let response = conn
        .provenance()
        .get_capture(conn.request(GetCaptureRequest {
            capture_id,
            include_record: record,
        }))
        .await?
        .into_inner();
    if record {
        if response.record.is_empty() {
            return Err(tonic::Status::internal("server sent no record bytes"));
        }
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&response.record)
            .and_then(|()| stdout.flush())
            .map_err(|e| tonic::Status::unknown(format!("writing the record to stdout: {e}")))?;
        return Ok(());
    }
    let capture = response
        .capture
        .ok_or_else(|| tonic::Status::internal("server sent an empty capture"))?;
    if json_out {
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
    Ok(())
}

/// `provindex find-work --text FILE|-`.
#[derive(Args)]
pub struct FindWorkArgs {
    /// The work's text: a file, or - for standard input.
    #[arg(long)]
    text: PathBuf,
    /// Smallest estimated Jaccard similarity to report, in (0, 1] (server default 0.5).
    #[arg(long)]
    min_similarity: Option<f64>,
    /// Matches to list at most (pages are followed).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Sources (captures) listed per match (at most 1000).
    #[arg(long, default_value_t = 100)]
    captures: u32,
    #[command(flatten)]
    client: ClientOpts,
}

pub fn run_find_work(args: FindWorkArgs) -> ExitCode {
    client::run(find_work(args))
}

async fn find_work(args: FindWorkArgs) -> Result<(), tonic::Status> {
    let text = client::read_text(&args.text)?;
    let conn = Conn::open(&args.client).await?;
    let mut client = conn.provenance();
    let mut request = FindWorkRequest {
        text,
        min_similarity: args.min_similarity,
        max_results: 0,
        page_token: String::new(),
        captures_per_match: args.captures,
    };
    let mut matches = Vec::new();
    let limit = args.limit as usize;
    let last = loop {
        request.max_results = (limit - matches.len()).clamp(1, 100) as u32;
        let mut response = client
            .find_work(conn.request(request.clone()))
            .await?
            .into_inner();
        matches.append(&mut response.matches);
        if matches.len() >= limit || response.next_page_token.is_empty() {
            break response;
        }
        request.page_token = response.next_page_token.clone();
    };
    matches.truncate(limit);
    if args.client.json {
        let value = json!({
            "matches": matches.iter().map(work_match_json).collect::<Vec<_>>(),
            "next_page_token": last.next_page_token,
            "content_id": last.content_id,
            "candidates": last.candidates,
            "total_matches": last.total_matches,
            "sketch_spec": last.sketch_spec,
        });
        println!("{value:#}");
        return Ok(());
    }
    println!(
        "text content_id {}: {} of {} matches ({} candidates, sketch spec {})",
        last.content_id,
        matches.len(),
        last.total_matches,
        last.candidates,
        last.sketch_spec
    );
    for work in &matches {
        let content = work.content.clone().unwrap_or_default();
        let cluster = content
            .cluster
            .as_ref()
            .map(|c| c.cluster_id.as_str())
            .unwrap_or("-");
        println!(
            "similarity {:.3}{}  content {}  cluster {}  language {}  {} captures",
            work.similarity,
            if work.exact { " (exact)" } else { "" },
            content.content_id,
            cluster,
            if content.language.is_empty() {
                "-"
            } else {
                content.language.as_str()
            },
            work.capture_count
        );
        for capture in &work.captures {
            print!("    ");
            print_capture_line(capture);
        }
        if !work.captures_page_token.is_empty() {
            println!(
                "    (more: provindex lookup content {})",
                content.content_id
            );
        }
    }
    if !last.next_page_token.is_empty() {
        println!("(more matches: --limit)");
    }
    Ok(())
}

/// `provindex check-optout URL | --content ID`.
#[derive(Args)]
pub struct CheckOptOutArgs {
    /// The URL (its newest capture decides).
    #[arg(required_unless_present = "content")]
    url: Option<String>,
    /// A content_id instead (reserved if any capture or registry entry is).
    #[arg(long, conflicts_with = "url")]
    content: Option<String>,
    #[command(flatten)]
    client: ClientOpts,
}

pub fn run_check_optout(args: CheckOptOutArgs) -> ExitCode {
    client::run(async move {
        let target = match (args.url, args.content) {
            (Some(url), _) => Target::Url(url),
            (None, Some(id)) => Target::ContentId(id),
            (None, None) => {
                return Err(tonic::Status::invalid_argument(
                    "give a URL or --content ID",
                ));
            }
        };
        let conn = Conn::open(&args.client).await?;
        let response = conn
            .provenance()
            .check_opt_out(conn.request(CheckOptOutRequest {
                target: Some(target),
            }))
            .await?
            .into_inner();
        if args.client.json {
            println!("{:#}", check_optout_json(&response));
        } else {
            print_check(&response);
        }
        Ok(())
    })
}

fn print_check(response: &CheckOptOutResponse) {
    println!("verdict: {}", response.verdict);
    if let Some(deciding) = &response.deciding {
        println!("deciding: {}", finding_line(deciding));
    }
    if !response.reserving.is_empty() {
        println!("reserving:");
        for finding in &response.reserving {
            println!("  {}", finding_line(finding));
        }
    }
    if !response.content_id.is_empty() {
        println!("content_id: {}", response.content_id);
    }
    println!("captures checked: {}", response.captures_checked);
    println!(
        "registry consulted: {}",
        if response.registry_checked {
            "yes"
        } else {
            "no"
        }
    );
}

fn finding_line(finding: &OptOutFinding) -> String {
    let mut line = format!(
        "{} {} since {}",
        finding.origin, finding.verdict, finding.since
    );
    if !finding.registry_entry_id.is_empty() {
        line += &format!(
            "  registry entry {} ({})",
            finding.registry_entry_id, finding.scope
        );
    }
    if !finding.capture_id.is_empty() {
        line += &format!("  capture {}", finding.capture_id);
    }
    if !finding.url.is_empty() {
        line += &format!("  {}", finding.url);
    }
    if let Some(signal) = &finding.signal {
        line += &format!(
            "  signal {} ({}, {}) {:?}",
            signal.kind, signal.source, signal.stance, signal.evidence
        );
    }
    line
}

/// `provindex optout register|list|revoke`.
#[derive(Args)]
pub struct OptOutArgs {
    #[command(subcommand)]
    what: OptOutWhat,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Subcommand)]
enum OptOutWhat {
    /// Register an opt-out (a rightholder's or an admin's token).
    Register {
        #[command(flatten)]
        scope: ScopeArgs,
        /// The rightholder: a rightholder token may leave it out (its own
        /// name); an admin must give one.
        #[arg(long)]
        rightholder: Option<String>,
        /// Unix seconds from which it applies (default: now; may be in the past).
        #[arg(long)]
        effective_from: Option<i64>,
        /// Evidence note (required for --work-text).
        #[arg(long)]
        evidence: Option<String>,
    },
    /// List registrations (every page).
    List {
        /// Only this rightholder's (rightholder tokens only ever see their own).
        #[arg(long)]
        rightholder: Option<String>,
        /// Only this kind: domain | url_prefix | content | work.
        #[arg(long)]
        kind: Option<String>,
        /// Include revoked registrations.
        #[arg(long, alias = "include-revoked")]
        all: bool,
    },
    /// Revoke a registration by id.
    Revoke {
        /// Registry id (decimal).
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ScopeArgs {
    /// A registered domain, e.g. data.gov.uk.
    #[arg(long)]
    domain: Option<String>,
    /// A URL: everything at or below it.
    #[arg(long)]
    url_prefix: Option<String>,
    /// A content_id (32 hex characters).
    #[arg(long)]
    content: Option<String>,
    /// The text of a work (a file, or - for standard input): its content and
    /// near-duplicates.
    #[arg(long)]
    work_text: Option<PathBuf>,
}

impl ScopeArgs {
    /// The scope given; a work's text is read here (a bad file is the
    /// caller's error, found before connecting).
    pub(crate) fn scope(&self) -> Result<Scope, tonic::Status> {
        Ok(match self {
            ScopeArgs {
                domain: Some(d), ..
            } => Scope::Domain(d.clone()),
            ScopeArgs {
                url_prefix: Some(u),
                ..
            } => Scope::UrlPrefix(u.clone()),
            ScopeArgs {
                content: Some(c), ..
            } => Scope::ContentId(c.clone()),
            ScopeArgs {
                work_text: Some(path),
                ..
            } => Scope::WorkText(client::read_text(path)?),
            _ => {
                return Err(tonic::Status::invalid_argument(
                    "give --domain, --url-prefix, --content or --work-text",
                ));
            }
        })
    }
}

pub fn run_optout(args: OptOutArgs) -> ExitCode {
    client::run(optout(args))
}

async fn optout(args: OptOutArgs) -> Result<(), tonic::Status> {
    let json_out = args.client.json;
    // Read a work's text before connecting: a bad file is the caller's error.
    let scope = match &args.what {
        OptOutWhat::Register { scope, .. } => Some(scope.scope()?),
        _ => None,
    };
    let conn = Conn::open(&args.client).await?;
    let mut client = conn.optout();
    match args.what {
        OptOutWhat::Register {
            rightholder,
            effective_from,
            evidence,
            ..
        } => {
            let entry = client
                .register_opt_out(conn.request(RegisterOptOutRequest {
                    rightholder: rightholder.unwrap_or_default(),
                    scope: Some(OptOutScope { scope }),
                    effective_from,
                    evidence: evidence.unwrap_or_default(),
                }))
                .await?
                .into_inner()
                .registration;
            print_registration(json_out, "registered", entry)?;
        }
        OptOutWhat::Revoke { id, reason } => {
            let entry = client
                .revoke_opt_out(conn.request(RevokeOptOutRequest { id, reason }))
                .await?
                .into_inner()
                .registration;
            print_registration(json_out, "revoked", entry)?;
        }
        OptOutWhat::List {
            rightholder,
            kind,
            all,
        } => {
            let mut request = ListOptOutsRequest {
                rightholder: rightholder.unwrap_or_default(),
                scope_kind: kind.unwrap_or_default(),
                scope: None,
                include_revoked: all,
                page_size: 1000,
                page_token: String::new(),
            };
            let mut entries = Vec::new();
            loop {
                let response = client
                    .list_opt_outs(conn.request(request.clone()))
                    .await?
                    .into_inner();
                entries.extend(response.registrations);
                if response.next_page_token.is_empty() {
                    break;
                }
                request.page_token = response.next_page_token;
            }
            if json_out {
                let value = json!({
                    "registrations": entries.iter().map(registration_json).collect::<Vec<_>>(),
                    "next_page_token": "",
                });
                println!("{value:#}");
            } else {
                for entry in &entries {
                    println!("{}", registration_line(entry));
                }
            }
        }
    }
    Ok(())
}

/// Prints the registration a register or revoke call answered with.
fn print_registration(
    json_out: bool,
    verb: &str,
    entry: Option<OptOutRegistration>,
) -> Result<(), tonic::Status> {
    let entry = entry.ok_or_else(|| tonic::Status::internal("server sent no registration"))?;
    if json_out {
        println!("{:#}", registration_json(&entry));
    } else {
        println!("{verb} {}", registration_line(&entry));
    }
    Ok(())
}

fn registration_line(entry: &OptOutRegistration) -> String {
    let mut line = format!(
        "{}  {}  {} {}  rightholder={}  effective_from={}  created_at={} by {}",
        entry.id,
        if entry.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        },
        entry.scope_kind,
        entry.scope_key,
        entry.rightholder,
        entry.effective_from,
        entry.created_at,
        entry.created_by
    );
    if let Some(at) = entry.revoked_at {
        line += &format!(
            "  revoked_at={at} by {} ({:?})",
            entry.revoked_by, entry.revocation_reason
        );
    }
    if !entry.evidence.is_empty() {
        line += &format!("  evidence={:?}", entry.evidence);
    }
    line
}
