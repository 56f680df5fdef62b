//! `provindex export`, `provindex report` and `provindex compensation`: the
//! filtered training manifest, the transparency summary and the pro-rata
//! compensation statement, each computed by one walk over the index.
//!
//! Deduplication is exact: one distinct normalized text (`content_id`) is one
//! sample. Near-duplicate clusters are not built yet (there is no clustering
//! stage), so every distinct content is its own cluster keeper.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use clap::Args;
use provindex_index::IndexReader;
use provindex_index::records::{CaptureRecord, ContentRecord};
use provindex_index::registry::{CoverQuery, CoverReason, Registry};
use serde_json::{Value, json};

/// The dedup rule, as stated in every output.
pub const DEDUP_RULE: &str = "exact deduplication: each distinct normalized text (content_id) \
     counts once; near-duplicate clusters are not built yet (no clustering stage), so every \
     distinct content is its own keeper";

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The index directory.
    index: PathBuf,
    /// The manifest to write (JSONL); the summary goes to FILE.summary.json.
    #[arg(long)]
    out: PathBuf,
    /// Opt-out registry to honour (default: none; only crawl signals apply).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Registry entries in force at this time apply (unix seconds; default now).
    #[arg(long)]
    at: Option<i64>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The index directory.
    index: PathBuf,
    /// Write the summary as JSON here (default: print it on stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with SVG charts here.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompensationArgs {
    /// The index directory.
    index: PathBuf,
    /// The amount to distribute.
    #[arg(long)]
    pool: f64,
    /// Count contents first seen at or after this time (unix seconds).
    #[arg(long)]
    from: Option<i64>,
    /// Count contents first seen at or before this time (unix seconds).
    #[arg(long)]
    to: Option<i64>,
    #[arg(long)]
    csv: PathBuf,
    #[arg(long)]
    json: PathBuf,
}

/// One content with its captures, earliest first (capture time, then id).
struct ContentView {
    id: u128,
    record: ContentRecord,
    captures: Vec<(u128, CaptureRecord)>,
}

impl ContentView {
    fn earliest(&self) -> anyhow::Result<&CaptureRecord> {
        self.captures.first().map(|(_, c)| c).with_context(|| {
            format!(
                "content {:032x} has no captures: the index is inconsistent",
                self.id
            )
        })
    }
}

fn open(index: &Path) -> anyhow::Result<IndexReader> {
    IndexReader::open(index).with_context(|| format!("opening index {}", index.display()))
}

/// Walks every content with its captures; returns the number visited.
fn walk_contents(
    reader: &IndexReader,
    mut visit: impl FnMut(ContentView) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut visited = 0u64;
    reader.for_each_content(|id, record| -> anyhow::Result<()> {
        let mut captures = Vec::new();
        let mut after = None;
        loop {
            let (ids, more) = reader.content_captures(id, after, 1000)?;
            for capture_id in &ids {
                let capture = reader.capture(*capture_id)?.with_context(|| {
                    format!("capture {capture_id:032x} of content {id:032x} is missing")
                })?;
                captures.push((*capture_id, capture));
            }
            after = ids.last().copied();
            if !more || after.is_none() {
                break;
            }
        }
        captures.sort_by_key(|(cid, c)| (c.capture_time, *cid));
        visited += 1;
        visit(ContentView {
            id,
            record,
            captures,
        })
    })?;
    Ok(visited)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn license_of(capture: &CaptureRecord) -> String {
    capture
        .license
        .as_ref()
        .and_then(|l| {
            [&l.spdx, &l.id]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn license_class(capture: &CaptureRecord) -> String {
    capture
        .license
        .as_ref()
        .map(|l| l.class.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn domain_of(capture: &CaptureRecord) -> String {
    if capture.registered_domain.is_empty() {
        "(none)".into()
    } else {
        capture.registered_domain.clone()
    }
}

/// `crawl_signal:KIND` when any capture's crawl-signal verdict is `reserved`
/// (KIND: the deciding signal's kind).
fn crawl_signal_reason(view: &ContentView) -> Option<String> {
    view.captures
        .iter()
        .map(|(_, c)| c)
        .find(|c| c.optout_verdict == "reserved")
        .map(|c| {
            let kind = c
                .optout_decider
                .and_then(|i| c.signals.get(i as usize))
                .map(|s| s.kind.clone())
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "unknown".into());
            format!("crawl_signal:{kind}")
        })
}

/// Writes `path` atomically: into `path.tmp`, fsync, rename, fsync the directory.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?
        .to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let result = (|| -> anyhow::Result<()> {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Ok(dir) = File::open(parent.unwrap_or_else(|| Path::new("."))) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)?;
        Ok(())
    })
}

/// `FILE.jsonl` → `FILE.summary.json` (other names: `NAME.summary.json`).
fn summary_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    out.with_file_name(format!("{stem}.summary.json"))
}

// ---------------------------------------------------------------- export

pub fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let reader = open(&args.index)?;
    let registry = match &args.registry {
        Some(path) => Some(
            Registry::open_read_only(path)
                .with_context(|| format!("opening registry {}", path.display()))?,
        ),
        None => None,
    };
    let at = args.at.unwrap_or_else(now);
    let index_spec = reader.manifest().sketch_spec.clone();
    let mut kept = 0u64;
    let mut kept_tokens = 0u64;
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    let mut matched: BTreeMap<String, u64> = BTreeMap::new();
    let mut contents = 0u64;
    write_atomically(&args.out, |w| {
        contents = walk_contents(&reader, |view| {
            let signal = crawl_signal_reason(&view);
            let from_registry = match &registry {
                Some(registry) => registry_reasons(registry, &reader, &view, at, &index_spec)?,
                None => Vec::new(),
            };
            for reason in signal.iter().chain(&from_registry) {
                *matched.entry(reason.clone()).or_default() += 1;
            }
            // Crawl signals first (they were stated at capture time), then the
            // registry entry with the lowest id.
            if let Some(reason) = signal.or_else(|| from_registry.into_iter().next()) {
                *excluded.entry(reason).or_default() += 1;
                return Ok(());
            }
            let earliest = view.earliest()?;
            let line = json!({
                "content_id": format!("{:032x}", view.id),
                "sha256": hex(&view.record.sha256),
                "url": earliest.url,
                "license": license_of(earliest),
            });
            serde_json::to_writer(&mut *w, &line)?;
            w.write_all(b"\n")?;
            kept += 1;
            kept_tokens += view.record.token_count;
            Ok(())
        })?;
        let excluded_total: u64 = excluded.values().sum();
        ensure!(
            kept + excluded_total == contents,
            "export does not reconcile: kept {kept} + excluded {excluded_total} != {contents} contents walked"
        );
        ensure!(
            contents == reader.manifest().contents,
            "export does not reconcile: {contents} contents walked, the manifest says {}",
            reader.manifest().contents
        );
        Ok(())
    })?;
    let excluded_total: u64 = excluded.values().sum();
    let summary_file = summary_path(&args.out);
    let summary = json!({
        "index": args.index.display().to_string(),
        "registry": args.registry.as_ref().map(|p| p.display().to_string()),
        "at": at,
        "manifest": args.out.display().to_string(),
        "contents": contents,
        "kept": kept,
        "kept_tokens": kept_tokens,
        "excluded": excluded_total,
        "excluded_by_reason": excluded,
        "matched_by_reason": matched,
        "reason_rule": "one reason per excluded content: a reserved crawl-signal verdict on any capture (crawl_signal:KIND of the deciding signal) before registry entries in force at `at` (registry:SCOPE_KIND of the lowest entry id); matched_by_reason counts every reason that applied",
        "dedup": DEDUP_RULE,
    });
    write_json(&summary_file, &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// `registry:SCOPE_KIND` of every entry in force at `at` covering the content
/// (by its id and MinHash signature) or any of its captures (SURT key,
/// registered domain), distinct, in order of their lowest entry id.
fn registry_reasons(
    registry: &Registry,
    reader: &IndexReader,
    view: &ContentView,
    at: i64,
    index_spec: &str,
) -> anyhow::Result<Vec<String>> {
    let signature: Option<Vec<u32>> = reader.signature(view.id)?.map(|bytes| {
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    });
    let mut coverages = registry.covering(&CoverQuery {
        content_id: Some(view.id),
        signature: signature.as_deref(),
        ..CoverQuery::default()
    });
    for (_, capture) in &view.captures {
        coverages.extend(registry.covering(&CoverQuery {
            surt_key: Some(&capture.surt),
            registered_domain: Some(&capture.registered_domain),
            ..CoverQuery::default()
        }));
    }
    let mut by_id: BTreeMap<u64, String> = BTreeMap::new();
    for coverage in coverages {
        let entry = &coverage.entry;
        if !entry.in_effect_at(at) {
            continue;
        }
        // A near-duplicate match is meaningful only between signatures made
        // with the same sketch parameters.
        if matches!(coverage.reason, CoverReason::WorkNear { .. })
            && !entry.sketch_spec.is_empty()
            && !index_spec.is_empty()
            && entry.sketch_spec != index_spec
        {
            continue;
        }
        by_id.insert(
            entry.id,
            format!("registry:{}", entry.scope.kind().as_str()),
        );
    }
    let mut reasons: Vec<String> = Vec::new();
    for reason in by_id.into_values() {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    Ok(reasons)
}

// ---------------------------------------------------------------- report

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Builds the transparency summary; errors on an index without contents.
pub fn build_report(reader: &IndexReader, index: &Path) -> anyhow::Result<Value> {
    let manifest = reader.manifest();
    let mut captures = 0u64;
    let mut captures_with_text = 0u64;
    let mut captures_reserved = 0u64;
    let mut crawls: BTreeSet<String> = manifest.crawls.iter().cloned().collect();
    let mut period: Option<(i64, i64)> = None;
    let mut domains_with_text: BTreeSet<String> = BTreeSet::new();
    reader.for_each_capture(|_, capture| -> anyhow::Result<()> {
        captures += 1;
        if !capture.crawl.is_empty() {
            crawls.insert(capture.crawl.clone());
        }
        if capture.capture_time > 0 {
            let t = capture.capture_time;
            period = Some(period.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        }
        if !capture.content_id.is_empty() {
            captures_with_text += 1;
            domains_with_text.insert(domain_of(&capture));
        }
        if capture.optout_verdict == "reserved" {
            captures_reserved += 1;
        }
        Ok(())
    })?;
    let mut contents = 0u64;
    let mut tokens = 0u64;
    let mut domain_tokens: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut licenses: BTreeMap<String, u64> = BTreeMap::new();
    let mut reserved_contents = 0u64;
    let mut reserved_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let walked = walk_contents(reader, |view| {
        let earliest = view.earliest()?;
        contents += 1;
        tokens += view.record.token_count;
        let slot = domain_tokens.entry(domain_of(earliest)).or_default();
        slot.0 += view.record.token_count;
        slot.1 += 1;
        *licenses.entry(license_class(earliest)).or_default() += 1;
        if let Some(reason) = crawl_signal_reason(&view) {
            reserved_contents += 1;
            let kind = reason.trim_start_matches("crawl_signal:").to_owned();
            *reserved_by_kind.entry(kind).or_default() += 1;
        }
        Ok(())
    })?;
    if walked == 0 {
        bail!(
            "index {} holds no contents ({} captures, none with text): nothing to summarize",
            index.display(),
            captures
        );
    }
    ensure!(
        captures_with_text > 0,
        "index {} has {walked} contents but no capture with text: the index is inconsistent",
        index.display()
    );
    let domain_count = domains_with_text.len().max(domain_tokens.len());
    let top_n = (domain_count.div_ceil(10)).max(1);
    let mut ranked: Vec<(&String, &(u64, u64))> = domain_tokens.iter().collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    let top: Vec<Value> = ranked
        .iter()
        .take(top_n)
        .map(|(domain, (t, c))| {
            json!({"domain": domain, "tokens": t, "contents": c, "share_of_tokens": share(*t, tokens)})
        })
        .collect();
    let top_tokens: u64 = ranked.iter().take(top_n).map(|(_, (t, _))| *t).sum();
    let license_mix: Vec<Value> = licenses
        .iter()
        .map(|(class, n)| json!({"class": class, "contents": n, "share": share(*n, contents)}))
        .collect();
    let (from, to) = period.unwrap_or((0, 0));
    Ok(json!({
        "title": "Summary of the content used for training (provenance index)",
        "index": index.display().to_string(),
        "index_digest": manifest.digest,
        "built_at": manifest.built_at,
        "generated_at": now(),
        "crawls": crawls,
        "collection_period": {
            "from": from, "to": to,
            "from_utc": utc(from), "to_utc": utc(to),
        },
        "totals": {
            "captures": captures,
            "captures_with_text": captures_with_text,
            "contents": contents,
            "tokens_after_exact_dedup": tokens,
            "registered_domains": domain_count,
        },
        "top_domains": {
            "rule": "top 10% of registered domains (rounded up, at least 1) by tokens after exact deduplication; a content's tokens go to the registered domain of its earliest capture",
            "count": top_n,
            "share_of_tokens": share(top_tokens, tokens),
            "domains": top,
        },
        "license_mix": {
            "rule": "share of contents by the license class of the earliest capture; unknown = no license stated",
            "classes": license_mix,
        },
        "reservation_signals": {
            "contents_with_reservation": reserved_contents,
            "share_of_contents": share(reserved_contents, contents),
            "captures_reserved": captures_reserved,
            "by_signal_kind": reserved_by_kind,
            "honoured": "a content with a reserved crawl-signal verdict on any capture is excluded from `provindex export` (reason crawl_signal:KIND); registry opt-outs are excluded as well",
            "excluded_from_export": reserved_contents,
        },
        "duplicates": {
            "captures_with_text": captures_with_text,
            "contents": contents,
            "duplicate_rate": 1.0 - share(contents, captures_with_text),
            "rule": "1 - contents / captures with text (exact duplicates)",
            "near_duplicates": "not measured: no clustering stage yet",
        },
        "dedup": DEDUP_RULE,
    }))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (proleptic Gregorian, UTC).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let reader = open(&args.index)?;
    let report = build_report(&reader, &args.index)?;
    match &args.json {
        Some(path) => write_json(path, &report)?,
        None => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(path) = &args.html {
        let page = render_html(&report);
        write_atomically(path, |w| Ok(w.write_all(page.as_bytes())?))?;
    }
    if let Some(path) = &args.json {
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.html {
        println!("html: {}", path.display());
    }
    Ok(())
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A horizontal bar chart: one bar per (label, share in 0..=1).
fn svg_bars(title: &str, rows: &[(String, f64)]) -> String {
    let height = 24 * rows.len() + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 5 + 24 * i;
        let width = (value.clamp(0.0, 1.0) * 380.0).round();
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
             <rect x=\"200\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#3b6ea5\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            esc(label),
            205.0 + width,
            y + 14,
            pct(*value)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn render_html(report: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let totals = &report["totals"];
    let domains: Vec<(String, f64)> = report["top_domains"]["domains"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                s(&d["domain"]),
                d["share_of_tokens"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let licenses: Vec<(String, f64)> = report["license_mix"]["classes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (s(&c["class"]), c["share"].as_f64().unwrap_or(0.0)))
        .collect();
    let crawls: Vec<String> = report["crawls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    let reservation = &report["reservation_signals"];
    let duplicates = &report["duplicates"];
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!("<title>{}</title>", esc(&s(&report["title"]))));
    html.push_str(
        "<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         .note{color:#555;font-size:90%}</style></head><body>",
    );
    html.push_str(&format!("<h1>{}</h1>", esc(&s(&report["title"]))));
    html.push_str(&format!(
        "<p class=\"note\">Index {} (digest {}), in the spirit of the EU AI Act training-content summary template.</p>",
        esc(&s(&report["index"])),
        esc(&s(&report["index_digest"]))
    ));
    html.push_str("<h2>1. Sources and collection period</h2><table>");
    html.push_str(&format!(
        "<tr><th>Crawls</th><td>{}</td></tr>",
        esc(&crawls.join(", "))
    ));
    html.push_str(&format!(
        "<tr><th>Collection period</th><td>{} – {}</td></tr>",
        esc(&s(&report["collection_period"]["from_utc"])),
        esc(&s(&report["collection_period"]["to_utc"]))
    ));
    for (label, key) in [
        ("Captures", "captures"),
        ("Captures with text", "captures_with_text"),
        ("Distinct contents", "contents"),
        (
            "Tokens after exact deduplication",
            "tokens_after_exact_dedup",
        ),
        ("Registered domains", "registered_domains"),
    ] {
        html.push_str(&format!(
            "<tr><th>{label}</th><td>{}</td></tr>",
            esc(&s(&totals[key]))
        ));
    }
    html.push_str("</table>");
    html.push_str(&format!(
        "<h2>2. Top domains by share of tokens</h2><p class=\"note\">{}</p>",
        esc(&s(&report["top_domains"]["rule"]))
    ));
    html.push_str(&svg_bars("Top domains by share of tokens", &domains));
    html.push_str(&format!(
        "<p>The top {} domain(s) hold {} of all tokens.</p>",
        esc(&s(&report["top_domains"]["count"])),
        pct(report["top_domains"]["share_of_tokens"]
            .as_f64()
            .unwrap_or(0.0))
    ));
    html.push_str(&format!(
        "<h2>3. License mix</h2><p class=\"note\">{}</p>",
        esc(&s(&report["license_mix"]["rule"]))
    ));
    html.push_str(&svg_bars("License mix", &licenses));
    html.push_str("<h2>4. Reservation of rights (opt-outs)</h2><table>");
    html.push_str(&format!(
        "<tr><th>Contents with a reservation signal</th><td>{} ({})</td></tr>",
        esc(&s(&reservation["contents_with_reservation"])),
        pct(reservation["share_of_contents"].as_f64().unwrap_or(0.0))
    ));
    html.push_str(&format!(
        "<tr><th>Captures with a reserved verdict</th><td>{}</td></tr>",
        esc(&s(&reservation["captures_reserved"]))
    ));
    html.push_str(&format!(
        "<tr><th>How honoured</th><td>{}</td></tr></table>",
        esc(&s(&reservation["honoured"]))
    ));
    html.push_str("<h2>5. Duplicates</h2>");
    let rate = duplicates["duplicate_rate"].as_f64().unwrap_or(0.0);
    html.push_str(&svg_bars(
        "Duplicate rate",
        &[
            ("duplicate captures".into(), rate),
            ("distinct contents".into(), 1.0 - rate),
        ],
    ));
    html.push_str(&format!(
        "<p class=\"note\">{}. {}</p>",
        esc(&s(&duplicates["rule"])),
        esc(&s(&report["dedup"]))
    ));
    html.push_str("</body></html>\n");
    html
}

// ---------------------------------------------------------------- compensation

pub fn run_compensation(args: CompensationArgs) -> anyhow::Result<()> {
    ensure!(
        args.pool.is_finite() && args.pool >= 0.0,
        "--pool must be a finite amount >= 0, got {}",
        args.pool
    );
    if let (Some(from), Some(to)) = (args.from, args.to) {
        ensure!(from <= to, "--from {from} is after --to {to}");
    }
    let reader = open(&args.index)?;
    let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut total_tokens = 0u64;
    let mut counted = 0u64;
    walk_contents(&reader, |view| {
        let earliest = view.earliest()?;
        let first_seen = earliest.capture_time;
        if args.from.is_some_and(|f| first_seen < f) || args.to.is_some_and(|t| first_seen > t) {
            return Ok(());
        }
        let slot = rows.entry(domain_of(earliest)).or_default();
        slot.0 += 1;
        slot.1 += view.record.token_count;
        counted += 1;
        total_tokens += view.record.token_count;
        Ok(())
    })?;
    ensure!(
        total_tokens > 0,
        "no tokens in contents first seen in the period ({counted} contents): nothing to distribute"
    );
    let mut ranked: Vec<(String, (u64, u64))> = rows.into_iter().collect();
    ranked.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| a.0.cmp(&b.0)));
    let out: Vec<Value> = ranked
        .iter()
        .map(|(domain, (contents, tokens))| {
            let share = share(*tokens, total_tokens);
            json!({"registered_domain": domain, "contents": contents, "tokens": tokens,
                   "share": share, "amount": args.pool * share})
        })
        .collect();
    let statement = json!({
        "index": args.index.display().to_string(),
        "pool": args.pool,
        "from": args.from,
        "to": args.to,
        "contents": counted,
        "tokens": total_tokens,
        "rule": "pro rata by tokens after exact deduplication: each distinct content counts once, attributed to the registered domain of its earliest capture, and only when that capture falls in [from, to]; near-duplicate clusters are not built yet, so each distinct content is its own cluster",
        "shares": out,
    });
    write_atomically(&args.csv, |w| {
        writeln!(w, "registered_domain,contents,tokens,share,amount")?;
        for (domain, (contents, tokens)) in &ranked {
            let share = share(*tokens, total_tokens);
            writeln!(
                w,
                "{},{contents},{tokens},{share:.9},{:.2}",
                csv_field(domain),
                args.pool * share
            )?;
        }
        Ok(())
    })?;
    write_json(&args.json, &statement)?;
    println!(
        "distributed {} over {} domains ({} contents, {} tokens): {}, {}",
        args.pool,
        ranked.len(),
        counted,
        total_tokens,
        args.csv.display(),
        args.json.display()
    );
    Ok(())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
