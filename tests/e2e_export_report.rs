//! `provindex export`, `report` and `compensation` end to end, with real
//! processes on the real corpus (gov.uk crawl a + b, iana.org): the numbers
//! are checked against `provindex info` and against values computed here
//! independently from the server's `LookupUrl` / `LookupContent` answers.
//!
//! Near-duplicate clusters: only a cluster's keeper counts (export, tokens,
//! compensation). The content ids come from the index's contents table, the
//! clusters from `LookupContent`, and the keeper rule (earliest first capture,
//! ties by the smallest content_id) is re-derived here from the captures.

mod common;
mod reservation_table;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    ServerProcess, corpus_dir, gov_uk_and_iana_warcs, moto_venv, provindex_bin, run_ok, start_moto,
    with_moto_store, with_token,
};
use provindex_proto::v1::{
    Capture, ExportTrainingManifestRequest, GetCompensationStatementRequest,
    GetTransparencyReportRequest, LookupContentRequest, LookupUrlRequest, OptOutScope,
    RegisterOptOutRequest, UrlMatch, lookup_content_request::Key, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient, report_service_client::ReportServiceClient,
};
use serde_json::Value;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn read_manifest(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read manifest")
        .lines()
        .map(|l| serde_json::from_str(l).expect("manifest line is JSON"))
        .collect()
}

fn ids_of(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .map(|l| l["content_id"].as_str().expect("content_id").to_owned())
        .collect()
}

/// Content ids of every capture of a registered domain, via LookupUrl.
async fn contents_of_domain(
    client: &mut ProvenanceServiceClient<Channel>,
    domain: &str,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut lookup = LookupUrlRequest {
        url: domain.into(),
        r#match: UrlMatch::Domain as i32,
        page_size: 1000,
        ..Default::default()
    };
    loop {
        let page = client
            .lookup_url(lookup.clone())
            .await
            .expect("lookup")
            .into_inner();
        out.extend(
            page.captures
                .into_iter()
                .map(|c| c.content_id)
                .filter(|c| !c.is_empty()),
        );
        if page.next_page_token.is_empty() {
            return out;
        }
        lookup.page_token = page.next_page_token;
    }
}

/// What LookupContent says about one content.
struct Facts {
    tokens: u64,
    /// Every capture, earliest first (capture time, then capture id).
    captures: Vec<Capture>,
    cluster_id: String,
    cluster_size: u64,
    cluster_keeper: String,
    is_keeper: bool,
}

/// A content's token count, every capture and its cluster, via LookupContent.
async fn content_facts(client: &mut ProvenanceServiceClient<Channel>, content_id: &str) -> Facts {
    let mut request = LookupContentRequest {
        key: Some(Key::ContentId(content_id.into())),
        page_size: 1000,
        ..Default::default()
    };
    let mut captures = Vec::new();
    loop {
        let page = client
            .lookup_content(request.clone())
            .await
            .expect("lookup content")
            .into_inner();
        let content = page.content.expect("content");
        captures.extend(page.captures);
        if page.next_page_token.is_empty() {
            assert_eq!(captures.len() as u64, content.capture_count, "{content_id}");
            assert!(!captures.is_empty(), "{content_id} has captures");
            captures.sort_by(|a, b| {
                (a.capture_time, &a.capture_id).cmp(&(b.capture_time, &b.capture_id))
            });
            assert_eq!(captures[0].capture_time, content.first_seen, "{content_id}");
            let cluster = content.cluster.expect("cluster");
            return Facts {
                tokens: content.token_count,
                captures,
                cluster_id: cluster.cluster_id,
                cluster_size: cluster.size,
                cluster_keeper: cluster.keeper,
                is_keeper: content.is_keeper,
            };
        }
        request.page_token = page.next_page_token;
    }
}

/// Every content of the index (content id → facts): the ids from the index's
/// contents table, the facts from the server. Checks the clusters by hand:
/// each cluster lists all its members, its id is the smallest member and its
/// keeper the member with the earliest first capture (ties: smallest id);
/// `is_keeper` holds for exactly that member.
async fn all_content_facts(
    client: &mut ProvenanceServiceClient<Channel>,
    index: &Path,
) -> BTreeMap<String, Facts> {
    let mut ids = Vec::new();
    let reader = provindex_index::IndexReader::open(index).expect("open index");
    reader
        .for_each_content::<provindex_index::IndexError>(|id, _| {
            ids.push(format!("{id:032x}"));
            Ok(())
        })
        .expect("walk contents");
    assert_eq!(ids.len() as u64, reader.manifest().contents);
    drop(reader);
    let mut facts = BTreeMap::new();
    for id in ids {
        let f = content_facts(client, &id).await;
        facts.insert(id, f);
    }
    let mut clusters: BTreeMap<&str, Vec<(&String, &Facts)>> = BTreeMap::new();
    for (id, f) in &facts {
        clusters
            .entry(f.cluster_id.as_str())
            .or_default()
            .push((id, f));
    }
    for (cluster_id, members) in &clusters {
        let smallest = members
            .iter()
            .map(|(id, _)| id.as_str())
            .min()
            .expect("member");
        assert_eq!(*cluster_id, smallest, "cluster id = smallest member");
        let keeper = members
            .iter()
            .min_by_key(|(id, f)| (f.captures[0].capture_time, id.as_str()))
            .expect("member")
            .0;
        for (id, f) in members {
            assert_eq!(f.cluster_size, members.len() as u64, "{cluster_id}");
            assert_eq!(&f.cluster_keeper, keeper, "{cluster_id}");
            assert_eq!(f.is_keeper, *id == keeper, "{id}");
        }
    }
    facts
}

/// The keepers (the contents that count) and the near-duplicates (the rest).
fn split_keepers(facts: &BTreeMap<String, Facts>) -> (BTreeSet<String>, BTreeSet<String>) {
    let (keepers, near): (Vec<_>, Vec<_>) = facts.iter().partition(|(_, f)| f.is_keeper);
    (
        keepers.into_iter().map(|(id, _)| id.clone()).collect(),
        near.into_iter().map(|(id, _)| id.clone()).collect(),
    )
}

/// `{reason: count}` without the reasons that count 0.
fn reasons(pairs: &[(&str, usize)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| ((*r).to_owned(), *n as u64))
        .collect()
}

fn reasons_json(pairs: &[(&str, usize)]) -> Value {
    serde_json::to_value(reasons(pairs)).expect("json")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// A float read back from the CLI's JSON equals the server's: serde_json
/// (without `float_roundtrip`) may parse the printed shortest form into a
/// neighbouring double, so equal within a relative 1e-12.
fn same_f64(json: &Value, value: f64) -> bool {
    json.as_f64()
        .is_some_and(|j| (j - value).abs() <= 1e-12 * value.abs().max(1.0))
}

#[tokio::test(flavor = "multi_thread")]
async fn export_report_and_compensation_reconcile_with_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let info = json_of(&run_ok(&[
        "info".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
    ]));
    let contents = info["contents"].as_u64().expect("contents");
    let captures = info["captures"].as_u64().expect("captures");
    let clusters = info["clusters"].as_u64().expect("clusters");
    let clustered = info["clustered_contents"]
        .as_u64()
        .expect("clustered_contents");
    assert!(contents > 20, "{info}");
    // Of each near-duplicate cluster (2+ contents) only the keeper counts.
    let near_count = clustered - clusters;
    assert!(
        near_count > 0,
        "the corpus has near-duplicate pages: {info}"
    );
    let keeper_count = contents - near_count;

    // 1. Export without a registry: nothing in this 2014 corpus is reserved,
    // so only the near-duplicates (non-keepers) are excluded.
    let out1 = dir.path().join("plain.jsonl");
    let summary1 = json_of(&run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        out1.as_os_str(),
    ]));
    assert_eq!(summary1["contents"], contents, "{summary1}");
    assert_eq!(summary1["kept"], keeper_count, "{summary1}");
    assert_eq!(summary1["excluded"], near_count, "{summary1}");
    assert_eq!(
        summary1["excluded_by_reason"],
        serde_json::json!({"near_duplicate": near_count}),
        "{summary1}"
    );
    assert_eq!(
        summary1["matched_by_reason"],
        serde_json::json!({"near_duplicate": near_count}),
        "{summary1}"
    );
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("plain.summary.json")).expect("summary file"),
    )
    .expect("summary JSON");
    assert_eq!(on_disk, summary1);
    assert!(!dir.path().join("plain.jsonl.tmp").exists());
    let manifest1 = read_manifest(&out1);
    let ids1 = ids_of(&manifest1);
    assert_eq!(manifest1.len() as u64, keeper_count);
    assert_eq!(ids1.len() as u64, keeper_count, "every keeper exactly once");
    // Every row joins back to its original record: the bytes at its location
    // are one gzip member holding a WARC record with the row's record id and URL.
    for row in &manifest1 {
        let location = &row["location"];
        assert_eq!(location["framing"], "gzip_member", "{row}");
        let bytes = std::fs::read(location["uri"].as_str().expect("uri")).expect("WARC file");
        let offset = location["offset"].as_u64().expect("offset") as usize;
        let length = location["length"].as_u64().expect("length") as usize;
        let mut record = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&bytes[offset..offset + length]),
            &mut record,
        )
        .unwrap_or_else(|e| panic!("{row}: {e}"));
        let record = String::from_utf8_lossy(&record);
        let record_id = row["record_id"].as_str().expect("record_id");
        let url = row["url"].as_str().expect("url");
        assert!(
            record.contains(&format!("WARC-Record-ID: {record_id}\r\n"))
                && record.contains(&format!("WARC-Target-URI: {url}\r\n")),
            "{row}"
        );
        assert_eq!(row["crawl"], "export-test", "{row}");
    }

    // 2. Independent facts from the server, and a registry opt-out of data.gov.uk.
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");
    let registry = dir.path().join("registry");
    let server = ServerProcess::start_with_registry(&index, &auth, &registry);
    let channel = server.channel().await;
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let facts = all_content_facts(&mut reads, &index).await;
    assert_eq!(facts.len() as u64, contents);
    let (keepers, near) = split_keepers(&facts);
    assert_eq!(
        near.len() as u64,
        near_count,
        "non-keepers = clustered - clusters"
    );
    let multi: BTreeMap<&str, u64> = facts
        .values()
        .filter(|f| f.cluster_size > 1)
        .map(|f| (f.cluster_id.as_str(), f.cluster_size))
        .collect();
    assert_eq!(multi.len() as u64, clusters);
    assert_eq!(multi.values().sum::<u64>(), clustered);
    assert_eq!(ids1, keepers, "the plain export lists exactly the keepers");
    let gov = contents_of_domain(&mut reads, "data.gov.uk").await;
    assert!(
        gov.len() > 10 && gov.iter().all(|id| facts.contains_key(id)),
        "{gov:?}"
    );
    let lines1: BTreeMap<&str, &Value> = manifest1
        .iter()
        .map(|l| (l["content_id"].as_str().expect("id"), l))
        .collect();

    // Tokens and domains over the keepers; captures, period and license mix
    // over every content.
    let mut tokens = 0u64;
    let mut captures_with_text = 0u64;
    let mut domain_tokens: BTreeMap<String, u64> = BTreeMap::new();
    let mut license_classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut times = Vec::new();
    for (id, f) in &facts {
        captures_with_text += f.captures.len() as u64;
        times.extend(f.captures.iter().map(|c| c.capture_time));
        let earliest = &f.captures[0];
        let license = earliest.license.as_ref();
        let class = license
            .map(|l| l.class.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".into());
        *license_classes.entry(class).or_default() += 1;
        if !f.is_keeper {
            continue;
        }
        tokens += f.tokens;
        let line = lines1[id.as_str()];
        assert_eq!(line["url"], earliest.url.as_str(), "url = earliest capture");
        let expected_license = license
            .map(|l| {
                if l.spdx.is_empty() {
                    l.id.clone()
                } else {
                    l.spdx.clone()
                }
            })
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "unknown".into());
        assert_eq!(line["license"], expected_license.as_str());
        let domain = if earliest.registered_domain.is_empty() {
            "(none)".to_owned()
        } else {
            earliest.registered_domain.clone()
        };
        *domain_tokens.entry(domain).or_default() += f.tokens;
    }

    let mut optouts = OptOutServiceClient::new(channel);
    let request = RegisterOptOutRequest {
        rightholder: "Crown copyright".into(),
        scope: Some(OptOutScope {
            scope: Some(Scope::Domain("data.gov.uk".into())),
        }),
        effective_from: Some(1_400_000_000),
        evidence: "letter of 2024-05-01".into(),
    };
    optouts
        .register_opt_out(with_token(request, ADMIN))
        .await
        .expect("register");
    drop(server);

    // 3. Export with the registry: the data.gov.uk contents go, for that reason.
    let out2 = dir.path().join("filtered.jsonl");
    let summary2 = json_of(&run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        out2.as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
    ]));
    let kept = summary2["kept"].as_u64().expect("kept");
    let excluded = summary2["excluded"].as_u64().expect("excluded");
    assert_eq!(kept + excluded, contents, "{summary2}");
    assert_eq!(summary2["contents"], contents);
    // The registry reason comes before near_duplicate.
    let gov_or_near: BTreeSet<String> = gov.union(&near).cloned().collect();
    assert_eq!(excluded, gov_or_near.len() as u64, "{summary2}");
    assert_eq!(
        summary2["excluded_by_reason"],
        reasons_json(&[
            ("registry:domain", gov.len()),
            ("near_duplicate", near.difference(&gov).count()),
        ]),
        "{summary2}"
    );
    assert_eq!(
        summary2["matched_by_reason"],
        reasons_json(&[
            ("registry:domain", gov.len()),
            ("near_duplicate", near.len())
        ]),
        "{summary2}"
    );
    let manifest2 = read_manifest(&out2);
    assert_eq!(manifest2.len() as u64, kept);
    let expected: BTreeSet<String> = keepers.difference(&gov).cloned().collect();
    assert_eq!(ids_of(&manifest2), expected);
    assert_eq!(
        summary2["kept_tokens"],
        expected.iter().map(|id| facts[id].tokens).sum::<u64>()
    );
    // Before the entry takes effect it excludes nothing.
    let early = json_of(&run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        dir.path().join("early.jsonl").as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
        "--at".as_ref(),
        "1399999999".as_ref(),
    ]));
    assert_eq!(early["kept"], keeper_count, "{early}");

    // 4. The report, against the independent numbers.
    let report_json = dir.path().join("report.json");
    let report_html = dir.path().join("report.html");
    run_ok(&[
        "report".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
        report_json.as_os_str(),
        "--html".as_ref(),
        report_html.as_os_str(),
    ]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_json).expect("report")).expect("JSON");
    let totals = &report["totals"];
    assert_eq!(totals["captures"], captures, "{report}");
    assert_eq!(totals["contents"], contents);
    assert_eq!(totals["keepers"], keeper_count);
    assert_eq!(totals["captures_with_text"], captures_with_text);
    assert_eq!(totals["tokens_after_exact_dedup"], tokens);
    assert_eq!(report["crawls"], serde_json::json!(["export-test"]));
    let period = &report["collection_period"];
    assert!(period["from"].as_i64().expect("from") <= *times.iter().min().expect("times"));
    assert!(period["to"].as_i64().expect("to") >= *times.iter().max().expect("times"));
    assert!(
        period["from_utc"]
            .as_str()
            .expect("utc")
            .starts_with("2014-")
    );
    let rate = report["duplicates"]["duplicate_rate"]
        .as_f64()
        .expect("rate");
    assert!(close(
        rate,
        1.0 - contents as f64 / captures_with_text as f64
    ));
    let duplicates = &report["duplicates"];
    assert_eq!(
        duplicates["near_duplicate_contents"], near_count,
        "{duplicates}"
    );
    assert!(close(
        duplicates["near_duplicate_rate"]
            .as_f64()
            .expect("near rate"),
        near_count as f64 / contents as f64
    ));
    // Top 10% of the registered domains (at least 1), by attributed tokens.
    let mut ranked: Vec<(&String, &u64)> = domain_tokens.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top = &report["top_domains"];
    let top_n = top["count"].as_u64().expect("count") as usize;
    assert!(top_n >= 1);
    assert_eq!(top["domains"].as_array().expect("domains").len(), top_n);
    for (row, (domain, t)) in top["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .zip(&ranked)
    {
        assert_eq!(row["domain"], domain.as_str());
        assert_eq!(row["tokens"], **t);
        assert!(close(
            row["share_of_tokens"].as_f64().expect("share"),
            **t as f64 / tokens as f64
        ));
    }
    assert_eq!(top["domains"][0]["domain"], "data.gov.uk");
    for class in report["license_mix"]["classes"].as_array().expect("mix") {
        let name = class["class"].as_str().expect("class");
        let n = license_classes[name];
        assert_eq!(class["contents"], n);
        assert!(close(
            class["share"].as_f64().expect("share"),
            n as f64 / contents as f64
        ));
    }
    // The crawl signals the plain export honoured: none in this corpus. By
    // hand: the 2014 gov.uk and iana.org captures carry no tdm-*, noai,
    // noimageai, Content-Usage or Content-Signal header or meta, and their
    // robots.txt files name no AI crawler. Counted independently from every
    // capture the server returned, and said alike by export and report.
    let signalled = |summary: &Value| -> u64 {
        summary["matched_by_reason"]
            .as_object()
            .expect("reasons")
            .iter()
            .filter(|(reason, _)| reason.starts_with("crawl_signal:"))
            .map(|(_, n)| n.as_u64().expect("n"))
            .sum()
    };
    let reserved_verdict = |c: &Capture| c.optout.as_ref().is_some_and(|o| o.verdict == "reserved");
    let reserved_contents = facts
        .values()
        .filter(|f| f.captures.iter().any(reserved_verdict))
        .count();
    assert_eq!(reserved_contents, 0);
    assert_eq!(signalled(&summary1), 0, "{summary1}");
    let reservations = &report["reservation_signals"];
    assert_eq!(
        reservations["contents_with_reservation"], 0,
        "{reservations}"
    );
    assert_eq!(reservations["captures_reserved"], 0, "{reservations}");
    assert_eq!(reservations["by_signal_kind"], serde_json::json!({}));
    // The same corpus with the reservation crawl (tests/data/reservations)
    // indexed alongside: the export excludes exactly the reserved contents of
    // the hand-computed table, by the kind of their deciding signal, on top of
    // the same near-duplicates, and the report counts the same contents.
    let index_r = dir.path().join("index-reservations");
    let mut args_r: Vec<std::ffi::OsString> = vec!["index".into()];
    args_r.extend(gov_uk_and_iana_warcs().into_iter().map(Into::into));
    args_r.push(reservation_table::reservations_warc().into());
    args_r.extend(["--out".into(), index_r.clone().into()]);
    run_ok(&args_r.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let out_r = dir.path().join("with-reservations.jsonl");
    let summary_r = json_of(&run_ok(&[
        "export".as_ref(),
        index_r.as_os_str(),
        "--out".as_ref(),
        out_r.as_os_str(),
    ]));
    let reserved_total: u64 = reservation_table::EXPORT_EXCLUDED
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(reserved_total, 13);
    let mut expected_reasons: BTreeMap<String, u64> = reservation_table::EXPORT_EXCLUDED
        .iter()
        .map(|(r, n)| ((*r).to_owned(), *n))
        .collect();
    expected_reasons.insert("near_duplicate".into(), near_count);
    assert_eq!(
        summary_r["contents"],
        contents + reservation_table::CONTENT_COUNT,
        "{summary_r}"
    );
    assert_eq!(
        summary_r["kept"],
        keeper_count + reservation_table::EXPORT_KEPT,
        "{summary_r}"
    );
    assert_eq!(
        summary_r["excluded_by_reason"],
        serde_json::json!(expected_reasons)
    );
    assert_eq!(
        summary_r["matched_by_reason"],
        serde_json::json!(expected_reasons)
    );
    assert_eq!(signalled(&summary_r), reserved_total);
    let manifest_r = read_manifest(&out_r);
    let new_urls: BTreeSet<&str> = manifest_r
        .iter()
        .filter(|l| !ids1.contains(l["content_id"].as_str().expect("id")))
        .map(|l| l["url"].as_str().expect("url"))
        .collect();
    assert_eq!(
        new_urls,
        reservation_table::KEPT_URLS.iter().copied().collect(),
        "the 2014 keepers stay, and the reservation crawl's unreserved contents join them"
    );
    assert_eq!(
        manifest_r.len() as u64 - new_urls.len() as u64,
        keeper_count
    );
    let report_r = dir.path().join("report-reservations.json");
    run_ok(&[
        "report".as_ref(),
        index_r.as_os_str(),
        "--json".as_ref(),
        report_r.as_os_str(),
    ]);
    let report_r: Value =
        serde_json::from_slice(&std::fs::read(&report_r).expect("report")).expect("JSON");
    let reservations_r = &report_r["reservation_signals"];
    assert_eq!(
        reservations_r["contents_with_reservation"], reserved_total,
        "{reservations_r}"
    );
    assert_eq!(reservations_r["excluded_from_export"], reserved_total);
    let by_kind: BTreeMap<&str, u64> = reservation_table::EXPORT_EXCLUDED
        .iter()
        .map(|(r, n)| (r.trim_start_matches("crawl_signal:"), *n))
        .collect();
    assert_eq!(reservations_r["by_signal_kind"], serde_json::json!(by_kind));
    let html = std::fs::read_to_string(&report_html).expect("html");
    assert!(html.contains("<svg") && html.contains("data.gov.uk"));
    assert!(html.contains("Near-duplicate rate"));
    assert!(html.contains(&format!(
        "{near_count} of {contents} distinct contents are near-duplicates"
    )));

    // 5. Compensation: every token of the period, shares summing to the pool.
    let csv = dir.path().join("comp.csv");
    let comp_json = dir.path().join("comp.json");
    run_ok(&[
        "compensation".as_ref(),
        index.as_os_str(),
        "--pool".as_ref(),
        "1000".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--json".as_ref(),
        comp_json.as_os_str(),
    ]);
    let statement: Value =
        serde_json::from_slice(&std::fs::read(&comp_json).expect("comp")).expect("JSON");
    assert_eq!(statement["tokens"], tokens);
    assert_eq!(statement["contents"], keeper_count);
    let shares = statement["shares"].as_array().expect("shares");
    let amount: f64 = shares
        .iter()
        .map(|s| s["amount"].as_f64().expect("a"))
        .sum();
    assert!((amount - 1000.0).abs() < 1e-6, "{amount}");
    for share in shares {
        let domain = share["registered_domain"].as_str().expect("domain");
        assert_eq!(share["tokens"], domain_tokens[domain], "{domain}");
    }
    // Without a registry every token is unclaimed: header, domains, unclaimed.
    assert!(
        statement["rightholder_shares"]
            .as_array()
            .expect("rows")
            .is_empty()
    );
    assert_eq!(statement["unclaimed"]["tokens"], tokens);
    let csv_text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(csv_text.lines().count(), shares.len() + 2);
    assert_eq!(
        csv_text.lines().next(),
        Some("kind,name,contents,tokens,share,amount")
    );

    // 6. An empty index: a precise error, nothing written.
    let empty = dir.path().join("empty");
    run_ok(&[
        "index".as_ref(),
        corpus_dir().join("malformed/empty.gz").as_os_str(),
        "--out".as_ref(),
        empty.as_os_str(),
    ]);
    let empty_json: PathBuf = dir.path().join("empty-report.json");
    let output = Command::new(provindex_bin())
        .arg("report")
        .arg(&empty)
        .arg("--json")
        .arg(&empty_json)
        .output()
        .expect("run report");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds no contents"),
        "{output:?}"
    );
    assert!(!empty_json.exists());
}

// ------------------------------------------------------------ ReportService

const READER: &str = "reader-token-0123456789";
const HOLDER: &str = "rightholder-token-012345";
/// Registry entries in force at this time (all test entries are effective from 1.4e9).
const AT: i64 = 2_000_000_000;

/// The gov.uk a + b and iana.org crawls indexed into DIR/index.
fn build_index(dir: &Path) -> PathBuf {
    common::index_gov_uk_and_iana(dir, "export-test")
}

/// Reads an S3 object back (on a plain thread: the store blocks).
fn s3_get(endpoint: &str, uri: &str) -> Option<Vec<u8>> {
    let uri = uri.to_owned();
    with_moto_store(endpoint, move |store| {
        store.get_bytes(&uri).ok().map(|b| b.to_vec())
    })
}

fn assert_code<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    let status = result.expect_err("the call must fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(needle), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn report_service_matches_the_cli_checks_roles_and_exports_to_s3() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "exports");
    let s3_env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{READER}": {{"role": "reader", "name": "auditor"}},
                "{HOLDER}": {{"role": "rightholder", "name": "Crown copyright", "scopes": ["data.gov.uk"]}}
            }}}}"#
        ),
    )
    .expect("auth file");
    let registry = dir.path().join("registry");
    let server = ServerProcess::start_with_env(
        &index,
        &[
            OsStr::new("--auth"),
            auth.as_os_str(),
            OsStr::new("--registry"),
            registry.as_os_str(),
            OsStr::new("--create-registry"),
        ],
        &s3_env,
    );
    let channel = server.channel().await;
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let mut reports = ReportServiceClient::new(channel.clone());
    let mut optouts = OptOutServiceClient::new(channel);

    // 1. Every content's tokens and whether it is its cluster's keeper,
    // independently (the index's contents, LookupContent), and which contents
    // each domain holds. Only keepers count.
    let facts = all_content_facts(&mut reads, &index).await;
    let (keepers, near) = split_keepers(&facts);
    assert!(!near.is_empty(), "the corpus has near-duplicate pages");
    let tokens_of: BTreeMap<String, u64> =
        facts.iter().map(|(id, f)| (id.clone(), f.tokens)).collect();
    let plain = dir.path().join("plain.jsonl");
    run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        plain.as_os_str(),
    ]);
    assert_eq!(ids_of(&read_manifest(&plain)), keepers);
    let total: u64 = keepers.iter().map(|id| tokens_of[id]).sum();
    let gov = contents_of_domain(&mut reads, "data.gov.uk").await;
    let iana = contents_of_domain(&mut reads, "iana.org").await;
    assert!(!gov.is_empty() && !iana.is_empty() && gov.is_disjoint(&iana));
    // A counted gov content, claimed by a second rightholder below.
    let shared = gov
        .intersection(&keepers)
        .next()
        .expect("a gov keeper")
        .clone();
    // Tokens and number of the counted (keeper) contents among `ids`.
    let sum = |ids: &BTreeSet<String>| {
        ids.intersection(&keepers)
            .map(|id| tokens_of[id])
            .sum::<u64>()
    };
    let count = |ids: &BTreeSet<String>| ids.intersection(&keepers).count() as u64;

    // 2. Opt-outs naming three rightholders; one content is claimed twice.
    let scopes = [
        ("Crown copyright", Scope::Domain("data.gov.uk".into())),
        ("IANA", Scope::Domain("iana.org".into())),
        ("Shared Holder", Scope::ContentId(shared.clone())),
    ];
    let mut entry_ids = BTreeMap::new();
    for (holder, scope) in scopes {
        let reply = optouts
            .register_opt_out(with_token(
                RegisterOptOutRequest {
                    rightholder: holder.into(),
                    scope: Some(OptOutScope { scope: Some(scope) }),
                    effective_from: Some(1_400_000_000),
                    evidence: "test".into(),
                },
                ADMIN,
            ))
            .await
            .expect("register")
            .into_inner();
        let id: u64 = reply
            .registration
            .expect("registration")
            .id
            .parse()
            .expect("id");
        entry_ids.insert(holder, id);
    }

    // 3. Compensation over gRPC: per domain and per rightholder, by hand.
    let statement = reports
        .get_compensation_statement(GetCompensationStatementRequest {
            pool: 1000.0,
            at: Some(AT),
            ..Default::default()
        })
        .await
        .expect("statement")
        .into_inner();
    assert_eq!(statement.tokens, total);
    assert_eq!(statement.contents, keepers.len() as u64);
    assert!(statement.registry_used);
    let domain_sum: f64 = statement.shares.iter().map(|s| s.amount).sum();
    assert!((domain_sum - 1000.0).abs() < 1e-6, "{domain_sum}");
    let half = tokens_of[&shared] as f64 / 2.0;
    let expected = [
        ("Crown copyright", sum(&gov) as f64 - half, count(&gov)),
        ("IANA", sum(&iana) as f64, count(&iana)),
        ("Shared Holder", half, 1),
    ];
    assert_eq!(statement.rightholder_shares.len(), 3, "{statement:?}");
    for (holder, tokens, contents) in expected {
        let row = statement
            .rightholder_shares
            .iter()
            .find(|r| r.rightholder == holder)
            .unwrap_or_else(|| panic!("no row for {holder}"));
        assert!(close(row.tokens, tokens), "{holder}: {row:?}");
        assert_eq!(row.contents, contents, "{holder}");
        assert!(
            close(row.amount, 1000.0 * tokens / total as f64),
            "{holder}"
        );
        assert_eq!(row.entry_ids, vec![entry_ids[holder]], "{holder}");
    }
    let unclaimed = statement.unclaimed.expect("unclaimed");
    assert_eq!(unclaimed.tokens, total - sum(&gov) - sum(&iana));
    assert_eq!(
        unclaimed.contents,
        keepers.len() as u64 - count(&gov) - count(&iana)
    );
    let holder_sum: f64 = statement
        .rightholder_shares
        .iter()
        .map(|r| r.amount)
        .sum::<f64>()
        + unclaimed.amount;
    assert!((holder_sum - 1000.0).abs() < 1e-6, "{holder_sum}");

    // ... and the CLI says the same (it reads the registry while the server holds it).
    let csv = dir.path().join("comp.csv");
    let comp_json = dir.path().join("comp.json");
    run_ok(&[
        "compensation".as_ref(),
        index.as_os_str(),
        "--pool".as_ref(),
        "1000".as_ref(),
        "--registry".as_ref(),
        registry.as_os_str(),
        "--at".as_ref(),
        AT.to_string().as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--json".as_ref(),
        comp_json.as_os_str(),
    ]);
    let cli: Value =
        serde_json::from_slice(&std::fs::read(&comp_json).expect("comp")).expect("JSON");
    assert_eq!(cli["tokens"], statement.tokens);
    let cli_domains = cli["shares"].as_array().expect("shares");
    assert_eq!(cli_domains.len(), statement.shares.len());
    for (c, g) in cli_domains.iter().zip(&statement.shares) {
        assert_eq!(c["registered_domain"], g.registered_domain.as_str());
        assert_eq!(c["tokens"], g.tokens);
        assert!(
            same_f64(&c["amount"], g.amount),
            "{} vs {}",
            c["amount"],
            g.amount
        );
    }
    let cli_holders = cli["rightholder_shares"].as_array().expect("rows");
    assert_eq!(cli_holders.len(), statement.rightholder_shares.len());
    for (c, g) in cli_holders.iter().zip(&statement.rightholder_shares) {
        assert_eq!(c["rightholder"], g.rightholder.as_str());
        assert!(
            same_f64(&c["tokens"], g.tokens),
            "{} vs {}",
            c["tokens"],
            g.tokens
        );
        assert!(
            same_f64(&c["amount"], g.amount),
            "{} vs {}",
            c["amount"],
            g.amount
        );
    }
    let csv_text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(
        csv_text
            .lines()
            .filter(|l| l.starts_with("rightholder,"))
            .count(),
        3
    );
    assert!(
        csv_text.contains("\nrightholder,Crown copyright,"),
        "{csv_text}"
    );
    assert!(
        csv_text
            .lines()
            .last()
            .expect("rows")
            .starts_with("unclaimed,,")
    );

    // 4. The report over gRPC equals the CLI's, and the hand-computed totals.
    let report = reports
        .get_transparency_report(GetTransparencyReportRequest {})
        .await
        .expect("report")
        .into_inner();
    let cli_report = json_of(&run_ok(&["report".as_ref(), index.as_os_str()]));
    let totals = report.totals.expect("totals");
    assert_eq!(totals.tokens_after_exact_dedup, total);
    assert_eq!(totals.contents, tokens_of.len() as u64);
    assert_eq!(totals.keepers, keepers.len() as u64);
    assert_eq!(cli_report["totals"]["captures"], totals.captures);
    assert_eq!(
        cli_report["totals"]["captures_with_text"],
        totals.captures_with_text
    );
    assert_eq!(cli_report["totals"]["contents"], totals.contents);
    assert_eq!(cli_report["totals"]["keepers"], totals.keepers);
    assert_eq!(
        cli_report["totals"]["registered_domains"],
        totals.registered_domains
    );
    assert_eq!(cli_report["crawls"], serde_json::json!(report.crawls));
    assert_eq!(report.crawls, vec!["export-test".to_owned()]);
    let period = report.collection_period.clone().expect("period");
    assert_eq!(cli_report["collection_period"]["from"], period.from);
    assert_eq!(
        cli_report["collection_period"]["to_utc"],
        period.to_utc.as_str()
    );
    let top = report.top_domains.clone().expect("top");
    assert_eq!(cli_report["top_domains"]["count"], top.count);
    assert_eq!(top.domains[0].domain, "data.gov.uk");
    for (c, g) in cli_report["top_domains"]["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .zip(&top.domains)
    {
        assert_eq!(c["domain"], g.domain.as_str());
        assert_eq!(c["tokens"], g.tokens);
        assert!(
            same_f64(&c["share_of_tokens"], g.share_of_tokens),
            "{} vs {}",
            c["share_of_tokens"],
            g.share_of_tokens
        );
    }
    let mix = report.license_mix.clone().expect("mix");
    assert_eq!(
        cli_report["license_mix"]["classes"]
            .as_array()
            .expect("classes")
            .len(),
        mix.classes.len()
    );
    let duplicates = report.duplicates.clone().expect("duplicates");
    assert!(
        same_f64(
            &cli_report["duplicates"]["duplicate_rate"],
            duplicates.duplicate_rate
        ),
        "{} vs {}",
        cli_report["duplicates"]["duplicate_rate"],
        duplicates.duplicate_rate
    );
    assert!(close(
        duplicates.duplicate_rate,
        1.0 - totals.contents as f64 / totals.captures_with_text as f64
    ));
    assert_eq!(duplicates.near_duplicate_contents, near.len() as u64);
    assert!(close(
        duplicates.near_duplicate_rate,
        near.len() as f64 / tokens_of.len() as f64
    ));
    assert_eq!(
        cli_report["duplicates"]["near_duplicate_contents"],
        duplicates.near_duplicate_contents
    );
    assert!(
        same_f64(
            &cli_report["duplicates"]["near_duplicate_rate"],
            duplicates.near_duplicate_rate
        ),
        "{} vs {}",
        cli_report["duplicates"]["near_duplicate_rate"],
        duplicates.near_duplicate_rate
    );
    assert_eq!(
        cli_report["reservation_signals"]["contents_with_reservation"],
        report
            .reservation_signals
            .expect("signals")
            .contents_with_reservation
    );

    // 5. Export over gRPC to S3 (moto) equals the CLI's export, byte for byte.
    let local = dir.path().join("filtered.jsonl");
    let cli_summary = json_of(&run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        local.as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
        "--at".as_ref(),
        AT.to_string().as_ref(),
    ]));
    let uri = "s3://exports/run1/manifest.jsonl";
    let summary = reports
        .export_training_manifest(with_token(
            ExportTrainingManifestRequest {
                output_uri: uri.into(),
                at: Some(AT),
            },
            ADMIN,
        ))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(summary.manifest_uri, uri);
    assert_eq!(
        summary.summary_uri,
        "s3://exports/run1/manifest.summary.json"
    );
    // Registry reasons before near_duplicate.
    let opted_out: BTreeSet<String> = gov.union(&iana).cloned().collect();
    let excluded: BTreeSet<String> = opted_out.union(&near).cloned().collect();
    assert_eq!(summary.excluded, excluded.len() as u64);
    assert_eq!(summary.kept + summary.excluded, summary.contents);
    assert_eq!(summary.contents, tokens_of.len() as u64);
    assert_eq!(summary.kept_tokens, total - sum(&opted_out));
    assert_eq!(
        summary
            .excluded_by_reason
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        reasons(&[
            ("registry:domain", opted_out.len()),
            ("near_duplicate", near.difference(&opted_out).count()),
        ])
    );
    assert_eq!(summary.matched_by_reason["registry:content"], 1);
    assert_eq!(
        summary.matched_by_reason["near_duplicate"],
        near.len() as u64
    );
    assert_eq!(cli_summary["kept"], summary.kept);
    assert_eq!(cli_summary["kept_tokens"], summary.kept_tokens);
    assert_eq!(
        cli_summary["matched_by_reason"],
        serde_json::to_value(&summary.matched_by_reason).expect("json")
    );
    let from_s3 = s3_get(&moto.endpoint, uri).expect("manifest object");
    assert_eq!(from_s3, std::fs::read(&local).expect("local manifest"));
    let s3_summary: Value = serde_json::from_slice(
        &s3_get(&moto.endpoint, &summary.summary_uri).expect("summary object"),
    )
    .expect("summary JSON");
    assert_eq!(s3_summary["kept"], summary.kept);
    assert_eq!(s3_summary["manifest"], uri);
    // Exports never replace an object.
    assert_code(
        reports
            .export_training_manifest(with_token(
                ExportTrainingManifestRequest {
                    output_uri: uri.into(),
                    at: Some(AT),
                },
                ADMIN,
            ))
            .await,
        tonic::Code::AlreadyExists,
        "already exists",
    );
    // The CLI writes to S3 too.
    let cli_uri = "s3://exports/cli/manifest.jsonl";
    common::run_ok_env(
        &[
            "export".as_ref(),
            index.as_os_str(),
            "--out".as_ref(),
            cli_uri.as_ref(),
            "--registry".as_ref(),
            registry.as_os_str(),
            "--at".as_ref(),
            AT.to_string().as_ref(),
        ],
        &s3_env,
    );
    assert_eq!(s3_get(&moto.endpoint, cli_uri), Some(from_s3));
    assert!(s3_get(&moto.endpoint, "s3://exports/cli/manifest.summary.json").is_some());

    // 6. Roles and bad arguments.
    assert_code(
        reports
            .export_training_manifest(ExportTrainingManifestRequest {
                output_uri: "s3://exports/x.jsonl".into(),
                at: None,
            })
            .await,
        tonic::Code::Unauthenticated,
        "authorization",
    );
    for token in [READER, HOLDER] {
        assert_code(
            reports
                .export_training_manifest(with_token(
                    ExportTrainingManifestRequest {
                        output_uri: "s3://exports/x.jsonl".into(),
                        at: None,
                    },
                    token,
                ))
                .await,
            tonic::Code::PermissionDenied,
            "admin",
        );
    }
    assert!(s3_get(&moto.endpoint, "s3://exports/x.jsonl").is_none());
    for (output_uri, needle) in [
        ("", "output_uri: is empty"),
        ("relative/x.jsonl", "output_uri"),
        ("ftp://host/x.jsonl", "output_uri"),
        ("s3://exports/folder/", "output_uri"),
    ] {
        assert_code(
            reports
                .export_training_manifest(with_token(
                    ExportTrainingManifestRequest {
                        output_uri: output_uri.into(),
                        at: None,
                    },
                    ADMIN,
                ))
                .await,
            tonic::Code::InvalidArgument,
            needle,
        );
    }
    for (request, needle) in [
        (
            GetCompensationStatementRequest {
                pool: -1.0,
                ..Default::default()
            },
            "pool",
        ),
        (
            GetCompensationStatementRequest {
                pool: f64::INFINITY,
                ..Default::default()
            },
            "pool",
        ),
        (
            GetCompensationStatementRequest {
                pool: 1.0,
                from: Some(10),
                to: Some(5),
                ..Default::default()
            },
            "from",
        ),
    ] {
        assert_code(
            reports.get_compensation_statement(request).await,
            tonic::Code::InvalidArgument,
            needle,
        );
    }
    // A period without contents has nothing to distribute.
    assert_code(
        reports
            .get_compensation_statement(GetCompensationStatementRequest {
                pool: 1.0,
                to: Some(1),
                ..Default::default()
            })
            .await,
        tonic::Code::FailedPrecondition,
        "nothing to distribute",
    );
    // Exports land in the audit log.
    let audit = run_ok(&["audit".as_ref(), registry.as_os_str(), "--json".as_ref()]);
    let exports: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["action"] == "export")
        .collect();
    assert!(exports.iter().any(|r| r["result"] == "ok"), "{exports:?}");
    drop(server);

    // 7. With --auth-reads, report and statement need a token (any role).
    let gated = ServerProcess::start_with(
        &index,
        &[
            OsStr::new("--auth"),
            auth.as_os_str(),
            OsStr::new("--auth-reads"),
            OsStr::new("--registry"),
            dir.path().join("registry2").as_os_str(),
            OsStr::new("--create-registry"),
        ],
    );
    let mut gated_reports = ReportServiceClient::new(gated.channel().await);
    assert_code(
        gated_reports
            .get_transparency_report(GetTransparencyReportRequest {})
            .await,
        tonic::Code::Unauthenticated,
        "authorization",
    );
    assert_code(
        gated_reports
            .get_compensation_statement(GetCompensationStatementRequest {
                pool: 1.0,
                ..Default::default()
            })
            .await,
        tonic::Code::Unauthenticated,
        "authorization",
    );
    let gated_report = gated_reports
        .get_transparency_report(with_token(GetTransparencyReportRequest {}, READER))
        .await
        .expect("a reader may read")
        .into_inner();
    assert_eq!(gated_report.totals, report.totals);
    let gated_statement = gated_reports
        .get_compensation_statement(with_token(
            GetCompensationStatementRequest {
                pool: 1000.0,
                at: Some(AT),
                ..Default::default()
            },
            HOLDER,
        ))
        .await
        .expect("a rightholder may read")
        .into_inner();
    // This server's registry is empty: everything is unclaimed.
    assert!(gated_statement.rightholder_shares.is_empty());
    assert_eq!(gated_statement.shares, statement.shares);
    drop(gated);

    // 8. An empty index: FAILED_PRECONDITION saying why.
    let empty = dir.path().join("empty");
    run_ok(&[
        "index".as_ref(),
        corpus_dir().join("malformed/empty.gz").as_os_str(),
        "--out".as_ref(),
        empty.as_os_str(),
    ]);
    let empty_server = ServerProcess::start_with(&empty, &[OsStr::new("--auth"), auth.as_os_str()]);
    let mut empty_reports = ReportServiceClient::new(empty_server.channel().await);
    assert_code(
        empty_reports
            .get_transparency_report(GetTransparencyReportRequest {})
            .await,
        tonic::Code::FailedPrecondition,
        "holds no contents",
    );
    assert_code(
        empty_reports
            .get_compensation_statement(GetCompensationStatementRequest {
                pool: 1.0,
                ..Default::default()
            })
            .await,
        tonic::Code::FailedPrecondition,
        "nothing to distribute",
    );
    let empty_out = dir.path().join("empty-export.jsonl");
    let empty_export = reports_export_local(&mut empty_reports, &empty_out).await;
    assert!(empty_export.kept == 0 && empty_export.contents == 0);
    assert!(empty_out.exists());
}

/// Exports the (empty) index to a local file on the server.
async fn reports_export_local(
    client: &mut ReportServiceClient<Channel>,
    out: &Path,
) -> provindex_proto::v1::ExportSummary {
    client
        .export_training_manifest(with_token(
            ExportTrainingManifestRequest {
                output_uri: out.display().to_string(),
                at: None,
            },
            ADMIN,
        ))
        .await
        .expect("export of an empty index")
        .into_inner()
}
