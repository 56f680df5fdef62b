"""datatrove's MinHash signature stage on Chinese JSONL documents, one core
(issue 16's peer). Prints MB/s of CPU time (MB = 10^6 bytes of raw UTF-8
document text) for:

- "stage": LocalPipelineExecutor(workers=1, tasks=1) running JsonlReader ->
  MinhashDedupSignature(language=cmn_Hani), the process's CPU time
  (user + system, children included, os.times) around executor.run(): reading JSON, word
  segmentation, shingling, hashing, writing and sorting the bucket files;
- "signature": the stage's own get_shingles + get_signature per document
  (thread CPU time, after a warm-up document so the segmenter's dictionary
  load is not counted).

Both for the Chinese tokenizer datatrove assigns to cmn_Hani (spaCy "zh"
with the jieba segmenter) and for spaCy's default Chinese segmenter
(spacy.blank("zh"), one token per character, like provindex's v2).
MinhashConfig: 5-grams, 16 buckets x 8 hashes = 128 hashes (provindex: 128
permutations), 64-bit hashes (datatrove's default).

Usage: python datatrove_zh.py DOCS.jsonl WORKDIR
"""

import json
import os
import shutil
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.readers import JsonlReader
from datatrove.utils.typeshelper import Languages
from datatrove.utils.word_tokenizers import SpaCyTokenizer


class CharSpaCyTokenizer(SpaCyTokenizer):
    """spaCy's blank Chinese pipeline with its default (per character) segmenter."""

    def __init__(self):
        super().__init__("zh")
        self.config = None


def config():
    return MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8)


def direct(texts, language):
    stage = MinhashDedupSignature(output_folder="/dev/null", config=config(), language=language)
    stage.get_signature(stage.get_shingles(texts[0]))  # warm-up: load the segmenter
    best = float("inf")
    for _ in range(3):
        t0 = time.thread_time()
        for text in texts:
            shingles = stage.get_shingles(text)
            if shingles.size:
                stage.get_signature(shingles)
        best = min(best, time.thread_time() - t0)
    return best


def pipeline(path, workdir, language):
    out = os.path.join(workdir, "sigs")
    shutil.rmtree(workdir, ignore_errors=True)
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(os.path.dirname(path), glob_pattern=os.path.basename(path), text_key="text"),
            MinhashDedupSignature(output_folder=out, config=config(), language=language),
        ],
        tasks=1,
        workers=1,
        logging_dir=os.path.join(workdir, "logs"),
    )
    t0 = cpu_with_children()
    executor.run()
    return cpu_with_children() - t0


def cpu_with_children():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main():
    path, workdir = os.path.abspath(sys.argv[1]), sys.argv[2]
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"datatrove: {len(texts)} documents, {mb:.2f} MB of text")
    for name, language in [
        ("jieba (datatrove's cmn_Hani)", Languages.mandarin_chinese__hani),
        ("per character (spacy.blank('zh'))", CharSpaCyTokenizer()),
    ]:
        secs = pipeline(path, os.path.join(workdir, "run"), language)
        print(f"datatrove {name}: stage (LocalPipelineExecutor, 1 worker) {mb / secs:.3f} MB/s ({secs:.1f} s CPU)")
        secs = direct(texts, language)
        print(f"datatrove {name}: get_shingles + get_signature {mb / secs:.3f} MB/s ({secs:.1f} s CPU)")


if __name__ == "__main__":
    main()
