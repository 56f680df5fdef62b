//! The CLI as a full client, with real processes: `provindex index` builds an
//! index from real WARC files of tests/data/corpus/warc, `provindex serve
//! --auth FILE --registry DIR` serves it, and the test drives `provindex
//! lookup`, `capture`, `find-work`, `check-optout` and `optout
//! register|list|revoke` as a user would (token from PROVINDEX_TOKEN or
//! --token, TLS with --ca), checking every `--json` answer against the answer
//! the test's own tonic client gets for the same question.

mod common;

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ServerProcess as Server, corpus_dir, make_certificates, provindex_bin, with_token};
use provindex_proto::v1::{
    Capture, CheckOptOutRequest, FindWorkRequest, GetCaptureRequest, ListOptOutsRequest,
    LookupContentRequest, LookupUrlRequest, UrlMatch, check_opt_out_request::Target,
    lookup_content_request::Key, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use serde_json::Value;

const ADMIN: &str = "admin-token-0123456789";
const IANA: &str = "iana-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{IANA}": {{"role": "rightholder", "name": "IANA", "scopes": ["iana.org"]}},
                "{READER}": {{"role": "reader", "name": "auditor"}}
            }}}}"#
        ),
    )
    .expect("write auth file");
    path
}

fn build_index(dir: &Path) -> PathBuf {
    let index = dir.join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc/iana.org-2014.warc.gz"))
        .arg(corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "cli-test"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    index
}

/// `provindex ARGS` with PROVINDEX_TOKEN set to `token` (or unset), output captured.
fn cli(args: &[&str], token: Option<&str>) -> Output {
    let mut command = Command::new(provindex_bin());
    command.args(args).env_remove("PROVINDEX_TOKEN");
    if let Some(token) = token {
        command.env("PROVINDEX_TOKEN", token);
    }
    command.output().expect("run provindex")
}

/// [`cli`] that must succeed; its stdout as JSON.
fn cli_json(args: &[&str], token: Option<&str>) -> Value {
    let output = cli(args, token);
    assert!(
        output.status.success(),
        "provindex {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "provindex {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The --json form of a capture equals the capture the gRPC client got, field by field.
fn assert_capture_json(json: &Value, capture: &Capture) {
    assert_eq!(json["capture_id"], capture.capture_id);
    assert_eq!(json["url"], capture.url);
    assert_eq!(json["surt"], capture.surt);
    assert_eq!(json["capture_time"], capture.capture_time);
    assert_eq!(json["capture_time_raw"], capture.capture_time_raw);
    assert_eq!(json["http_status"], capture.http_status);
    assert_eq!(json["content_type"], capture.content_type);
    assert_eq!(json["language"], capture.language);
    assert_eq!(json["payload_digest"], capture.payload_digest);
    assert_eq!(json["content_id"], capture.content_id);
    assert_eq!(json["record_id"], capture.record_id);
    assert_eq!(json["record_kind"], capture.record_kind);
    assert_eq!(json["crawl"], capture.crawl);
    assert_eq!(json["host"], capture.host);
    assert_eq!(json["registered_domain"], capture.registered_domain);
    assert_eq!(json["refers_to"], capture.refers_to);
    assert_eq!(json["cluster_id"], capture.cluster_id);
    assert_eq!(json["content_language"], capture.content_language);
    let location = capture.location.as_ref().expect("location");
    assert_eq!(json["location"]["uri"], location.uri);
    assert_eq!(json["location"]["offset"], location.offset);
    assert_eq!(json["location"]["length"], location.length);
    assert_eq!(json["location"]["framing"], location.framing);
    match &capture.license {
        Some(license) => {
            assert_eq!(json["license"]["class"], license.class);
            assert_eq!(json["license"]["id"], license.id);
            assert_eq!(json["license"]["spdx"], license.spdx);
            assert_eq!(json["license"]["location"], license.location);
            assert_eq!(json["license"]["evidence"], license.evidence);
            assert_eq!(json["license"]["conflict"], license.conflict);
        }
        None => assert!(json["license"].is_null(), "{json}"),
    }
    let optout = capture.optout.as_ref().expect("optout status");
    assert_eq!(json["optout"]["verdict"], optout.verdict);
    let signals = json["optout"]["signals"].as_array().expect("signals");
    assert_eq!(signals.len(), optout.signals.len());
    for (json, signal) in signals.iter().zip(&optout.signals) {
        assert_eq!(json["kind"], signal.kind);
        assert_eq!(json["source"], signal.source);
        assert_eq!(json["stance"], signal.stance);
        assert_eq!(json["value"], signal.value);
        assert_eq!(json["evidence"], signal.evidence);
        assert_eq!(json["seen_at"], signal.seen_at);
    }
    assert_eq!(
        json["optout"]["deciding_signal"]["kind"],
        optout
            .deciding_signal
            .as_ref()
            .map(|s| Value::from(s.kind.clone()))
            .unwrap_or(Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_answers_every_question_with_tokens_and_complete_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let registry = dir.path().join("registry");
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth_file(dir.path()).into(),
        "--registry".into(),
        registry.into(),
        "--create-registry".into(),
    ];
    let server = Server::start_with(&index, &args);
    let addr = server.addr.clone();
    let channel = server.channel().await;
    let mut provenance = ProvenanceServiceClient::new(channel.clone());
    let mut optout = OptOutServiceClient::new(channel);

    // The longest iana.org page, read independently of the index.
    let warc = corpus_dir().join("warc/iana.org-2014.warc.gz");
    let (page_url, page_text) = provindex_corpus::read_path(&warc)
        .filter_map(Result::ok)
        .filter_map(|doc| Some((doc.url.unwrap_or_default(), doc.text?)))
        .max_by_key(|(url, text)| (text.split_whitespace().count(), url.clone()))
        .expect("an iana.org page");
    assert!(page_url.contains("iana.org"), "{page_url}");

    // 1. lookup url --json: every capture field, cluster_id included.
    let grpc_captures = provenance
        .lookup_url(LookupUrlRequest {
            url: page_url.clone(),
            r#match: UrlMatch::Exact as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("LookupUrl")
        .into_inner()
        .captures;
    let capture = grpc_captures
        .iter()
        .find(|c| !c.content_id.is_empty())
        .expect("a capture with text")
        .clone();
    let json = cli_json(
        &["lookup", "url", &page_url, "--server", &addr, "--json"],
        None,
    );
    let json_captures = json["captures"].as_array().expect("captures");
    assert_eq!(json_captures.len(), grpc_captures.len());
    for (json, grpc) in json_captures.iter().zip(&grpc_captures) {
        assert_capture_json(json, grpc);
    }
    let content = provenance
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(capture.content_id.clone())),
            ..Default::default()
        })
        .await
        .expect("LookupContent")
        .into_inner()
        .content
        .expect("content");
    let cluster_id = &content.cluster.as_ref().expect("cluster").cluster_id;
    assert_eq!(cluster_id.len(), 32, "{cluster_id}");
    let json_capture = json_captures
        .iter()
        .find(|c| c["capture_id"] == capture.capture_id)
        .expect("the capture in the CLI's answer");
    assert_eq!(json_capture["cluster_id"], *cluster_id);

    // lookup content --json: the content with its cluster and language.
    let json = cli_json(
        &[
            "lookup",
            "content",
            &capture.content_id,
            "--json",
            "--server",
            &addr,
        ],
        None,
    );
    // --server after the subcommand's arguments, and as an http:// URL.
    let json2 = cli_json(
        &[
            "lookup",
            "content",
            &capture.content_id,
            "--json",
            "--server",
            &format!("http://{addr}"),
        ],
        None,
    );
    assert_eq!(json, json2);
    assert_eq!(json["content"]["content_id"], content.content_id);
    assert_eq!(json["content"]["sha256"], content.sha256);
    assert_eq!(json["content"]["length_bytes"], content.length_bytes);
    assert_eq!(json["content"]["token_count"], content.token_count);
    assert_eq!(json["content"]["capture_count"], content.capture_count);
    assert_eq!(json["content"]["first_seen"], content.first_seen);
    assert_eq!(json["content"]["preview"], content.preview);
    assert_eq!(json["content"]["is_keeper"], content.is_keeper);
    assert_eq!(json["content"]["language"], content.language);
    assert_eq!(json["content"]["cluster"]["cluster_id"], *cluster_id);
    assert_eq!(
        json["content"]["cluster"]["size"],
        content.cluster.as_ref().unwrap().size
    );
    assert_eq!(
        json["content"]["cluster"]["keeper"],
        content.cluster.as_ref().unwrap().keeper
    );

    // 2. find-work with the page's text (from stdin) finds the page.
    let mut child = Command::new(provindex_bin())
        .args(["find-work", "--text", "-", "--json", "--server", &addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("find-work");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(page_text.as_bytes()).expect("write text");
    }
    let output = child.wait_with_output().expect("find-work");
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_slice(&output.stdout).expect("find-work json");
    let grpc = provenance
        .find_work(FindWorkRequest {
            text: page_text.clone(),
            max_results: 20,
            captures_per_match: 100,
            ..Default::default()
        })
        .await
        .expect("FindWork")
        .into_inner();
    assert_eq!(json["content_id"], grpc.content_id);
    assert_eq!(json["candidates"], grpc.candidates);
    assert_eq!(json["total_matches"], grpc.total_matches);
    assert_eq!(json["sketch_spec"], grpc.sketch_spec);
    let matches = json["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), grpc.matches.len());
    let first = &matches[0];
    assert_eq!(first["exact"], true);
    assert_eq!(first["similarity"], 1.0);
    assert_eq!(first["content"]["content_id"], capture.content_id);
    for (json, grpc) in matches.iter().zip(&grpc.matches) {
        assert_eq!(json["similarity"], grpc.similarity);
        assert_eq!(json["capture_count"], grpc.capture_count);
        assert_eq!(
            json["content"]["content_id"],
            grpc.content.as_ref().unwrap().content_id
        );
        let captures = json["captures"].as_array().expect("sources");
        assert_eq!(captures.len(), grpc.captures.len());
        for (json, grpc) in captures.iter().zip(&grpc.captures) {
            assert_capture_json(json, grpc);
        }
    }
    assert!(
        first["captures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["url"] == page_url.as_str()),
        "{page_url} among the sources"
    );
    // The text form lists the source URL with its time, license and opt-out status.
    let text_file = dir.path().join("page.txt");
    std::fs::write(&text_file, &page_text).expect("write page");
    let output = cli(
        &[
            "find-work",
            "--text",
            text_file.to_str().unwrap(),
            "--server",
            &addr,
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(&page_url), "{text}");
    assert!(text.contains(&capture.capture_time_raw), "{text}");
    assert!(
        text.contains("license=") && text.contains("optout="),
        "{text}"
    );

    // 3. check-optout before, register (rightholder token from PROVINDEX_TOKEN), after.
    let check = |token: Option<&str>| {
        cli_json(
            &["check-optout", &page_url, "--json", "--server", &addr],
            token,
        )
    };
    let before = check(None);
    let grpc_before = provenance
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::Url(page_url.clone())),
        })
        .await
        .expect("CheckOptOut")
        .into_inner();
    assert_eq!(before["verdict"], grpc_before.verdict);
    assert_ne!(before["verdict"], "reserved", "{before}");
    assert_eq!(before["content_id"], grpc_before.content_id);
    assert_eq!(before["captures_checked"], grpc_before.captures_checked);
    assert_eq!(before["registry_checked"], true);
    assert_eq!(
        before["deciding"]["capture_id"],
        grpc_before.deciding.as_ref().unwrap().capture_id
    );

    let registered = cli_json(
        &[
            "optout",
            "register",
            "--domain",
            "iana.org",
            "--effective-from",
            "1000000000",
            "--evidence",
            "signed declaration 2026-12",
            "--json",
            "--server",
            &addr,
        ],
        Some(IANA),
    );
    let id = registered["id"].as_str().expect("id").to_owned();
    assert_eq!(registered["rightholder"], "IANA");
    assert_eq!(registered["scope_kind"], "domain");
    assert_eq!(registered["scope_key"], "iana.org");
    assert_eq!(registered["effective_from"], 1_000_000_000);
    assert_eq!(registered["evidence"], "signed declaration 2026-12");
    assert!(registered["revoked_at"].is_null());

    let after = check(None);
    let grpc_after = provenance
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::Url(page_url.clone())),
        })
        .await
        .expect("CheckOptOut")
        .into_inner();
    assert_eq!(after["verdict"], "reserved", "{after}");
    assert_eq!(after["verdict"], grpc_after.verdict);
    let deciding = grpc_after.deciding.as_ref().expect("deciding");
    assert_eq!(after["deciding"]["origin"], deciding.origin);
    assert_eq!(
        after["deciding"]["registry_entry_id"],
        deciding.registry_entry_id
    );
    assert_eq!(after["deciding"]["registry_entry_id"], id.as_str());
    assert_eq!(after["deciding"]["scope"], deciding.scope);
    assert_eq!(after["deciding"]["since"], deciding.since);
    assert_eq!(
        after["reserving"].as_array().unwrap().len(),
        grpc_after.reserving.len()
    );
    // The text form names the verdict and the registry entry.
    let output = cli(&["check-optout", &page_url, "--server", &addr], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("verdict: reserved"), "{text}");
    assert!(text.contains(&format!("registry entry {id}")), "{text}");
    // By content too.
    let by_content = cli_json(
        &[
            "check-optout",
            "--content",
            &capture.content_id,
            "--json",
            "--server",
            &addr,
        ],
        None,
    );
    assert_eq!(by_content["verdict"], "reserved");
    assert_eq!(by_content["content_id"], capture.content_id);

    // 4. optout list shows it (same as ListOptOuts), with --token this time.
    let listed = cli_json(
        &[
            "optout", "list", "--json", "--server", &addr, "--token", ADMIN,
        ],
        None,
    );
    let grpc_list = optout
        .list_opt_outs(with_token(ListOptOutsRequest::default(), ADMIN))
        .await
        .expect("ListOptOuts")
        .into_inner()
        .registrations;
    let entries = listed["registrations"].as_array().expect("registrations");
    assert_eq!(entries.len(), grpc_list.len());
    assert_eq!(entries.len(), 1);
    let grpc_entry = &grpc_list[0];
    assert_eq!(entries[0]["id"], grpc_entry.id);
    assert_eq!(entries[0]["created_at"], grpc_entry.created_at);
    assert_eq!(entries[0]["created_by"], grpc_entry.created_by);
    assert_eq!(entries[0]["submitted"], grpc_entry.submitted);
    assert_eq!(entries[0], registered);
    let output = cli(&["optout", "list", "--server", &addr], Some(READER));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("domain iana.org"),
        "{output:?}"
    );

    // 5. optout revoke removes it.
    let revoked = cli_json(
        &[
            "optout",
            "revoke",
            &id,
            "--reason",
            "licensed after all",
            "--json",
            "--server",
            &addr,
        ],
        Some(IANA),
    );
    assert_eq!(revoked["id"], id.as_str());
    assert!(revoked["revoked_at"].as_i64().is_some(), "{revoked}");
    assert_eq!(revoked["revocation_reason"], "licensed after all");
    let listed = cli_json(
        &["optout", "list", "--json", "--server", &addr],
        Some(ADMIN),
    );
    assert_eq!(
        listed["registrations"].as_array().unwrap().len(),
        0,
        "{listed}"
    );
    let listed = cli_json(
        &["optout", "list", "--all", "--json", "--server", &addr],
        Some(ADMIN),
    );
    assert_eq!(listed["registrations"][0], revoked);
    assert_eq!(check(None)["verdict"], before["verdict"]);
    // Revoking twice: FAILED_PRECONDITION, exit 3.
    let output = cli(
        &[
            "optout", "revoke", &id, "--reason", "again", "--server", &addr,
        ],
        Some(IANA),
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        stderr(&output).contains("FAILED_PRECONDITION"),
        "{output:?}"
    );

    // 6. capture --record > FILE: the original record's bytes, nothing else.
    let record_file = dir.path().join("record.warc");
    let status = Command::new(provindex_bin())
        .args([
            "capture",
            &capture.capture_id,
            "--record",
            "--server",
            &addr,
        ])
        .stdout(Stdio::from(std::fs::File::create(&record_file).unwrap()))
        .status()
        .expect("capture --record");
    assert!(status.success());
    let bytes = std::fs::read(&record_file).expect("record file");
    let grpc_record = provenance
        .get_capture(GetCaptureRequest {
            capture_id: capture.capture_id.clone(),
            include_record: true,
        })
        .await
        .expect("GetCapture")
        .into_inner()
        .record;
    assert_eq!(bytes, grpc_record.to_vec());
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("gunzip the record");
        out
    } else {
        bytes.clone()
    };
    assert!(plain.starts_with(b"WARC/1.0"), "{:?}", &plain[..16]);
    // Without --record: the capture, complete.
    let json = cli_json(
        &["capture", &capture.capture_id, "--json", "--server", &addr],
        None,
    );
    assert_capture_json(&json, &capture);
    assert_eq!(json["cluster_id"], *cluster_id);

    // 7. A wrong token: exit 3, UNAUTHENTICATED on stderr.
    let output = cli(
        &["optout", "list", "--server", &addr],
        Some("not-a-known-token-at-all"),
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("UNAUTHENTICATED"), "{output:?}");
    assert!(output.stdout.is_empty());
    let output = cli(
        &[
            "optout",
            "register",
            "--domain",
            "data.gov.uk",
            "--server",
            &addr,
        ],
        Some(IANA),
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("PERMISSION_DENIED"), "{output:?}");

    // 8. A bad id: exit 2 with INVALID_ARGUMENT; an unknown one: exit 1.
    for args in [
        &["capture", "not-an-id", "--server", &addr][..],
        &["capture", "zz", "--record", "--server", &addr][..],
        &["check-optout", "--content", "xyz", "--server", &addr][..],
    ] {
        let output = cli(args, None);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr(&output).contains("INVALID_ARGUMENT"), "{output:?}");
        assert!(output.stdout.is_empty());
    }
    let output = cli(
        &[
            "optout", "revoke", "01x", "--reason", "r", "--server", &addr,
        ],
        Some(ADMIN),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = cli(
        &["capture", &"0".repeat(32), "--record", "--server", &addr],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("NOT_FOUND"), "{output:?}");
    assert!(output.stdout.is_empty());
    // No server there: exit 3.
    let output = cli(
        &["lookup", "url", &page_url, "--server", "127.0.0.1:1"],
        None,
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("UNAVAILABLE"), "{output:?}");
}

#[test]
fn the_cli_talks_tls_with_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let (ca, cert, key) = make_certificates(dir.path());
    let args: Vec<OsString> = vec![
        "--auth".into(),
        auth_file(dir.path()).into(),
        "--registry".into(),
        dir.path().join("registry").into(),
        "--create-registry".into(),
        "--tls-cert".into(),
        cert.into(),
        "--tls-key".into(),
        key.into(),
    ];
    let server = Server::start_with(&index, &args);
    let addr = server.addr.clone();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let ca = ca.to_str().unwrap();

    // host:port with --ca, https:// with --ca, and localhost by name.
    for server_arg in [
        addr.clone(),
        format!("https://{addr}"),
        format!("localhost:{port}"),
    ] {
        let json = cli_json(
            &[
                "lookup",
                "url",
                "http://www.iana.org/",
                "--match",
                "domain",
                "--json",
                "--server",
                &server_arg,
                "--ca",
                ca,
            ],
            None,
        );
        assert!(
            !json["captures"].as_array().unwrap().is_empty(),
            "{server_arg}: {json}"
        );
    }
    let registered = cli_json(
        &[
            "optout", "register", "--domain", "iana.org", "--json", "--server", &addr, "--ca", ca,
        ],
        Some(IANA),
    );
    assert_eq!(registered["scope_key"], "iana.org");
    let listed = cli_json(
        &["optout", "list", "--json", "--server", &addr, "--ca", ca],
        Some(ADMIN),
    );
    assert_eq!(listed["registrations"][0], registered);

    // Plaintext against the TLS server, and TLS without trusting the CA: exit 3.
    for extra in [&[][..], &["--tls"][..]] {
        let mut args = vec!["optout", "list", "--server", &addr];
        args.extend_from_slice(extra);
        let output = cli(&args, Some(ADMIN));
        assert_ne!(output.status.code(), Some(0), "{extra:?}: {output:?}");
        assert!(output.stdout.is_empty());
    }
    // A CA that did not sign the server's certificate: UNAVAILABLE, exit 3.
    let other = tempfile::tempdir().expect("tempdir");
    let (other_ca, _, _) = make_certificates(other.path());
    let output = cli(
        &[
            "optout",
            "list",
            "--server",
            &addr,
            "--ca",
            other_ca.to_str().unwrap(),
        ],
        Some(ADMIN),
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
}

const CMO: &str = "cmo-token-0123456789";
const PRESS: &str = "press-token-0123456789";
const BOB: &str = "bob-token-0123456789";
/// 40 bytes: the build and the server read the same file.
const PII_KEY: &[u8] = b"provindex-e2e-cli-pii-key-0123456789abcd";

/// The AuditService commands (`sample`, `personal-data`, `complaint`,
/// `claim`) against `provindex serve --auth --pii-key` of tests/data/pii:
/// each `--json` answer has every field and agrees with what a tonic client
/// gets; refusals exit with the status's code named on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_drives_the_audit_service_with_complete_json() {
    use provindex_proto::v1::{
        DrawSampleRequest, GetComplaintRequest, Source, SourceKind,
        audit_service_client::AuditServiceClient,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("pii.key");
    std::fs::write(&key, PII_KEY).expect("key");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "pii-test", "--built-at", "1714550400"])
        .arg("--pii-key")
        .arg(&key)
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "{output:?}");
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{READER}": {{"role": "reader", "name": "auditor"}},
                "{BOB}": {{"role": "reader", "name": "bob"}},
                "{CMO}": {{"role": "rightholder", "name": "CMO", "scopes": ["example.com"]}},
                "{PRESS}": {{"role": "rightholder", "name": "Press", "scopes": ["example.com"]}}
            }}}}"#
        ),
    )
    .expect("auth");
    let server = Server::start_with(
        &index,
        &[
            "--auth".into(),
            auth.into_os_string(),
            "--create-registry".into(),
            "--pii-key".into(),
            key.into_os_string(),
        ] as &[OsString],
    );
    let addr = server.addr.clone();
    let channel = server.channel().await;
    let mut audit = AuditServiceClient::new(channel.clone());
    let run = |args: &[&str], token: &str| {
        let mut all = args.to_vec();
        all.extend(["--server", &addr]);
        cli(&all, Some(token))
    };
    let run_json = |args: &[&str], token: &str| {
        let mut all = args.to_vec();
        all.extend(["--json", "--server", &addr]);
        cli_json(&all, Some(token))
    };
    let refused = |args: &[&str], token: &str, exit: i32, code: &str| {
        let output = run(args, token);
        assert_eq!(output.status.code(), Some(exit), "{args:?}: {output:?}");
        assert!(
            stderr(&output).contains(&format!("error: {code}: ")),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
        stderr(&output)
    };

    // sample draw: the same items, in rank order, as the tonic client's.
    let sample = run_json(
        &[
            "sample", "draw", "--source", "index", "--n", "5", "--seed", "42",
        ],
        READER,
    );
    let expected = audit
        .draw_sample(with_token(
            DrawSampleRequest {
                source: Some(Source {
                    kind: SourceKind::Index as i32,
                    value: String::new(),
                }),
                n: 5,
                seed: 42,
                include_text: false,
            },
            READER,
        ))
        .await
        .expect("draw")
        .into_inner();
    assert_eq!(sample["source"]["kind"], "index");
    assert_eq!(sample["seed"], 42);
    assert_eq!(sample["source_contents"], expected.source_contents);
    assert_eq!(expected.source_contents, 24);
    let items = sample["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    for (item, want) in items.iter().zip(&expected.items) {
        assert_eq!(item.as_object().unwrap().len(), 18, "{item}");
        assert_eq!(item["content_id"], want.content_id);
        assert_eq!(item["rank"], want.rank);
        assert_eq!(item["url"], want.url);
        assert_eq!(item["capture_id"], want.capture_id);
        assert_eq!(item["location_offset"], want.location_offset);
        assert_eq!(item["content_optout_verdict"], want.content_optout_verdict);
        assert_eq!(item["pii"].as_array().unwrap().len(), want.pii.len());
    }
    let first = items[0]["content_id"].as_str().unwrap().to_owned();
    let spec = ["--source", "index", "--n", "5", "--seed", "42"];
    let label = |extra: &[&str]| -> Vec<String> {
        ["sample", "label"]
            .iter()
            .chain(&spec)
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect()
    };
    fn strs(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }
    // Only an admin labels; fail needs a category; the content must be in the sample.
    refused(
        &strs(&label(&["--content", &first, "--verdict", "pass"])),
        READER,
        3,
        "PERMISSION_DENIED",
    );
    let message = refused(
        &strs(&label(&["--content", &first, "--verdict", "fail"])),
        ADMIN,
        2,
        "INVALID_ARGUMENT",
    );
    assert!(message.contains("category"), "{message}");
    refused(
        &strs(&label(&["--content", &"0".repeat(32), "--verdict", "pass"])),
        ADMIN,
        3,
        "FAILED_PRECONDITION",
    );
    let labelled = run_json(
        &strs(&label(&[
            "--content",
            &first,
            "--verdict",
            "fail",
            "--category",
            "copyright",
            "--note",
            "a copied article",
        ])),
        ADMIN,
    );
    assert_eq!(labelled.as_object().unwrap().len(), 1);
    assert!(labelled["seq"].as_u64().unwrap() > 0, "{labelled}");
    let rates = run_json(&["sample", "rate"], READER);
    let sources = rates["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 1, "{rates}");
    let rate = &sources[0];
    assert_eq!(rate.as_object().unwrap().len(), 9, "{rate}");
    assert_eq!(rate["source"]["kind"], "index");
    assert_eq!(
        (rate["labelled"].as_u64(), rate["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(rate["rate"], 1.0);
    assert_eq!(rate["failed_by_category"]["copyright"], 1);
    assert_eq!(rate["tc260_sample_verdict"], "too_few_items");
    let text = run(&["sample", "rate"], READER);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("1 failed of 1 labelled"),
        "{text:?}"
    );
    refused(
        &[
            "sample",
            "draw",
            "--source",
            "domain:nowhere.invalid",
            "--n",
            "1",
            "--seed",
            "1",
        ],
        READER,
        1,
        "NOT_FOUND",
    );
    let bad = cli(
        &[
            "sample", "draw", "--source", "site:x", "--n", "1", "--seed", "1",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        stderr(&bad).contains("unknown source kind \"site\""),
        "{bad:?}"
    );

    // personal-data: the two contents holding the address (in any case),
    // the value read from standard input too.
    let found = run_json(
        &["personal-data", "--kind", "email", "Wei.Zhang@Example.com"],
        ADMIN,
    );
    assert_eq!(found.as_object().unwrap().len(), 4, "{found}");
    assert_eq!(found["kind"], "email");
    assert_eq!(found["content_ids"].as_array().unwrap().len(), 2, "{found}");
    assert_eq!(found["truncated"], false);
    assert_eq!(found["pii_hmac"].as_str().unwrap().len(), 64);
    let mut child = Command::new(provindex_bin())
        .args([
            "personal-data",
            "--kind",
            "email",
            "-",
            "--json",
            "--server",
            &addr,
        ])
        .env("PROVINDEX_TOKEN", ADMIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"wei.zhang@example.com\n")
        .expect("stdin");
    let piped = child.wait_with_output().expect("wait");
    assert!(piped.status.success(), "{piped:?}");
    let piped: Value = serde_json::from_slice(&piped.stdout).expect("JSON");
    assert_eq!(piped, found);
    refused(
        &["personal-data", "--kind", "email", "wei.zhang@example.com"],
        READER,
        3,
        "PERMISSION_DENIED",
    );

    // complaint file / show / review, as the public and the reviewer.
    let contact = "https://news.example.com/contact";
    let filed = run_json(
        &[
            "complaint",
            "file",
            "--kind",
            "copyright",
            "--url",
            contact,
            "--description",
            "this page copies my article",
        ],
        READER,
    );
    assert_eq!(filed.as_object().unwrap().len(), 18, "{filed}");
    assert_eq!(filed["state"], "received");
    assert_eq!(filed["complainant"], "auditor");
    assert_eq!(filed["target_kind"], "url");
    assert_eq!(filed["target"], contact);
    assert!(filed["decided_at"].is_null());
    let id = filed["id"].as_str().unwrap().to_owned();
    let shown = run_json(&["complaint", "show", &id], READER);
    assert_eq!(shown, filed);
    let got = audit
        .get_complaint(with_token(GetComplaintRequest { id: id.clone() }, ADMIN))
        .await
        .expect("get")
        .into_inner()
        .complaint
        .expect("complaint");
    assert_eq!(shown["content_ids"], serde_json::json!(got.content_ids));
    assert_eq!(shown["due_at"], got.due_at);
    refused(&["complaint", "show", &id], BOB, 3, "PERMISSION_DENIED");
    refused(&["complaint", "show", "999999"], ADMIN, 1, "NOT_FOUND");
    refused(
        &["complaint", "review", &id, "--action", "uphold"],
        ADMIN,
        3,
        "FAILED_PRECONDITION",
    );
    let missing = refused(
        &[
            "complaint",
            "file",
            "--kind",
            "copyright",
            "--url",
            "https://news.example.com/no-such-page",
            "--description",
            "x",
        ],
        READER,
        1,
        "NOT_FOUND",
    );
    assert!(missing.contains("no-such-page"), "{missing}");
    let started = run_json(
        &["complaint", "review", &id, "--action", "start-review"],
        ADMIN,
    );
    assert_eq!(started["state"], "under_review");
    let upheld = run_json(
        &[
            "complaint",
            "review",
            &id,
            "--action",
            "uphold",
            "--note",
            "the article is the complainant's",
        ],
        ADMIN,
    );
    assert_eq!(upheld["state"], "upheld");
    assert_eq!(upheld["reviewer"], "ops");
    assert!(upheld["decided_at"].as_i64().unwrap() > 0);
    assert!(!upheld["registry_entry_id"].as_str().unwrap().is_empty());
    assert_eq!(upheld["history"].as_array().unwrap().len(), 3, "{upheld}");
    assert_eq!(upheld["history"][2].as_object().unwrap().len(), 4);
    let content = upheld["content_ids"][0].as_str().unwrap();
    let check = run_json(&["check-optout", "--content", content], READER);
    assert_eq!(check["verdict"], "reserved", "{check}");

    // claim mandate / content: a CMO for a member with a mandate; an
    // overlapping claim names the first; no mandate, no claim.
    let mandate = run_json(
        &[
            "claim",
            "mandate",
            "--cmo",
            "CMO",
            "--member",
            "Writers",
            "--evidence",
            "contract 7",
        ],
        ADMIN,
    );
    assert_eq!(mandate.as_object().unwrap().len(), 1);
    assert!(!mandate["id"].as_str().unwrap().is_empty());
    refused(
        &["claim", "mandate", "--cmo", "CMO", "--member", "Poets"],
        READER,
        3,
        "PERMISSION_DENIED",
    );
    let claim = run_json(
        &[
            "claim",
            "content",
            "--url-prefix",
            "https://shop.example.com/",
            "--member",
            "Writers",
            "--evidence",
            "mandate contract 7",
        ],
        CMO,
    );
    assert_eq!(claim.as_object().unwrap().len(), 9, "{claim}");
    assert_eq!(claim["revoked_at"], 0);
    assert_eq!(claim["rightholder"], "Writers");
    assert_eq!(claim["claimant"], "CMO");
    assert_eq!(claim["scope_kind"], "url_prefix");
    assert_eq!(claim["evidence"], "mandate contract 7");
    let overlap = refused(
        &[
            "claim",
            "content",
            "--domain",
            "example.com",
            "--evidence",
            "licence",
        ],
        PRESS,
        3,
        "ALREADY_EXISTS",
    );
    assert!(overlap.contains(claim["id"].as_str().unwrap()), "{overlap}");
    refused(
        &[
            "claim",
            "content",
            "--url-prefix",
            "https://news.example.com/",
            "--member",
            "Poets",
            "--evidence",
            "none",
        ],
        CMO,
        3,
        "PERMISSION_DENIED",
    );
    // claim revoke: not by another rightholder; by its claimant once; then
    // the overlapping claim goes through.
    let id = claim["id"].as_str().unwrap();
    refused(
        &["claim", "revoke", id, "--reason", "mine"],
        PRESS,
        3,
        "PERMISSION_DENIED",
    );
    refused(
        &["claim", "revoke", "999999", "--reason", "x"],
        ADMIN,
        1,
        "NOT_FOUND",
    );
    let revoked = run_json(&["claim", "revoke", id, "--reason", "mandate ended"], CMO);
    assert_eq!(revoked.as_object().unwrap().len(), 9, "{revoked}");
    assert_eq!(revoked["id"], claim["id"]);
    assert!(revoked["revoked_at"].as_i64().unwrap() > 0, "{revoked}");
    assert_eq!(revoked["revocation_reason"], "mandate ended");
    refused(
        &["claim", "revoke", id, "--reason", "again"],
        CMO,
        3,
        "FAILED_PRECONDITION",
    );
    let press = run_json(
        &[
            "claim",
            "content",
            "--domain",
            "example.com",
            "--evidence",
            "licence",
        ],
        PRESS,
    );
    assert_eq!(press["rightholder"], "Press");
    assert_eq!(press["scope_kind"], "domain");
}
