//! Issue 19's removals end to end, with real processes: `provindex index
//! --pii-key` builds an index of tests/data/pii, `provindex serve` takes a
//! source block (a host, an input object) and an erasure by a personal
//! identifier's keyed hash (as FindPersonalData returns it) through a real
//! gRPC client, and `provindex export --registry` leaves exactly those
//! contents out, as `source_blocked` and `erased`, while CheckOptOut keeps
//! calling them unreserved (removals are not opt-outs).
//!
//! The expected sets are computed independently of the export: from the
//! index's capture rows (host, location URI) and FindPersonalData's answer.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{ServerProcess as Server, provindex_bin, run_ok, with_token};
use provindex_index::IndexReader;
use provindex_proto::v1::{
    CheckOptOutRequest, ErasureScope, FindPersonalDataRequest, ListOptOutsRequest, OptOutScope,
    RegisterOptOutRequest, SourceBlockScope, audit_service_client::AuditServiceClient,
    check_opt_out_request::Target, erasure_scope, opt_out_scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient, source_block_scope,
};
use serde_json::Value;
use tonic::Code;

const ADMIN: &str = "admin-token-0123456789";
const HOLDER: &str = "holder-token-0123456789";
const PII_KEY: &[u8] = b"provindex-e2e-removals-pii-key-0123456789";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii")
}

fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let key = dir.join("pii.key");
    std::fs::write(&key, PII_KEY).expect("write key");
    let auth = dir.join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "dpo"}},
                "{HOLDER}": {{"role": "rightholder", "name": "Forum", "scopes": ["bbs.example.net"]}}
            }}}}"#
        ),
    )
    .expect("write auth");
    let index = dir.join("index");
    let output = std::process::Command::new(provindex_bin())
        .arg("index")
        .arg(data_dir())
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .arg("--pii-key")
        .arg(&key)
        .output()
        .expect("run provindex index");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (index, key, auth)
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Content ids with a capture on `host`, and with a capture read from an
/// input whose location URI ends with `input_suffix` (and that URI).
fn facts(
    index: &Path,
    host: &str,
    input_suffix: &str,
) -> (BTreeSet<String>, BTreeSet<String>, String) {
    let reader = IndexReader::open(index).expect("open index");
    let (mut on_host, mut in_input, mut input_uri) =
        (BTreeSet::new(), BTreeSet::new(), String::new());
    reader
        .for_each_capture(|_, capture| -> Result<(), provindex_index::IndexError> {
            if capture.content_id.is_empty() {
                return Ok(());
            }
            let content = hex_id(&capture.content_id);
            if capture.host == host {
                on_host.insert(content.clone());
            }
            if capture.location_uri.ends_with(input_suffix) {
                input_uri = capture.location_uri.clone();
                in_input.insert(content);
            }
            Ok(())
        })
        .expect("walk captures");
    (on_host, in_input, input_uri)
}

fn export(index: &Path, registry: &Path, out: &Path) -> (Value, BTreeSet<String>, Vec<Value>) {
    let summary: Value = serde_json::from_slice(
        &run_ok(&[
            "export".as_ref(),
            index.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--registry".as_ref(),
            registry.as_os_str(),
        ])
        .stdout,
    )
    .expect("summary JSON");
    let lines = |path: PathBuf| -> Vec<Value> {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let kept = lines(out.to_path_buf())
        .iter()
        .map(|r| r["content_id"].as_str().expect("id").to_owned())
        .collect();
    let stem = out.to_str().expect("utf-8").trim_end_matches(".jsonl");
    (
        summary,
        kept,
        lines(PathBuf::from(format!("{stem}.exclusions.jsonl"))),
    )
}

fn scope(scope: opt_out_scope::Scope) -> Option<OptOutScope> {
    Some(OptOutScope { scope: Some(scope) })
}

fn block(source: source_block_scope::Source) -> Option<OptOutScope> {
    scope(opt_out_scope::Scope::SourceBlock(SourceBlockScope {
        source: Some(source),
    }))
}

fn erase(target: erasure_scope::Target) -> Option<OptOutScope> {
    scope(opt_out_scope::Scope::Erasure(ErasureScope {
        target: Some(target),
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_sources_and_erased_personal_data_leave_the_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (index, key, auth) = setup(dir.path());
    let registry = dir.path().join("index.registry");
    let (on_host, in_input, input_uri) = facts(&index, "bbs.example.net", "pii-c.warc.gz");
    assert!(!on_host.is_empty() && !in_input.is_empty());
    assert!(!input_uri.is_empty());

    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            auth.as_os_str(),
            "--pii-key".as_ref(),
            key.as_os_str(),
            "--create-registry".as_ref(),
        ] as &[&OsStr],
    );
    let channel = server.channel().await;
    // The data subject's e-mail: the contents holding it, and its keyed hash.
    let found = AuditServiceClient::new(channel.clone())
        .find_personal_data(with_token(
            FindPersonalDataRequest {
                kind: "email".into(),
                value: "Wei.Zhang@example.com".into(),
            },
            ADMIN,
        ))
        .await
        .expect("find")
        .into_inner();
    let erased: BTreeSet<String> = found.content_ids.into_iter().collect();
    assert_eq!(erased.len(), 2, "contact page and forum thread");
    assert_eq!(found.pii_hmac.len(), 64);

    let mut optouts = OptOutServiceClient::new(channel.clone());
    let register = |scope, evidence: &str, token: &str| {
        with_token(
            RegisterOptOutRequest {
                rightholder: String::new(),
                scope,
                effective_from: Some(0),
                evidence: evidence.into(),
            },
            token,
        )
    };
    // Refusals: a rightholder may not block, a malformed hash names its field,
    // a removal needs its ground.
    let status = optouts
        .register_opt_out(register(
            block(source_block_scope::Source::Host("bbs.example.net".into())),
            "mine",
            HOLDER,
        ))
        .await
        .expect_err("rightholder block");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("source_block"), "{status:?}");
    let status = optouts
        .register_opt_out(register(
            erase(erasure_scope::Target::PiiHmac("abc".into())),
            "request 7",
            ADMIN,
        ))
        .await
        .expect_err("bad hash");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("scope.erasure.pii_hmac: "),
        "{status:?}"
    );
    let status = optouts
        .register_opt_out(register(
            block(source_block_scope::Source::Host(
                "https://bbs.example.net/".into(),
            )),
            "audit",
            ADMIN,
        ))
        .await
        .expect_err("URL as host");
    assert!(
        status.message().starts_with("scope.source_block.host: "),
        "{status:?}"
    );
    let status = optouts
        .register_opt_out(register(
            block(source_block_scope::Source::Host("bbs.example.net".into())),
            " ",
            ADMIN,
        ))
        .await
        .expect_err("no evidence");
    assert!(status.message().starts_with("evidence: "), "{status:?}");

    // Before anything is registered: the baseline export.
    drop(optouts);
    drop(server);
    let (baseline, kept0, _) = export(&index, &registry, &dir.path().join("base.jsonl"));
    assert_eq!(baseline["excluded_by_reason"].get("source_blocked"), None);

    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            auth.as_os_str(),
            "--pii-key".as_ref(),
            key.as_os_str(),
        ] as &[&OsStr],
    );
    let channel = server.channel().await;
    let mut optouts = OptOutServiceClient::new(channel.clone());
    let mut ids = Vec::new();
    for (scope, evidence) in [
        (
            block(source_block_scope::Source::Host("BBS.example.net".into())),
            "TC260 audit: 7% unlawful",
        ),
        (
            block(source_block_scope::Source::Input(input_uri.clone())),
            "input withdrawn by supplier",
        ),
        (
            erase(erasure_scope::Target::PiiHmac(
                found.pii_hmac.to_uppercase(),
            )),
            "data subject request 7",
        ),
    ] {
        let entry = optouts
            .register_opt_out(register(scope, evidence, ADMIN))
            .await
            .expect("register removal")
            .into_inner()
            .registration
            .expect("registration");
        ids.push(entry);
    }
    assert_eq!(ids[0].scope_kind, "source_block");
    assert_eq!(ids[0].scope_key, "host:bbs.example.net");
    assert_eq!(ids[0].rightholder, "dpo");
    assert_eq!(ids[2].scope_kind, "erasure");
    assert_eq!(ids[2].scope_key, format!("pii_hmac:{}", found.pii_hmac));
    let listed = optouts
        .list_opt_outs(with_token(
            ListOptOutsRequest {
                scope_kind: "erasure".into(),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.registrations.len(), 1);

    // Not opt-outs: CheckOptOut does not call a blocked, erased content reserved.
    let thread = erased
        .intersection(&on_host)
        .next()
        .expect("the forum thread is erased and blocked")
        .clone();
    let check = ProvenanceServiceClient::new(channel.clone())
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(thread.clone())),
        })
        .await
        .expect("check")
        .into_inner();
    assert_ne!(check.verdict, "reserved", "{check:?}");
    drop(optouts);
    drop(server);

    let (summary, kept, exclusions) = export(&index, &registry, &dir.path().join("after.jsonl"));
    let blocked: BTreeSet<String> = on_host.union(&in_input).cloned().collect();
    let removed: BTreeSet<String> = blocked.union(&erased).cloned().collect();
    let expected: BTreeSet<String> = kept0.difference(&removed).cloned().collect();
    assert_eq!(kept, expected, "{summary}");
    let mut by_reason: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in &exclusions {
        by_reason
            .entry(row["reason"].as_str().expect("reason").to_owned())
            .or_default()
            .insert(
                row["content_id"].as_str().expect("id").to_owned(),
                row["detail"].as_str().expect("detail").to_owned(),
            );
    }
    // Erasure first: the erased forum thread is `erased`, not `source_blocked`.
    let erased_rows = &by_reason["erased"];
    assert_eq!(erased_rows.keys().cloned().collect::<BTreeSet<_>>(), erased);
    assert!(
        erased_rows
            .values()
            .all(|d| *d == format!("entry:{}", ids[2].id))
    );
    let blocked_rows = &by_reason["source_blocked"];
    assert_eq!(
        blocked_rows.keys().cloned().collect::<BTreeSet<_>>(),
        blocked
            .difference(&erased)
            .cloned()
            .collect::<BTreeSet<_>>()
    );
    for (content, detail) in blocked_rows {
        let entry = if on_host.contains(content) {
            &ids[0]
        } else {
            &ids[1]
        };
        assert_eq!(*detail, format!("entry:{}", entry.id), "{content}");
    }
    assert_eq!(summary["excluded_by_reason"]["erased"], erased.len());
    assert_eq!(
        summary["matched_by_reason"]["source_blocked"],
        blocked.len()
    );
    assert_eq!(
        summary["kept"].as_u64().expect("kept") + summary["excluded"].as_u64().expect("excluded"),
        summary["contents"].as_u64().expect("contents")
    );
    assert!(
        summary["reason_rule"]
            .as_str()
            .expect("rule")
            .starts_with("one reason per excluded content: an erasure"),
        "{summary}"
    );
}
