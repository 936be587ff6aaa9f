"""examples/paper/speech_commands.py (Figure 4): spectrogram maths and shape, the loaders, end to end."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from examples.paper import speech_commands as sc


def reference_spectrogram(audio):
    """The same features in NumPy: centred 320-sample periodic Hamming frames every 160."""
    audio = np.pad(audio[: 100 * 160].astype("float64"), 160)
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(320) / 320)
    frames = [audio[s : s + 320] * window for s in range(0, len(audio) - 320 + 1, 160)]
    log_magnitude = np.log1p(np.abs(np.fft.rfft(frames, axis=1)))[:, :160]
    normalized = (log_magnitude - log_magnitude.mean()) / log_magnitude.std()
    out = np.zeros((101, 160))
    out[: len(normalized)] = normalized
    return out.T


def test_one_second_at_16khz_gives_160_by_101_and_matches_numpy():
    audio = np.random.default_rng(0).normal(0, 0.1, 16_000).astype("float32")
    features = sc.spectrogram(audio).numpy()
    assert features.shape == (160, 101, 1)
    np.testing.assert_allclose(features[..., 0], reference_spectrogram(audio), atol=2e-3)
    np.testing.assert_allclose(features.mean(), 0, atol=1e-4)
    np.testing.assert_allclose(features.std(), 1, atol=1e-3)


def test_short_clips_are_zero_padded_long_clips_cut_and_int16_scaled():
    rng = np.random.default_rng(1)
    short = sc.spectrogram(rng.normal(0, 0.1, 8_000).astype("float32")).numpy()
    assert short.shape == (160, 101, 1)
    assert np.all(short[:, 51:] == 0) and np.any(short[:, 50] != 0)  # 1 + 8000 // 160 frames
    long = rng.normal(0, 0.1, 40_000).astype("float32")
    np.testing.assert_array_equal(
        sc.spectrogram(long).numpy(), sc.spectrogram(long[:16_000]).numpy()
    )
    pcm = (long[:16_000] * 32768).astype("int16")
    np.testing.assert_allclose(
        sc.spectrogram(pcm).numpy(), sc.spectrogram(pcm / 32768.0).numpy(), atol=1e-4
    )
    assert sc.spectrogram(np.zeros(16, "float32")).shape == (160, 101, 1)  # mock-data sizes


def write_v001_folder(root: Path):
    rate = 16_000
    for word in ("no", "yes", "_background_noise_"):
        (root / word).mkdir(parents=True)
        for i in range(3):
            audio = tf.constant(np.full((rate // 2, 1), 0.01 * (i + 1), "float32"))
            tf.io.write_file(
                str(root / word / f"spk{i}_nohash_0.wav"), tf.audio.encode_wav(audio, rate)
            )
    (root / "validation_list.txt").write_text("yes/spk0_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/spk1_nohash_0.wav\nyes/spk2_nohash_0.wav\n")


def test_v001_loader_uses_the_release_lists_and_skips_background_noise(tmp_path, capsys):
    write_v001_folder(tmp_path)
    splits, words, description = sc.load_v001(tmp_path)
    assert words == ["no", "yes"] and "2 words" in description
    assert "2 word folders, not v0.01's 30" in capsys.readouterr().out
    labels = {split: sorted(int(y) for _, y in ds) for split, ds in splits.items()}
    assert labels == {"train": [0, 0, 1], "validation": [1], "test": [0, 1]}
    audio, _ = next(iter(splits["validation"]))
    assert audio.shape == (8_000,)
    with pytest.raises(SystemExit, match="--data v0.01 needs --data-dir"):
        sc.load_v001(tmp_path / "missing")


def test_mock_data_end_to_end_with_warm_up_and_both_models(tmp_path):
    results = sc.main(
        ["--data", "mock", "--mock-examples", "12", "--epochs", "2", "--warmup-epochs", "1",
         "--models", "lenet,vgg11", "--vgg-width", "0.0625", "--alphas", "0,0.2",
         "--batch-size", "4", "--verbose", "0", "--output", str(tmp_path)]
    )  # fmt: skip
    assert set(results) == {"lenet ERM", "lenet mixup α=0.2", "vgg11 ERM", "vgg11 mixup α=0.2"}
    run = results["lenet mixup α=0.2"]["runs"][0]
    assert run["alpha_per_epoch"] == [0.0, 0.2]  # mixup off for the warm-up epoch
    assert len(run["validation_per_epoch"]) == 2 and 0 <= run["test"] <= 100
    assert (tmp_path / "figure4_validation_error.png").stat().st_size > 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_set_is_synthesized_at_16khz_and_split_by_voice(tmp_path, monkeypatch):
    monkeypatch.setattr(sc, "COMMAND_WORDS", ["yes", "no"])
    monkeypatch.setattr(sc, "ESPEAK_ACCENTS", ["en-us"])
    monkeypatch.setattr(sc, "ESPEAK_VARIANTS", ["m1", "m6", "m7"])
    monkeypatch.setattr(sc, "ESPEAK_SPLIT", {"validation": ("m6",), "test": ("m7",)})
    splits, words, _ = sc.load_espeak(tmp_path, seed=0)
    counts = {split: int(ds.cardinality()) for split, ds in splits.items()}
    assert words == ["yes", "no"] and counts == {"train": 8, "validation": 8, "test": 8}
    audio, label = next(iter(splits["test"]))
    assert audio.shape == (16_000,) and int(label) in (0, 1)
    assert float(tf.reduce_max(tf.abs(audio))) > 0.1  # speech, not only the added noise


def test_quick_defaults_fill_only_the_options_not_given():
    """--quick changes defaults, never what the command line says (nothing is set after parsing)."""
    from examples.paper.common import add_quick_flag, argument_parser, parse_with_quick

    parser = argument_parser("test")
    add_quick_flag(parser, {"data": "espeak", "epochs": 12}, "words")
    parser.add_argument("--data", default="v0.01")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr-drop-every", type=int, default=10)
    args = parse_with_quick(parser, ["--quick", "--data", "mock"], {"data": "espeak", "epochs": 12})
    assert (args.data, args.epochs, args.lr_drop_every) == ("mock", 12, 10)
    plain = parse_with_quick(parser, ["--data", "mock"], {"data": "espeak", "epochs": 12})
    assert (plain.data, plain.epochs) == ("mock", 30)
    assert "--epochs 12" in parser.format_help()
