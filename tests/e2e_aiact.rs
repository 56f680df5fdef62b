//! The AI Act training-content summary end to end (issue 19): `provindex
//! index` over two real crawls (gov.uk 2014, written by Heritrix; the
//! reservation crawl, every opt-out signal) and a JSONL dataset; `provindex
//! serve` takes a domain opt-out, a source block of the dataset and a
//! complaint through a real gRPC client; `provindex report --aiact-json
//! --aiact-html --registry` writes the summary. Every figure is checked
//! against values worked out here apart from the summary's code: the
//! crawler's user agent from the WARC's own warcinfo block (read with a
//! separate, deliberately simple parser), the collection period from the
//! WARC-Dates, the top domains from the index's rows, the opt-out exclusions
//! from the hand-computed reservation table (tests/reservation_table), and
//! the HTML is parsed (Python's html.parser) and must hold those figures,
//! escaped.

mod common;
mod reservation_table;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use common::{ServerProcess as Server, corpus_dir, run_ok, scan_warc, with_token};
use provindex_index::IndexReader;
use provindex_proto::v1::{
    DrawSampleRequest, FileComplaintRequest, LabelVerdict, OptOutScope, RecordLabelRequest,
    RegisterOptOutRequest, Source, SourceBlockScope, SourceKind,
    audit_service_client::AuditServiceClient, file_complaint_request, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient, source_block_scope,
};
use serde_json::Value;

const OPS: &str = "ops-token-0123456789";
const ANN: &str = "ann-token-0123456789";
/// A provider name that must come out escaped in the HTML.
const PROVIDER: &str = "ACME <AI> & \"Co\"";

/// The fields of the first `warcinfo` record of a gzipped WARC: the block
/// split at `name: value` lines (a reader apart from provindex-corpus).
fn warcinfo_of(path: &Path) -> BTreeMap<String, String> {
    let mut data = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open warc"))
        .read_to_end(&mut data)
        .expect("gunzip");
    let text = String::from_utf8_lossy(&data);
    let start = text.find("WARC-Type: warcinfo").expect("a warcinfo record");
    let header_end = start + text[start..].find("\r\n\r\n").expect("header end");
    let length: usize = text[start..header_end]
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length:"))
        .expect("Content-Length")
        .trim()
        .parse()
        .expect("length");
    let block = &text[header_end + 4..header_end + 4 + length];
    block
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Unix seconds of a WARC-Date (`YYYY-MM-DDTHH:MM:SSZ`).
fn unix(date: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| -> i64 { date[range].parse().expect("digits") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// Parses the page with Python's html.parser: fails on unbalanced tags, a
/// script, or anything loaded from elsewhere; prints the text content.
fn html_text(path: &Path) -> String {
    const CHECK: &str = r#"
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "area", "base", "col", "source"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text = [], []
    def handle_starttag(self, tag, attrs):
        assert tag != "script", "script"
        for name, value in attrs:
            assert name not in ("src", "href") or not value, (tag, name, value)
            assert not name.startswith("on"), (tag, name)
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        pass
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, ("unbalanced", tag, self.stack[-3:])
        self.stack.pop()
    def handle_data(self, data):
        self.text.append(data)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
assert not p.stack, ("unclosed", p.stack)
sys.stdout.write(" ".join(" ".join(p.text).split()))
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "the HTML does not parse: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_act_summary_figures_match_the_crawls_and_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let govuk = corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz");
    let reservations = reservation_table::reservations_warc();
    let dataset = corpus_dir().join("jsonl/cc_en_head-0174.jsonl.gz");
    run_ok(&[
        "index".as_ref(),
        govuk.as_os_str(),
        reservations.as_os_str(),
        dataset.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
        "--crawl".as_ref(),
        "aiact-test".as_ref(),
    ]);
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{OPS}": {{"role": "admin", "name": "ops"}},
                "{ANN}": {{"role": "reader", "name": "ann"}}
            }}}}"#
        ),
    )
    .expect("auth");

    // Facts from the index's rows: each content's captures (input, host,
    // registered domain, kind, time), tokens, keeper flag.
    struct Facts {
        tokens: u64,
        keeper: bool,
        /// (time, capture id, registered domain, input, is a dataset record)
        captures: Vec<(i64, u128, String, String, bool)>,
    }
    let (facts, dataset_input) = {
        let reader = IndexReader::open(&index).expect("open");
        let mut by_content: BTreeMap<u128, Facts> = BTreeMap::new();
        reader
            .for_each_content(|id, record| -> Result<(), provindex_index::IndexError> {
                by_content.insert(
                    id,
                    Facts {
                        tokens: record.token_count,
                        keeper: record.is_keeper(id),
                        captures: Vec::new(),
                    },
                );
                Ok(())
            })
            .expect("contents");
        let mut dataset_input = None;
        reader
            .for_each_capture(|id, capture| -> Result<(), provindex_index::IndexError> {
                let is_dataset = capture.location_uri.ends_with(".jsonl.gz");
                if is_dataset {
                    dataset_input = Some(capture.location_uri.clone());
                }
                if capture.content_id.len() == 16 {
                    let content = u128::from_be_bytes(capture.content_id[..].try_into().unwrap());
                    by_content
                        .get_mut(&content)
                        .expect("content of capture")
                        .captures
                        .push((
                            capture.capture_time,
                            id,
                            capture.registered_domain.clone(),
                            capture.location_uri.clone(),
                            is_dataset,
                        ));
                }
                Ok(())
            })
            .expect("captures");
        for f in by_content.values_mut() {
            f.captures.sort();
        }
        (by_content, dataset_input.expect("dataset captures"))
    };
    let dataset_contents = facts
        .values()
        .filter(|f| f.captures.iter().any(|c| c.3 == dataset_input))
        .count() as u64;
    assert!(dataset_contents > 0);

    // The registry: a domain opt-out, a source block of the dataset, a complaint.
    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            auth.as_os_str(),
            "--create-registry".as_ref(),
        ] as &[&OsStr],
    );
    let channel = server.channel().await;
    let mut optouts = OptOutServiceClient::new(channel.clone());
    for (holder, scope) in [
        ("Noai Meta Ltd", Scope::Domain("noai-meta.example".into())),
        (
            "",
            Scope::SourceBlock(SourceBlockScope {
                source: Some(source_block_scope::Source::Input(dataset_input.clone())),
            }),
        ),
    ] {
        optouts
            .register_opt_out(with_token(
                RegisterOptOutRequest {
                    rightholder: holder.into(),
                    scope: Some(OptOutScope { scope: Some(scope) }),
                    effective_from: Some(0),
                    evidence: "test".into(),
                },
                OPS,
            ))
            .await
            .expect("register");
    }
    AuditServiceClient::new(channel.clone())
        .file_complaint(with_token(
            FileComplaintRequest {
                kind: "copyright".into(),
                target: Some(file_complaint_request::Target::Url(
                    "https://noai-meta.example/about.html".into(),
                )),
                description: "my text".into(),
                rightholder: String::new(),
            },
            ANN,
        ))
        .await
        .expect("complaint");
    // Review labels on a sample of data.gov.uk: the first item failed, then
    // passed (its latest label counts), two fail with their categories.
    let mut audit = AuditServiceClient::new(channel.clone());
    let source = Some(Source {
        kind: SourceKind::Domain.into(),
        value: "data.gov.uk".into(),
    });
    let drawn = audit
        .draw_sample(DrawSampleRequest {
            source: source.clone(),
            n: 3,
            seed: 7,
            include_text: false,
        })
        .await
        .expect("sample")
        .into_inner();
    assert_eq!(drawn.items.len(), 3);
    for (item, verdict, category) in [
        (0, LabelVerdict::Fail, "spam"),
        (0, LabelVerdict::Pass, ""),
        (1, LabelVerdict::Fail, "unlawful_content"),
        (2, LabelVerdict::Fail, "personal_data"),
    ] {
        audit
            .record_label(with_token(
                RecordLabelRequest {
                    source: source.clone(),
                    n: 3,
                    seed: 7,
                    content_id: drawn.items[item].content_id.clone(),
                    verdict: verdict.into(),
                    category: category.into(),
                    note: String::new(),
                },
                OPS,
            ))
            .await
            .expect("label");
    }
    drop(server);

    let json = dir.path().join("aiact.json");
    let html = dir.path().join("aiact.html");
    run_ok(&[
        "report".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
        dir.path().join("report.json").as_os_str(),
        "--aiact-json".as_ref(),
        json.as_os_str(),
        "--aiact-html".as_ref(),
        html.as_os_str(),
        "--registry".as_ref(),
        dir.path().join("index.registry").as_os_str(),
        "--provider".as_ref(),
        PROVIDER.as_ref(),
    ]);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    let crawled = &summary["data_sources"]["crawled"];

    // 2.3.1 Crawlers: from each WARC's warcinfo, the dataset has none.
    let crawlers = crawled["crawlers"].as_array().expect("crawlers");
    assert_eq!(crawlers.len(), 2, "{crawlers:?}");
    for warc in [&govuk, &reservations] {
        let info = warcinfo_of(warc);
        let name = warc.file_name().unwrap().to_str().unwrap();
        let crawler = crawlers
            .iter()
            .find(|c| {
                c["inputs"]
                    .as_array()
                    .is_some_and(|i| i.len() == 1 && i[0].as_str().unwrap().ends_with(name))
            })
            .unwrap_or_else(|| panic!("no crawler for {name}: {crawlers:?}"));
        let field = |k: &str| info.get(k).cloned().unwrap_or_default();
        assert_eq!(crawler["name"], field("software"), "{name}");
        assert_eq!(
            crawler["user_agent"],
            field("http-header-user-agent"),
            "{name}"
        );
        assert_eq!(crawler["robots_policy"], field("robots"), "{name}");
        assert_eq!(crawler["operator"], field("operator"), "{name}");
        assert_eq!(
            crawler["warcinfo"].as_array().unwrap().len(),
            info.len(),
            "{name}"
        );
    }
    let govuk_info = warcinfo_of(&govuk);
    let user_agent = govuk_info["http-header-user-agent"].clone();
    assert!(
        user_agent.starts_with("bl.uk_lddc_bot/3.1.1"),
        "{user_agent}"
    );
    assert_eq!(govuk_info["robots"], "classic");
    assert_eq!(crawled["inputs_without_warcinfo"], serde_json::json!([]));

    // 2.3.2 Collection period: the WARCs' first and last capture dates.
    let dates: Vec<i64> = [&govuk, &reservations]
        .iter()
        .flat_map(|w| scan_warc(w))
        .filter(|r| matches!(r.warc_type.as_str(), "response" | "revisit" | "resource"))
        .map(|r| unix(&r.warc_date))
        .collect();
    let (from, to) = (*dates.iter().min().unwrap(), *dates.iter().max().unwrap());
    assert_eq!(crawled["collection_period"]["from"], from);
    assert_eq!(crawled["collection_period"]["to"], to);
    assert!(
        crawled["collection_period"]["to_utc"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-01")
    );
    assert!(
        crawled["collection_period"]["from_utc"]
            .as_str()
            .unwrap()
            .starts_with("2014-")
    );

    // 2.1 The dataset, with its contents; 2.2, 2.4–2.6 not in the index.
    let datasets = summary["data_sources"]["public_datasets"]["datasets"]
        .as_array()
        .expect("datasets");
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0]["input"], dataset_input);
    let dataset_lines = {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&dataset).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        text.lines().filter(|l| !l.trim().is_empty()).count() as u64
    };
    assert_eq!(datasets[0]["captures"], dataset_lines);
    assert_eq!(datasets[0]["contents"], dataset_contents);
    assert_eq!(summary["data_sources"]["user_data"]["used_in_index"], false);

    // 2.3.4 Top domains: keepers' tokens by the registered domain of their
    // earliest capture, crawled contents only; 10% and the SME variant.
    let mut by_domain: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut text_tokens = 0u64;
    for f in facts.values().filter(|f| f.keeper) {
        text_tokens += f.tokens;
        let earliest = &f.captures[0];
        if !earliest.4 {
            let slot = by_domain.entry(earliest.2.clone()).or_default();
            slot.0 += f.tokens;
            slot.1 += 1;
        }
    }
    let mut ranked: Vec<(String, u64)> = by_domain
        .iter()
        .map(|(d, (t, _))| (d.clone(), *t))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assert!(
        ranked.len() >= 11,
        "enough domains for two list sizes: {ranked:?}"
    );
    let top10 = ranked.len().div_ceil(10);
    let top5 = ranked.len().div_ceil(20).min(1000);
    assert_ne!(top10, top5);
    for (key, n) in [("top_domains", top10), ("top_domains_sme", top5)] {
        let got: Vec<(String, u64)> = crawled[key]["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["domain"].as_str().unwrap().to_owned(),
                    d["tokens"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, ranked[..n].to_vec(), "{key}");
        assert_eq!(crawled[key]["count"], n as u64);
    }
    assert_eq!(crawled["registered_domains"], ranked.len() as u64);

    // 1. Text size and its band.
    let text = &summary["general_information"]["modalities"][0];
    assert_eq!(text["modality"], "text");
    assert_eq!(text["tokens"], text_tokens);
    assert_eq!(text["size_band"], "less than 1 billion tokens");
    assert_eq!(summary["general_information"]["provider"], PROVIDER);

    // 3.1 Opt-outs honoured: the reservation crawl's table, and the domain
    // opt-out excluding the noai-meta.example pages no crawl signal took.
    let on_noai_meta = |url: &str| url.starts_with("https://noai-meta.example/");
    let mut expected: BTreeMap<String, u64> = reservation_table::EXPORT_EXCLUDED
        .iter()
        .map(|(r, n)| ((*r).to_owned(), *n))
        .collect();
    let kept_on_domain = reservation_table::KEPT_URLS
        .iter()
        .filter(|url| on_noai_meta(url))
        .count() as u64;
    assert!(kept_on_domain > 0);
    expected.insert("registry:domain".into(), kept_on_domain);
    let measures = summary["data_processing"]["reservations_of_rights"]["measures"]
        .as_array()
        .expect("measures");
    let got: BTreeMap<String, u64> = measures
        .iter()
        .map(|m| {
            (
                m["reason"].as_str().unwrap().to_owned(),
                m["contents_excluded"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let all_on_domain = reservation_table::CAPTURES
        .iter()
        .map(|e| e.url)
        .filter(|url| on_noai_meta(url))
        .collect::<BTreeSet<_>>()
        .len() as u64;
    let domain_row = measures
        .iter()
        .find(|m| m["reason"] == "registry:domain")
        .unwrap();
    assert_eq!(domain_row["contents_matched"], all_on_domain);
    assert_eq!(
        summary["data_processing"]["reservations_of_rights"]["contents_excluded"],
        expected.values().sum::<u64>()
    );

    // 3.2 Removals and complaints.
    let illegal = &summary["data_processing"]["illegal_content"];
    assert_eq!(illegal["source_blocks_in_force"], 1);
    assert_eq!(illegal["contents_source_blocked"], dataset_contents);
    assert_eq!(illegal["complaints"]["total"], 1);
    assert_eq!(illegal["complaints"]["by_kind"]["copyright"], 1);
    assert_eq!(illegal["complaints"]["by_state"]["received"], 1);
    assert_eq!(illegal["audit"]["labelled"], 3);
    assert_eq!(illegal["audit"]["failed"], 2);
    assert_eq!(
        illegal["audit"]["failed_by_category"],
        serde_json::json!({"personal_data": 1, "unlawful_content": 1})
    );

    // The HTML: parses, no script or outside asset, holds the figures, escaped.
    let raw = std::fs::read_to_string(&html).expect("html");
    let shown = html_text(&html);
    assert!(raw.contains("<svg"), "charts are inline SVG");
    assert!(raw.contains("ACME &lt;AI&gt; &amp; &quot;Co&quot;"));
    assert!(!raw.contains(PROVIDER));
    assert!(shown.contains(PROVIDER), "{shown}");
    assert!(shown.contains(&user_agent), "the crawler's user agent");
    assert!(shown.contains(&format!(
        "{} contents excluded for a reservation of rights",
        expected.values().sum::<u64>()
    )));
    for (domain, tokens) in &ranked[..top10] {
        assert!(shown.contains(domain.as_str()), "{domain}");
        assert!(
            shown.contains(&format!("{tokens} tokens")),
            "{domain} {tokens}"
        );
    }
    for heading in [
        "2.3 Data crawled and scraped from online sources",
        "3.1 Respect of reservation of rights",
        "3.2 Removal of illegal content",
        "less than 1 billion tokens",
    ] {
        assert!(shown.contains(heading), "{heading}");
    }
}

/// An incremental build (`--base`) keeps the base's crawlers: the new
/// index's summary lists the base crawl's warcinfo with the base's input and
/// the new crawl's with its own.
#[test]
fn an_incremental_build_keeps_the_base_crawlers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base");
    let next = dir.path().join("next");
    let govuk = corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz");
    let reservations = reservation_table::reservations_warc();
    run_ok(&[
        "index".as_ref(),
        govuk.as_os_str(),
        "--out".as_ref(),
        base.as_os_str(),
    ]);
    run_ok(&[
        "index".as_ref(),
        reservations.as_os_str(),
        "--base".as_ref(),
        base.as_os_str(),
        "--out".as_ref(),
        next.as_os_str(),
    ]);
    let json = dir.path().join("aiact.json");
    run_ok(&[
        "report".as_ref(),
        next.as_os_str(),
        "--json".as_ref(),
        dir.path().join("report.json").as_os_str(),
        "--aiact-json".as_ref(),
        json.as_os_str(),
    ]);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    let crawlers: BTreeMap<String, (String, Vec<String>)> =
        summary["data_sources"]["crawled"]["crawlers"]
            .as_array()
            .expect("crawlers")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    (
                        c["user_agent"].as_str().unwrap().to_owned(),
                        c["inputs"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|i| i.as_str().unwrap().to_owned())
                            .collect(),
                    ),
                )
            })
            .collect();
    let govuk_info = warcinfo_of(&govuk);
    let reservations_info = warcinfo_of(&reservations);
    assert_eq!(crawlers.len(), 2, "{crawlers:?}");
    let (agent, inputs) = &crawlers[&govuk_info["software"]];
    assert_eq!(agent, &govuk_info["http-header-user-agent"]);
    assert_eq!(inputs.len(), 1);
    assert!(
        inputs[0].ends_with("gov.uk-2014-crawl-a.warc.gz"),
        "{inputs:?}"
    );
    let (_, inputs) = &crawlers[&reservations_info["software"]];
    assert!(inputs[0].ends_with("reservations.warc.gz"), "{inputs:?}");
    assert_eq!(
        summary["data_sources"]["crawled"]["inputs_without_warcinfo"],
        serde_json::json!([])
    );
}
