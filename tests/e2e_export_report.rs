//! `provindex export`, `report` and `compensation` end to end, with real
//! processes on the real corpus (gov.uk crawl a + b, iana.org): the numbers
//! are checked against `provindex info` and against values computed here
//! independently from the server's `LookupUrl` / `LookupContent` answers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ServerProcess, corpus_dir, provindex_bin};
use provindex_proto::v1::{
    Capture, LookupContentRequest, LookupUrlRequest, OptOutScope, RegisterOptOutRequest, UrlMatch,
    lookup_content_request::Key, opt_out_scope::Scope, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use serde_json::Value;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";

fn run(args: &[&std::ffi::OsStr]) -> Output {
    let output = Command::new(provindex_bin())
        .args(args)
        .output()
        .expect("run provindex");
    assert!(
        output.status.success(),
        "provindex {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

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

/// A content's token count, capture count and every capture, via LookupContent.
async fn content_facts(
    client: &mut ProvenanceServiceClient<Channel>,
    content_id: &str,
) -> (u64, u64, Vec<Capture>) {
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
            return (content.token_count, content.capture_count, captures);
        }
        request.page_token = page.next_page_token;
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread")]
async fn export_report_and_compensation_reconcile_with_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let warc = corpus_dir().join("warc");
    let mut args: Vec<std::ffi::OsString> = vec!["index".into()];
    for file in [
        "gov.uk-2014-crawl-a.warc.gz",
        "gov.uk-2014-crawl-b-revisits.warc.gz",
        "iana.org-2014.warc.gz",
    ] {
        args.push(warc.join(file).into());
    }
    args.extend(["--out".into(), index.clone().into()]);
    args.extend(["--crawl".into(), "export-test".into()]);
    run(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let info = json_of(&run(&[
        "info".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
    ]));
    let contents = info["contents"].as_u64().expect("contents");
    let captures = info["captures"].as_u64().expect("captures");
    assert!(contents > 20, "{info}");

    // 1. Export without a registry: nothing in this 2014 corpus is reserved.
    let out1 = dir.path().join("plain.jsonl");
    let summary1 = json_of(&run(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        out1.as_os_str(),
    ]));
    assert_eq!(summary1["contents"], contents, "{summary1}");
    assert_eq!(summary1["kept"], contents, "{summary1}");
    assert_eq!(summary1["excluded"], 0, "{summary1}");
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("plain.summary.json")).expect("summary file"),
    )
    .expect("summary JSON");
    assert_eq!(on_disk, summary1);
    assert!(!dir.path().join("plain.jsonl.tmp").exists());
    let manifest1 = read_manifest(&out1);
    let ids1 = ids_of(&manifest1);
    assert_eq!(manifest1.len() as u64, contents);
    assert_eq!(ids1.len() as u64, contents, "every content exactly once");

    // 2. Independent facts from the server, and a registry opt-out of data.gov.uk.
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");
    let registry = dir.path().join("registry");
    let server = start_server(&index, &auth, &registry);
    let channel = server.channel().await;
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let gov = contents_of_domain(&mut reads, "data.gov.uk").await;
    assert!(gov.len() > 10 && gov.is_subset(&ids1), "{gov:?}");

    let mut tokens = 0u64;
    let mut captures_with_text = 0u64;
    let mut domain_tokens: BTreeMap<String, u64> = BTreeMap::new();
    let mut license_classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut times = Vec::new();
    for line in &manifest1 {
        let id = line["content_id"].as_str().expect("id");
        let (token_count, capture_count, mut caps) = content_facts(&mut reads, id).await;
        assert_eq!(caps.len() as u64, capture_count);
        tokens += token_count;
        captures_with_text += capture_count;
        caps.sort_by(|a, b| (a.capture_time, &a.capture_id).cmp(&(b.capture_time, &b.capture_id)));
        times.extend(caps.iter().map(|c| c.capture_time));
        let earliest = &caps[0];
        assert_eq!(line["url"], earliest.url.as_str(), "url = earliest capture");
        let license = earliest.license.as_ref();
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
        let class = license
            .map(|l| l.class.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".into());
        *license_classes.entry(class).or_default() += 1;
        let domain = if earliest.registered_domain.is_empty() {
            "(none)".to_owned()
        } else {
            earliest.registered_domain.clone()
        };
        *domain_tokens.entry(domain).or_default() += token_count;
    }

    let mut optouts = OptOutServiceClient::new(channel);
    let mut request = tonic::Request::new(RegisterOptOutRequest {
        rightholder: "Crown copyright".into(),
        scope: Some(OptOutScope {
            scope: Some(Scope::Domain("data.gov.uk".into())),
        }),
        effective_from: Some(1_400_000_000),
        evidence: "letter of 2024-05-01".into(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN}").parse().expect("ascii"),
    );
    optouts.register_opt_out(request).await.expect("register");
    drop(server);

    // 3. Export with the registry: the data.gov.uk contents go, for that reason.
    let out2 = dir.path().join("filtered.jsonl");
    let summary2 = json_of(&run(&[
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
    assert_eq!(excluded, gov.len() as u64, "{summary2}");
    assert_eq!(
        summary2["excluded_by_reason"],
        serde_json::json!({"registry:domain": gov.len()})
    );
    let manifest2 = read_manifest(&out2);
    assert_eq!(manifest2.len() as u64, kept);
    let expected: BTreeSet<String> = ids1.difference(&gov).cloned().collect();
    assert_eq!(ids_of(&manifest2), expected);
    // Before the entry takes effect it excludes nothing.
    let early = json_of(&run(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        dir.path().join("early.jsonl").as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
        "--at".as_ref(),
        "1399999999".as_ref(),
    ]));
    assert_eq!(early["kept"], contents, "{early}");

    // 4. The report, against the independent numbers.
    let report_json = dir.path().join("report.json");
    let report_html = dir.path().join("report.html");
    run(&[
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
    assert_eq!(
        report["reservation_signals"]["contents_with_reservation"],
        summary1["excluded"]
    );
    let html = std::fs::read_to_string(&report_html).expect("html");
    assert!(html.contains("<svg") && html.contains("data.gov.uk"));

    // 5. Compensation: every token of the period, shares summing to the pool.
    let csv = dir.path().join("comp.csv");
    let comp_json = dir.path().join("comp.json");
    run(&[
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
    assert_eq!(statement["contents"], contents);
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
    let csv_text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(csv_text.lines().count(), shares.len() + 1);

    // 6. An empty index: a precise error, nothing written.
    let empty = dir.path().join("empty");
    run(&[
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

/// `provindex serve` with an auth file and a registry directory.
fn start_server(index: &Path, auth: &Path, registry: &Path) -> ServerProcess {
    ServerProcess::start_with(
        index,
        &[
            OsStr::new("--auth"),
            auth.as_os_str(),
            OsStr::new("--registry"),
            registry.as_os_str(),
        ],
    )
}
