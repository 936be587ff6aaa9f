"""tf.distribute: MirroredStrategy over two logical CPU devices and a two-process
MultiWorkerMirroredStrategy on 127.0.0.1. Each runs in fresh processes (logical
devices and collective ops must be configured before TensorFlow starts)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "distributed"
TIMEOUT_S = 300


def run_python(script, *args, env=None):
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / script), *map(str, args)],
        env={**os.environ, **(env or {}), "CUDA_VISIBLE_DEVICES": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_mirrored_strategy_on_two_logical_cpus():
    """Layer: per-replica MixupLoss equals the hand-mixed loss, replicas draw different
    lambdas, model.fit is reproducible; transform: per-replica batches draw different
    lambdas per replica, reproducibly; global batch equals single-device mixing."""
    process = run_python("mirrored.py")
    output, _ = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, output[-4000:]
    assert "ALL OK" in output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_mirrored_strategy_two_processes(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        workers.append(
            run_python(
                "multi_worker.py",
                tmp_path / f"worker{index}.npz",
                index,
                env={"TF_CONFIG": json.dumps(config)},
            )
        )
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
        for worker in workers:
            worker.kill()
        pytest.fail(f"the two workers did not finish within {TIMEOUT_S} s")
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-4000:]

    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    for i in range(2):  # kernel and bias of the Dense layer
        np.testing.assert_array_equal(first[f"final_{i}"], second[f"final_{i}"])
        assert not np.allclose(first[f"final_{i}"], first[f"initial_{i}"])  # it trained
    # Each worker's replica drew its own lambdas (the replica id is folded into the seed),
    assert np.all(first["layer_lambdas"] != second["layer_lambdas"])
    # and MixupTransform.for_input_pipeline gives each worker's pipeline its own draws.
    assert not np.allclose(first["transform_batch"], second["transform_batch"])
    assert np.all(np.isfinite(first["loss"]))


def test_for_input_pipeline_seeds_and_shared_alpha():
    import tensorflow as tf

    from keras_mixup import MixupTransform

    transform = MixupTransform(0.5, num_classes=3, seed=4)
    single = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0)
    assert transform.for_input_pipeline(single) is transform
    derived = [transform.for_input_pipeline(tf.distribute.InputContext(2, i, 2)) for i in range(2)]
    assert derived[0].seed != derived[1].seed and transform.seed not in (d.seed for d in derived)
    assert derived[0].seed == transform.for_input_pipeline(tf.distribute.InputContext(2, 0, 2)).seed
    transform.alpha = 0.0  # AlphaScheduler(transform) reaches every pipeline's transform
    assert [d.alpha for d in derived] == [0.0, 0.0]
    assert MixupTransform(1.0).for_input_pipeline(tf.distribute.InputContext(2, 1, 2)).seed is None
