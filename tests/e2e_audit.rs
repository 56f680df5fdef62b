//! Issue 19's audit toolkit end to end, with real processes: `provindex
//! index --pii-key` builds indexes of tests/data/pii (real-format WARCs of
//! English and Chinese pages with planted personal data, written by
//! tests/data/pii/make.py), `provindex serve --pii-key --auth` serves them,
//! and a real tonic client draws samples, records labels and looks personal
//! data up.
//!
//! Hand-computed expectations (tests/data/README.md "Personal-data crawl"):
//! 24 pages, 24 distinct contents; personal data on four of them:
//! news.example.com/contact (1 e-mail), shop.example.com/order/1001 (1
//! resident ID, 1 card), www.example.org/people/rossi (1 e-mail, 1 phone),
//! bbs.example.net/thread/7 (1 phone, 1 e-mail — the same address as the
//! contact page, in other case). order/1002, about and release-notes hold
//! only invalid look-alikes.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{ServerProcess as Server, provindex_bin, with_token};
use provindex_index::{IndexReader, Registry};
use provindex_proto::v1::{
    DrawSampleRequest, DrawSampleResponse, FindPersonalDataRequest, GetTransparencyReportRequest,
    LabelVerdict, LookupUrlRequest, OptOutScope, RecordLabelRequest, RegisterOptOutRequest, Source,
    SourceFailureRateRequest, SourceKind, UrlMatch, audit_service_client::AuditServiceClient,
    opt_out_scope, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient, report_service_client::ReportServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "reader-token-0123456789";
/// 40 bytes; the build and the server read the same file.
const PII_KEY: &[u8] = b"provindex-e2e-audit-pii-key-0123456789ab";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write_key(dir: &Path) -> PathBuf {
    let path = dir.join("pii.key");
    std::fs::write(&path, PII_KEY).expect("write key");
    path
}

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "reviewer"}},
                "{READER}": {{"role": "reader", "name": "public"}}
            }}}}"#
        ),
    )
    .expect("write auth file");
    path
}

fn build(dir: &Path, name: &str, workers: usize, key: Option<&Path>) -> PathBuf {
    let index = dir.join(name);
    let mut command = std::process::Command::new(provindex_bin());
    command
        .arg("index")
        .arg(data_dir())
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .args(["--workers", &workers.to_string()]);
    if let Some(key) = key {
        command.arg("--pii-key").arg(key);
    }
    let output = command.output().expect("run provindex index");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    index
}

fn serve(index: &Path, dir: &Path, key: &Path) -> Server {
    let args: Vec<std::ffi::OsString> = vec![
        "--auth".into(),
        auth_file(dir).into(),
        "--pii-key".into(),
        key.into(),
        // Labels live in the registry's audit log (INDEX.registry).
        "--create-registry".into(),
    ];
    Server::start_with(index, &args)
}

fn source(kind: SourceKind, value: &str) -> Option<Source> {
    Some(Source {
        kind: kind.into(),
        value: value.into(),
    })
}

/// The content id of the capture of `url`, through LookupUrl.
async fn content_of(channel: &Channel, url: &str) -> String {
    let mut client = ProvenanceServiceClient::new(channel.clone());
    let response = client
        .lookup_url(LookupUrlRequest {
            url: url.into(),
            r#match: UrlMatch::Exact.into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("lookup")
        .into_inner();
    let capture = response.captures.first().expect("a capture");
    assert!(!capture.content_id.is_empty());
    capture.content_id.clone()
}

async fn sample(
    channel: &Channel,
    source: Option<Source>,
    n: u32,
    seed: u64,
) -> Result<DrawSampleResponse, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .draw_sample(DrawSampleRequest {
            source,
            n,
            seed,
            include_text: false,
        })
        .await
        .map(tonic::Response::into_inner)
}

fn ids(response: &DrawSampleResponse) -> Vec<String> {
    response
        .items
        .iter()
        .map(|i| i.content_id.clone())
        .collect()
}

/// Every stored row of the index (decompressed), keys and values, as
/// lower-case text.
fn stored_text(index: &Path) -> String {
    let mut stored = Vec::new();
    IndexReader::open(index)
        .expect("open index")
        .for_each_stored_row(|_, key, value| {
            stored.extend_from_slice(key);
            stored.push(0);
            stored.extend_from_slice(value);
            stored.push(0);
        })
        .expect("walk");
    String::from_utf8_lossy(&stored).to_lowercase()
}

async fn find(
    channel: &Channel,
    kind: &str,
    value: &str,
    token: &str,
) -> Result<BTreeSet<String>, tonic::Status> {
    AuditServiceClient::new(channel.clone())
        .find_personal_data(with_token(
            FindPersonalDataRequest {
                kind: kind.into(),
                value: value.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().content_ids.into_iter().collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_personal_data_is_counted_found_by_keyed_hash_and_never_stored_in_clear() {
    let dir = tempdir();
    let key = write_key(dir.path());
    let index = build(dir.path(), "index", 2, Some(&key));

    // What the index stores, row by row (decompressed): no identifier in
    // clear. The control phrase proves the walk sees stored text.
    let planted = [
        "wei.zhang@example.com",
        "m.rossi@example.org",
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "2079460958",
        "20 7946 0958",
        "11010519491231002X",
        "4111111111111111",
        "4111 1111 1111 1111",
    ];
    {
        let stored = stored_text(&index);
        assert!(
            stored.contains("harbour dredging starts in june"),
            "control"
        );
        for value in planted {
            let value = value.to_lowercase();
            assert!(!stored.contains(&value), "{value} stored in clear");
        }
        let key_text = String::from_utf8_lossy(PII_KEY).to_lowercase();
        assert!(!stored.contains(&key_text), "the PII key is stored");
    }
    // The pages' identifiers lie past the 64-byte previews, so one text
    // puts identifiers and a look-alike first: the stored preview keeps the
    // look-alike and the words around them, never an identifier.
    {
        let jsonl = dir.path().join("early.jsonl");
        std::fs::write(
            &jsonl,
            "{\"id\":\"early-1\",\"url\":\"https://notes.example.com/1\",\"text\":\"note \
             110105194912310021 m.rossi@example.org 4111111111111111 end of the note, and \
             more words after it so the text is longer than its preview.\"}\n",
        )
        .expect("write early.jsonl");
        let early = dir.path().join("early-index");
        let output = std::process::Command::new(provindex_bin())
            .arg("index")
            .arg(&jsonl)
            .arg("--out")
            .arg(&early)
            .args(["--built-at", "1714550400", "--pii-key"])
            .arg(&key)
            .output()
            .expect("run provindex index");
        common::succeeded(&output, "index early.jsonl");
        let stored = stored_text(&early);
        assert!(
            stored.contains("note 110105194912310021 "),
            "look-alike kept"
        );
        for value in ["m.rossi@example.org", "4111111111111111"] {
            assert!(!stored.contains(value), "{value} stored in clear");
        }
    }
    // And the files on disk (SSTs, logs, manifest) hold none either.
    for entry in std::fs::read_dir(&index).expect("list index") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read index file");
        let text = String::from_utf8_lossy(&bytes);
        for value in planted {
            assert!(!text.contains(value), "{value} in {}", path.display());
        }
    }

    let server = serve(&index, dir.path(), &key);
    let channel = server.channel().await;
    let contact = content_of(&channel, "https://news.example.com/contact").await;
    let thread = content_of(&channel, "https://bbs.example.net/thread/7").await;
    let rossi = content_of(&channel, "https://www.example.org/people/rossi").await;
    let order = content_of(&channel, "https://shop.example.com/order/1001").await;

    // One address in several spellings: exactly the two contents holding it.
    let both: BTreeSet<String> = [contact.clone(), thread.clone()].into();
    for spelling in [
        "wei.zhang@example.com",
        "  WEI.ZHANG@EXAMPLE.COM ",
        "Wei.Zhang＠example.com",
    ] {
        assert_eq!(
            find(&channel, "email", spelling, ADMIN).await.unwrap(),
            both,
            "{spelling}"
        );
    }
    assert_eq!(
        find(&channel, "email", "m.rossi@example.org", ADMIN)
            .await
            .unwrap(),
        [rossi.clone()].into()
    );
    assert!(
        find(&channel, "email", "nobody@example.com", ADMIN)
            .await
            .unwrap()
            .is_empty()
    );
    for spelling in ["+86 138 0013 8000", "13800138000", "0086 138-0013-8000"] {
        assert_eq!(
            find(&channel, "phone", spelling, ADMIN).await.unwrap(),
            [thread.clone()].into(),
            "{spelling}"
        );
    }
    assert_eq!(
        find(&channel, "phone", "+44 (0)20 7946 0958", ADMIN)
            .await
            .unwrap(),
        [rossi.clone()].into()
    );
    assert_eq!(
        find(&channel, "cn_resident_id", "110105 19491231 002x", ADMIN)
            .await
            .unwrap(),
        [order.clone()].into()
    );
    assert_eq!(
        find(&channel, "payment_card", "4111-1111-1111-1111", ADMIN)
            .await
            .unwrap(),
        [order.clone()].into()
    );

    // Invalid identifiers: precise errors that never repeat the value.
    for (kind, value, expected) in [
        ("cn_resident_id", "110105194912310021", "check character"),
        ("payment_card", "4111111111111112", "Luhn"),
        ("email", "wei.zhang.example.com", "'@'"),
        ("phone", "12345", "phone"),
    ] {
        let status = find(&channel, kind, value, ADMIN).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{kind} {value}");
        assert!(status.message().contains(expected), "{}", status.message());
        assert!(!status.message().contains(value), "{}", status.message());
    }
    let status = find(&channel, "passport", "X1", ADMIN).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("kind:"),
        "{}",
        status.message()
    );
    // Only admins look personal data up.
    let status = find(&channel, "email", "wei.zhang@example.com", READER)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = AuditServiceClient::new(channel.clone())
        .find_personal_data(FindPersonalDataRequest {
            kind: "email".into(),
            value: "wei.zhang@example.com".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // Counts per content, read back through a sample of the whole index.
    let all = sample(&channel, source(SourceKind::Index, ""), 24, 1)
        .await
        .unwrap();
    assert_eq!(all.source_contents, 24);
    let mut with_pii = std::collections::BTreeMap::new();
    for item in &all.items {
        if !item.pii.is_empty() {
            let kinds: Vec<(String, u32)> =
                item.pii.iter().map(|p| (p.kind.clone(), p.count)).collect();
            with_pii.insert(item.content_id.clone(), kinds);
        }
    }
    let expected: std::collections::BTreeMap<String, Vec<(String, u32)>> = [
        (contact, vec![("email".to_string(), 1)]),
        (thread, vec![("email".into(), 1), ("phone".into(), 1)]),
        (rossi, vec![("email".into(), 1), ("phone".into(), 1)]),
        (
            order,
            vec![("cn_resident_id".into(), 1), ("payment_card".into(), 1)],
        ),
    ]
    .into();
    assert_eq!(with_pii, expected);

    // The transparency report's share of contents with personal data, by
    // hand: 4 of 24 contents; e-mail on 3, phone on 2, ID and card on 1.
    let report = ReportServiceClient::new(channel.clone())
        .get_transparency_report(GetTransparencyReportRequest {})
        .await
        .unwrap()
        .into_inner();
    let personal = report.personal_data.expect("personal_data");
    assert_eq!(personal.contents_with_any, 4);
    assert!((personal.share_of_contents - 4.0 / 24.0).abs() < 1e-12);
    let by_kind: Vec<(String, u64)> = personal
        .contents_by_kind
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    assert_eq!(
        by_kind,
        vec![
            ("cn_resident_id".to_string(), 1),
            ("email".into(), 3),
            ("payment_card".into(), 1),
            ("phone".into(), 2)
        ]
    );
    assert!((personal.share_by_kind["email"] - 3.0 / 24.0).abs() < 1e-12);

    // Every look-up is in the audit log, with its kind and never the value.
    drop(server);
    let registry = Registry::open_read_only(&dir.path().join("index.registry")).expect("registry");
    let log = registry.audit_log(0, 1000).expect("audit log");
    let lookups: Vec<_> = log
        .iter()
        .filter(|r| r.action == "find_personal_data")
        .collect();
    // 16 by the admin (denied callers are refused before the look-up).
    assert_eq!(lookups.len(), 16, "{log:#?}");
    let text = serde_json::to_string(&log).unwrap().to_lowercase();
    assert!(!text.contains("wei.zhang"), "{text}");
    assert!(!text.contains("13800138000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn samples_are_reproducible_across_worker_counts_and_differ_by_seed() {
    let dir = tempdir();
    let key = write_key(dir.path());
    let one = build(dir.path(), "one", 1, Some(&key));
    let three = build(dir.path(), "three", 3, Some(&key));
    let server_one = serve(&one, dir.path(), &key);
    let server_three = serve(&three, dir.path(), &key);
    let (a, b) = (server_one.channel().await, server_three.channel().await);

    for (src, n) in [
        (source(SourceKind::Index, ""), 5),
        (source(SourceKind::Domain, "example.com"), 4),
        (source(SourceKind::Host, "bbs.example.net"), 3),
        (source(SourceKind::Crawl, "pii-test"), 6),
    ] {
        let first = sample(&a, src.clone(), n, 42).await.unwrap();
        assert_eq!(first.items.len(), n as usize);
        assert_eq!(
            ids(&first),
            ids(&sample(&a, src.clone(), n, 42).await.unwrap())
        );
        assert_eq!(
            ids(&first),
            ids(&sample(&b, src.clone(), n, 42).await.unwrap()),
            "{src:?}: 1 and 3 workers"
        );
        // Items by ascending rank, unique.
        let ranks: Vec<u64> = first.items.iter().map(|i| i.rank).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        let other = sample(&a, src.clone(), n, 7).await.unwrap();
        assert_ne!(ids(&first), ids(&other), "{src:?}: seeds 42 and 7");
    }
    let domain = sample(&a, source(SourceKind::Domain, "example.com"), 14, 3)
        .await
        .unwrap();
    assert_eq!(domain.source_contents, 14);
    assert!(domain.items.iter().all(|i| i.url.contains(".example.com/")));
    assert!(
        domain
            .items
            .iter()
            .all(|i| i.license_class == "unknown" && i.optout_verdict == "unknown")
    );

    // An input object as stored in the captures' locations.
    let thread = ProvenanceServiceClient::new(a.clone())
        .lookup_url(LookupUrlRequest {
            url: "https://bbs.example.net/thread/8".into(),
            r#match: UrlMatch::Exact.into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let input = thread.captures[0].location.as_ref().unwrap().uri.clone();
    assert!(input.ends_with("pii-c.warc.gz"), "{input}");
    let whole = sample(&a, source(SourceKind::Input, &input), 8, 5)
        .await
        .unwrap();
    assert_eq!(whole.source_contents, 8);
    assert!(whole.items.iter().all(|i| i.location_uri == input));

    // Texts read back from the original records.
    let with_text = AuditServiceClient::new(a.clone())
        .draw_sample(DrawSampleRequest {
            source: source(SourceKind::Host, "bbs.example.net"),
            n: 6,
            seed: 9,
            include_text: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_text.items.len(), 6);
    for item in &with_text.items {
        assert!(item.text_error.is_empty(), "{}", item.text_error);
        assert!(item.text.contains('。'), "{}: {:?}", item.url, item.text);
        assert!(item.url.starts_with("https://bbs.example.net/thread/"));
        assert_eq!(item.source_captures, 1);
    }
    let thread7 = with_text
        .items
        .iter()
        .find(|i| i.url.ends_with("/thread/7"));
    if let Some(item) = thread7 {
        // The original record holds the page as published.
        assert!(item.text.contains("138-0013-8000"));
    }

    // Bad requests: precise statuses.
    let cases = [
        (
            source(SourceKind::Index, ""),
            25,
            Code::FailedPrecondition,
            "only 24 contents",
        ),
        (
            source(SourceKind::Index, ""),
            0,
            Code::InvalidArgument,
            "n:",
        ),
        (
            source(SourceKind::Index, ""),
            10_001,
            Code::InvalidArgument,
            "n:",
        ),
        (
            source(SourceKind::Host, "nowhere.example"),
            1,
            Code::NotFound,
            "nowhere.example",
        ),
        (
            source(SourceKind::Unspecified, ""),
            1,
            Code::InvalidArgument,
            "source.kind",
        ),
        (
            source(SourceKind::Domain, " "),
            1,
            Code::InvalidArgument,
            "source.value",
        ),
        (None, 1, Code::InvalidArgument, "source"),
    ];
    for (src, n, code, text) in cases {
        let status = sample(&a, src.clone(), n, 1).await.unwrap_err();
        assert_eq!(status.code(), code, "{src:?} {n}: {status:?}");
        assert!(status.message().contains(text), "{}", status.message());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_go_to_the_audit_log_and_give_the_hand_computed_failure_rate() {
    let dir = tempdir();
    let key = write_key(dir.path());
    let index = build(dir.path(), "index", 2, Some(&key));
    let server = serve(&index, dir.path(), &key);
    let channel = server.channel().await;
    let mut audit = AuditServiceClient::new(channel.clone());
    let domain = source(SourceKind::Domain, "example.com");
    let drawn = sample(&channel, domain.clone(), 10, 2024).await.unwrap();
    let label = |content_id: &str, verdict: LabelVerdict, category: &str| RecordLabelRequest {
        source: domain.clone(),
        n: 10,
        seed: 2024,
        content_id: content_id.into(),
        verdict: verdict.into(),
        category: category.into(),
        note: String::new(),
    };
    // Item 0 is first passed, then failed: its latest label counts.
    let items = ids(&drawn);
    audit
        .record_label(with_token(label(&items[0], LabelVerdict::Pass, ""), ADMIN))
        .await
        .unwrap();
    for (i, id) in items.iter().enumerate() {
        let request = if i < 3 {
            label(id, LabelVerdict::Fail, "personal_information")
        } else {
            label(id, LabelVerdict::Pass, "")
        };
        audit
            .record_label(with_token(request, ADMIN))
            .await
            .unwrap();
    }

    // Refused labels: precise errors, nothing counted.
    let not_in_sample = sample(&channel, domain.clone(), 14, 2024).await.unwrap();
    let outsider = ids(&not_in_sample)
        .into_iter()
        .find(|id| !items.contains(id))
        .expect("a content outside the sample of 10");
    let refusals = [
        (
            label(&outsider, LabelVerdict::Fail, "unlawful"),
            ADMIN,
            Code::FailedPrecondition,
            "not in the sample",
        ),
        (
            label(&items[1], LabelVerdict::Fail, ""),
            ADMIN,
            Code::InvalidArgument,
            "category",
        ),
        (
            label(&items[1], LabelVerdict::Pass, "unlawful"),
            ADMIN,
            Code::InvalidArgument,
            "category",
        ),
        (
            label(&items[1], LabelVerdict::Unspecified, ""),
            ADMIN,
            Code::InvalidArgument,
            "verdict",
        ),
        (
            label("xyz", LabelVerdict::Pass, ""),
            ADMIN,
            Code::InvalidArgument,
            "content_id",
        ),
        (
            label(&items[1], LabelVerdict::Pass, ""),
            READER,
            Code::PermissionDenied,
            "admin",
        ),
    ];
    for (request, token, code, text) in refusals {
        let status = audit
            .record_label(with_token(request, token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(text), "{}", status.message());
    }
    let status = audit
        .record_label(label(&items[1], LabelVerdict::Pass, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A registry opt-out of one sampled content shows in its item's status.
    let mut optout = OptOutServiceClient::new(channel.clone());
    optout
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: "Harbour News".into(),
                scope: Some(OptOutScope {
                    scope: Some(opt_out_scope::Scope::ContentId(items[4].clone())),
                }),
                effective_from: Some(1_000_000_000),
                evidence: "letter of 2024-05-02".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register");
    let again = sample(&channel, domain.clone(), 10, 2024).await.unwrap();
    assert_eq!(ids(&again), items);
    for item in &again.items {
        let expected = if item.content_id == items[4] {
            "reserved"
        } else {
            "unknown"
        };
        assert_eq!(item.content_optout_verdict, expected, "{}", item.url);
    }

    // 3 failed of 10: rate 0.3, Wilson 95% [0.107791, 0.603222] (by hand:
    // center (p + z²/2n)/(1 + z²/n), half z/(1 + z²/n)·√(p(1-p)/n + z²/4n²)).
    let rates = audit
        .source_failure_rate(SourceFailureRateRequest {
            source: domain.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rates.sources.len(), 1);
    let rate = &rates.sources[0];
    assert_eq!((rate.labelled, rate.failed), (10, 3));
    assert!((rate.rate - 0.3).abs() < 1e-12);
    assert!(
        (rate.interval_low - 0.107_791).abs() < 1e-6,
        "{}",
        rate.interval_low
    );
    assert!(
        (rate.interval_high - 0.603_222).abs() < 1e-6,
        "{}",
        rate.interval_high
    );
    assert_eq!(rate.tc260_sample_verdict, "too_few_items");
    assert!(!rate.tc260_source_usable);
    assert_eq!(
        rate.failed_by_category.get("personal_information"),
        Some(&3)
    );
    // Every labelled source when none is named; an unlabelled one is empty.
    let all = audit
        .source_failure_rate(SourceFailureRateRequest { source: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.sources, rates.sources);
    let other = audit
        .source_failure_rate(SourceFailureRateRequest {
            source: source(SourceKind::Host, "bbs.example.net"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (other.sources[0].labelled, other.sources[0].interval_high),
        (0, 1.0)
    );

    // The audit log: 11 labels (one relabel) and the 5 refusals of the
    // admin's labels (a reader's or an anonymous call is refused first).
    drop(server);
    let registry = Registry::open_read_only(&dir.path().join("index.registry")).expect("registry");
    let log = registry.audit_log(0, 1000).expect("audit log");
    let labels: Vec<_> = log.iter().filter(|r| r.action == "label").collect();
    assert_eq!(labels.len(), 11);
    assert!(
        labels
            .iter()
            .all(|r| r.result == "ok" && r.actor.name == "reviewer")
    );
    assert_eq!(labels[0].request["content_id"], items[0].as_str());
    assert_eq!(labels[0].request["verdict"], "pass");
    assert_eq!(labels[1].request["verdict"], "fail");
    assert_eq!(labels[1].request["category"], "personal_information");
    let refused = log.iter().filter(|r| r.action == "label_rejected").count();
    assert_eq!(refused, 5, "{log:#?}");
}

/// A partitioned index served by two partition servers behind a router:
/// FindPersonalData and ReportService, forwarded to the registry service
/// (`registry-server --pii-key`, which assembles the publication's
/// partitions into one index), answer exactly as one server over the
/// one-partition build does, and are refused alike.
#[tokio::test(flavor = "multi_thread")]
async fn personal_data_and_reports_through_the_router_are_one_servers() {
    let dir = tempdir();
    let key = write_key(dir.path());
    let whole = build(dir.path(), "whole", 2, Some(&key));
    let parted = dir.path().join("parted");
    let output = std::process::Command::new(provindex_bin())
        .arg("index")
        .arg(data_dir())
        .arg("--out")
        .arg(&parted)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .args(["--workers", "2", "--index-partitions", "4", "--pii-key"])
        .arg(&key)
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");

    let one = serve(&whole, dir.path(), &key);
    let auth = auth_file(dir.path());
    let key_arg: [&std::ffi::OsStr; 2] = ["--pii-key".as_ref(), key.as_os_str()];
    let registry =
        common::RegistryServer::start_with(&parted, &dir.path().join("registry"), &auth, &key_arg);
    let registry_url = registry.url();
    let partitions = |set: &str| {
        Server::start_with(
            &parted,
            &["--partitions", set, "--registry-url", registry_url.as_str()],
        )
    };
    let (low, high) = (partitions("0,1"), partitions("2,3"));
    let router = common::RouterProcess::start(&[&low, &high], &["--registry-url", &registry_url]);
    let routed = Channel::from_shared(router.url())
        .expect("uri")
        .connect()
        .await
        .expect("connect to the router");
    let single = one.channel().await;

    let mut compared = 0;
    for (kind, value) in [
        ("email", "wei.zhang@example.com"),
        ("email", "WEI.ZHANG@example.com"),
        ("email", "m.rossi@example.org"),
        ("phone", "138 0013 8000"),
        ("email", "nobody@example.com"),
    ] {
        let expected = find(&single, kind, value, ADMIN).await.expect(value);
        let answer = find(&routed, kind, value, ADMIN).await.expect(value);
        assert_eq!(answer, expected, "{kind} {value}");
        compared += expected.len();
    }
    assert!(compared >= 4, "{compared} contents found");
    for (kind, value, token, code) in [
        (
            "email",
            "wei.zhang@example.com",
            READER,
            Code::PermissionDenied,
        ),
        ("email", "not an address", ADMIN, Code::InvalidArgument),
        ("galaxy", "x", ADMIN, Code::InvalidArgument),
    ] {
        let expected = find(&single, kind, value, token).await.expect_err(value);
        let status = find(&routed, kind, value, token).await.expect_err(value);
        assert_eq!(status.code(), code, "{status:?}");
        assert_eq!(status.code(), expected.code(), "{status:?} / {expected:?}");
    }

    let report = |channel: Channel| async move {
        ReportServiceClient::new(channel)
            .get_transparency_report(with_token(GetTransparencyReportRequest {}, READER))
            .await
            .map(|r| r.into_inner())
    };
    // Where each server holds its index and when it wrote the report are
    // its own; the rest is the index's.
    let untimed = |mut report: provindex_proto::v1::TransparencyReport| {
        assert!(report.generated_at > 0 && !report.index.is_empty());
        report.generated_at = 0;
        report.index.clear();
        report
    };
    let expected = untimed(report(single).await.expect("one server's report"));
    let answer = untimed(report(routed).await.expect("the report through the router"));
    assert_eq!(
        expected.personal_data.as_ref().map(|p| p.contents_with_any),
        Some(4)
    );
    assert!(!expected.index_digest.is_empty());
    assert_eq!(answer, expected);
}
