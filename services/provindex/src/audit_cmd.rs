//! The AuditService client commands: `provindex sample draw|label|rate`,
//! `personal-data`, `complaint file|show|review` and `claim
//! content|revoke|mandate`, with the connection options of every client command
//! (`--server`, `--token`, TLS, `--json`: every field of the answer).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use provindex_proto::v1::{
    Claim, ClaimContentRequest, Complaint, ComplaintStep, DrawSampleRequest, DrawSampleResponse,
    FileComplaintRequest, FindPersonalDataRequest, FindPersonalDataResponse, GetComplaintRequest,
    LabelVerdict, OptOutScope, PiiCount, RecordLabelRequest, RegisterMandateRequest, ReviewAction,
    ReviewComplaintRequest, RevokeClaimRequest, SampleItem, Source, SourceFailureRateRequest,
    SourceFailureRateResponse, SourceKind, SourceRate, file_complaint_request,
};
use serde_json::{Value, json};
use tonic::Status;

use crate::client::{self, ClientOpts, Conn};
use crate::lookup::ScopeArgs;

/// A source as `index`, `crawl:NAME`, `input:URI`, `domain:DOMAIN` or
/// `host:HOST`.
fn parse_source(text: &str) -> Result<Source, String> {
    let (kind, value) = text.split_once(':').unwrap_or((text, ""));
    let kind = match kind {
        "index" => SourceKind::Index,
        "crawl" => SourceKind::Crawl,
        "input" => SourceKind::Input,
        "domain" => SourceKind::Domain,
        "host" => SourceKind::Host,
        other => {
            return Err(format!(
                "unknown source kind {other:?}: give index, crawl:NAME, input:URI, domain:DOMAIN or host:HOST"
            ));
        }
    };
    if kind == SourceKind::Index && !value.is_empty() {
        return Err("index takes no value (the whole index)".into());
    }
    if kind != SourceKind::Index && value.is_empty() {
        return Err(format!("{text}:VALUE needs a value"));
    }
    Ok(Source {
        kind: kind as i32,
        value: value.to_owned(),
    })
}

fn kind_name(kind: i32) -> &'static str {
    match SourceKind::try_from(kind) {
        Ok(SourceKind::Index) => "index",
        Ok(SourceKind::Crawl) => "crawl",
        Ok(SourceKind::Input) => "input",
        Ok(SourceKind::Domain) => "domain",
        Ok(SourceKind::Host) => "host",
        Ok(SourceKind::Unspecified) | Err(_) => "unspecified",
    }
}

/// The sample an item comes from: source, size and seed.
#[derive(Args, Clone)]
struct SampleSpec {
    /// index, crawl:NAME, input:URI (a capture's location URI), domain:DOMAIN
    /// (registered domain) or host:HOST.
    #[arg(long, value_parser = parse_source)]
    source: Source,
    /// Items in the sample (at most 10000; 1000 with --text).
    #[arg(long)]
    n: u32,
    /// The seed: the same seed on the same index draws the same sample.
    #[arg(long)]
    seed: u64,
}

/// `provindex sample draw|label|rate`.
#[derive(Args)]
pub struct SampleArgs {
    #[command(subcommand)]
    what: SampleWhat,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Subcommand)]
enum SampleWhat {
    /// Draw a reproducible sample of a source's contents.
    Draw {
        #[command(flatten)]
        spec: SampleSpec,
        /// Read each item's original record back and extract its text.
        #[arg(long)]
        text: bool,
    },
    /// Record a reviewer's label for an item of a sample (admin token).
    Label {
        #[command(flatten)]
        spec: SampleSpec,
        /// The item's content_id (32 hex characters).
        #[arg(long)]
        content: String,
        #[arg(long, value_enum)]
        verdict: VerdictArg,
        /// Why it failed (required with --verdict fail), e.g. unlawful,
        /// personal_information, copyright.
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Failure rates per labelled source, with Wilson intervals and the
    /// TC260-003 verdicts.
    Rate {
        /// Only this source (as for draw); default every labelled source.
        #[arg(long, value_parser = parse_source)]
        source: Option<Source>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum VerdictArg {
    Pass,
    Fail,
}

pub fn run_sample(args: SampleArgs) -> ExitCode {
    client::run(async move {
        let conn = Conn::open(&args.client).await?;
        let mut audit = conn.audit();
        let json_out = args.client.json;
        match args.what {
            SampleWhat::Draw { spec, text } => {
                let response = audit
                    .draw_sample(conn.request(DrawSampleRequest {
                        source: Some(spec.source),
                        n: spec.n,
                        seed: spec.seed,
                        include_text: text,
                    }))
                    .await?
                    .into_inner();
                if json_out {
                    println!("{:#}", draw_sample_json(&response));
                } else {
                    print_sample(&response);
                }
            }
            SampleWhat::Label {
                spec,
                content,
                verdict,
                category,
                note,
            } => {
                let response = audit
                    .record_label(conn.request(RecordLabelRequest {
                        source: Some(spec.source),
                        n: spec.n,
                        seed: spec.seed,
                        content_id: content.clone(),
                        verdict: match verdict {
                            VerdictArg::Pass => LabelVerdict::Pass,
                            VerdictArg::Fail => LabelVerdict::Fail,
                        } as i32,
                        category: category.unwrap_or_default(),
                        note: note.unwrap_or_default(),
                    }))
                    .await?
                    .into_inner();
                if json_out {
                    println!("{:#}", json!({ "seq": response.seq }));
                } else {
                    println!("labelled {content}: audit log record {}", response.seq);
                }
            }
            SampleWhat::Rate { source } => {
                let response = audit
                    .source_failure_rate(conn.request(SourceFailureRateRequest { source }))
                    .await?
                    .into_inner();
                if json_out {
                    println!("{:#}", failure_rate_json(&response));
                } else {
                    for rate in &response.sources {
                        println!("{}", rate_line(rate));
                    }
                }
            }
        }
        Ok(())
    })
}

fn source_text(source: Option<&Source>) -> String {
    match source {
        Some(s) if s.value.is_empty() => kind_name(s.kind).to_owned(),
        Some(s) => format!("{}:{}", kind_name(s.kind), s.value),
        None => "-".into(),
    }
}

fn print_sample(response: &DrawSampleResponse) {
    println!(
        "sample of {} (seed {}): {} of {} contents",
        source_text(response.source.as_ref()),
        response.seed,
        response.items.len(),
        response.source_contents
    );
    for item in &response.items {
        println!(
            "{}  rank {}  {}  {}  license={}  optout={}  content_optout={}  language={}  capture={}",
            item.content_id,
            item.rank,
            item.capture_time_raw,
            item.url,
            item.license_class,
            item.optout_verdict,
            item.content_optout_verdict,
            if item.language.is_empty() {
                "-"
            } else {
                &item.language
            },
            item.capture_id
        );
        if !item.text_error.is_empty() {
            println!("    text not read: {}", item.text_error);
        } else if !item.text.is_empty() {
            println!("    text: {}", item.text.replace('\n', " "));
        }
    }
}

fn rate_line(rate: &SourceRate) -> String {
    let mut line = format!(
        "{}  {} failed of {} labelled  rate {:.4} [{:.4}, {:.4}]  tc260 sample {}  source {}",
        source_text(rate.source.as_ref()),
        rate.failed,
        rate.labelled,
        rate.rate,
        rate.interval_low,
        rate.interval_high,
        rate.tc260_sample_verdict,
        if rate.tc260_source_usable {
            "usable"
        } else {
            "not usable"
        }
    );
    let mut categories: Vec<_> = rate.failed_by_category.iter().collect();
    categories.sort();
    for (category, n) in categories {
        line += &format!("  {category}={n}");
    }
    line
}

/// `provindex personal-data --kind KIND VALUE|-`.
#[derive(Args)]
pub struct PersonalDataArgs {
    /// email, phone, cn_resident_id or payment_card.
    #[arg(long)]
    kind: String,
    /// The identifier in the data subject's own notation, or - to read it
    /// from standard input (which keeps it out of `ps`).
    value: String,
    #[command(flatten)]
    client: ClientOpts,
}

pub fn run_personal_data(args: PersonalDataArgs) -> ExitCode {
    client::run(async move {
        let value = if args.value == "-" {
            client::read_text(std::path::Path::new("-"))?
                .trim()
                .to_owned()
        } else {
            args.value
        };
        let conn = Conn::open(&args.client).await?;
        let response = conn
            .audit()
            .find_personal_data(conn.request(FindPersonalDataRequest {
                kind: args.kind,
                value,
            }))
            .await?
            .into_inner();
        if args.client.json {
            println!("{:#}", personal_data_json(&response));
        } else {
            println!(
                "{}: {} contents{} (keyed hash {})",
                response.kind,
                response.content_ids.len(),
                if response.truncated {
                    ", more not listed"
                } else {
                    ""
                },
                response.pii_hmac
            );
            for id in &response.content_ids {
                println!("{id}");
            }
        }
        Ok(())
    })
}

/// `provindex complaint file|show|review`.
#[derive(Args)]
pub struct ComplaintArgs {
    #[command(subcommand)]
    what: ComplaintWhat,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Subcommand)]
enum ComplaintWhat {
    /// File a complaint about an indexed content, URL or work.
    File {
        /// copyright, unlawful_content or personal_information.
        #[arg(long)]
        kind: String,
        #[command(flatten)]
        target: TargetArgs,
        /// What is wrong (at most 8192 bytes).
        #[arg(long)]
        description: String,
        /// Copyright: the rightholder an upheld complaint opts out for
        /// (default: the complainant).
        #[arg(long)]
        rightholder: Option<String>,
    },
    /// A complaint's state and history (its complainant or an admin).
    Show {
        /// The complaint id (decimal).
        id: String,
    },
    /// A reviewer's step (admin token).
    Review {
        /// The complaint id (decimal).
        id: String,
        #[arg(long, value_enum)]
        action: ReviewArg,
        /// The reviewer's reasons (required to reject).
        #[arg(long)]
        note: Option<String>,
        /// Upholding unlawful content: content (default), source_block_domain,
        /// source_block_host or source_block_input.
        #[arg(long)]
        remedy: Option<String>,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// An indexed content_id (32 hex characters).
    #[arg(long)]
    content: Option<String>,
    /// An indexed URL (exact): its newest capture's content.
    #[arg(long)]
    url: Option<String>,
    /// A work's text (a file, or - for standard input): the contents with
    /// its text or near it.
    #[arg(long)]
    work_text: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReviewArg {
    StartReview,
    Uphold,
    Reject,
}

pub fn run_complaint(args: ComplaintArgs) -> ExitCode {
    client::run(async move {
        // Read a work's text before connecting: a bad file is the caller's error.
        let target = match &args.what {
            ComplaintWhat::File { target, .. } => Some(match target {
                TargetArgs {
                    content: Some(id), ..
                } => file_complaint_request::Target::ContentId(id.clone()),
                TargetArgs { url: Some(url), .. } => {
                    file_complaint_request::Target::Url(url.clone())
                }
                TargetArgs {
                    work_text: Some(path),
                    ..
                } => file_complaint_request::Target::WorkText(client::read_text(path)?),
                _ => {
                    return Err(Status::invalid_argument(
                        "give --content, --url or --work-text",
                    ));
                }
            }),
            _ => None,
        };
        let conn = Conn::open(&args.client).await?;
        let mut audit = conn.audit();
        let (verb, response) = match args.what {
            ComplaintWhat::File {
                kind,
                description,
                rightholder,
                ..
            } => (
                "filed",
                audit
                    .file_complaint(conn.request(FileComplaintRequest {
                        kind,
                        target,
                        description,
                        rightholder: rightholder.unwrap_or_default(),
                    }))
                    .await?,
            ),
            ComplaintWhat::Show { id } => (
                "complaint",
                audit
                    .get_complaint(conn.request(GetComplaintRequest { id }))
                    .await?,
            ),
            ComplaintWhat::Review {
                id,
                action,
                note,
                remedy,
            } => (
                "reviewed",
                audit
                    .review_complaint(conn.request(ReviewComplaintRequest {
                        id,
                        action: match action {
                            ReviewArg::StartReview => ReviewAction::StartReview,
                            ReviewArg::Uphold => ReviewAction::Uphold,
                            ReviewArg::Reject => ReviewAction::Reject,
                        } as i32,
                        note: note.unwrap_or_default(),
                        remedy: remedy.unwrap_or_default(),
                    }))
                    .await?,
            ),
        };
        let complaint = response
            .into_inner()
            .complaint
            .ok_or_else(|| Status::internal("server sent no complaint"))?;
        if args.client.json {
            println!("{:#}", complaint_json(&complaint));
        } else {
            print_complaint(verb, &complaint);
        }
        Ok(())
    })
}

fn print_complaint(verb: &str, complaint: &Complaint) {
    println!(
        "{verb} {}: {} {} {}  state {}{}",
        complaint.id,
        complaint.kind,
        complaint.target_kind,
        if complaint.target.is_empty() {
            "(work text)"
        } else {
            &complaint.target
        },
        complaint.state,
        if complaint.overdue { " (overdue)" } else { "" }
    );
    println!(
        "complainant {}  filed_at {}  due_at {}",
        complaint.complainant, complaint.filed_at, complaint.due_at
    );
    if !complaint.rightholder.is_empty() {
        println!("rightholder {}", complaint.rightholder);
    }
    println!("contents: {}", complaint.content_ids.join(" "));
    if let Some(at) = complaint.decided_at {
        println!(
            "decided_at {at} by {}: {:?}",
            complaint.reviewer, complaint.decision_note
        );
    }
    if !complaint.registry_entry_id.is_empty() {
        println!(
            "registry entry {} (remedy {})",
            complaint.registry_entry_id, complaint.remedy
        );
    }
    for step in &complaint.history {
        println!(
            "  {}  {}  {}  {:?}",
            step.at, step.state, step.actor, step.note
        );
    }
}

/// `provindex claim content|mandate`.
#[derive(Args)]
pub struct ClaimArgs {
    #[command(subcommand)]
    what: ClaimWhat,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Subcommand)]
enum ClaimWhat {
    /// Claim contents for payment (they stay in the training data).
    Content {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Whom the claim pays: default the caller; a CMO names a member
        /// whose mandate is registered.
        #[arg(long)]
        member: Option<String>,
        /// The claim's ground (licence, mandate reference).
        #[arg(long)]
        evidence: String,
    },
    /// Revoke a claim (its claimant, the rightholder it pays, or an admin):
    /// it stays on record and stops paying.
    Revoke {
        /// The claim id (decimal).
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Record that a CMO holds a member's mandate (admin token).
    Mandate {
        #[arg(long)]
        cmo: String,
        #[arg(long)]
        member: String,
        #[arg(long)]
        evidence: Option<String>,
    },
}

pub fn run_claim(args: ClaimArgs) -> ExitCode {
    client::run(async move {
        let scope = match &args.what {
            ClaimWhat::Content { scope, .. } => Some(scope.scope()?),
            ClaimWhat::Revoke { .. } | ClaimWhat::Mandate { .. } => None,
        };
        let conn = Conn::open(&args.client).await?;
        let mut audit = conn.audit();
        match args.what {
            ClaimWhat::Content {
                member, evidence, ..
            } => {
                let claim = audit
                    .claim_content(conn.request(ClaimContentRequest {
                        member: member.unwrap_or_default(),
                        scope: Some(OptOutScope { scope }),
                        evidence,
                    }))
                    .await?
                    .into_inner()
                    .claim;
                print_claim(args.client.json, claim)?;
            }
            ClaimWhat::Revoke { id, reason } => {
                let claim = audit
                    .revoke_claim(conn.request(RevokeClaimRequest { id, reason }))
                    .await?
                    .into_inner()
                    .claim;
                print_claim(args.client.json, claim)?;
            }
            ClaimWhat::Mandate {
                cmo,
                member,
                evidence,
            } => {
                let response = audit
                    .register_mandate(conn.request(RegisterMandateRequest {
                        cmo: cmo.clone(),
                        member: member.clone(),
                        evidence: evidence.unwrap_or_default(),
                    }))
                    .await?
                    .into_inner();
                if args.client.json {
                    println!("{:#}", json!({ "id": response.id }));
                } else {
                    println!("mandate {}: {cmo} for {member}", response.id);
                }
            }
        }
        Ok(())
    })
}

fn print_claim(json_out: bool, claim: Option<Claim>) -> Result<(), Status> {
    let claim = claim.ok_or_else(|| Status::internal("server sent no claim"))?;
    if json_out {
        println!("{:#}", claim_json(&claim));
        return Ok(());
    }
    let mut line = format!(
        "claim {}: {} {} pays {} (claimed by {} at {})",
        claim.id,
        claim.scope_kind,
        claim.scope_key,
        claim.rightholder,
        claim.claimant,
        claim.created_at
    );
    if !claim.evidence.is_empty() {
        line += &format!("  evidence={:?}", claim.evidence);
    }
    if claim.revoked_at != 0 {
        line += &format!(
            "  revoked_at={} ({:?})",
            claim.revoked_at, claim.revocation_reason
        );
    }
    println!("{line}");
    Ok(())
}

// The JSON forms name every field of their proto message with the proto
// field names, as the ones in crate::client; enums by name.

pub fn source_json(source: &Source) -> Value {
    json!({
        "kind": kind_name(source.kind),
        "value": source.value,
    })
}

pub fn pii_count_json(count: &PiiCount) -> Value {
    json!({ "kind": count.kind, "count": count.count })
}

pub fn sample_item_json(item: &SampleItem) -> Value {
    json!({
        "content_id": item.content_id,
        "rank": item.rank,
        "capture_id": item.capture_id,
        "url": item.url,
        "capture_time": item.capture_time,
        "capture_time_raw": item.capture_time_raw,
        "location_uri": item.location_uri,
        "location_offset": item.location_offset,
        "location_length": item.location_length,
        "license_class": item.license_class,
        "license_id": item.license_id,
        "optout_verdict": item.optout_verdict,
        "language": item.language,
        "pii": item.pii.iter().map(pii_count_json).collect::<Vec<_>>(),
        "text": item.text,
        "text_error": item.text_error,
        "source_captures": item.source_captures,
        "content_optout_verdict": item.content_optout_verdict,
    })
}

pub fn draw_sample_json(response: &DrawSampleResponse) -> Value {
    json!({
        "source": response.source.as_ref().map(source_json),
        "seed": response.seed,
        "source_contents": response.source_contents,
        "items": response.items.iter().map(sample_item_json).collect::<Vec<_>>(),
    })
}

pub fn source_rate_json(rate: &SourceRate) -> Value {
    json!({
        "source": rate.source.as_ref().map(source_json),
        "labelled": rate.labelled,
        "failed": rate.failed,
        "rate": rate.rate,
        "interval_low": rate.interval_low,
        "interval_high": rate.interval_high,
        "tc260_sample_verdict": rate.tc260_sample_verdict,
        "tc260_source_usable": rate.tc260_source_usable,
        // A map: serde_json orders its keys.
        "failed_by_category": rate.failed_by_category,
    })
}

pub fn failure_rate_json(response: &SourceFailureRateResponse) -> Value {
    json!({
        "sources": response.sources.iter().map(source_rate_json).collect::<Vec<_>>(),
    })
}

pub fn personal_data_json(response: &FindPersonalDataResponse) -> Value {
    json!({
        "kind": response.kind,
        "content_ids": response.content_ids,
        "truncated": response.truncated,
        "pii_hmac": response.pii_hmac,
    })
}

pub fn complaint_step_json(step: &ComplaintStep) -> Value {
    json!({
        "at": step.at,
        "actor": step.actor,
        "state": step.state,
        "note": step.note,
    })
}

pub fn complaint_json(complaint: &Complaint) -> Value {
    json!({
        "id": complaint.id,
        "kind": complaint.kind,
        "target_kind": complaint.target_kind,
        "target": complaint.target,
        "content_ids": complaint.content_ids,
        "complainant": complaint.complainant,
        "description": complaint.description,
        "state": complaint.state,
        "filed_at": complaint.filed_at,
        "due_at": complaint.due_at,
        "overdue": complaint.overdue,
        "decided_at": complaint.decided_at,
        "reviewer": complaint.reviewer,
        "decision_note": complaint.decision_note,
        "registry_entry_id": complaint.registry_entry_id,
        "remedy": complaint.remedy,
        "history": complaint.history.iter().map(complaint_step_json).collect::<Vec<_>>(),
        "rightholder": complaint.rightholder,
    })
}

pub fn claim_json(claim: &Claim) -> Value {
    json!({
        "id": claim.id,
        "rightholder": claim.rightholder,
        "claimant": claim.claimant,
        "scope_kind": claim.scope_kind,
        "scope_key": claim.scope_key,
        "evidence": claim.evidence,
        "created_at": claim.created_at,
        "revoked_at": claim.revoked_at,
        "revocation_reason": claim.revocation_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(value: &Value) -> usize {
        value.as_object().expect("object").len()
    }

    #[test]
    fn audit_json_names_every_field() {
        // Field counts of the proto messages (audit.proto).
        let item = sample_item_json(&SampleItem {
            pii: vec![PiiCount {
                kind: "email".into(),
                count: 2,
            }],
            ..Default::default()
        });
        assert_eq!(len(&item), 18);
        assert_eq!(item["pii"][0]["count"], 2);
        assert_eq!(len(&item["pii"][0]), 2);
        let sample = draw_sample_json(&DrawSampleResponse {
            source: Some(Source {
                kind: SourceKind::Domain as i32,
                value: "example.com".into(),
            }),
            ..Default::default()
        });
        assert_eq!(len(&sample), 4);
        assert_eq!(sample["source"]["kind"], "domain");
        assert!(draw_sample_json(&DrawSampleResponse::default())["source"].is_null());
        let rate = source_rate_json(&SourceRate {
            failed_by_category: [("copyright".to_owned(), 3)].into(),
            ..Default::default()
        });
        assert_eq!(len(&rate), 9);
        assert_eq!(rate["failed_by_category"]["copyright"], 3);
        assert_eq!(
            len(&failure_rate_json(&SourceFailureRateResponse::default())),
            1
        );
        assert_eq!(
            len(&personal_data_json(&FindPersonalDataResponse::default())),
            4
        );
        let complaint = complaint_json(&Complaint {
            decided_at: Some(7),
            history: vec![ComplaintStep::default()],
            ..Default::default()
        });
        assert_eq!(len(&complaint), 18);
        assert_eq!(complaint["decided_at"], 7);
        assert_eq!(len(&complaint["history"][0]), 4);
        assert!(complaint_json(&Complaint::default())["decided_at"].is_null());
        assert_eq!(len(&claim_json(&Claim::default())), 9);
    }

    #[test]
    fn sources_parse_with_precise_errors() {
        assert_eq!(
            parse_source("input:s3://bucket/a.warc.gz").unwrap(),
            Source {
                kind: SourceKind::Input as i32,
                value: "s3://bucket/a.warc.gz".into()
            }
        );
        assert_eq!(
            parse_source("index").unwrap().kind,
            SourceKind::Index as i32
        );
        assert!(parse_source("index:x").unwrap_err().contains("no value"));
        assert!(
            parse_source("domain")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse_source("site:x")
                .unwrap_err()
                .contains("unknown source kind \"site\"")
        );
    }
}
