//! pyarrow and Hugging Face `datasets` read what we write. Fails (does not
//! skip) when Python or its packages cannot be had: set PROVINDEX_PYTHON to an
//! interpreter with pyarrow, datasets and zstandard, or let the test create
//! the venv at /tmp/provindex-manifest-venv (needs PyPI).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{exclusion_row, manifest_row};
use provindex_manifest::{
    ExclusionRow, ManifestFormat, ManifestRow, RowSink, RowWriter, WriterOptions,
};

const VENV: &str = "/tmp/provindex-manifest-venv";

fn has_packages(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import pyarrow, datasets, zstandard"])
        .status()
        .is_ok_and(|s| s.success())
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PROVINDEX_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            has_packages(&p),
            "PROVINDEX_PYTHON={p:?} lacks pyarrow/datasets/zstandard"
        );
        return p;
    }
    let python = Path::new(VENV).join("bin/python");
    if !has_packages(&python) {
        let venv = Command::new("python3")
            .args(["-m", "venv", VENV])
            .status()
            .expect("python3 is required for this test");
        assert!(venv.success(), "python3 -m venv {VENV} failed");
        let pip = Command::new(Path::new(VENV).join("bin/pip"))
            .args(["install", "-q", "pyarrow", "datasets", "zstandard"])
            .status()
            .expect("pip");
        assert!(
            pip.success(),
            "pip install pyarrow datasets zstandard failed"
        );
        assert!(has_packages(&python));
    }
    python
}

fn write<R: provindex_manifest::Row>(path: &Path, rows: &[R], options: &WriterOptions) {
    let file = std::fs::File::create(path).unwrap();
    let format = ManifestFormat::from_file_name(path.to_str().unwrap()).unwrap();
    let mut writer = RowWriter::<_, R>::new(file, format, options).unwrap();
    for row in rows {
        writer.write_row(row).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn pyarrow_and_datasets_read_every_format() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        row_group_rows: 40,
        metadata: BTreeMap::from([("provindex.index_digest".into(), "abc123".into())]),
        ..WriterOptions::default()
    };
    let rows: Vec<ManifestRow> = (0..100).map(manifest_row).collect();
    let exclusions: Vec<ExclusionRow> = (0..9).map(exclusion_row).collect();
    for name in ["manifest.parquet", "manifest.jsonl.zst", "manifest.jsonl"] {
        write(&dir.path().join(name), &rows, &options);
    }
    for name in ["exclusions.parquet", "exclusions.jsonl.zst"] {
        write(&dir.path().join(name), &exclusions, &options);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_manifest.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", dir.path().join("hf-home"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "read_manifest.py failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let expected = serde_json::json!({
        "parquet_rows": 100,
        "datasets_parquet_rows": 100,
        "datasets_jsonl_zst_rows": 100,
        "datasets_jsonl_rows": 100,
        "exclusions_parquet_rows": 9,
        "exclusions_jsonl_zst_rows": 9,
        "first_content_id": rows[0].content_id,
        "first_capture_time": rows[0].capture_time,
        "first_url": rows[0].url,
        "first_location_framing": "gzip_member",
        "total_tokens": rows.iter().map(|r| r.tokens).sum::<u64>(),
        "index_digest": "abc123",
        "near_duplicate_keepers": exclusions
            .iter()
            .filter_map(|e| e.cluster_keeper.clone())
            .collect::<Vec<_>>(),
        "excluded_reasons": ["crawl_signal:robots_txt", "near_duplicate", "registry:domain"],
    });
    assert_eq!(facts, expected);
}
