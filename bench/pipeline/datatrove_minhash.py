"""datatrove's MinHash deduplication pipeline (issue 6 benchmark).

    python datatrove_minhash.py --workers W --out DIR JSONL_FILE...

Runs the four stages of datatrove's own MinHash example
(examples/minhash_deduplication.py) one after another with
LocalPipelineExecutor:

  1. JsonlReader -> MinhashDedupSignature   tasks = number of input files
  2. MinhashDedupBuckets                    tasks = num_buckets
  3. MinhashDedupCluster                    tasks = 1
  4. JsonlReader -> MinhashDedupFilter -> JsonlWriter (kept documents,
     uncompressed)                          tasks = number of input files

each with `workers` = W processes at most (start method "fork", so every
worker is a child of this process and its CPU time is counted by getrusage
and by /usr/bin/time; the default forkserver would hide it). Config: 5-word n-grams,
9 buckets x 13 hashes per bucket (117 hashes; provindex computes K = 128
and bands 9 x 13 = 117 of them), 64-bit xxhash (datatrove's default
HashConfig), seed 1, datatrove's default text normalization and its default
English word tokenizer (spaCy `blank("en")`, no model download).

Prints one JSON line on stdout: wall and CPU seconds (self + children, via
getrusage) for each stage and in total, documents read, kept and removed.
The caller times the whole process with /usr/bin/time -v as well.
"""

import argparse
import json
import os
import resource
import shutil
import sys
import time


def cpu_s():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--tokenizer",
        choices=["default", "whitespace"],
        default="default",
        help="default: datatrove's English word tokenizer (spaCy blank 'en'); "
        "whitespace: datatrove's WhitespaceTokenizer (its fallback, cheaper)",
    )
    ap.add_argument("--out", required=True, help="scratch directory (emptied first)")
    ap.add_argument("files", nargs="+", help="JSONL(.gz) files in one directory")
    args = ap.parse_args()

    # Imports are part of the timed run (like provindex's start-up), but
    # reported separately.
    t0, c0 = time.perf_counter(), cpu_s()
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.typeshelper import Languages

    from datatrove.utils.word_tokenizers import WhitespaceTokenizer

    language = Languages.english if args.tokenizer == "default" else WhitespaceTokenizer()
    t_import, c_import = time.perf_counter() - t0, cpu_s() - c0

    dirs = {os.path.dirname(os.path.abspath(f)) for f in args.files}
    if len(dirs) != 1:
        sys.exit("all input files must be in one directory")
    data_dir = dirs.pop()
    names = sorted(os.path.basename(f) for f in args.files)
    # JsonlReader shards the files of data_dir matching glob_pattern over the
    # tasks; pass exactly the requested files through a directory of symlinks.
    shutil.rmtree(args.out, ignore_errors=True)
    inputs = os.path.join(args.out, "input")
    os.makedirs(inputs)
    for n in names:
        os.symlink(os.path.join(data_dir, n), os.path.join(inputs, n))
    ntasks = len(names)

    config = MinhashConfig(
        n_grams=5,
        num_buckets=9,
        hashes_per_bucket=13,
        seed=1,
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )
    sigs, buckets, remove = (os.path.join(args.out, d) for d in ("signatures", "buckets", "remove_ids"))
    logs, kept, removed = (os.path.join(args.out, d) for d in ("logs", "deduped", "removed"))

    def reader():
        return JsonlReader(inputs, glob_pattern="*.jsonl*", text_key="text", id_key="id")

    stages = [
        (
            "signature",
            LocalPipelineExecutor(
                pipeline=[reader(), MinhashDedupSignature(output_folder=sigs, config=config, language=language)],
                tasks=ntasks,
                workers=args.workers,
                start_method="fork",
                logging_dir=f"{logs}/signatures",
            ),
        ),
        (
            "buckets",
            LocalPipelineExecutor(
                pipeline=[MinhashDedupBuckets(input_folder=sigs, output_folder=buckets, config=config)],
                tasks=config.num_buckets,
                workers=args.workers,
                start_method="fork",
                logging_dir=f"{logs}/buckets",
            ),
        ),
        (
            "cluster",
            LocalPipelineExecutor(
                pipeline=[MinhashDedupCluster(input_folder=buckets, output_folder=remove, config=config)],
                tasks=1,
                workers=1,
                logging_dir=f"{logs}/clusters",
            ),
        ),
        (
            "filter",
            LocalPipelineExecutor(
                pipeline=[
                    reader(),
                    MinhashDedupFilter(
                        input_folder=remove,
                        exclusion_writer=JsonlWriter(removed, compression=None),
                    ),
                    JsonlWriter(output_folder=kept, compression=None),
                ],
                tasks=ntasks,
                workers=args.workers,
                start_method="fork",
                logging_dir=f"{logs}/filter",
            ),
        ),
    ]
    result = {
        "tool": "datatrove",
        "workers": args.workers,
        "tokenizer": args.tokenizer,
        "files": ntasks,
        "config": str(config),
        "import_wall_s": round(t_import, 3),
        "import_cpu_s": round(c_import, 3),
        "stages": {},
    }
    for name, ex in stages:
        t0, c0 = time.perf_counter(), cpu_s()
        ex.run()
        result["stages"][name] = {
            "wall_s": round(time.perf_counter() - t0, 3),
            "cpu_s": round(cpu_s() - c0, 3),
        }

    def count_lines(folder):
        n = 0
        for root, _, files in os.walk(folder):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    n += sum(1 for _ in fh)
        return n

    result["docs_kept"] = count_lines(kept)
    result["docs_removed"] = count_lines(removed)
    result["docs"] = result["docs_kept"] + result["docs_removed"]
    result["wall_s"] = round(sum(s["wall_s"] for s in result["stages"].values()) + t_import, 3)
    result["cpu_s"] = round(sum(s["cpu_s"] for s in result["stages"].values()) + c_import, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
