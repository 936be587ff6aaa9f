"""Peak memory: each implementation in its own process, extra peak RSS over the no-mixup pipeline.

A pipeline's peak resident memory is dominated by what it buffers, so every
candidate runs the same sequential pipeline (cached uint8 images -> batch ->
map(f) without parallel calls -> prefetch(1)) in a fresh process (the apply form
maps with its own AUTOTUNE parallelism), and the report is the process's peak
RSS over steady-state batches (VmHWM, reset after 5 warm-up batches so that
one-off XLA compilation is not counted) minus the no-mixup process's, in MB and
in float32 batch buffers. An ideal mixup needs one extra buffer at most (its
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
for _ in range(5):  # warm-up: tracing, XLA compilation (LLVM alone takes tens of MB)
    next(iterator)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS: measure steady state only
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


def xla_buffers(shape_name: str) -> dict:
    """Full-size buffers in keras_mixup's optimized XLA computation, and the ops of the output fusion.

    The direct check of "no extra batch buffer": RSS differences between processes
    are dominated by resident code (the XLA runtime alone is tens of MB) and
    allocator caching, but XLA's buffer plan is exact.
    """
    import re

    import numpy as np
    import tensorflow as tf

    from keras_mixup import sample_mix_params
    from keras_mixup._src.bindings.tf_ops import TENSORFLOW
    from keras_mixup._src.core.mixing import mix_parts
    from keras_mixup._src.core.structures import Parts

    shape = SHAPES[shape_name]
    full = (shape["batch"], *shape["image"])
    x = tf.zeros(full, tf.uint8)
    y = tf.zeros([shape["batch"]], tf.int64)

    @tf.function(jit_compile=True)
    def mix(images, labels, seed):
        params = sample_mix_params(seed, shape["batch"], 0.2)
        return mix_parts(
            Parts(images, labels),
            params,
            num_classes=shape["classes"],
            feature_dtype="float32",
            ops=TENSORFLOW,
        )[:2]

    hlo = mix.experimental_get_compiler_ir(x, y, tf.constant([1, 2], tf.int64))(
        stage="optimized_hlo"
    )
    entry = hlo[hlo.index("ENTRY") :]
    dims = ",".join(map(str, full))
    full_size = [
        re.sub(r", metadata=.*", "", line.strip())
        for line in entry.splitlines()
        if f"[{dims}]" in line
    ]
    producers = re.findall(
        rf"= f32\[{dims}\]\{{[^}}]*\}} fusion\([^)]*\), kind=\w+, calls=(%[\w.]+)", entry
    )
    fused_ops = []
    for name in producers:
        start = hlo.index(name + " ")
        fused_ops = sorted(
            set(re.findall(r"\} (\w[\w-]*)\(", hlo[start : hlo.index("\n}", start)]))
        )
    float_buffers = sum(1 for line in full_size if re.search(rf"= f32\[{dims}\]", line))
    return {
        "fused_computations": len(set(re.findall(r"%fused_computation[\w.]*", hlo))),
        "full_size_instructions": full_size,
        "float32_full_size_buffers": float_buffers,
        "output_fusion_ops": fused_ops,
        "input_elements": int(np.prod(full)),
    }


def run(quick: bool) -> dict:
    from benchmarks.implementations import pipeline_candidates

    shape_name = "cifar" if quick else "imagenet"
    shape = SHAPES[shape_name]
    batches = 5 if quick else 40
    # each candidate runs in a fresh process, which knows this tree's implementations only
    names = [
        name
        for name in pipeline_candidates(shape["classes"])
        if "@" not in name and not name.startswith("floor:")  # floors: throughput only
    ]
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
    buffers = xla_buffers(shape_name)
    print(
        f"\nXLA buffer plan ({shape_name}): {buffers['float32_full_size_buffers']} float32 full-size "
        f"buffer(s) computed; the output fusion does {', '.join(buffers['output_fusion_ops'])} in one "
        f"pass (no materialized partner batch); {buffers['fused_computations']} fused computations "
        "in all (sampling included)."
    )
    return {
        "shape": shape_name,
        "batches": batches,
        "batch_buffer_mb": buffer_mb,
        "results": results,
        "xla_buffer_plan": buffers,
    }
