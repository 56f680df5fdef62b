//! The Python client package (issue 20), end to end: `pip install` of
//! services/pyclient from a copy of the repository (its gRPC stubs generated
//! at build time from proto/), then
//!
//! - its pure-Python normalization (versions 1 and 2) equals
//!   `provindex_sketch::normalize_with` on every Unicode code point, alone
//!   and in a context, and on pseudo-random mixed strings, and the package's
//!   own unit tests pass;
//! - on the bundled real crawls (every WARC/WET of tests/data/corpus, the
//!   Dolma JSONL files, and real Chinese text: the debian-handbook zh-CN
//!   paragraphs and their Traditional-character versions) the Python
//!   `content_id`, SHA-256 and token count of each document's text equal the
//!   ones `provindex index` stored, for every content of the index; and
//!   `LookupContent(text)` through the package's `Client` (generated stubs)
//!   on `provindex serve` answers with the Python `content_id` for every text.
//!
//! The texts handed to Python are read from the crawl files as the indexer
//! reads them (the same reader and HTML extraction); the normalization and
//! identities compared are the server's (stored in the index, or answered
//! over gRPC) against the Python package's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ServerProcess, corpus_dir, run_ok, venv::venv_python};
use provindex_index::{IndexError, IndexReader};
use provindex_sketch::{NormalizationVersion, normalize_with};
use serde_json::{Value, json};

const ZH_DATA: &str = "../../crates/sketch/tests/data/zh/handbook_zh.jsonl";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A venv with the package's runtime and test requirements (the package
/// itself is installed per test by [`install`]).
fn python() -> PathBuf {
    venv_python(
        "pyclient",
        &[
            "grpcio>=1.66",
            "protobuf>=5.27",
            "xxhash>=3.0",
            "cryptography",
            "pytest",
        ],
        "grpc, google.protobuf, xxhash, cryptography, pytest",
    )
}

/// Copies `from` into `to`, leaving out build products.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let skip = ["build", "__pycache__", "target", "tools"].contains(&name_str.as_ref())
            || name_str.ends_with(".egg-info")
            // The stubs setup.py generates (git-ignored).
            || (name_str == "proto" && from.ends_with("provindex_client"));
        if skip {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy file");
        }
    }
}

/// `pip install` of services/pyclient from a copy of the repository's
/// services/pyclient and proto/ (what a fresh clone holds), with build
/// isolation (setuptools and grpcio-tools from PyPI generate the stubs), into
/// `dir/site`. Returns the python and the PYTHONPATH to use.
fn install(dir: &Path) -> (PathBuf, PathBuf) {
    let started = std::time::Instant::now();
    let python = python();
    eprintln!("pyclient: venv ready after {:?}", started.elapsed());
    let clone = dir.join("clone");
    copy_tree(&repo_root().join("proto"), &clone.join("proto"));
    copy_tree(
        &repo_root().join("services/pyclient"),
        &clone.join("services/pyclient"),
    );
    assert!(
        !clone
            .join("services/pyclient/provindex_client/proto")
            .exists(),
        "generated stubs copied along"
    );
    // The stubs demand grpcio >= the grpcio-tools that generated them, and
    // the venv's grpcio may be older than the newest grpcio-tools on PyPI.
    let grpc_version = Command::new(&python)
        .args(["-c", "import grpc; print(grpc.__version__)"])
        .output()
        .expect("run python");
    assert!(grpc_version.status.success(), "no grpc in the venv");
    let constraints = dir.join("build-constraints.txt");
    std::fs::write(
        &constraints,
        format!(
            "grpcio-tools<={}\n",
            String::from_utf8_lossy(&grpc_version.stdout).trim()
        ),
    )
    .expect("write constraints");
    let site = dir.join("site");
    let out = Command::new(&python)
        .env("PIP_CONSTRAINT", &constraints)
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(&site)
        .arg(clone.join("services/pyclient"))
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip install services/pyclient failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        site.join("provindex_client/proto/provindex/v1/provenance_pb2_grpc.py")
            .is_file(),
        "no generated stubs in the installed package"
    );
    eprintln!("pyclient: installed after {:?}", started.elapsed());
    (python, site)
}

fn run_python(python: &Path, site: &Path, args: &[&OsStr]) -> Output {
    Command::new(python)
        .env("PYTHONPATH", site)
        .args(args)
        .output()
        .expect("run python")
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Reads `v1 TAB v2 TAB text` lines (hex of UTF-8) and compares the Python
/// normalization with them; prints `compared N mismatches M`.
const CHECK_CASES: &str = r#"
import sys
from provindex_client.normalize import normalize
n = bad = 0
for line in open(sys.argv[1]):
    v1, v2, text = (bytes.fromhex(x).decode() for x in line.rstrip("\n").split("\t"))
    n += 1
    for version, want in ((1, v1), (2, v2)):
        got = normalize(text, version)
        if got != want:
            bad += 1
            if bad <= 20:
                print("MISMATCH v%d %r: python %r, rust %r" % (version, text, got, want))
print("compared %d mismatches %d" % (n, bad))
sys.exit(1 if bad else 0)
"#;

#[test]
fn python_normalization_equals_rust_on_every_code_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (python, site) = install(dir.path());

    let cases = dir.path().join("cases.tsv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&cases).expect("create"));
    let mut lines = 0usize;
    let mut emit = |t: &str| {
        let v1 = normalize_with(NormalizationVersion::V1, t);
        let v2 = normalize_with(NormalizationVersion::V2, t);
        writeln!(out, "{}\t{}\t{}", hex(&v1), hex(&v2), hex(t)).expect("write");
        lines += 1;
    };
    // Every code point, eight to a line (a call per code point would take
    // minutes in Python): separated by spaces, and each with a composition
    // base before it and a mark after, a Han character and a capital sigma
    // around it.
    let all: Vec<char> = (0..=0x10FFFF_u32).filter_map(char::from_u32).collect();
    for chunk in all.chunks(8) {
        let spaced: String = chunk.iter().flat_map(|&c| [c, ' ']).collect();
        emit(&spaced);
        let context: String = chunk.iter().map(|c| format!("a{c}\u{301}中{c}Σ")).collect();
        emit(&context);
    }
    // Pseudo-random strings over characters the rules treat differently
    // (xorshift: the same strings every run).
    let pool: Vec<char> = " \t.,-'aAeEiIzZ09中文가ก\u{301}\u{308}\u{338}\u{3099}İΣςﬁ①²Ａ，。ー々ิ่\u{FE0F}\u{200D}ᄀ\u{1161}\u{11A8}ℌΩÅ\u{0f73}\u{0344}\u{1D15E}"
        .chars()
        .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..50_000 {
        let len = next() % 12;
        let s: String = (0..len)
            .filter_map(|_| {
                let r = next();
                if r % 5 == 0 {
                    char::from_u32((r >> 20) as u32 % 0x11_0000)
                } else {
                    pool.get((r >> 8) as usize % pool.len()).copied()
                }
            })
            .collect();
        emit(&s);
    }
    drop(out);

    let output = run_python(
        &python,
        &site,
        &["-c".as_ref(), CHECK_CASES.as_ref(), cases.as_os_str()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("compared {lines} mismatches 0")),
        "{stdout}"
    );
    assert!(lines > 300_000, "{lines}");

    // The package's own unit tests, against the installed package (none
    // skipped: the venv has every requirement).
    let tests = dir.path().join("clone/services/pyclient/tests");
    let output = run_python(
        &python,
        &site,
        &[
            "-m".as_ref(),
            "pytest".as_ref(),
            "-q".as_ref(),
            "-p".as_ref(),
            "no:cacheprovider".as_ref(),
            tests.as_os_str(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "pytest: {stdout}");
    assert!(
        stdout.contains(" passed") && !stdout.contains("skipped") && !stdout.contains("failed"),
        "pytest: {stdout}"
    );
}

/// Real Chinese text as a Dolma-style JSONL crawl file: every zh-CN
/// debian-handbook paragraph and its Traditional-character version.
fn write_chinese(path: &Path) -> usize {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(ZH_DATA);
    let text =
        std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let mut out = String::new();
    let mut docs = 0;
    for (i, line) in text.lines().enumerate() {
        let row: Value = serde_json::from_str(line).expect("JSON line");
        for field in ["zh_cn", "s2tw"] {
            if let Some(t) = row[field].as_str() {
                let doc = json!({
                    "id": format!("zh-{i}-{field}"),
                    "url": format!("https://handbook.example/zh/{i}/{field}"),
                    "created": "2024-05-01T00:00:00Z",
                    "text": t,
                });
                out.push_str(&doc.to_string());
                out.push('\n');
                docs += 1;
            }
        }
    }
    std::fs::write(path, out).expect("write zh jsonl");
    docs
}

/// Every input file under `path` (a file or a directory, recursively).
fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            files(&entry, out);
        }
    } else {
        out.push(path.to_owned());
    }
}

/// The text of every document of the inputs, read as the indexer reads it
/// (provindex_pipeline's reader options; HTML extracted as `prepare` does).
fn texts(inputs: &[PathBuf]) -> Vec<String> {
    let options = || provindex_pipeline::reader_options(provindex_pipeline::ScanOptions::default());
    let mut texts = Vec::new();
    let mut paths = Vec::new();
    for input in inputs {
        files(input, &mut paths);
    }
    for path in paths {
        for doc in provindex_corpus::read_path_with(&path, options()).flatten() {
            let text = match (&doc.text, &doc.html) {
                (Some(text), _) => Some(text.clone()),
                (None, Some(html)) => Some(
                    provindex_pipeline::extract_html(html, doc.url.as_deref())
                        .0
                        .text,
                ),
                (None, None) => None,
            };
            texts.extend(text);
        }
    }
    texts
}

/// For every text (JSONL `{"text": ...}`): the Python identity, and what
/// LookupContent(text) over the package's Client answers. One JSON line
/// per text: {"id", "sha256", "tokens", "normalized_empty", "server_id"
/// (null when NOT_FOUND)}.
const IDENTITIES: &str = r#"
import hashlib, json, sys
import grpc
from provindex_client import Client
from provindex_client.normalize import normalize, content_id_hex, sha256, token_count
version = int(sys.argv[3])
with Client(sys.argv[2]) as client, open(sys.argv[4], "w") as out:
    for line in open(sys.argv[1]):
        text = json.loads(line)["text"]
        norm = normalize(text, version)
        row = {"id": content_id_hex(norm), "sha256": sha256(norm).hex(),
               "tokens": token_count(norm), "normalized_empty": not norm, "server_id": None}
        try:
            row["server_id"] = client.lookup_content(text=text, page_size=1).content.content_id
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise
            row["server_status"] = e.code().name
        out.write(json.dumps(row) + "\n")
"#;

struct Stored {
    sha256: String,
    tokens: u64,
}

#[test]
fn python_content_ids_equal_the_servers_on_real_crawls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (python, site) = install(dir.path());

    let zh = dir.path().join("zh-handbook.jsonl");
    let zh_docs = write_chinese(&zh);
    assert!(zh_docs >= 150, "{zh_docs} Chinese documents");
    let inputs = vec![corpus_dir().join("warc"), corpus_dir().join("jsonl"), zh];
    let index = dir.path().join("index");
    let mut args: Vec<&OsStr> = vec!["index".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend([
        "--out".as_ref(),
        index.as_os_str(),
        "--built-at".as_ref(),
        "0".as_ref(),
    ]);
    run_ok(&args);
    let info: Value = serde_json::from_slice(
        &run_ok(&["info".as_ref(), index.as_os_str(), "--json".as_ref()]).stdout,
    )
    .expect("info JSON");
    let version = info["normalization_version"]
        .as_u64()
        .unwrap_or_else(|| panic!("no normalization_version in {info}"));

    // The server's identities, as stored (before serving: one reader).
    let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
    IndexReader::open(&index)
        .expect("open index")
        .for_each_content(|id, record| {
            stored.insert(
                format!("{id:032x}"),
                Stored {
                    sha256: hex::encode(&record.sha256),
                    tokens: record.token_count,
                },
            );
            Ok::<_, IndexError>(())
        })
        .expect("walk contents");

    let texts = texts(&inputs);
    let texts_path = dir.path().join("texts.jsonl");
    let mut body = String::new();
    for t in &texts {
        body.push_str(&json!({ "text": t }).to_string());
        body.push('\n');
    }
    std::fs::write(&texts_path, body).expect("write texts");

    let server = ServerProcess::start(&index);
    let answers = dir.path().join("answers.jsonl");
    let output = run_python(
        &python,
        &site,
        &[
            "-c".as_ref(),
            IDENTITIES.as_ref(),
            texts_path.as_os_str(),
            server.addr.as_ref(),
            version.to_string().as_ref(),
            answers.as_os_str(),
        ],
    );
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Value> = std::fs::read_to_string(&answers)
        .expect("answers")
        .lines()
        .map(|l| serde_json::from_str(l).expect("answer JSON"))
        .collect();
    assert_eq!(rows.len(), texts.len(), "one answer per text");

    // Every non-empty text's Python identity is a stored content with the
    // same SHA-256 and token count, and the server's LookupContent(text)
    // names it; every stored content is some text's Python identity.
    let mut matched: BTreeSet<String> = BTreeSet::new();
    let mut grpc_equal = 0usize;
    let mut chinese = 0usize;
    for (text, row) in texts.iter().zip(&rows) {
        if row["normalized_empty"] == true {
            assert!(row["server_id"].is_null(), "{row} for {text:?}");
            continue;
        }
        let id = row["id"].as_str().expect("id").to_owned();
        let Some(s) = stored.get(&id) else {
            panic!(
                "Python content_id {id} of a text is not in the index (Rust: {:032x}): {:?}",
                provindex_sketch::content_id(&normalize_with(
                    NormalizationVersion::from_number(version as u32).expect("version"),
                    text
                ))
                .0,
                text.chars().take(200).collect::<String>()
            );
        };
        assert_eq!(row["sha256"], s.sha256.as_str(), "sha256 of {id}");
        assert_eq!(row["tokens"], s.tokens, "token count of {id}");
        assert_eq!(row["server_id"], id.as_str(), "LookupContent(text) of {id}");
        grpc_equal += 1;
        if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
            chinese += 1;
        }
        matched.insert(id);
    }
    let unmatched: Vec<&String> = stored.keys().filter(|id| !matched.contains(*id)).collect();
    assert!(
        unmatched.is_empty(),
        "{} of {} stored contents have no Python identity: {unmatched:?}",
        unmatched.len(),
        stored.len()
    );
    assert_eq!(
        info["contents"].as_u64(),
        Some(stored.len() as u64),
        "contents walked vs info --json"
    );
    assert!(stored.len() > 300, "only {} contents", stored.len());
    assert!(chinese >= zh_docs, "{chinese} Chinese texts compared");
    eprintln!(
        "pyclient: {} contents of the index, {} texts, {grpc_equal} LookupContent(text) answers equal, {chinese} with Chinese",
        stored.len(),
        texts.len()
    );
}
