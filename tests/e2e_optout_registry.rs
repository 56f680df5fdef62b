//! The opt-out registry end to end, with real processes: `provindex index`
//! builds an index from real WARC files of tests/data/corpus/warc, `provindex
//! serve --auth FILE --registry DIR` serves it, and a real tonic client
//! registers, lists and revokes opt-outs with every role. The server is then
//! killed with SIGKILL and restarted: acknowledged writes are still there, the
//! audit log (`provindex audit`) holds every write, and the registry's
//! `entries_covering` seam covers the indexed captures it should.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess as Server, corpus_dir, make_certificates, provindex_bin};
use provindex_index::Registry;
use provindex_proto::v1::{
    ListOptOutsRequest, LookupUrlRequest, OptOutRegistration, OptOutScope, RegisterOptOutRequest,
    RevokeOptOutRequest, UrlMatch, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
const GOV: &str = "gov-token-0123456789";
const IANA: &str = "iana-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    // One token stored only as its SHA-256, as an operator would.
    let iana_hash = sha256_hex(IANA);
    std::fs::write(
        &path,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{GOV}": {{"role": "rightholder", "name": "Gov", "scopes": ["data.gov.uk"]}},
                "sha256:{iana_hash}": {{"role": "rightholder", "name": "IANA",
                                        "scopes": ["http://www.iana.org/domains/"]}},
                "{READER}": {{"role": "reader", "name": "auditor"}}
            }}}}"#
        ),
    )
    .expect("write auth file");
    path
}

fn sha256_hex(text: &str) -> String {
    // The normalized-text digest is plain SHA-256 of the UTF-8 bytes.
    hex_encode(&provindex_sketch::sha256(text))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn build_index(dir: &Path, files: &[&str]) -> PathBuf {
    let index = dir.join("index");
    let mut command = Command::new(provindex_bin());
    command.arg("index");
    for file in files {
        command.arg(corpus_dir().join("warc").join(file));
    }
    let output = command
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "registry-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    index
}

fn request<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    request
}

fn domain(d: &str) -> Option<OptOutScope> {
    Some(OptOutScope {
        scope: Some(Scope::Domain(d.into())),
    })
}

fn url_prefix(u: &str) -> Option<OptOutScope> {
    Some(OptOutScope {
        scope: Some(Scope::UrlPrefix(u.into())),
    })
}

fn content(id: &str) -> Option<OptOutScope> {
    Some(OptOutScope {
        scope: Some(Scope::ContentId(id.into())),
    })
}

fn work(text: &str) -> Option<OptOutScope> {
    Some(OptOutScope {
        scope: Some(Scope::WorkText(text.into())),
    })
}

async fn register(
    client: &mut OptOutServiceClient<Channel>,
    token: Option<&str>,
    rightholder: &str,
    scope: Option<OptOutScope>,
) -> Result<OptOutRegistration, tonic::Status> {
    client
        .register_opt_out(request(
            RegisterOptOutRequest {
                rightholder: rightholder.into(),
                scope,
                effective_from: Some(1_400_000_000),
                evidence: "signed declaration #42".into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().registration.expect("registration"))
}

fn expect_code<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    needle: &str,
) -> tonic::Status {
    let status = result.expect_err("expected an error");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "{needle:?} not in {status:?}"
    );
    status
}

async fn list_all(
    client: &mut OptOutServiceClient<Channel>,
    token: &str,
    template: ListOptOutsRequest,
) -> Vec<OptOutRegistration> {
    let mut out = Vec::new();
    let mut page = template;
    loop {
        let response = client
            .list_opt_outs(request(page.clone(), Some(token)))
            .await
            .expect("list")
            .into_inner();
        out.extend(response.registrations);
        if response.next_page_token.is_empty() {
            return out;
        }
        page.page_token = response.next_page_token;
    }
}

/// Captures (surt, registered domain, content id) of a domain, via LookupUrl.
async fn captures_of(
    client: &mut ProvenanceServiceClient<Channel>,
    url: &str,
    mode: UrlMatch,
) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let mut lookup = LookupUrlRequest {
        url: url.into(),
        r#match: mode as i32,
        page_size: 1000,
        ..Default::default()
    };
    loop {
        let page = client
            .lookup_url(lookup.clone())
            .await
            .expect("lookup")
            .into_inner();
        out.extend(page.captures.into_iter().map(|c| {
            (
                c.url.clone(),
                c.surt.clone(),
                c.registered_domain.clone(),
                c.content_id.clone(),
            )
        }));
        if page.next_page_token.is_empty() {
            return out;
        }
        lookup.page_token = page.next_page_token;
    }
}

fn audit_log(registry: &Path) -> Vec<serde_json::Value> {
    let output = Command::new(provindex_bin())
        .arg("audit")
        .arg(registry)
        .arg("--json")
        .output()
        .expect("provindex audit");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit json line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_list_revoke_with_every_role_then_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(
        dir.path(),
        &["gov.uk-2014-crawl-a.warc.gz", "iana.org-2014.warc.gz"],
    );
    let registry_dir = dir.path().join("registry");
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth_file(dir.path()).into(),
        "--registry".into(),
        registry_dir.clone().into(),
        "--create-registry".into(),
    ];
    let server = Server::start_with(&index, &args);
    let channel = server.channel().await;
    let mut client = OptOutServiceClient::new(channel.clone());
    let mut reads = ProvenanceServiceClient::new(channel.clone());

    // Reads stay open without --auth-reads.
    let gov_captures = captures_of(&mut reads, "data.gov.uk", UrlMatch::Domain).await;
    let iana_captures = captures_of(&mut reads, "iana.org", UrlMatch::Domain).await;
    assert!(gov_captures.len() > 20 && iana_captures.len() > 20);
    let gov_content = gov_captures
        .iter()
        .find(|c| !c.3.is_empty())
        .expect("a gov capture with text")
        .3
        .clone();
    let iana_numbers_content = iana_captures
        .iter()
        .find(|c| c.0.ends_with("/numbers") && !c.3.is_empty())
        .expect("iana /numbers")
        .3
        .clone();

    // 1. No token, an unknown token, a malformed header: UNAUTHENTICATED, every RPC.
    for token in [None, Some("not-a-known-token-at-all")] {
        expect_code(
            register(&mut client, token, "Gov", domain("data.gov.uk")).await,
            Code::Unauthenticated,
            "",
        );
        expect_code(
            client
                .revoke_opt_out(request(
                    RevokeOptOutRequest {
                        id: "1".into(),
                        reason: String::new(),
                    },
                    token,
                ))
                .await,
            Code::Unauthenticated,
            "",
        );
        expect_code(
            client
                .list_opt_outs(request(ListOptOutsRequest::default(), token))
                .await,
            Code::Unauthenticated,
            "",
        );
    }
    let mut malformed = tonic::Request::new(ListOptOutsRequest::default());
    malformed.metadata_mut().insert(
        "authorization",
        "Basic Zm9vOmJhcg==".parse().expect("ascii"),
    );
    expect_code(
        client.list_opt_outs(malformed).await,
        Code::Unauthenticated,
        "Bearer",
    );

    // 2. Readers cannot write.
    expect_code(
        register(&mut client, Some(READER), "", domain("data.gov.uk")).await,
        Code::PermissionDenied,
        "reader",
    );

    // 3. A rightholder inside its scopes.
    let gov_domain = register(&mut client, Some(GOV), "", domain("data.gov.uk"))
        .await
        .expect("gov registers its domain");
    assert_eq!(gov_domain.rightholder, "Gov");
    assert_eq!(gov_domain.scope_kind, "domain");
    assert_eq!(gov_domain.scope_key, "data.gov.uk");
    assert_eq!(gov_domain.effective_from, 1_400_000_000);
    assert_eq!(gov_domain.created_by, "Gov");
    assert!(gov_domain.created_at > 1_700_000_000);
    assert_eq!(gov_domain.revoked_at, None);
    let gov_prefix = register(
        &mut client,
        Some(GOV),
        "Gov",
        url_prefix("http://data.gov.uk/dataset"),
    )
    .await
    .expect("gov registers a prefix");
    assert_eq!(gov_prefix.scope_key, "uk,gov,data)/dataset");
    let gov_content_entry = register(&mut client, Some(GOV), "", content(&gov_content))
        .await
        .expect("gov registers a content captured on its domain");
    let iana_prefix = register(
        &mut client,
        Some(IANA),
        "",
        url_prefix("https://www.iana.org/domains/root"),
    )
    .await
    .expect("iana registers inside its prefix");
    assert_eq!(iana_prefix.scope_key, "org,iana)/domains/root");
    let work_text = "Provenance matters: every sample of a training corpus should be traceable \
                     to the pages it was collected from, with the capture as evidence.";
    let work_entry = register(&mut client, Some(GOV), "", work(work_text))
        .await
        .expect("gov registers a work");
    let normalized = provindex_sketch::normalize(work_text);
    assert_eq!(
        work_entry.scope_key,
        provindex_sketch::content_id(&normalized).to_hex()
    );
    assert!(work_entry.sketch_spec.contains("k=128"));
    assert!(work_entry.submitted.is_empty(), "work texts are not stored");

    // 4. A rightholder outside its scopes, or for someone else.
    for (token, rightholder, scope, needle) in [
        (GOV, "", domain("iana.org"), "scope.domain"),
        (
            GOV,
            "",
            url_prefix("https://www.iana.org/"),
            "scope.url_prefix",
        ),
        (
            GOV,
            "",
            url_prefix("http://data.gov.uk.evil.example/"),
            "scope.url_prefix",
        ),
        (
            IANA,
            "",
            url_prefix("http://www.iana.org/about"),
            "scope.url_prefix",
        ),
        (IANA, "", domain("iana.org"), "scope.domain"),
        (GOV, "", content(&iana_numbers_content), "scope.content_id"),
        (GOV, "IANA", domain("data.gov.uk"), "rightholder"),
    ] {
        expect_code(
            register(&mut client, Some(token), rightholder, scope).await,
            Code::PermissionDenied,
            needle,
        );
    }

    // 5. Admins can do everything, and must name the rightholder.
    let admin_entry = register(
        &mut client,
        Some(ADMIN),
        "Internet Assigned Numbers Authority",
        domain("iana.org"),
    )
    .await
    .expect("admin registers");
    assert_eq!(admin_entry.created_by, "ops");
    expect_code(
        register(&mut client, Some(ADMIN), "", domain("iana.org")).await,
        Code::InvalidArgument,
        "rightholder",
    );

    // 6. Malformed scopes name the field; nothing is written.
    for (scope, needle) in [
        (None, "scope"),
        (Some(OptOutScope { scope: None }), "scope"),
        (domain("http://data.gov.uk/"), "scope.domain"),
        (domain("www.data.gov.uk"), "scope.domain"),
        (domain("gov.uk"), "scope.domain"),
        (domain("co.uk"), "scope.domain"),
        (domain(""), "scope.domain"),
        (domain("10.0.0.1"), "scope.domain"),
        (url_prefix("http://[broken"), "scope.url_prefix"),
        (url_prefix("mailto:someone@data.gov.uk"), "scope.url_prefix"),
        (content("1234"), "scope.content_id"),
        (content(&"g".repeat(32)), "scope.content_id"),
        (work("  ... !!! "), "scope.work_text"),
    ] {
        expect_code(
            register(&mut client, Some(ADMIN), "Someone", scope).await,
            Code::InvalidArgument,
            needle,
        );
    }
    expect_code(
        client
            .register_opt_out(request(
                RegisterOptOutRequest {
                    rightholder: "Someone".into(),
                    scope: domain("example.org"),
                    effective_from: Some(-5),
                    evidence: String::new(),
                },
                Some(ADMIN),
            ))
            .await,
        Code::InvalidArgument,
        "effective_from",
    );
    expect_code(
        client
            .register_opt_out(request(
                RegisterOptOutRequest {
                    rightholder: String::new(),
                    scope: work("another text of some words"),
                    effective_from: None,
                    evidence: String::new(),
                },
                Some(GOV),
            ))
            .await,
        Code::InvalidArgument,
        "evidence",
    );

    // 7. The same active registration twice: ALREADY_EXISTS naming the entry.
    let duplicate = expect_code(
        register(&mut client, Some(GOV), "", domain("DATA.gov.uk")).await,
        Code::AlreadyExists,
        &format!("id {}", gov_domain.id),
    );
    assert!(duplicate.message().contains("already"));

    // 8. Listing: everything for admins and readers, own entries for rightholders.
    let all = list_all(
        &mut client,
        ADMIN,
        ListOptOutsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            gov_domain.id.as_str(),
            &gov_prefix.id,
            &gov_content_entry.id,
            &iana_prefix.id,
            &work_entry.id,
            &admin_entry.id
        ]
    );
    assert_eq!(
        list_all(&mut client, READER, ListOptOutsRequest::default())
            .await
            .len(),
        6
    );
    let own = list_all(&mut client, GOV, ListOptOutsRequest::default()).await;
    assert_eq!(own.len(), 4);
    assert!(own.iter().all(|e| e.rightholder == "Gov"));
    expect_code(
        client
            .list_opt_outs(request(
                ListOptOutsRequest {
                    rightholder: "IANA".into(),
                    ..Default::default()
                },
                Some(GOV),
            ))
            .await,
        Code::PermissionDenied,
        "rightholder",
    );
    let domains = list_all(
        &mut client,
        READER,
        ListOptOutsRequest {
            scope_kind: "domain".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(domains.len(), 2);
    let by_scope = list_all(
        &mut client,
        ADMIN,
        ListOptOutsRequest {
            scope: url_prefix("data.gov.uk/dataset"),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_scope.len(), 1);
    assert_eq!(by_scope[0].id, gov_prefix.id);
    for (list, field) in [
        (
            ListOptOutsRequest {
                page_size: 5000,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListOptOutsRequest {
                page_token: "zz".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            ListOptOutsRequest {
                scope_kind: "planet".into(),
                ..Default::default()
            },
            "scope_kind",
        ),
    ] {
        expect_code(
            client.list_opt_outs(request(list, Some(READER))).await,
            Code::InvalidArgument,
            field,
        );
    }

    // 9. Revocation.
    let revoke = |id: &str| RevokeOptOutRequest {
        id: id.into(),
        reason: "licensed after all".into(),
    };
    expect_code(
        client
            .revoke_opt_out(request(revoke(&gov_prefix.id), Some(READER)))
            .await,
        Code::PermissionDenied,
        "reader",
    );
    expect_code(
        client
            .revoke_opt_out(request(revoke(&gov_prefix.id), Some(IANA)))
            .await,
        Code::PermissionDenied,
        "another rightholder",
    );
    expect_code(
        client
            .revoke_opt_out(request(revoke("9999"), Some(ADMIN)))
            .await,
        Code::NotFound,
        "9999",
    );
    expect_code(
        client
            .revoke_opt_out(request(revoke("abc"), Some(ADMIN)))
            .await,
        Code::InvalidArgument,
        "id",
    );
    let revoked = client
        .revoke_opt_out(request(revoke(&gov_prefix.id), Some(GOV)))
        .await
        .expect("gov revokes its own")
        .into_inner()
        .registration
        .expect("registration");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoked_by, "Gov");
    assert_eq!(revoked.revocation_reason, "licensed after all");
    expect_code(
        client
            .revoke_opt_out(request(revoke(&gov_prefix.id), Some(GOV)))
            .await,
        Code::FailedPrecondition,
        "already revoked",
    );
    client
        .revoke_opt_out(request(revoke(&admin_entry.id), Some(ADMIN)))
        .await
        .expect("admin revokes anyone's");
    let active = list_all(&mut client, ADMIN, ListOptOutsRequest::default()).await;
    assert_eq!(active.len(), 4);
    let with_revoked = list_all(
        &mut client,
        ADMIN,
        ListOptOutsRequest {
            include_revoked: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(with_revoked.len(), 6);
    // A revoked scope can be registered again (a new entry).
    let again = register(
        &mut client,
        Some(GOV),
        "",
        url_prefix("http://data.gov.uk/dataset"),
    )
    .await
    .expect("register again after revocation");
    assert_ne!(again.id, gov_prefix.id);

    // 10. kill -9 right after the acknowledgement; restart on the same registry.
    let before_kill = list_all(
        &mut client,
        ADMIN,
        ListOptOutsRequest {
            include_revoked: true,
            ..Default::default()
        },
    )
    .await;
    server.kill9();
    let server = Server::start_with(&index, &args);
    let mut client = OptOutServiceClient::new(server.channel().await);
    let after_restart = list_all(
        &mut client,
        ADMIN,
        ListOptOutsRequest {
            include_revoked: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(before_kill, after_restart);
    expect_code(
        register(&mut client, Some(GOV), "", domain("data.gov.uk")).await,
        Code::AlreadyExists,
        "already",
    );

    // 11. The audit log (readable while the server runs) has every write:
    //     each accepted one with its entry, each refused one with its code;
    //     unauthenticated attempts are not attributed to anyone.
    let audit = audit_log(&registry_dir);
    let seqs: Vec<u64> = audit
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let ok: BTreeSet<(String, String)> = audit
        .iter()
        .filter(|r| r["result"] == "ok")
        .map(|r| {
            (
                r["action"].as_str().expect("action").to_owned(),
                r["entry_id"].as_u64().expect("entry").to_string(),
            )
        })
        .collect();
    let mut expected: BTreeSet<(String, String)> = [
        &gov_domain,
        &gov_prefix,
        &gov_content_entry,
        &iana_prefix,
        &work_entry,
        &admin_entry,
        &again,
    ]
    .iter()
    .map(|e| ("register".to_owned(), e.id.clone()))
    .collect();
    expected.insert(("revoke".into(), gov_prefix.id.clone()));
    expected.insert(("revoke".into(), admin_entry.id.clone()));
    assert_eq!(ok, expected);
    let refused = |code: &str| audit.iter().filter(|r| r["result"] == code).count();
    // 1 reader + 7 out of scope on register, 2 on revoke.
    assert_eq!(refused("PERMISSION_DENIED"), 10);
    // 1 admin without rightholder + 13 scopes + effective_from + evidence + bad id.
    assert_eq!(refused("INVALID_ARGUMENT"), 17);
    assert_eq!(refused("ALREADY_EXISTS"), 2);
    assert_eq!(refused("NOT_FOUND"), 1);
    assert_eq!(refused("FAILED_PRECONDITION"), 1);
    assert_eq!(audit.len(), 9 + 10 + 17 + 2 + 1 + 1);
    assert_eq!(audit[0]["actor"]["role"], "reader");
    assert_eq!(audit[0]["result"], "PERMISSION_DENIED");
    let first = &audit[1];
    assert_eq!(first["result"], "ok");
    assert_eq!(first["entry_id"].as_u64(), gov_domain.id.parse().ok());
    assert_eq!(first["actor"]["name"], "Gov");
    assert_eq!(first["actor"]["role"], "rightholder");
    assert_eq!(first["request"]["scope"]["domain"], "data.gov.uk");
    assert!(first["at"].as_i64().expect("at") > 1_700_000_000);
    assert!(
        !audit.iter().any(|r| r.to_string().contains(work_text)),
        "work texts are not logged"
    );

    // 12. Entries apply to the existing index at once: the registry seam covers
    //     every data.gov.uk capture, the /domains/root captures of iana.org by
    //     prefix, and nothing else of iana.org (its domain entry was revoked).
    drop(server);
    let registry = Registry::open_read_only(&registry_dir).expect("open registry");
    for (url, surt, registered_domain, content_id) in &gov_captures {
        let content_id = u128::from_str_radix(content_id, 16).ok();
        let ids: Vec<String> = registry
            .entries_covering(surt, registered_domain, content_id)
            .expect("registry answers")
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        assert!(ids.contains(&gov_domain.id), "{url}: {ids:?}");
        assert_eq!(
            ids.contains(&again.id),
            surt.starts_with("uk,gov,data)/dataset"),
            "{url}: {ids:?}"
        );
    }
    let mut root_covered = 0;
    for (url, surt, registered_domain, content_id) in &iana_captures {
        let content_id = u128::from_str_radix(content_id, 16).ok();
        let ids: Vec<String> = registry
            .entries_covering(surt, registered_domain, content_id)
            .expect("registry answers")
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        if surt.starts_with("org,iana)/domains/root") {
            assert_eq!(ids, vec![iana_prefix.id.clone()], "{url}");
            root_covered += 1;
        } else {
            assert!(ids.is_empty(), "{url}: {ids:?}");
        }
    }
    assert!(root_covered >= 3, "{root_covered}");
    // The content entry covers that content wherever it was captured.
    let gov_content_id = u128::from_str_radix(&gov_content, 16).expect("hex");
    let by_content = registry
        .entries_covering("", "", Some(gov_content_id))
        .expect("registry answers");
    assert_eq!(
        by_content
            .iter()
            .map(|e| e.id.to_string())
            .collect::<Vec<_>>(),
        vec![gov_content_entry.id.clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_a_token_only_with_auth_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path(), &["iana.org-2014.warc.gz"]);
    let auth = auth_file(dir.path());
    let server = Server::start_with(
        &index,
        &[
            "--auth".into(),
            auth.into_os_string(),
            "--auth-reads".into(),
            "--create-registry".into(),
        ],
    );
    let channel = server.channel().await;
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let lookup = LookupUrlRequest {
        url: "http://www.iana.org/numbers".into(),
        ..Default::default()
    };
    expect_code(
        reads.lookup_url(request(lookup.clone(), None)).await,
        Code::Unauthenticated,
        "authorization",
    );
    expect_code(
        reads
            .lookup_url(request(lookup.clone(), Some("wrong-token-wrong-token")))
            .await,
        Code::Unauthenticated,
        "unknown token",
    );
    for token in [READER, GOV, IANA, ADMIN] {
        let page = reads
            .lookup_url(request(lookup.clone(), Some(token)))
            .await
            .expect("authorized read")
            .into_inner();
        assert!(!page.captures.is_empty());
    }
    // Health stays open for probes.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "provindex.v1.OptOutService".into(),
        })
        .await
        .expect("health of the registry service");
    // The registry is created (asked to) next to the index by default.
    assert!(dir.path().join("index.registry").join("CURRENT").is_file());

    // Without --auth: reads open, the registry (INDEX.registry, now there)
    // refuses every call.
    drop(server);
    let server = Server::start(&index);
    let channel = server.channel().await;
    ProvenanceServiceClient::new(channel.clone())
        .lookup_url(lookup)
        .await
        .expect("open read");
    expect_code(
        OptOutServiceClient::new(channel)
            .list_opt_outs(request(ListOptOutsRequest::default(), Some(ADMIN)))
            .await,
        Code::Unauthenticated,
        "--auth",
    );
}

#[test]
fn a_bad_auth_file_stops_the_server_before_it_listens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path(), &["cc-single-response.warc.gz"]);
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        r#"{"tokens": {"short": {"role": "admin", "name": "x"}}}"#,
    )
    .expect("write");
    let output = Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0", "--auth"])
        .arg(&auth)
        .output()
        .expect("serve");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 16 characters"), "{stderr}");

    // A registry held by a running server cannot be opened by a second one.
    let first = Server::start_with(&index, &["--create-registry"]);
    let second = Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("serve");
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("registry"),
        "{second:?}"
    );
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_by_configuration() {
    use tonic::transport::{Certificate, ClientTlsConfig};

    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path(), &["iana.org-2014.warc.gz"]);
    let (ca, cert, key) = make_certificates(dir.path());
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth_file(dir.path()).into(),
        "--tls-cert".into(),
        cert.clone().into(),
        "--tls-key".into(),
        key.clone().into(),
        "--create-registry".into(),
    ];
    let server = Server::start_with(&index, &args);

    // A client that trusts the CA talks to the server over TLS, with tokens.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&ca).expect("ca")))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{}", server.addr))
        .expect("uri")
        .tls_config(tls)
        .expect("tls config")
        .connect()
        .await
        .expect("TLS connect");
    let registered = register(
        &mut OptOutServiceClient::new(channel.clone()),
        Some(ADMIN),
        "IANA",
        domain("iana.org"),
    )
    .await
    .expect("register over TLS");
    assert_eq!(registered.scope_key, "iana.org");
    ProvenanceServiceClient::new(channel)
        .lookup_url(LookupUrlRequest {
            url: "http://www.iana.org/numbers".into(),
            ..Default::default()
        })
        .await
        .expect("read over TLS");

    // A plaintext client gets nowhere.
    let plaintext = match Channel::from_shared(server.url())
        .expect("uri")
        .connect()
        .await
    {
        Ok(channel) => OptOutServiceClient::new(channel)
            .list_opt_outs(request(ListOptOutsRequest::default(), Some(ADMIN)))
            .await
            .map(|_| ()),
        Err(error) => Err(tonic::Status::unavailable(error.to_string())),
    };
    assert!(
        plaintext.is_err(),
        "plaintext request succeeded on a TLS server"
    );
    drop(server);

    // A file that holds no key stops the server before it listens.
    let output = Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(dir.path().join("server.ext"))
        .output()
        .expect("serve");
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("TLS certificate"),
        "{output:?}"
    );
}
