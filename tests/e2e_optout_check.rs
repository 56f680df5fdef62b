//! Registry entries apply to `CheckOptOut` on an existing index at once, with
//! real processes: `provindex index` over real WARC files, `provindex serve
//! --auth --registry`, and a real tonic client that registers domain, work
//! (near-duplicate) and future-dated opt-outs and watches the answers flip —
//! and flip back on revocation — without a rebuild.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{ServerProcess, corpus_dir, provindex_bin, with_token};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, OptOutScope, RegisterOptOutRequest,
    RevokeOptOutRequest, check_opt_out_request::Target, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
const GOV: &str = "gov-token-0123456789";

fn scope(scope: Scope) -> Option<OptOutScope> {
    Some(OptOutScope { scope: Some(scope) })
}

async fn check(
    client: &mut ProvenanceServiceClient<Channel>,
    target: Target,
) -> CheckOptOutResponse {
    client
        .check_opt_out(CheckOptOutRequest {
            target: Some(target),
        })
        .await
        .expect("check opt-out")
        .into_inner()
}

/// (entry id, scope, since) of the registry findings of an answer.
fn registry_findings(response: &CheckOptOutResponse) -> Vec<(String, String, i64)> {
    response
        .reserving
        .iter()
        .filter(|f| f.origin == "registry")
        .map(|f| (f.registry_entry_id.clone(), f.scope.clone(), f.since))
        .collect()
}

/// The longest text of a WARC file with its URL (as the index extracted it).
fn longest_text(path: &Path) -> (String, String) {
    provindex_corpus::read_path(path)
        .filter_map(Result::ok)
        .filter_map(|doc| Some((doc.url.unwrap_or_default(), doc.text?)))
        .max_by_key(|(_, text)| text.split_whitespace().count())
        .expect("a document with text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_flip_check_opt_out_at_once_and_revocations_flip_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warc = corpus_dir().join("warc");
    let index: PathBuf = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(warc.join("gov.uk-2014-crawl-a.warc.gz"))
        .arg(warc.join("iana.org-2014.warc.gz"))
        .arg("--out")
        .arg(&index)
        .output()
        .expect("index");
    assert!(output.status.success(), "{output:?}");
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{GOV}": {{"role": "rightholder", "name": "Gov", "scopes": ["data.gov.uk"]}}
            }}}}"#
        ),
    )
    .expect("auth file");
    let server = ServerProcess::start_with_registry(&index, &auth, &dir.path().join("registry"));
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let mut registry = OptOutServiceClient::new(channel);

    // A data.gov.uk page with text, before any registration.
    let gov_url = "http://data.gov.uk/";
    let before = check(&mut reads, Target::Url(gov_url.into())).await;
    assert!(before.registry_checked);
    assert!(registry_findings(&before).is_empty(), "{before:?}");
    let gov_content = before.content_id.clone();
    let gov_verdict_before = before.verdict.clone();
    assert_eq!(gov_content.len(), 32, "{before:?}");

    // 1. A domain registration reserves the page and its content at once.
    let domain = registry
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: String::new(),
                scope: scope(Scope::Domain("data.gov.uk".into())),
                effective_from: Some(1_400_000_000),
                evidence: "TDM reservation declared 2014-05-13".into(),
            },
            GOV,
        ))
        .await
        .expect("register domain")
        .into_inner()
        .registration
        .expect("registration");
    let after = check(&mut reads, Target::Url(gov_url.into())).await;
    assert_eq!(after.verdict, "reserved");
    assert_eq!(
        registry_findings(&after),
        vec![(
            domain.id.clone(),
            "domain:data.gov.uk".into(),
            1_400_000_000
        )]
    );
    let by_content = check(&mut reads, Target::ContentId(gov_content.clone())).await;
    assert_eq!(by_content.verdict, "reserved");
    assert_eq!(registry_findings(&by_content).len(), 1, "{by_content:?}");

    // 2. A work covers its near-duplicates in the index: the longest iana.org
    //    page with one short run of words rewritten.
    let (iana_url, iana_text) = longest_text(&warc.join("iana.org-2014.warc.gz"));
    let words: Vec<&str> = iana_text.split_whitespace().collect();
    assert!(words.len() > 150, "{iana_url}: {} words", words.len());
    let mut edited: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    for (i, word) in edited.iter_mut().skip(words.len() / 2).take(6).enumerate() {
        *word = format!("reworded{i}");
    }
    let edited = edited.join(" ");
    let iana_content =
        provindex_sketch::content_id(&provindex_sketch::normalize(&iana_text)).to_hex();
    let edited_id = provindex_sketch::content_id(&provindex_sketch::normalize(&edited)).to_hex();
    assert_ne!(iana_content, edited_id);
    let before = check(&mut reads, Target::ContentId(iana_content.clone())).await;
    assert!(registry_findings(&before).is_empty(), "{before:?}");
    let work = registry
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: "IANA".into(),
                scope: scope(Scope::WorkText(edited)),
                effective_from: Some(1_300_000_000),
                evidence: "registered by the operator on IANA's request".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register work")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(work.scope_key, edited_id);
    let near = check(&mut reads, Target::ContentId(iana_content.clone())).await;
    assert_eq!(near.verdict, "reserved", "{near:?}");
    let findings = registry_findings(&near);
    assert_eq!(findings.len(), 1, "{near:?}");
    assert_eq!(findings[0].0, work.id);
    let (prefix, jaccard) = findings[0]
        .1
        .split_once('~')
        .expect("a near-duplicate scope carries its similarity");
    assert_eq!(prefix, format!("work:{edited_id}"));
    let jaccard: f64 = jaccard.parse().expect("similarity");
    assert!((0.8..=1.0).contains(&jaccard), "{jaccard}");

    // 3. An entry effective in the future does not apply yet.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    registry
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: "IANA".into(),
                scope: scope(Scope::UrlPrefix("http://www.iana.org/numbers".into())),
                effective_from: Some(now + 86_400),
                evidence: "from tomorrow".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register future prefix");
    let future = check(
        &mut reads,
        Target::Url("http://www.iana.org/numbers".into()),
    )
    .await;
    assert!(registry_findings(&future).is_empty(), "{future:?}");

    // 4. Revocation flips the answers back.
    registry
        .revoke_opt_out(with_token(
            RevokeOptOutRequest {
                id: domain.id.clone(),
                reason: "licence granted".into(),
            },
            GOV,
        ))
        .await
        .expect("revoke");
    let revoked = check(&mut reads, Target::Url(gov_url.into())).await;
    assert!(registry_findings(&revoked).is_empty(), "{revoked:?}");
    assert_eq!(revoked.verdict, gov_verdict_before);
}
