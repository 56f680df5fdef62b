//! The opt-out registry as one writer service, with real processes:
//! `provindex index` builds an index from real WARC files, `provindex
//! registry-server --create` holds the registry, and two `provindex serve
//! --registry-url` replicas of the same index consult it. An opt-out
//! registered (and later revoked) at the registry server changes both
//! replicas' CheckOptOut answers alike; with the registry server killed both
//! answer UNAVAILABLE naming it, never "not reserved". A registry is never
//! created without being asked: a missing `--registry DIR` stops both roles
//! with the path named, and a serve without registry flags creates nothing.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{RegistryServer, ServerProcess, corpus_dir, provindex_bin, with_token};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, ListOptOutsRequest, LookupUrlRequest, OptOutScope,
    RegisterOptOutRequest, RevokeOptOutRequest, UrlMatch, check_opt_out_request::Target,
    opt_out_scope::Scope, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::Code;

const ADMIN: &str = "admin-token-0123456789";

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("write auth file");
    path
}

fn build_index(dir: &Path) -> PathBuf {
    let index = dir.join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz"))
        .arg(corpus_dir().join("warc/iana.org-2014.warc.gz"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "registry-service-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    index
}

async fn check(
    server: &ServerProcess,
    target: Target,
) -> Result<CheckOptOutResponse, tonic::Status> {
    ProvenanceServiceClient::new(server.channel().await)
        .check_opt_out(CheckOptOutRequest {
            target: Some(target),
        })
        .await
        .map(|r| r.into_inner())
}

/// Both replicas' answers, which must be the same.
async fn check_both(
    replicas: &[&ServerProcess; 2],
    target: Target,
) -> Result<CheckOptOutResponse, tonic::Status> {
    let first = check(replicas[0], target.clone()).await;
    let second = check(replicas[1], target).await;
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the replicas disagree"),
        // The transport's own words may differ (a connection reset or
        // refused); the code may not.
        (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{a:?} / {b:?}"),
        _ => panic!("the replicas disagree: {first:?} / {second:?}"),
    }
    first
}

/// A command that must fail; its stderr.
fn fails(args: &[OsString]) -> String {
    let output = Command::new(provindex_bin())
        .args(args)
        .output()
        .expect("run provindex");
    assert!(!output.status.success(), "{args:?} succeeded: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_consult_one_registry_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let auth = auth_file(dir.path());
    let registry_dir = dir.path().join("registry");

    // A registry server without --create does not make an empty registry.
    let message = fails(&[
        "registry-server".into(),
        "--index".into(),
        index.clone().into(),
        "--registry".into(),
        registry_dir.clone().into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ]);
    assert!(
        message.contains(&registry_dir.display().to_string()) && message.contains("--create"),
        "{message}"
    );
    assert!(!registry_dir.exists());

    let registry = RegistryServer::start(&index, &registry_dir, &auth);
    let args: Vec<OsString> = vec!["--registry-url".into(), registry.url().into()];
    let a = ServerProcess::start_with(&index, &args);
    let b = ServerProcess::start_with(&index, &args);
    let replicas = [&a, &b];

    // A data.gov.uk page with text, which no crawl signal reserves.
    let mut reads = ProvenanceServiceClient::new(a.channel().await);
    let captures = reads
        .lookup_url(LookupUrlRequest {
            url: "data.gov.uk".into(),
            r#match: UrlMatch::Domain as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("lookup")
        .into_inner()
        .captures;
    let mut page = None;
    for capture in captures.iter().filter(|c| !c.content_id.is_empty()) {
        let answer = check_both(&replicas, Target::Url(capture.url.clone()))
            .await
            .expect("check before any opt-out");
        assert!(answer.registry_checked, "{answer:?}");
        if answer.verdict != "reserved" {
            page = Some((capture.url.clone(), capture.content_id.clone()));
            break;
        }
    }
    let (url, content_id) = page.expect("a data.gov.uk page no crawl signal reserves");

    // Writes go to the registry server; a replica refuses them naming it.
    let mut replica_optouts = OptOutServiceClient::new(a.channel().await);
    let refused = replica_optouts
        .list_opt_outs(with_token(ListOptOutsRequest::default(), ADMIN))
        .await
        .expect_err("a replica holds no registry");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains(&registry.url()), "{refused:?}");

    let channel = tonic::transport::Channel::from_shared(registry.url())
        .expect("uri")
        .connect()
        .await
        .expect("connect to the registry server");
    let mut optouts = OptOutServiceClient::new(channel);
    let entry = optouts
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: "Gov".into(),
                scope: Some(OptOutScope {
                    scope: Some(Scope::Domain("data.gov.uk".into())),
                }),
                effective_from: Some(1_400_000_000),
                evidence: "signed declaration #17".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register at the registry server")
        .into_inner()
        .registration
        .expect("registration");

    // Both replicas: reserved, decided by that entry, for the URL and its content.
    for target in [
        Target::Url(url.clone()),
        Target::ContentId(content_id.clone()),
    ] {
        let answer = check_both(&replicas, target.clone())
            .await
            .expect("check after registering");
        assert_eq!(answer.verdict, "reserved", "{target:?}: {answer:?}");
        let deciding = answer.deciding.expect("deciding finding");
        assert_eq!(deciding.origin, "registry");
        assert_eq!(deciding.registry_entry_id, entry.id);
        assert_eq!(deciding.scope, "domain:data.gov.uk");
        assert_eq!(deciding.since, 1_400_000_000);
    }

    // Revoked at the registry server: neither replica is reserved by it any more.
    optouts
        .revoke_opt_out(with_token(
            RevokeOptOutRequest {
                id: entry.id.clone(),
                reason: "withdrawn".into(),
            },
            ADMIN,
        ))
        .await
        .expect("revoke");
    let answer = check_both(&replicas, Target::Url(url.clone()))
        .await
        .expect("check after revoking");
    assert_ne!(answer.verdict, "reserved", "{answer:?}");
    assert!(answer.registry_checked);
    assert!(
        answer
            .reserving
            .iter()
            .all(|f| f.registry_entry_id != entry.id),
        "{answer:?}"
    );

    // The registry server gone: UNAVAILABLE naming it, on both, for both kinds.
    let registry_url = registry.url();
    registry.kill9();
    for target in [Target::Url(url.clone()), Target::ContentId(content_id)] {
        let status = check_both(&replicas, target)
            .await
            .expect_err("no answer without the registry");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains(&registry_url), "{status:?}");
    }
}

#[test]
fn registries_are_created_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());

    // serve --registry DIR with no registry there: refused, the path named.
    let missing = dir.path().join("no-such-registry");
    let message = fails(&[
        "serve".into(),
        "--index".into(),
        index.clone().into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--registry".into(),
        missing.clone().into(),
    ]);
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("--create-registry"),
        "{message}"
    );
    assert!(!missing.exists(), "{} was created", missing.display());

    // No registry flags: serves, and INDEX.registry is not created.
    let default = dir.path().join("index.registry");
    let server = ServerProcess::start(&index);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let answer = runtime.block_on(async {
        let mut reads = ProvenanceServiceClient::new(server.channel().await);
        let url = reads
            .lookup_url(LookupUrlRequest {
                url: "iana.org".into(),
                r#match: UrlMatch::Domain as i32,
                page_size: 1,
                ..Default::default()
            })
            .await
            .expect("lookup")
            .into_inner()
            .captures[0]
            .url
            .clone();
        check(&server, Target::Url(url)).await.expect("check")
    });
    assert!(!answer.registry_checked, "{answer:?}");
    assert!(!default.exists(), "{} was created", default.display());
    drop(server);

    // --create-registry creates it.
    let server = ServerProcess::start_with(&index, &["--create-registry"]);
    assert!(default.join("CURRENT").is_file());
    drop(server);
}
