"""Reads a manifest written by provindex-manifest the way its users will.

Usage: read_manifest.py DIR  (DIR holds manifest.parquet, manifest.jsonl.zst,
manifest.jsonl, exclusions.parquet, exclusions.jsonl.zst). Asserts, then
prints one JSON object of facts for the Rust test to compare.
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import datasets

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()

d = sys.argv[1]
path = lambda name: os.path.join(d, name)
cache = path("hf-cache")

table = pq.read_table(path("manifest.parquet"))
meta = pq.read_metadata(path("manifest.parquet")).metadata
schema = table.schema
assert schema.field("capture_time").type == pa.timestamp("ms", tz="UTC"), schema
assert schema.field("tokens").type == pa.uint64(), schema
assert schema.field("content_id").type == pa.string(), schema

pq_ds = datasets.load_dataset(
    "parquet", data_files=path("manifest.parquet"), split="train", cache_dir=cache
)
zst_ds = datasets.load_dataset(
    "json", data_files=path("manifest.jsonl.zst"), split="train", cache_dir=cache
)
plain_ds = datasets.load_dataset(
    "json", data_files=path("manifest.jsonl"), split="train", cache_dir=cache
)
excl = pq.read_table(path("exclusions.parquet"))
excl_ds = datasets.load_dataset(
    "json", data_files=path("exclusions.jsonl.zst"), split="train", cache_dir=cache
)

# The join the manifest exists for: same content ids, same values, whichever
# file a user picked.
by_id = {r["content_id"]: r for r in zst_ds}
assert set(by_id) == set(pq_ds["content_id"])
for row in pq_ds:
    j = by_id[row["content_id"]]
    assert row["sha256"] == j["sha256"]
    assert row["location_uri"] == j["location"]["uri"]
    assert row["location_offset"] == j["location"]["offset"]
    assert int(row["capture_time"].timestamp()) == j["capture_time"], (row, j)
    assert row["tokens"] == j["tokens"]

first = table.slice(0, 1).to_pylist()[0]
print(
    json.dumps(
        {
            "parquet_rows": table.num_rows,
            "datasets_parquet_rows": pq_ds.num_rows,
            "datasets_jsonl_zst_rows": zst_ds.num_rows,
            "datasets_jsonl_rows": plain_ds.num_rows,
            "exclusions_parquet_rows": excl.num_rows,
            "exclusions_jsonl_zst_rows": excl_ds.num_rows,
            "first_content_id": first["content_id"],
            "first_capture_time": int(first["capture_time"].timestamp()),
            "first_url": pq_ds[0]["url"],
            "first_location_framing": zst_ds[0]["location"]["framing"],
            "total_tokens": sum(zst_ds["tokens"]),
            "index_digest": meta[b"provindex.index_digest"].decode(),
            "near_duplicate_keepers": sorted(
                k for k in excl.column("cluster_keeper").to_pylist() if k is not None
            ),
            "excluded_reasons": sorted(set(excl_ds["reason"])),
        },
        sort_keys=True,
    )
)
