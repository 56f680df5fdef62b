//! Issue 14 (8), end to end with real processes: `provindex serve --auth
//! --registry` over a real index, and a real tonic client sending what loose
//! validation used to take — signed ids, a SURT key as a URL, a domain with a
//! tab, megabyte scopes, an upper-case `BEARER` — plus an auth file listing
//! one token key twice, which must stop the server before it listens.

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{ServerProcess, corpus_dir, provindex_bin};
use provindex_proto::v1::{
    CheckOptOutRequest, ListOptOutsRequest, OptOutRegistration, OptOutScope, RegisterOptOutRequest,
    RevokeOptOutRequest, check_opt_out_request::Target, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::Code;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn build_index(dir: &Path) -> PathBuf {
    let index = dir.join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc").join("iana.org-2014.warc.gz"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "validation-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    index
}

fn with_header<T>(message: T, header: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", header.parse().expect("ascii"));
    request
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    with_header(message, &format!("Bearer {token}"))
}

async fn register(
    client: &mut OptOutServiceClient<Channel>,
    scope: Scope,
) -> Result<OptOutRegistration, tonic::Status> {
    client
        .register_opt_out(authed(
            RegisterOptOutRequest {
                rightholder: "Someone".into(),
                scope: Some(OptOutScope { scope: Some(scope) }),
                effective_from: Some(1_400_000_000),
                evidence: "letter".into(),
            },
            ADMIN,
        ))
        .await
        .map(|r| r.into_inner().registration.expect("registration"))
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) -> String {
    let status = result.expect_err("must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}: ")),
        "{status:?}"
    );
    // A precise reason, never the megabyte input echoed back.
    assert!(
        status.message().len() < 400,
        "{} bytes",
        status.message().len()
    );
    status.message().to_owned()
}

fn audit_lines(registry: &Path) -> Vec<String> {
    let output = Command::new(provindex_bin())
        .arg("audit")
        .arg(registry)
        .arg("--json")
        .output()
        .expect("provindex audit");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_ids_scopes_and_schemes_are_refused_or_accepted_precisely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{READER}": {{"role": "reader", "name": "auditor"}}
            }}}}"#
        ),
    )
    .expect("auth file");
    let registry = dir.path().join("registry");
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth.into(),
        "--registry".into(),
        registry.clone().into(),
        "--create-registry".into(),
    ];
    let server = ServerProcess::start_with(&index, &args);
    let channel = server.channel().await;
    let mut client = OptOutServiceClient::new(channel.clone());
    let mut reads = ProvenanceServiceClient::new(channel);

    let entry = register(&mut client, Scope::Domain("iana.org".into()))
        .await
        .expect("register");
    assert_eq!(entry.id, "1");

    // 1. Ids: decimal digits only. "+1" used to revoke entry 1.
    for id in ["+1", "-1", " 1", "1 ", "01", "0x1", "1e0"] {
        let message = assert_invalid(
            client
                .revoke_opt_out(authed(
                    RevokeOptOutRequest {
                        id: id.into(),
                        reason: "withdrawn".into(),
                    },
                    ADMIN,
                ))
                .await,
            "id",
        );
        assert!(message.contains("not a registry id"), "{message}");
    }
    assert_invalid(
        client
            .list_opt_outs(authed(
                ListOptOutsRequest {
                    page_token: "+0".into(),
                    ..Default::default()
                },
                ADMIN,
            ))
            .await,
        "page_token",
    );
    let listed = client
        .list_opt_outs(authed(ListOptOutsRequest::default(), READER))
        .await
        .expect("list")
        .into_inner()
        .registrations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, None, "a refused revocation revoked");

    // Content ids: exactly 32 hex digits; "+000…" used to be content 0.
    let signed = format!("+{}", "0".repeat(31));
    assert_invalid(
        register(&mut client, Scope::ContentId(signed.clone())).await,
        "scope.content_id",
    );
    assert_invalid(
        reads
            .check_opt_out(CheckOptOutRequest {
                target: Some(Target::ContentId(signed)),
            })
            .await,
        "content_id",
    );

    // 2. A SURT key is not a URL: it used to be stored as `org,example))/`.
    let message = assert_invalid(
        register(&mut client, Scope::UrlPrefix("org,example)/".into())).await,
        "scope.url_prefix",
    );
    assert!(message.contains("SURT key"), "{message}");

    // 3. Domains and prefixes: hostname rules, bounded, no control characters.
    for (scope, field, reason) in [
        (
            Scope::Domain("exa\tmple.org".into()),
            "scope.domain",
            "control character",
        ),
        (
            Scope::Domain("example.net\n".into()),
            "scope.domain",
            "control character",
        ),
        (
            Scope::UrlPrefix("https://www.iana.org/do\tmains/".into()),
            "scope.url_prefix",
            "control character",
        ),
        (
            Scope::Domain(format!("{}.org", "a".repeat(64))),
            "scope.domain",
            "longer than 63",
        ),
        (
            Scope::Domain(format!("{}org", "abcdefghi.".repeat(30))),
            "scope.domain",
            "longer than 253",
        ),
        (
            Scope::Domain(format!("{}.org", "a".repeat(1 << 20))),
            "scope.domain",
            "longer than 1024",
        ),
        (
            Scope::UrlPrefix(format!("https://www.iana.org/{}", "a".repeat(1 << 20))),
            "scope.url_prefix",
            "longer than 2048",
        ),
    ] {
        let message = assert_invalid(register(&mut client, scope).await, field);
        assert!(message.contains(reason), "{message}");
    }

    // 4. The scheme name is case-insensitive.
    for header in [
        format!("BEARER {ADMIN}"),
        format!("bearer {ADMIN}"),
        format!("BeArEr {ADMIN}"),
    ] {
        client
            .list_opt_outs(with_header(ListOptOutsRequest::default(), &header))
            .await
            .unwrap_or_else(|status| panic!("{header}: {status:?}"));
    }

    // Nothing refused was stored, and the audit log holds no megabyte copy.
    let listed = client
        .list_opt_outs(authed(
            ListOptOutsRequest {
                include_revoked: true,
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .expect("list")
        .into_inner()
        .registrations;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let audit = audit_lines(&registry);
    assert!(
        audit.len() > 10,
        "every refusal is audited: {}",
        audit.len()
    );
    for line in &audit {
        assert!(
            line.len() < 16 * 1024,
            "audit record of {} bytes",
            line.len()
        );
    }
}

#[test]
fn serve_refuses_an_auth_file_listing_a_token_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let auth = dir.path().join("auth.json");
    // A JSON object keeps only one of the two: the admin silently became a reader.
    std::fs::write(
        &auth,
        r#"{"tokens": {
            "shared-secret-token-0123": {"role": "admin", "name": "ops"},
            "reader-token-0123456789": {"role": "reader", "name": "auditor"},
            "shared-secret-token-0123": {"role": "reader", "name": "intern"}
        }}"#,
    )
    .expect("auth file");
    let mut child = Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0", "--auth"])
        .arg(&auth)
        .arg("--registry")
        .arg(dir.path().join("registry"))
        .arg("--create-registry")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run provindex serve");
    // The first line, or EOF when it exits: a server that starts is stopped
    // here and fails the test instead of running forever.
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("read stdout");
    if !first_line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server started: {first_line:?}");
    }
    let output = child.wait_with_output().expect("wait");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("auth.json"), "{stderr}");
    assert!(
        stderr.contains("#3") && stderr.contains("intern") && stderr.contains("ops"),
        "names the duplicate: {stderr}"
    );
    assert!(stderr.contains("listed once"), "{stderr}");
    assert!(
        !stderr.contains("shared-secret-token-0123"),
        "the secret is not printed: {stderr}"
    );
}
