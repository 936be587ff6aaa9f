"""Peak memory: each implementation in its own process, extra peak RSS over the no-mixup pipeline.

A pipeline's peak resident memory is dominated by what it buffers, so every
candidate runs the same sequential pipeline (cached uint8 images -> batch ->
map(f) without parallel calls -> prefetch(1)) in a fresh process, and the report
is the process's peak RSS (VmHWM) minus the no-mixup process's, in MB and in
float32 batch buffers. An ideal mixup needs one extra buffer at most (its
float32 output is the one the no-mixup cast also writes; partner rows are read,
never materialized).
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.common import print_table
from benchmarks.pipeline import SHAPES

CHILD = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
from benchmarks.implementations import pipeline_candidates
from benchmarks.pipeline import SHAPES
shape_name, name, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
shape = SHAPES[shape_name]
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (shape["images"], *shape["image"]), dtype=np.uint8)
labels = rng.integers(0, shape["classes"], shape["images"])
stage = pipeline_candidates(shape["classes"])[name]
if name != "keras_mixup (XLA, apply form)":
    from benchmarks.implementations import candidates
    fn = candidates(shape["classes"])[name]
    stage = lambda dataset: dataset.map(fn)  # sequential: one batch in flight
dataset = stage(tf.data.Dataset.from_tensor_slices((images, labels)).cache().repeat().batch(shape["batch"])).prefetch(1)
iterator = iter(dataset)
for _ in range(batches):
    next(iterator)
with open("/proc/self/status") as f:
    peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
print(json.dumps({"peak_mb": peak_kb / 1024}))
"""


def _peak_mb(shape_name: str, name: str, batches: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, shape_name, name, str(batches)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def run(quick: bool) -> dict:
    from benchmarks.implementations import pipeline_candidates

    shape_name = "cifar" if quick else "imagenet"
    shape = SHAPES[shape_name]
    batches = 5 if quick else 40
    names = list(pipeline_candidates(shape["classes"]))
    buffer_mb = shape["batch"] * int(__import__("numpy").prod(shape["image"])) * 4 / 2**20
    peaks = {name: _peak_mb(shape_name, name, batches) for name in names}
    base = peaks["no mixup (cast + one-hot)"]
    rows, results = [], []
    for name, peak in peaks.items():
        extra = peak - base
        rows.append([name, f"{peak:,.0f}", f"{extra:+,.0f}", f"{extra / buffer_mb:+.2f}"])
        results.append(
            {
                "implementation": name,
                "peak_rss_mb": peak,
                "extra_mb": extra,
                "extra_batch_buffers": extra / buffer_mb,
            }
        )
    print_table(
        f"Peak memory (VmHWM), {shape_name} batch {shape['batch']}, uint8 in, one float32 batch = {buffer_mb:.1f} MB",
        ["implementation", "peak RSS MB", "extra vs no mixup MB", "extra batch buffers"],
        rows,
    )
    return {
        "shape": shape_name,
        "batches": batches,
        "batch_buffer_mb": buffer_mb,
        "results": results,
    }
