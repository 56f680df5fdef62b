//! Lineage end to end, with real processes: `provindex index --signing-key`
//! indexes a real crawl (the IANA WARC of tests/data) plus a small JSONL of
//! known works, `provindex serve --registry --auth` serves it with its
//! ledger, `provindex export --registry` runs twice with a work's opt-out
//! registered over gRPC in between, and `provindex lineage` and
//! LedgerService.Lineage answer: the work was in export 1, not in export 2,
//! covered by the entry since its effective time; a content never opted
//! out was in both. Bad questions get precise statuses.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess as Server, corpus_dir, provindex_bin, run_ok, with_token};
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::opt_out_service_client::OptOutServiceClient;
use provindex_proto::v1::report_service_client::ReportServiceClient;
use provindex_proto::v1::{
    ExportTrainingManifestRequest, GetSignedManifestRequest, LineageRequest, LineageResponse,
    OptOutScope, RegisterOptOutRequest, lineage_request::Subject, opt_out_scope::Scope,
};
use serde_json::Value;
use tonic::Code;

const ADMIN: &str = "admin-token-0123456789";
const EFFECTIVE_FROM: i64 = 1_400_000_000;
const SEED_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const WORK_URL: &str = "https://author.example.org/essays/rivers";
const COPY_URL: &str = "https://mirror.example.net/copy/rivers";
const OTHER_URL: &str = "https://other.example.com/notes/bridges";

/// A distinctive text of `words` words drawn from `seed`.
fn text(seed: usize, words: usize) -> String {
    let vocabulary = [
        "river", "stone", "harbour", "lantern", "meadow", "copper", "willow", "archive", "signal",
        "orchard", "granite", "compass", "thistle", "furnace", "ledger", "beacon", "quarry",
        "saddle", "plaster", "tundra",
    ];
    (0..words)
        .map(|i| {
            format!(
                "{}{}",
                vocabulary[(i * 7 + seed * 3) % vocabulary.len()],
                (i * 131 + seed * 7919) % 1009
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Corpus {
    work: String,
    jsonl: PathBuf,
}

/// The work (earliest, so its cluster's keeper), a near-duplicate copy of
/// it (one word changed) and an unrelated page.
fn corpus(dir: &Path) -> Corpus {
    let work = text(1, 200);
    let copy = work.replacen("river", "rover", 1);
    assert_ne!(copy, work);
    let other = text(2, 150);
    let rows = [
        ("work", &work, WORK_URL, "2024-01-01T00:00:00Z"),
        ("copy", &copy, COPY_URL, "2024-02-01T00:00:00Z"),
        ("other", &other, OTHER_URL, "2024-01-15T00:00:00Z"),
    ];
    let jsonl = dir.join("works.jsonl");
    let lines: Vec<String> = rows
        .iter()
        .map(|(id, text, url, added)| {
            serde_json::json!({"id": id, "text": text, "url": url, "added": added}).to_string()
        })
        .collect();
    std::fs::write(&jsonl, lines.join("\n") + "\n").expect("corpus");
    Corpus { work, jsonl }
}

fn build_index(dir: &Path, corpus: &Corpus) -> PathBuf {
    let key = dir.join("ledger.key");
    std::fs::write(&key, format!("{SEED_HEX}\n")).expect("key");
    let index = dir.join("index");
    run_ok(&[
        "index".as_ref(),
        corpus_dir().join("warc/iana.org-2014.warc.gz").as_os_str(),
        corpus.jsonl.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
        "--crawl".as_ref(),
        "lineage-test".as_ref(),
        "--signing-key".as_ref(),
        key.as_os_str(),
    ]);
    assert!(index.join("ledger.json").is_file());
    index
}

fn auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth");
    path
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn export(index: &Path, registry: &Path, out: &Path) -> Value {
    json(&run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
    ]))
}

fn lineage(index: &Path, registry: &Path, subject: &[&OsStr]) -> Value {
    let mut args: Vec<&OsStr> = vec![
        "lineage".as_ref(),
        "--index".as_ref(),
        index.as_os_str(),
        "--registry".as_ref(),
        registry.as_os_str(),
    ];
    args.extend(subject);
    json(&run_ok(&args))
}

/// The lineage of the one content `matched` so.
fn content<'a>(answer: &'a Value, matched: &str) -> &'a Value {
    let found: Vec<&Value> = answer["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .filter(|c| c["matched"] == matched)
        .collect();
    assert_eq!(found.len(), 1, "{matched}: {answer:#}");
    found[0]
}

/// The content id of the manifest row with `url`.
fn manifest_content(manifest: &Path, url: &str) -> String {
    std::fs::read_to_string(manifest)
        .expect("manifest")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("row"))
        .find(|row| row["url"] == url)
        .unwrap_or_else(|| panic!("{url} not in {}", manifest.display()))["content_id"]
        .as_str()
        .expect("content_id")
        .to_owned()
}

async fn ask(
    client: &mut LedgerServiceClient<tonic::transport::Channel>,
    subject: Option<Subject>,
) -> Result<LineageResponse, tonic::Status> {
    client
        .lineage(LineageRequest {
            subject,
            min_similarity: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_shows_a_work_in_the_export_before_its_opt_out_and_not_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = corpus(dir.path());
    let index = build_index(dir.path(), &corpus);
    let registry = dir.path().join("registry");
    let auth = auth_file(dir.path());
    let server = Server::start_with(
        &index,
        &[
            "--auth".as_ref(),
            auth.as_os_str(),
            "--registry".as_ref(),
            registry.as_os_str(),
            "--create-registry".as_ref(),
        ],
    );
    let info = json(&run_ok(&[
        "info".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
    ]));

    // Export 1: the registry is empty.
    let first_out = dir.path().join("e1/m.jsonl");
    let first = export(&index, &registry, &first_out);
    let recorded = &first["lineage"];
    assert_eq!(recorded["format"], "provindex-lineage-v1");
    assert_eq!(recorded["index"]["digest"], info["digest"], "{recorded:#}");
    let ledger: Value = serde_json::from_str(
        &std::fs::read_to_string(index.join("ledger.json")).expect("ledger.json"),
    )
    .expect("ledger JSON");
    assert_eq!(
        recorded["index"]["ledger"]["content_root"],
        ledger["manifest"]["content_root"]
    );
    assert_eq!(
        recorded["index"]["ledger"]["signature"],
        ledger["signature"]
    );
    assert_eq!(recorded["registry"]["entries"], 0);
    assert_eq!(recorded["registry"]["audit_seq"], 0);
    assert_eq!(
        recorded["output"]["manifest"],
        first_out.to_str().expect("utf-8")
    );
    assert_eq!(recorded["output"]["kept"], first["kept"]);
    // The summary file on disk carries the same lineage.
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("e1/m.summary.json")).expect("summary"),
    )
    .expect("summary JSON");
    assert_eq!(on_disk["lineage"], *recorded);

    // The work's opt-out, registered over gRPC between the exports.
    let mut optouts = OptOutServiceClient::new(server.channel().await);
    let entry = optouts
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: "River Author".into(),
                scope: Some(OptOutScope {
                    scope: Some(Scope::WorkText(corpus.work.clone())),
                }),
                effective_from: Some(EFFECTIVE_FROM),
                evidence: "signed declaration".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register")
        .into_inner()
        .registration
        .expect("registration");
    let entry_id: u64 = entry.id.parse().expect("entry id");

    // Export 2 sees it.
    let second_out = dir.path().join("e2/m.jsonl");
    let second = export(&index, &registry, &second_out);
    let state = &second["lineage"]["registry"];
    assert_eq!(state["entries"], 1);
    assert_eq!(state["last_entry_id"], entry_id);
    assert!(state["audit_seq"].as_u64().expect("seq") >= 1);
    assert_ne!(
        state["entries_digest"],
        recorded["registry"]["entries_digest"]
    );
    assert_eq!(
        std::fs::read_to_string(registry.join("lineage.jsonl"))
            .expect("lineage log")
            .lines()
            .count(),
        2
    );

    // The work by its text: in export 1, not in export 2, covered since T.
    let work_file = dir.path().join("work.txt");
    std::fs::write(&work_file, &corpus.work).expect("work");
    let answer = lineage(
        &index,
        &registry,
        &["--text".as_ref(), work_file.as_os_str()],
    );
    assert_eq!(answer["versions"][0]["relation"], "served");
    assert_eq!(answer["versions"][0]["index_digest"], info["digest"]);
    let exports = answer["exports"].as_array().expect("exports");
    assert_eq!(exports.len(), 2, "{answer:#}");
    assert_eq!(exports[0]["summary"], recorded["output"]["summary"]);
    assert!(exports[0]["exported_at"].as_i64() <= exports[1]["exported_at"].as_i64());
    let work = content(&answer, "exact");
    let work_id = manifest_content(&first_out, WORK_URL);
    assert_eq!(work["content_id"], work_id);
    assert_eq!(work["versions"][0]["present"], true);
    let (before, after) = (&work["exports"][0], &work["exports"][1]);
    assert_eq!(before["inclusion"], "included", "{work:#}");
    assert_eq!(before["covered"], false);
    assert_eq!(after["inclusion"], "excluded", "{work:#}");
    assert_eq!(after["reason"], "registry:work");
    assert_eq!(after["detail"], format!("entry:{entry_id}"));
    assert_eq!(after["covered"], true);
    assert_eq!(after["covering"][0]["entry_id"], entry_id);
    assert_eq!(after["covering"][0]["rightholder"], "River Author");
    assert_eq!(after["covering"][0]["since"], EFFECTIVE_FROM);
    assert_eq!(after["covering"][0]["how"], "work_exact");
    // Its near-duplicate copy: never kept (not its cluster's keeper), then
    // also covered by the work's entry.
    let copy = content(&answer, "near_duplicate");
    assert_eq!(copy["exports"][0]["inclusion"], "excluded");
    assert_eq!(copy["exports"][0]["reason"], "near_duplicate");
    assert_eq!(copy["exports"][0]["covered"], false);
    assert_eq!(copy["exports"][1]["reason"], "registry:work");
    assert_eq!(copy["exports"][1]["covering"][0]["how"], "work_near");

    // A content never opted out, by id and by URL: in both, never covered.
    let other_id = manifest_content(&first_out, OTHER_URL);
    assert_eq!(manifest_content(&second_out, OTHER_URL), other_id);
    for subject in [["--content-id", other_id.as_str()], ["--url", OTHER_URL]] {
        let answer = lineage(
            &index,
            &registry,
            &[subject[0].as_ref(), subject[1].as_ref()],
        );
        let other = &answer["contents"][0];
        assert_eq!(answer["contents"].as_array().map(Vec::len), Some(1));
        assert_eq!(other["content_id"], other_id);
        for export in other["exports"].as_array().expect("exports") {
            assert_eq!(export["inclusion"], "included", "{answer:#}");
            assert_eq!(export["covered"], false);
        }
    }

    // The same answer over gRPC, with the served manifest's digest.
    let channel = server.channel().await;
    let mut ledger_client = LedgerServiceClient::new(channel);
    let signed = ledger_client
        .get_signed_manifest(GetSignedManifestRequest {})
        .await
        .expect("signed manifest")
        .into_inner();
    let response = ask(
        &mut ledger_client,
        Some(Subject::WorkText(corpus.work.clone())),
    )
    .await
    .expect("lineage");
    assert!(response.registry_checked);
    assert_eq!(response.versions[0].manifest_digest, signed.manifest_digest);
    assert_eq!(response.exports.len(), 2);
    assert_eq!(response.exports[1].manifest_digest, signed.manifest_digest);
    assert_eq!(response.exports[1].registry_last_entry_id, entry_id);
    let exact = response
        .contents
        .iter()
        .find(|c| c.matched == "exact")
        .expect("exact");
    assert_eq!(exact.content_id, work_id);
    assert_eq!(exact.versions[0].presence, "present");
    let inclusions: Vec<(&str, bool)> = exact
        .exports
        .iter()
        .map(|e| (e.inclusion.as_str(), e.covered))
        .collect();
    assert_eq!(inclusions, [("included", false), ("excluded", true)]);
    assert_eq!(exact.exports[1].covering[0].since, EFFECTIVE_FROM);
    assert_eq!(
        exact.exports[1].covering[0].scope,
        format!("work:{work_id}")
    );

    // Bad questions.
    for (subject, code, needle) in [
        (
            Some(Subject::ContentId("not-an-id".into())),
            Code::InvalidArgument,
            "content_id",
        ),
        (
            Some(Subject::ContentId("g".repeat(32))),
            Code::InvalidArgument,
            "content_id",
        ),
        (
            Some(Subject::Url("https://never.example.invalid/".into())),
            Code::NotFound,
            "never.example.invalid",
        ),
        (
            Some(Subject::Url("::".into())),
            Code::InvalidArgument,
            "url",
        ),
        (
            Some(Subject::WorkText(" !!! ".into())),
            Code::InvalidArgument,
            "work_text",
        ),
        (None, Code::InvalidArgument, "subject"),
    ] {
        let status = ask(&mut ledger_client, subject.clone())
            .await
            .expect_err("refused");
        assert_eq!(status.code(), code, "{subject:?}: {status:?}");
        assert!(
            status.message().contains(needle),
            "{subject:?}: {}",
            status.message()
        );
    }
    let refused = Command::new(provindex_bin())
        .args(["lineage", "--index"])
        .arg(&index)
        .args(["--content-id", "xyz"])
        .output()
        .expect("run lineage");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--content-id"), "{stderr}");

    // A Parquet export is recorded too, but its exclusions are not read:
    // its inclusion is unknown, saying why; coverage is still answered.
    let third_out = dir.path().join("e3/m.parquet");
    let third = export(&index, &registry, &third_out);
    assert_eq!(third["lineage"]["output"]["format"], "parquet");
    let answer = lineage(
        &index,
        &registry,
        &["--content-id".as_ref(), other_id.as_ref()],
    );
    let in_third = &answer["contents"][0]["exports"][2];
    assert_eq!(in_third["inclusion"], "unknown", "{answer:#}");
    assert!(
        in_third["reason"]
            .as_str()
            .is_some_and(|r| r.contains("parquet")),
        "{in_third:#}"
    );
    assert_eq!(in_third["covered"], false);

    // An export by the server (ReportService) is recorded by it alike.
    let fourth_out = dir.path().join("e4/m.jsonl");
    std::fs::create_dir_all(dir.path().join("e4")).expect("dir");
    let mut reports = ReportServiceClient::new(server.channel().await);
    reports
        .export_training_manifest(with_token(
            ExportTrainingManifestRequest {
                output_uri: fourth_out.to_str().expect("utf-8").to_owned(),
                at: None,
            },
            ADMIN,
        ))
        .await
        .expect("server export");
    let response = ask(
        &mut ledger_client,
        Some(Subject::ContentId(work_id.clone())),
    )
    .await
    .expect("lineage");
    assert_eq!(response.exports.len(), 4);
    assert_eq!(
        response.exports[3].summary_uri,
        dir.path()
            .join("e4/m.summary.json")
            .to_str()
            .expect("utf-8")
    );
    assert_eq!(response.exports[3].registry_last_entry_id, entry_id);
    let in_fourth = &response.contents[0].exports[3];
    assert_eq!(in_fourth.inclusion, "excluded");
    assert_eq!(in_fourth.reason, "registry:work");
    assert!(in_fourth.covered);
}
