//! `provindex export` streams the manifest and its exclusions in every format
//! (issue 20), with the real binary: JSONL, JSONL.zst and Parquet, locally
//! and to S3 (moto_server), read back by pyarrow and Hugging Face `datasets`
//! in a venv. A corpus whose JSONL manifest is larger than one upload part
//! (8 MiB) goes to S3 as a real multipart upload (its ETag says how many
//! parts).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{moto_venv, provindex_bin, run_ok, start_moto};
use serde_json::Value;

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn run_fail(args: &[&OsStr]) -> String {
    let output = Command::new(provindex_bin())
        .args(args)
        .output()
        .expect("run provindex");
    assert!(!output.status.success(), "provindex {args:?} must fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn export(index: &Path, out: &str, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args: Vec<&OsStr> = vec!["export".as_ref(), index.as_os_str(), "--out".as_ref()];
    args.push(out.as_ref());
    // A fixed time: Parquet's footer records it, so equal exports are equal bytes.
    args.extend([OsStr::new("--at"), OsStr::new("2000000000")]);
    args.extend(extra.iter().map(OsStr::new));
    json_of(&common::run_ok_env(&args, env))
}

/// The gov.uk a + b and iana.org crawls (near-duplicates included).
fn build_corpus_index(dir: &Path) -> PathBuf {
    common::index_gov_uk_and_iana(dir, "formats-test")
}

fn python() -> PathBuf {
    common::venv::venv_python(
        "manifest",
        &["pyarrow", "datasets", "zstandard"],
        "pyarrow, datasets, zstandard",
    )
}

/// Reads every export named in the summaries given on the command line
/// (each `SUMMARY.json`, its files beside it under their own names) with
/// pyarrow, zstandard + json and `datasets`, and checks them against the
/// summary and against the plain JSONL manifest in REFERENCE.
const CHECK: &str = r#"
import json, os, sys
import pyarrow.parquet as pq
import zstandard
import datasets
datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()

reference_dir, cache, *summaries = sys.argv[1:]

def jsonl(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".zst"):
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return [json.loads(line) for line in data.decode().splitlines()]

def flat(row):
    row = dict(row)
    loc = row.pop("location")
    for k in ("uri", "offset", "length", "framing"):
        row["location_" + k] = loc[k]
    return row

def read(path, fmt):
    if fmt == "parquet":
        table = pq.read_table(path)
        rows = table.to_pylist()
        for r in rows:
            if "capture_time" in r:
                r["capture_time"] = int(r["capture_time"].timestamp())
        ds = datasets.load_dataset("parquet", data_files=path, split="train", cache_dir=cache)
    else:
        rows = jsonl(path)
        ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache)
    assert ds.num_rows == len(rows), (path, ds.num_rows, len(rows))
    return rows

ref = {r["content_id"]: flat(r) for r in jsonl(os.path.join(reference_dir, "m.jsonl"))}
ref_ex = {r["content_id"]: r for r in jsonl(os.path.join(reference_dir, "m.exclusions.jsonl"))}
facts = {}
for summary_path in summaries:
    summary = json.load(open(summary_path))
    here = os.path.dirname(summary_path)
    local = lambda uri: os.path.join(here, uri.rsplit("/", 1)[-1])
    fmt = summary["format"]
    rows = read(local(summary["manifest"]), fmt)
    if fmt != "parquet":
        rows = [flat(r) for r in rows]
    assert len(rows) == summary["kept"], (summary_path, len(rows), summary["kept"])
    ids = [r["content_id"] for r in rows]
    assert len(set(ids)) == len(ids), "every kept content once"
    # Every row equals the plain JSONL export's row for that content.
    assert set(ids) == set(ref), summary_path
    for r in rows:
        assert r == ref[r["content_id"]], (summary_path, r, ref[r["content_id"]])
    assert sum(r["tokens"] for r in rows) == summary["kept_tokens"]
    ex = read(local(summary["exclusions"]), fmt)
    assert len(ex) == summary["excluded"], (summary_path, len(ex), summary["excluded"])
    by_reason = {}
    for r in ex:
        assert r["reason"], r
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        if r["reason"] == "near_duplicate":
            # Its keeper is in the manifest instead.
            assert r["cluster_keeper"] in ref, r
        assert r == ref_ex[r["content_id"]], (r, ref_ex[r["content_id"]])
    assert by_reason == summary["excluded_by_reason"], (by_reason, summary)
    assert not (set(r["content_id"] for r in ex) & set(ids)), "kept or excluded, never both"
    facts[summary_path] = {"rows": len(rows), "excluded": len(ex), "reasons": by_reason}
print(json.dumps(facts))
"#;

fn check_with_python(reference: &Path, summaries: &[PathBuf]) -> Value {
    let dir = reference.join("py");
    std::fs::create_dir_all(&dir).expect("py dir");
    let script = dir.join("check.py");
    std::fs::write(&script, CHECK).expect("script");
    let output = Command::new(python())
        .arg(&script)
        .arg(reference)
        .arg(dir.join("hf-cache"))
        .args(summaries)
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "check.py: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("facts JSON")
}

/// An S3 object's bytes and ETag, read with boto3 from the moto venv.
fn s3_object(venv: &Path, endpoint: &str, bucket: &str, key: &str, to: &Path) -> String {
    let script = format!(
        "import boto3\ns3 = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\ns3.download_file('{bucket}', '{key}', {to:?})\nprint(s3.head_object(Bucket='{bucket}', Key='{key}')['ETag'])\n",
        to = to.display().to_string()
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "s3 get {key}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn s3_keys(venv: &Path, endpoint: &str, bucket: &str) -> Vec<String> {
    let script = format!(
        "import boto3\ns3 = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\nfor o in s3.list_objects_v2(Bucket='{bucket}').get('Contents', []): print(o['Key'])\nfor u in s3.list_multipart_uploads(Bucket='{bucket}').get('Uploads', []): print('UPLOAD', u['Key'])\n"
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_format_locally_and_on_s3_reads_back_in_pyarrow_and_datasets() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "exports");
    let s3_env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_corpus_index(dir.path());
    let info = json_of(&run_ok(&[
        "info".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
    ]));
    let contents = info["contents"].as_u64().expect("contents");

    // Locally, one folder per format (the reference is the plain JSONL).
    let mut summaries = Vec::new();
    let reference = dir.path().join("jsonl");
    let mut kept = None;
    for (sub, name, extra) in [
        ("jsonl", "m.jsonl", &[][..]),
        ("zst", "m.jsonl.zst", &[][..]),
        ("parquet", "m.parquet", &[][..]),
        ("flag", "m", &["--format", "parquet"][..]),
    ] {
        let folder = dir.path().join(sub);
        let out = folder.join(name);
        let summary = export(&index, &out.display().to_string(), extra, &[]);
        assert_eq!(summary["contents"], contents, "{summary}");
        assert_eq!(
            summary["kept"].as_u64().expect("kept")
                + summary["excluded"].as_u64().expect("excluded"),
            contents
        );
        assert!(
            summary["excluded"].as_u64().expect("excluded") > 0,
            "near-duplicates: {summary}"
        );
        assert_eq!(summary["index_digest"], info["digest"], "{summary}");
        assert_eq!(
            *kept.get_or_insert(summary["kept"].clone()),
            summary["kept"]
        );
        let summary_file = folder.join("m.summary.json");
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(&summary_file).expect("summary")).expect("json");
        assert_eq!(on_disk, summary);
        let mut listed: Vec<String> = std::fs::read_dir(&folder)
            .expect("folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        listed.sort();
        let format = summary["format"].as_str().expect("format").to_owned();
        let mut expected = vec![
            name.to_owned(),
            format!("m.exclusions.{format}"),
            "m.summary.json".to_owned(),
        ];
        expected.sort();
        assert_eq!(listed, expected, "no scratch files left");
        summaries.push(summary_file);
    }

    // To S3: the summaries name s3:// objects; fetched beside each other.
    for (prefix, name) in [("s3zst", "m.jsonl.zst"), ("s3parquet", "m.parquet")] {
        let uri = format!("s3://exports/{prefix}/{name}");
        let summary = export(&index, &uri, &[], &s3_env);
        assert_eq!(summary["manifest"], uri);
        let folder = dir.path().join(prefix);
        std::fs::create_dir_all(&folder).expect("folder");
        for key in [
            name.to_owned(),
            format!(
                "m.exclusions.{}",
                summary["format"].as_str().expect("format")
            ),
            "m.summary.json".to_owned(),
        ] {
            let etag = s3_object(
                &venv,
                &moto.endpoint,
                "exports",
                &format!("{prefix}/{key}"),
                &folder.join(&key),
            );
            assert!(
                !etag.contains('-'),
                "small objects are one put: {key} {etag}"
            );
        }
        let local: Value =
            serde_json::from_slice(&std::fs::read(folder.join("m.summary.json")).expect("summary"))
                .expect("json");
        assert_eq!(local, summary);
        summaries.push(folder.join("m.summary.json"));
    }
    // The bytes are deterministic: S3 and local agree.
    for (a, b) in [
        ("zst/m.jsonl.zst", "s3zst/m.jsonl.zst"),
        ("parquet/m.parquet", "s3parquet/m.parquet"),
        (
            "parquet/m.exclusions.parquet",
            "s3parquet/m.exclusions.parquet",
        ),
    ] {
        assert!(
            std::fs::read(dir.path().join(a)).expect(a)
                == std::fs::read(dir.path().join(b)).expect(b),
            "{a} != {b}"
        );
    }

    let facts = check_with_python(&reference, &summaries);
    assert_eq!(
        facts.as_object().expect("facts").len(),
        summaries.len(),
        "{facts}"
    );

    // Create-only refuses any of the three names, before writing anything.
    let zst = dir.path().join("zst/m.jsonl.zst");
    std::fs::remove_file(&zst).expect("remove manifest");
    std::fs::remove_file(dir.path().join("zst/m.summary.json")).expect("remove summary");
    let stderr = run_fail(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        zst.as_os_str(),
        "--no-clobber".as_ref(),
    ]);
    assert!(
        stderr.contains("m.exclusions.jsonl.zst already exists"),
        "{stderr}"
    );
    assert!(!zst.exists(), "nothing written");
    // A --format that contradicts the name is refused, naming the flag.
    let stderr = run_fail(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        dir.path().join("x/m.jsonl").as_os_str(),
        "--format".as_ref(),
        "parquet".as_ref(),
    ]);
    assert!(
        stderr.contains("--format") && stderr.contains("parquet contradicts"),
        "{stderr}"
    );
    assert!(!dir.path().join("x").exists());
    let stderr = run_fail(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        dir.path().join("y/m").as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    assert!(
        stderr.contains("--format") && stderr.contains("csv"),
        "{stderr}"
    );
    // The S3 bucket holds the three objects of each export and no upload.
    let keys = s3_keys(&venv, &moto.endpoint, "exports");
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("UPLOAD")), "{keys:?}");
}

/// A JSONL corpus of `docs` distinct pages with long (query-string) URLs:
/// about 2 KB of manifest per page.
fn long_url_corpus(path: &Path, docs: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("corpus"));
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ];
    for i in 0..docs {
        let text: Vec<String> = (0..30)
            .map(|w| {
                format!(
                    "{}{}",
                    words[(i * 7 + w * 3) % words.len()],
                    (i * 131 + w * 7919) % 100_003
                )
            })
            .collect();
        let query: Vec<String> = (0..24)
            .map(|k| format!("utm_param_{k}=value-{i}-{k}-{}", "x".repeat(40)))
            .collect();
        let line = serde_json::json!({
            "id": format!("doc-{i:06}"),
            "text": text.join(" "),
            "url": format!("https://site{}.example.org/a/{i:06}?{}", i % 97, query.join("&")),
            "added": "2024-03-01T00:00:00Z",
        });
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
}

#[test]
fn a_manifest_larger_than_one_part_is_a_multipart_upload() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "big");
    let s3_env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("docs.jsonl");
    long_url_corpus(&corpus, 5000);
    let index = dir.path().join("index");
    run_ok(&[
        "index".as_ref(),
        corpus.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
        "--crawl".as_ref(),
        "big".as_ref(),
    ]);
    let local = dir.path().join("local/m.jsonl");
    let local_summary = export(&index, &local.display().to_string(), &[], &[]);
    let summary = export(&index, "s3://big/run/m.jsonl", &[], &s3_env);
    let bytes = summary["manifest_bytes"].as_u64().expect("bytes");
    assert!(
        bytes > 8 << 20,
        "the manifest must exceed one 8 MiB part: {bytes}"
    );
    assert_eq!(summary["kept"], local_summary["kept"]);
    let fetched = dir.path().join("s3/m.jsonl");
    std::fs::create_dir_all(fetched.parent().expect("parent")).expect("folder");
    let etag = s3_object(&venv, &moto.endpoint, "big", "run/m.jsonl", &fetched);
    // S3 gives a multipart object the ETag `"MD5-OF-PART-MD5S-N"`.
    let parts = (bytes as usize).div_ceil(8 << 20);
    assert!(
        etag.trim_matches('"').ends_with(&format!("-{parts}")),
        "{parts} parts expected, ETag {etag}"
    );
    assert_eq!(
        std::fs::read(&fetched).expect("fetched"),
        std::fs::read(&local).expect("local"),
        "the multipart object is the local manifest, byte for byte"
    );
    let lines = std::fs::read_to_string(&fetched)
        .expect("text")
        .lines()
        .count() as u64;
    assert_eq!(Some(lines), summary["kept"].as_u64());
    let keys = s3_keys(&venv, &moto.endpoint, "big");
    assert!(
        !keys.iter().any(|k| k.starts_with("UPLOAD")),
        "no dangling upload: {keys:?}"
    );
}
