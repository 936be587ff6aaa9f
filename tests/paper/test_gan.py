"""examples/paper/gan.py (Figure 5): data, scores, the mixup discriminator objective, end to end."""

import json
from types import SimpleNamespace

import numpy as np
import tensorflow as tf

from examples.paper import gan


def test_mode_centres_and_real_samples():
    ring = gan.mode_centres("ring8")
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
    grid = gan.mode_centres("grid25")
    assert grid.shape == (25, 2) and set(np.unique(grid)) == {-2, -1, 0, 1, 2}
    samples = gan.sample_real(tf.random.Generator.from_seed(0), tf.constant(ring), 4000).numpy()
    scores = gan.score(samples, ring)
    assert scores["modes_covered"] == 8 and scores["high_quality"] > 0.99  # 3 std: 98.9 % in 2-D


def test_score_counts_modes_with_enough_near_samples():
    centres = gan.mode_centres("ring8")
    # Covered: at least 20 % of 2000 / 8 = 50 near samples. Mode 0: 1000, mode 1: 100, mode 2: 20.
    samples = np.concatenate(
        [np.repeat(centres[:1], 1000, 0), np.repeat(centres[1:2], 100, 0),
         np.repeat(centres[2:3], 20, 0), np.full((880, 2), 10.0)]
    )  # fmt: skip
    scores = gan.score(samples.astype("float32"), centres)
    assert scores == {"high_quality": 1120 / 2000, "modes_covered": 2, "modes": 8}


def test_mixup_discriminator_loss_is_bce_against_lambda_on_blended_pairs():
    args = SimpleNamespace(width=8, depth=1, batch_size=6, d_steps=1)
    model = gan.ToyGAN(args, alpha=0.2, seed=0)
    real = tf.random.normal([6, 2])
    fake = tf.random.normal([6, 2])
    state = model.rng.state.numpy()
    loss = float(model.discriminator_loss(real, fake))
    # The same draw again by hand: lambda from the library's sampler, blend, BCE.
    model.rng.state.assign(state)
    params = gan.sample_mix_params(model.rng.make_seeds(1)[:, 0], 6, 0.2)
    lam = params.mix_weight.numpy()[:, None]
    logits = model.discriminator(lam * real + (1 - lam) * fake).numpy()
    p = 1 / (1 + np.exp(-logits))
    expected = np.mean(-(lam * np.log(p) + (1 - lam) * np.log(1 - p)))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    plain = gan.ToyGAN(args, alpha=0.0, seed=0)
    logits = plain.discriminator(tf.concat([real, fake], 0)).numpy()[:, 0]
    expected = np.mean(np.concatenate([np.logaddexp(0, -logits[:6]), np.logaddexp(0, logits[6:])]))
    np.testing.assert_allclose(float(plain.discriminator_loss(real, fake)), expected, rtol=1e-5)


def test_end_to_end_writes_scores_and_figures(tmp_path):
    results = gan.main(
        ["--datasets", "ring8", "--iterations", "20", "--width", "16", "--d-steps", "1", "--verbose", "0",
         "--output", str(tmp_path)]
    )  # fmt: skip
    assert set(results) == {"ring8 GAN", "ring8 mixup α=0.2"}
    assert set(results["ring8 GAN"][0]) == {"10", "20"}  # snapshots at 10 and the last
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"]["scores"]["ring8 mixup α=0.2"][0]["20"]["modes"] == 8
    assert len(saved["results"]["samples"]["ring8 GAN"]["20"]) == gan.FIGURE_SAMPLES
    assert "modes covered, per seed" in gan.markdown(saved)
    assert (tmp_path / "figure5_ring8.png").stat().st_size > 0
