//! Issue 14 (1), end to end with real processes: `provindex index` over real
//! WARC files, `provindex serve --auth --registry`, and a real tonic client.
//!
//! * A rightholder's URL grant admits only URLs under it, at path-segment
//!   boundaries, on the same host and port: an authorization table of
//!   look-alike prefixes, encoded dot segments, ports and case.
//! * The same rule decides what a URL-prefix entry covers: `CheckOptOut` and
//!   the compensation statement do not credit an entry for a look-alike page
//!   (`/data/openspending/` is not `/data/openspending-browse`).

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess, corpus_dir, provindex_bin, with_token};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, GetCompensationStatementRequest, ListOptOutsRequest,
    LookupContentRequest, LookupUrlRequest, OptOutRegistration, OptOutScope, RegisterOptOutRequest,
    UrlMatch, check_opt_out_request::Target, lookup_content_request::Key, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient, report_service_client::ReportServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
/// Granted `https://www.gov.uk/government/` (the issue's example).
const GOV: &str = "gov-token-0123456789";
/// Granted `https://www.iana.org/domains/`.
const IANA: &str = "iana-token-0123456789";
/// Granted `http://data.gov.uk/data` (no trailing slash).
const DATA: &str = "data-token-0123456789";
/// Granted `http://example.org:8080/app/` (a non-default port).
const PORTS: &str = "ports-token-0123456789";
/// Granted the domain `data.gov.uk` (and its subdomains).
const DOMAIN: &str = "domain-token-0123456789";
/// Granted `http://data.gov.uk/data/openspending/`, a directory the crawl
/// does not have; its look-alike siblings `/data/openspending-browse` and
/// `/data/openspending-report/index` are crawled.
const OPEN: &str = "open-token-0123456789";

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{GOV}": {{"role": "rightholder", "name": "Gov", "scopes": ["https://www.gov.uk/government/"]}},
                "{IANA}": {{"role": "rightholder", "name": "IANA", "scopes": ["https://www.iana.org/domains/"]}},
                "{DATA}": {{"role": "rightholder", "name": "Data", "scopes": ["http://data.gov.uk/data"]}},
                "{PORTS}": {{"role": "rightholder", "name": "Ports", "scopes": ["http://example.org:8080/app/"]}},
                "{DOMAIN}": {{"role": "rightholder", "name": "Domain", "scopes": ["data.gov.uk"]}},
                "{OPEN}": {{"role": "rightholder", "name": "Openspending", "scopes": ["http://data.gov.uk/data/openspending/"]}}
            }}}}"#
        ),
    )
    .expect("write auth file");
    path
}

fn build_index(dir: &Path) -> PathBuf {
    let index = dir.join("index");
    let warc = corpus_dir().join("warc");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(warc.join("gov.uk-2014-crawl-a.warc.gz"))
        .arg(warc.join("iana.org-2014.warc.gz"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "scope-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    index
}

fn start(dir: &Path, index: &Path) -> ServerProcess {
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth_file(dir).into(),
        "--registry".into(),
        dir.join("registry").into(),
        "--create-registry".into(),
    ];
    ServerProcess::start_with(index, &args)
}

async fn register(
    client: &mut OptOutServiceClient<Channel>,
    token: &str,
    rightholder: &str,
    scope: Scope,
) -> Result<OptOutRegistration, tonic::Status> {
    client
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: rightholder.into(),
                scope: Some(OptOutScope { scope: Some(scope) }),
                effective_from: Some(1_400_000_000),
                evidence: "signed declaration".into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().registration.expect("registration"))
}

/// What a registration attempt must give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Accepted, stored with this SURT prefix.
    Allowed(&'static str),
    /// PERMISSION_DENIED naming the field.
    Denied,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_grants_admit_only_urls_under_them_at_segment_boundaries() {
    use Expect::{Allowed, Denied};
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let server = start(dir.path(), &index);
    let mut client = OptOutServiceClient::new(server.channel().await);

    let table: &[(&str, &str, Expect)] = &[
        // Inside, however written.
        (
            GOV,
            "https://www.gov.uk/government/",
            Allowed("uk,gov)/government"),
        ),
        (
            GOV,
            "https://www.gov.uk/government/organisations/cabinet-office",
            Allowed("uk,gov)/government/organisations/cabinet-office"),
        ),
        (
            GOV,
            "https://www.gov.uk/government?page=2",
            Allowed("uk,gov)/government?page=2"),
        ),
        (
            GOV,
            "HTTPS://WWW.GOV.UK/Government/Publications",
            Allowed("uk,gov)/government/publications"),
        ),
        (
            GOV,
            "https://www.gov.uk:443/government/news",
            Allowed("uk,gov)/government/news"),
        ),
        (
            GOV,
            "https://www.gov.uk/other/%2e%2e/government/topics",
            Allowed("uk,gov)/government/topics"),
        ),
        // Look-alike prefixes: the same bytes, another path segment.
        (GOV, "https://www.gov.uk/governmental-other/", Denied),
        (GOV, "https://www.gov.uk/government-admin/", Denied),
        (GOV, "https://www.gov.uk/government.json", Denied),
        (GOV, "https://www.gov.uk/governmentx", Denied),
        // Dot segments, plain and percent-encoded, climb out.
        (GOV, "https://www.gov.uk/government/../other", Denied),
        (GOV, "https://www.gov.uk/government/%2e%2e/other", Denied),
        (GOV, "https://www.gov.uk/government/%2E%2E%2Fother", Denied),
        (
            GOV,
            "https://www.gov.uk/government/%252e%252e/other",
            Denied,
        ),
        (GOV, "https://www.gov.uk/government%2e%2e/other", Denied),
        // Another port, host or subdomain.
        (GOV, "https://www.gov.uk:8443/government/x", Denied),
        (GOV, "http://www.gov.uk:443/government/x", Denied),
        (GOV, "https://sub.www.gov.uk/government/", Denied),
        (GOV, "https://www.gov.uk.evil.example/government/", Denied),
        (GOV, "https://www.gov.uk@evil.example/government/", Denied),
        (GOV, "https://evil.example/www.gov.uk/government/", Denied),
        // The issue's second example.
        (
            IANA,
            "https://www.iana.org/domains/root",
            Allowed("org,iana)/domains/root"),
        ),
        (IANA, "https://www.iana.org/domainsX/evil", Denied),
        (IANA, "https://www.iana.org/domains-admin/", Denied),
        (IANA, "https://www.iana.org/domains.json", Denied),
        (IANA, "https://www.iana.org/domains/./../numbers", Denied),
        // A grant without a trailing slash covers the page, below it and its queries.
        (
            DATA,
            "http://data.gov.uk/data",
            Allowed("uk,gov,data)/data"),
        ),
        (
            DATA,
            "http://data.gov.uk/data/api",
            Allowed("uk,gov,data)/data/api"),
        ),
        (
            DATA,
            "http://data.gov.uk/data?format=json",
            Allowed("uk,gov,data)/data?format=json"),
        ),
        (DATA, "http://data.gov.uk/database", Denied),
        (DATA, "http://data.gov.uk/data-admin", Denied),
        // A grant on a port: that port only; host case does not matter.
        (
            PORTS,
            "http://EXAMPLE.org:8080/app/x",
            Allowed("org,example:8080)/app/x"),
        ),
        (PORTS, "http://example.org/app/x", Denied),
        (PORTS, "http://example.org:80/app/y", Denied),
        (PORTS, "http://example.org:8081/app/x", Denied),
        (PORTS, "http://example.org:8080/apple", Denied),
        // A domain grant: subdomains and every port, no look-alike host.
        (
            DOMAIN,
            "http://beta.data.gov.uk/x",
            Allowed("uk,gov,data,beta)/x"),
        ),
        (
            DOMAIN,
            "http://data.gov.uk:8080/x",
            Allowed("uk,gov,data:8080)/x"),
        ),
        (DOMAIN, "http://evildata.gov.uk/x", Denied),
        (DOMAIN, "http://data.gov.uk.evil.example/", Denied),
        (OPEN, "http://data.gov.uk/data/openspending-browse", Denied),
        (
            OPEN,
            "http://data.gov.uk/data/openspending-report/index",
            Denied,
        ),
    ];

    let mut failures = Vec::new();
    let mut stored = BTreeSet::new();
    for (token, url, expect) in table {
        let result = register(&mut client, token, "", Scope::UrlPrefix((*url).into())).await;
        match (expect, &result) {
            (Allowed(key), Ok(entry)) if entry.scope_key == *key => {
                stored.insert(entry.scope_key.clone());
            }
            (Denied, Err(status))
                if status.code() == Code::PermissionDenied
                    && status.message().starts_with("scope.url_prefix:") => {}
            _ => failures.push(format!(
                "{url}: expected {expect:?}, got {:?}",
                result
                    .map(|e| e.scope_key)
                    .map_err(|s| (s.code(), s.message().to_owned()))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing refused was stored.
    let listed: BTreeSet<String> = client
        .list_opt_outs(with_token(
            ListOptOutsRequest {
                page_size: 1000,
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .expect("list")
        .into_inner()
        .registrations
        .into_iter()
        .map(|e| e.scope_key)
        .collect();
    assert_eq!(listed, stored);
}

/// (entry id, scope) of the registry findings of an answer.
fn registry_findings(response: &CheckOptOutResponse) -> BTreeSet<(String, String)> {
    response
        .reserving
        .iter()
        .filter(|f| f.origin == "registry")
        .map(|f| (f.registry_entry_id.clone(), f.scope.clone()))
        .collect()
}

async fn check(
    reads: &mut ProvenanceServiceClient<Channel>,
    target: Target,
) -> CheckOptOutResponse {
    reads
        .check_opt_out(CheckOptOutRequest {
            target: Some(target),
        })
        .await
        .expect("check opt-out")
        .into_inner()
}

/// The content id of the newest capture of `url`, and whether that content
/// counts in the compensation statement (its cluster's keeper, with tokens).
async fn content_of(reads: &mut ProvenanceServiceClient<Channel>, url: &str) -> (String, bool) {
    let capture = reads
        .lookup_url(LookupUrlRequest {
            url: url.into(),
            r#match: UrlMatch::Exact as i32,
            newest_first: true,
            ..Default::default()
        })
        .await
        .expect("lookup url")
        .into_inner()
        .captures
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{url} is in the crawl"));
    assert_eq!(capture.content_id.len(), 32, "{url} has text: {capture:?}");
    let content = reads
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(capture.content_id.clone())),
            ..Default::default()
        })
        .await
        .expect("lookup content")
        .into_inner()
        .content
        .expect("content");
    (
        capture.content_id,
        content.is_keeper && content.token_count > 0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_prefix_entries_cover_and_credit_only_pages_under_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let server = start(dir.path(), &index);
    let channel = server.channel().await;
    let mut client = OptOutServiceClient::new(channel.clone());
    let mut reads = ProvenanceServiceClient::new(channel.clone());
    let mut reports = ReportServiceClient::new(channel);

    let browse_url = "http://data.gov.uk/data/openspending-browse";
    let report_url = "http://data.gov.uk/data/openspending-report/index";
    let (browse, browse_counts) = content_of(&mut reads, browse_url).await;
    let (report, report_counts) = content_of(&mut reads, report_url).await;
    // Otherwise the compensation check below would prove nothing.
    assert!(
        browse_counts || report_counts,
        "a look-alike page with a counted content"
    );

    // 1. The rightholder of /data/openspending/ cannot claim its look-alike
    // siblings' contents either.
    for content in [&browse, &report] {
        let status = register(&mut client, OPEN, "", Scope::ContentId(content.clone()))
            .await
            .expect_err("a content captured only outside the grant");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(
            status.message().starts_with("scope.content_id:"),
            "{status:?}"
        );
    }

    // 2. Entries an admin registers: the directory /data/openspending/ (no
    // page of the crawl is under it) and /data/openspending-report/ (one is).
    let lookalike = register(
        &mut client,
        ADMIN,
        "Look-alike Holder",
        Scope::UrlPrefix("http://data.gov.uk/data/openspending/".into()),
    )
    .await
    .expect("admin registers the directory");
    assert_eq!(lookalike.scope_key, "uk,gov,data)/data/openspending");
    let owner = register(
        &mut client,
        ADMIN,
        "Report Holder",
        Scope::UrlPrefix("http://data.gov.uk/data/openspending-report/".into()),
    )
    .await
    .expect("admin registers the report directory");
    let lookalike_finding = (
        lookalike.id.clone(),
        "url_prefix:uk,gov,data)/data/openspending".to_owned(),
    );
    let owner_finding = (
        owner.id.clone(),
        "url_prefix:uk,gov,data)/data/openspending-report".to_owned(),
    );

    // 3. CheckOptOut, by URL and by content: only the entry the page is under.
    let by_url = check(&mut reads, Target::Url(browse_url.into())).await;
    assert!(by_url.registry_checked);
    assert_eq!(registry_findings(&by_url), BTreeSet::new(), "{by_url:?}");
    let by_content = check(&mut reads, Target::ContentId(browse.clone())).await;
    assert!(
        !registry_findings(&by_content).contains(&lookalike_finding),
        "{by_content:?}"
    );
    let by_url = check(&mut reads, Target::Url(report_url.into())).await;
    assert_eq!(
        registry_findings(&by_url),
        BTreeSet::from([owner_finding.clone()]),
        "{by_url:?}"
    );
    assert_eq!(by_url.verdict, "reserved");
    let by_content = check(&mut reads, Target::ContentId(report.clone())).await;
    assert!(
        registry_findings(&by_content).contains(&owner_finding),
        "{by_content:?}"
    );
    assert!(
        !registry_findings(&by_content).contains(&lookalike_finding),
        "{by_content:?}"
    );

    // 4. The compensation statement credits nobody through the look-alike entry.
    let statement = reports
        .get_compensation_statement(with_token(
            GetCompensationStatementRequest {
                pool: 1000.0,
                at: Some(2_000_000_000),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .expect("compensation statement")
        .into_inner();
    assert!(statement.registry_used);
    let lookalike_id: u64 = lookalike.id.parse().expect("id");
    for row in &statement.rightholder_shares {
        assert_ne!(row.rightholder, "Look-alike Holder", "{statement:?}");
        assert!(!row.entry_ids.contains(&lookalike_id), "{row:?}");
    }
    let owner_row = statement
        .rightholder_shares
        .iter()
        .find(|r| r.rightholder == "Report Holder");
    assert_eq!(owner_row.is_some(), report_counts, "{statement:?}");
}
