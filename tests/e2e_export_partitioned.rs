//! `provindex export`, `report` (with the AI Act summary) and
//! `compensation` over a partitioned index's publication (issue 17), with
//! the real binary: the bundled crawls (gov.uk a + b, iana.org, the
//! reservation crawl and a JSONL dataset) built once as one partition and
//! once as four, with a registry of domain, URL-prefix, content and work
//! opt-outs. Every output over the four-partition publication — a local
//! directory and a moto S3 URI — is the one over the one-partition index,
//! byte for byte (the JSON outputs after their run time and the index's
//! absolute path, which differ between any two runs). A publication with a
//! partition file deleted is refused, naming the file.

mod common;
mod reservation_table;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    ServerProcess, corpus_dir, gov_uk_and_iana_warcs, moto_env, moto_venv, provindex_bin,
    start_moto, with_moto_store, with_token,
};
use provindex_proto::v1::{
    OptOutScope, RegisterOptOutRequest, opt_out_scope::Scope,
    opt_out_service_client::OptOutServiceClient,
};
use serde_json::Value;

const OPS: &str = "ops-token-0123456789";
/// Registry entries in force at this time (a fixed time: equal runs, equal bytes).
const AT: &str = "2000000000";

fn inputs() -> Vec<PathBuf> {
    let mut inputs = gov_uk_and_iana_warcs();
    inputs.push(reservation_table::reservations_warc());
    inputs.push(corpus_dir().join("jsonl/cc_en_head-0174.jsonl.gz"));
    inputs
}

fn run(cwd: &Path, args: &[&OsStr], env: &[(&str, String)]) -> Output {
    Command::new(provindex_bin())
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .output()
        .expect("run provindex")
}

fn run_ok(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let output = run(cwd, &args, env);
    assert!(
        output.status.success(),
        "provindex {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `provindex index INPUTS --out OUT` with `extra`, built at time 0.
fn build(out: &str, extra: &[&str], env: &[(&str, String)]) {
    let mut args: Vec<String> = vec!["index".into()];
    args.extend(inputs().iter().map(|p| p.display().to_string()));
    args.extend(
        [
            "--out",
            out,
            "--crawl",
            "parts",
            "--built-at",
            "0",
            "--workers",
            "2",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(Path::new("."), &args, env);
}

/// Every output of export (each format), report (JSON, HTML, AI Act JSON)
/// and compensation over the index at `index` (relative to `cwd`, so each
/// names it alike), read back from `cwd`.
struct Outputs {
    files: Vec<(String, Vec<u8>)>,
}

fn outputs(cwd: &Path, index: &str, registry: &Path, env: &[(&str, String)]) -> Outputs {
    let registry = registry.to_str().expect("utf-8 path");
    let cache = cwd.join("cache");
    let cache = cache.to_str().expect("utf-8 path");
    let common = ["--cache-dir", cache];
    let mut names = Vec::new();
    for (out, format) in [
        ("m.jsonl", "jsonl"),
        ("m.jsonl.zst", "jsonl.zst"),
        ("m.parquet", "parquet"),
    ] {
        let mut args = vec!["export", index, "--out", out, "--registry", registry];
        args.extend(["--at", AT]);
        args.extend(common);
        run_ok(cwd, &args, env);
        let stem = out.trim_end_matches(&format!(".{format}"));
        names.extend([
            out.to_owned(),
            format!("{stem}.exclusions.{format}"),
            format!("{stem}.summary.json"),
        ]);
    }
    let mut args = vec!["report", index, "--json", "report.json", "--html"];
    args.extend(["report.html", "--aiact-json", "aiact.json", "--aiact-html"]);
    args.extend(["aiact.html", "--registry", registry, "--at", AT]);
    args.extend(["--provider", "ACME", "--model", "m1"]);
    args.extend(common);
    run_ok(cwd, &args, env);
    let mut args = vec![
        "compensation",
        index,
        "--pool",
        "1000",
        "--registry",
        registry,
    ];
    args.extend(["--at", AT, "--csv", "comp.csv", "--json", "comp.json"]);
    args.extend(common);
    run_ok(cwd, &args, env);
    names.extend(
        [
            "report.json",
            "report.html",
            "aiact.json",
            "aiact.html",
            "comp.csv",
            "comp.json",
        ]
        .map(String::from),
    );
    Outputs {
        files: names
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(cwd.join(&name)).expect(&name);
                (name, bytes)
            })
            .collect(),
    }
}

/// The run-dependent fields of a JSON output nulled: when it ran, and
/// where the index was (the absolute path the lineage records).
fn comparable(name: &str, bytes: &[u8]) -> Vec<u8> {
    if name.ends_with(".html") {
        return without_generated_at(bytes);
    }
    if !name.ends_with(".json") {
        return bytes.to_vec();
    }
    let mut value: Value = serde_json::from_slice(bytes).expect(name);
    for pointer in [
        "/generated_at",
        "/lineage/exported_at",
        "/lineage/index/uri",
    ] {
        if let Some(field) = value.pointer_mut(pointer) {
            assert!(!field.is_null(), "{name}{pointer} is written");
            *field = Value::Null;
        }
    }
    serde_json::to_vec_pretty(&value).expect("json")
}

/// The AI Act page states its run time in the row after this label.
fn without_generated_at(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let label = "Generated at (unix seconds)";
    let Some(at) = text.find(label) else {
        return bytes.to_vec();
    };
    let rest = &text[at + label.len()..];
    let Some(start) = rest.find(|c: char| c.is_ascii_digit()) else {
        return bytes.to_vec();
    };
    let digits = rest[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len() - start);
    let cut = at + label.len() + start;
    format!("{}TIME{}", &text[..cut], &text[cut + digits..]).into_bytes()
}

fn assert_same(what: &str, expected: &Outputs, actual: &Outputs) {
    assert_eq!(expected.files.len(), actual.files.len());
    for ((name, one), (_, four)) in expected.files.iter().zip(&actual.files) {
        assert!(
            comparable(name, one) == comparable(name, four),
            "{what}: {name} differs from the one-partition index's ({} and {} bytes)",
            one.len(),
            four.len()
        );
    }
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn file<'a>(outputs: &'a Outputs, name: &str) -> &'a [u8] {
    &outputs
        .files
        .iter()
        .find(|(n, _)| n == name)
        .expect("output")
        .1
}

/// A registry with a domain, a URL-prefix, a content and a work opt-out,
/// written through a server over the one-partition index.
async fn registry(dir: &Path, index: &Path, content_id: &str, work_text: &str) -> PathBuf {
    let auth = dir.join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{OPS}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");
    let registry = dir.join("registry");
    let server = ServerProcess::start_with_registry(index, &auth, &registry);
    let mut optouts = OptOutServiceClient::new(server.channel().await);
    for (holder, scope) in [
        ("Gov Data Ltd", Scope::Domain("data.gov.uk".into())),
        (
            "IANA Writers",
            Scope::UrlPrefix("http://www.iana.org/domains".into()),
        ),
        ("One Author", Scope::ContentId(content_id.into())),
        ("Dataset Author", Scope::WorkText(work_text.into())),
    ] {
        let request = RegisterOptOutRequest {
            rightholder: holder.into(),
            scope: Some(OptOutScope { scope: Some(scope) }),
            effective_from: Some(0),
            evidence: "test".into(),
        };
        optouts
            .register_opt_out(with_token(request, OPS))
            .await
            .expect("register");
    }
    drop(server);
    registry
}

/// The text of the dataset's first record.
fn dataset_text() -> String {
    let output = Command::new("zcat")
        .arg(corpus_dir().join("jsonl/cc_en_head-0174.jsonl.gz"))
        .output()
        .expect("zcat");
    let first = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .expect("a record")
        .to_owned();
    let record: Value = serde_json::from_str(&first).expect("JSON record");
    record["text"].as_str().expect("text").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_over_a_partitioned_publication_equal_the_one_partition_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, four) = (dir.path().join("one"), dir.path().join("four"));
    for side in [&one, &four] {
        std::fs::create_dir_all(side).expect("dir");
    }
    build(one.join("idx").to_str().expect("path"), &[], &[]);
    build(
        four.join("idx").to_str().expect("path"),
        &["--index-partitions", "4"],
        &[],
    );
    assert!(four.join("idx/publication.json").is_file());
    assert!(four.join("idx/partitions/p0003").is_dir());

    // Opt-outs of every scope: one content of the plain export, one work.
    run_ok(
        &one,
        &["export", "idx", "--out", "plain.jsonl", "--at", AT],
        &[],
    );
    let rows = lines(&std::fs::read(one.join("plain.jsonl")).expect("manifest"));
    // Of a page no earlier entry (domain, URL prefix) covers.
    let content_id = rows
        .iter()
        .find(|r| {
            let url = r["url"].as_str().unwrap_or("");
            url.contains("iana.org/") && !url.contains("iana.org/domains")
        })
        .and_then(|r| r["content_id"].as_str())
        .expect("an iana.org page outside /domains")
        .to_owned();
    let registry = registry(dir.path(), &one.join("idx"), &content_id, &dataset_text()).await;

    let expected = outputs(&one, "idx", &registry, &[]);
    // Real rows, of every kind of exclusion the registry and crawls give.
    let manifest = lines(file(&expected, "m.jsonl"));
    let excluded = lines(file(&expected, "m.exclusions.jsonl"));
    assert!(manifest.len() > 20, "{} kept", manifest.len());
    let summary: Value = serde_json::from_slice(file(&expected, "m.summary.json")).expect("json");
    for reason in ["registry:domain", "registry:url_prefix", "registry:content"] {
        assert!(
            summary["excluded_by_reason"][reason].as_u64() > Some(0),
            "{reason}: {}",
            summary["excluded_by_reason"]
        );
    }
    for reason in ["registry:work", "near_duplicate"] {
        assert!(
            summary["matched_by_reason"][reason].as_u64() > Some(0),
            "{reason}: {}",
            summary["matched_by_reason"]
        );
    }
    assert!(
        excluded.iter().any(|r| r["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("crawl_signal:")),
        "a crawl signal excludes something"
    );
    let comp: Value = serde_json::from_slice(file(&expected, "comp.json")).expect("json");
    assert!(comp["rightholder_shares"].as_array().expect("rows").len() >= 3);
    let report: Value = serde_json::from_slice(file(&expected, "report.json")).expect("json");
    assert!(report["totals"]["captures"].as_u64() > Some(100));

    // The local four-partition publication: the same bytes.
    let actual = outputs(&four, "idx", &registry, &[]);
    assert_same("local 4-partition publication", &expected, &actual);

    // From a moto S3 publication of the same build (fetched and verified).
    let venv = moto_venv();
    let moto = start_moto(&venv, "pub");
    let env = moto_env(&moto.endpoint);
    build("s3://pub/idx4", &["--index-partitions", "4"], &env);
    let s3 = dir.path().join("s3");
    std::fs::create_dir_all(&s3).expect("dir");
    let cache = s3.join("cache");
    run_ok(
        &s3,
        &[
            "export",
            "s3://pub/idx4",
            "--out",
            "m.jsonl",
            "--registry",
            registry.to_str().expect("path"),
            "--at",
            AT,
            "--cache-dir",
            cache.to_str().expect("path"),
        ],
        &env,
    );
    for name in ["m.jsonl", "m.exclusions.jsonl"] {
        assert!(
            std::fs::read(s3.join(name)).expect(name) == file(&expected, name),
            "{name} from S3 differs from the one-partition index's"
        );
    }

    // A deleted partition file: refused, naming it (locally, and on S3
    // with a fresh cache).
    let victim = std::fs::read_dir(four.join("idx/partitions/p0002"))
        .expect("partition dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".sst"))
        .expect("an SST file");
    std::fs::remove_file(four.join("idx/partitions/p0002").join(&victim)).expect("delete");
    let refused = run(
        &four,
        &[
            OsStr::new("export"),
            OsStr::new("idx"),
            OsStr::new("--out"),
            OsStr::new("broken.jsonl"),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "export over a broken publication"
    );
    assert!(
        stderr.contains(&format!("partitions/p0002/{victim}")) && stderr.contains("missing"),
        "{stderr}"
    );
    assert!(!four.join("broken.jsonl").exists());

    let listed = with_moto_store(&moto.endpoint, |store| {
        let files = store.list("s3://pub/idx4/partitions/p0001/").expect("list");
        let sst = files
            .into_iter()
            .find(|o| o.uri.ends_with(".sst"))
            .expect("an SST object")
            .uri;
        provindex_corpus::upload::delete(store, &sst).expect("delete");
        sst
    });
    let fresh = s3.join("fresh-cache");
    let refused = run(
        &s3,
        &[
            OsStr::new("report"),
            OsStr::new("s3://pub/idx4"),
            OsStr::new("--cache-dir"),
            fresh.as_os_str(),
        ],
        &env,
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "report over a broken S3 publication"
    );
    let name = listed.trim_start_matches("s3://pub/idx4/");
    assert!(
        stderr.contains(name) && stderr.contains("missing"),
        "{stderr}"
    );
}
