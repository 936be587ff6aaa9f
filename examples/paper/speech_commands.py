"""Figure 4: ERM vs mixup on spoken commands, LeNet and VGG-11 on log spectrograms.

The paper's setting: Google speech commands v0.01 (30 words, ~65k one-second
clips at 16 kHz), normalized spectrograms zero-padded to 160x101, mixup on the
spectrograms just before the network, Adam with learning rate 3e-3 divided by 10
every 10 epochs, 30 epochs, batch 100, alpha 0.1 and 0.2, and the first 5 epochs
without mixup (`AlphaScheduler(alpha_schedule(alpha, warmup_epochs=5), ...)`).
Validation and test error are reported after the last epoch.

Spectrogram (`spectrogram`, all `tf.signal`): 20 ms Hamming windows every 10 ms
(320 / 160 samples), the clip zero-padded by half a window at both ends so that
a 1 s clip gives 101 frames, log(1 + |STFT|), normalized to zero mean and unit
variance per clip, the highest (Nyquist) of the 161 frequency bins dropped to
give the paper's 160, frames cut or zero-padded to 101. Shape [160, 101, 1].

Data (`--data`):
- `v0.01`: the paper's 30-word release, extracted from speech_commands_v0.01.tar.gz
  into --data-dir (one folder per word, validation_list.txt and testing_list.txt;
  _background_noise_ is not a class). Not in TFDS; download it once by hand.
- `tfds`: TFDS `speech_commands`, which is v0.02 with 12 labels (10 words,
  _silence_, _unknown_): not the paper's label set; the printout says which ran.
- `espeak` (`--quick`): a small spoken-word set the script synthesizes itself with
  the espeak-ng speech synthesizer (Debian package `espeak-ng`): the 10 command
  words of v0.02 in 7 English accents x 11 voice variants x 2 speeds x 2 pitches,
  random placement in the 1 s window, background noise at a random level, resampled
  to 16 kHz. Speakers are split: train, validation and test use different voice
  variants. Synthetic speech is far easier than real speech: these numbers test the
  pipeline and show the direction of an effect, they are not the paper's.
- `mock`: `tfds.testing.mock_data` (random noise, meaningless numbers), what
  --quick falls back to when espeak-ng is not installed, said plainly.

Models (`--models`): LeNet (two 5x5 convolutions with 20 channels and max-pooling,
dropout, two fully-connected layers of 1000 and the classes), and VGG-11 (the
configuration-A convolution stack with batch norm, then two fully-connected
layers of 512 and the classes; `--vgg-width` scales its channels for CPU runs).
The paper says both are "composed by two convolutional and two fully-connected
layers", which describes LeNet; VGG-11 has eight convolutions by definition.

    python -m examples.paper.speech_commands --quick --output runs/speech-quick
    python -m examples.paper.speech_commands --data v0.01 --data-dir ~/speech_commands_v0.01
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from examples.paper.common import (
    add_quick_flag,
    argument_parser,
    cell,
    markdown_table,
    mean_std,
    parse_with_quick,
    write_results,
)
from examples.paper.training import EpochEvaluation, plot_curves, step_schedule, top_k_errors
from keras_mixup import AlphaScheduler, MixupTransform, alpha_schedule

SAMPLE_RATE = 16_000
WINDOW, HOP = 320, 160  # 20 ms, 10 ms at 16 kHz
FREQ_BINS, FRAMES = 160, 101
SPECTROGRAM_SHAPE = (FREQ_BINS, FRAMES, 1)

# Figure 4 of the paper: (validation, test) error in %.
PAPER_FIGURE4 = {
    ("lenet", "ERM"): (9.8, 10.3),
    ("lenet", "mixup α=0.1"): (10.1, 10.8),
    ("lenet", "mixup α=0.2"): (10.2, 11.3),
    ("vgg11", "ERM"): (5.0, 4.6),
    ("vgg11", "mixup α=0.1"): (4.0, 3.8),
    ("vgg11", "mixup α=0.2"): (3.9, 3.4),
}
V001_WORDS = (
    "bed bird cat dog down eight five four go happy house left marvin nine no off on one "
    "right seven sheila six stop three tree two up wow yes zero"
).split()
COMMAND_WORDS = "yes no up down left right on off stop go".split()
ESPEAK_ACCENTS = (
    "en-us en-gb en-gb-scotland en-gb-x-rp en-gb-x-gbclan en-gb-x-gbcwmd en-029".split()
)
ESPEAK_VARIANTS = "m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4".split()
ESPEAK_SPLIT = {"validation": ("m6", "f3"), "test": ("m7", "f4")}  # the rest: train


# ----------------------------------------------------------------------------- features
def spectrogram(audio) -> tf.Tensor:
    """Normalized log spectrogram `[160, 101, 1]` of a 16 kHz waveform `[samples]`
    (float in [-1, 1] or int16); longer clips are cut at 101 frames (1 s)."""
    audio = tf.convert_to_tensor(audio)
    if audio.dtype == tf.int16:
        audio = tf.cast(audio, tf.float32) / 32768.0
    audio = tf.reshape(tf.cast(audio, tf.float32), [-1])[: (FRAMES - 1) * HOP]
    audio = tf.pad(audio, [[HOP, HOP]])  # centred frames: 1 + samples // 160 of them
    stft = tf.signal.stft(audio, WINDOW, HOP, fft_length=WINDOW, window_fn=tf.signal.hamming_window)
    log_magnitude = tf.math.log1p(tf.abs(stft))[:, :FREQ_BINS]  # [frames, 160]
    mean, variance = tf.nn.moments(log_magnitude, axes=[0, 1])
    normalized = (log_magnitude - mean) / tf.maximum(tf.sqrt(variance), 1e-6)
    frames = tf.shape(normalized)[0]
    padded = tf.pad(normalized, [[0, FRAMES - frames], [0, 0]])
    return tf.ensure_shape(tf.transpose(padded)[..., None], SPECTROGRAM_SHAPE)


# ----------------------------------------------------------------------------- data
def load_tfds(data_dir: Path | None):
    """TFDS speech_commands (v0.02, 12 labels): {split: dataset of (int16 audio, label)}."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("speech_commands", data_dir=data_dir)
    splits = {}
    for split in ("train", "validation", "test"):
        dataset = tfds.load("speech_commands", split=split, data_dir=data_dir, as_supervised=True)
        splits[split] = dataset
    names = builder.info.features["label"].names
    return splits, names, "TFDS speech_commands (v0.02, 12 labels)"


def load_v001(data_dir: Path):
    """The extracted speech_commands_v0.01 folder: {split: dataset of (wav path, label)}
    using the release's validation_list.txt / testing_list.txt."""
    if data_dir is None or not (data_dir / "testing_list.txt").is_file():
        raise SystemExit(
            f"--data v0.01 needs --data-dir pointing at the extracted "
            f"speech_commands_v0.01.tar.gz (with testing_list.txt); got {data_dir}. The archive "
            "is at http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz."
        )
    words = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if words != sorted(V001_WORDS):
        print(
            f"note: {data_dir} has {len(words)} word folders, not v0.01's 30 "
            f"(missing {sorted(set(V001_WORDS) - set(words))[:5]}, extra "
            f"{sorted(set(words) - set(V001_WORDS))[:5]}); the labels follow the folders."
        )
    held_out = {
        split: set((data_dir / f"{split}_list.txt").read_text().split())
        for split in ("validation", "testing")
    }
    files = {"train": [], "validation": [], "test": []}
    for label, word in enumerate(words):
        for path in sorted((data_dir / word).glob("*.wav")):
            relative = f"{word}/{path.name}"
            split = (
                "validation"
                if relative in held_out["validation"]
                else "test"
                if relative in held_out["testing"]
                else "train"
            )
            files[split].append((str(path), label))

    def read(path, label):
        audio, _ = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1)
        return audio[:, 0], label

    splits = {}
    for split, pairs in files.items():
        paths, labels = zip(*pairs, strict=True) if pairs else ((), ())
        splits[split] = tf.data.Dataset.from_tensor_slices(
            (list(paths), np.asarray(labels, "int64"))
        ).map(read, num_parallel_calls=tf.data.AUTOTUNE)
    return splits, words, f"speech commands v0.01 from {data_dir} ({len(words)} words)"


def synthesize_espeak(cache: Path, seed: int = 0, verbose: bool = True) -> Path:
    """Generates the --quick spoken-word set with espeak-ng into `cache` (once)."""
    from scipy.signal import resample_poly

    path = cache / "espeak_commands.npz"
    if path.is_file():
        return path
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise FileNotFoundError("espeak-ng is not installed (Debian: apt install espeak-ng)")
    rng = np.random.default_rng(seed)
    clips, labels, variants = [], [], []
    jobs = [
        (word, accent, variant, speed, pitch)
        for word in COMMAND_WORDS
        for accent in ESPEAK_ACCENTS
        for variant in ESPEAK_VARIANTS
        for speed in (130, 190)
        for pitch in (35, 65)
    ]
    progress = keras.utils.Progbar(len(jobs), verbose=int(verbose), unit_name="clip", interval=5.0)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        for i, (word, accent, variant, speed, pitch) in enumerate(jobs):
            subprocess.run(
                [binary, "-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch),
                 "-w", str(wav), word],
                check=True, capture_output=True,
            )  # fmt: skip
            audio, rate = tf.audio.decode_wav(tf.io.read_file(str(wav)), desired_channels=1)
            audio = resample_poly(audio.numpy()[:, 0], SAMPLE_RATE, int(rate))
            voiced = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
            audio = audio[voiced[0] : voiced[-1] + 1][:SAMPLE_RATE]  # leading/trailing silence cut
            clip = np.zeros(SAMPLE_RATE, "float32")
            start = rng.integers(0, SAMPLE_RATE - len(audio) + 1)
            clip[start : start + len(audio)] = audio * rng.uniform(0.3, 1.0)
            clip += rng.normal(0, rng.uniform(0.001, 0.02), SAMPLE_RATE).astype("float32")
            clips.append(np.clip(clip, -1, 1))
            labels.append(COMMAND_WORDS.index(word))
            variants.append(variant)
            progress.update(i + 1)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, audio=np.stack(clips), label=np.asarray(labels, "int64"), variant=np.asarray(variants)
    )
    return path


def load_espeak(cache: Path, seed: int):
    data = np.load(synthesize_espeak(cache, seed))
    audio, labels, variants = data["audio"], data["label"], data["variant"]
    held_out = {v for vs in ESPEAK_SPLIT.values() for v in vs}
    masks = {"train": ~np.isin(variants, list(held_out))}
    masks.update({split: np.isin(variants, vs) for split, vs in ESPEAK_SPLIT.items()})
    splits = {
        split: tf.data.Dataset.from_tensor_slices((audio[mask], labels[mask]))
        for split, mask in masks.items()
    }
    return (
        splits,
        COMMAND_WORDS,
        (
            f"espeak-ng synthetic commands ({len(audio)} clips, {len(COMMAND_WORDS)} words, "
            "speakers split by voice variant; NOT the speech commands data)"
        ),
    )


def load_data(args):
    """({split: (audio, label) dataset}, label names, description)."""
    if args.data == "v0.01":
        return load_v001(args.data_dir)
    if args.data == "tfds":
        return load_tfds(args.data_dir)
    if args.data == "espeak":
        return load_espeak(args.data_dir or args.output / "data", args.seed)
    if args.data == "mock":
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=args.mock_examples):
            splits, names, _ = load_tfds(None)
        return splits, names, "tfds.testing.mock_data (random noise: the numbers mean nothing)"
    raise SystemExit(f"unknown --data {args.data!r}; choose v0.01, tfds, espeak or mock")


def features(dataset, *, cache: bool = True):
    """(spectrogram, label) examples, computed once and kept in memory when `cache`."""
    dataset = dataset.map(
        lambda audio, label: (spectrogram(audio), label), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.cache() if cache else dataset


# ----------------------------------------------------------------------------- models
def lenet(num_classes: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(SPECTROGRAM_SHAPE),
            layers.Conv2D(20, 5),
            layers.MaxPooling2D(),
            layers.ReLU(),
            layers.Conv2D(20, 5),
            layers.SpatialDropout2D(0.5),
            layers.MaxPooling2D(),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(1000, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes),
        ],
        name="lenet",
    )


def vgg11(num_classes: int, seed: int, width: float = 1.0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    stack = [keras.Input(SPECTROGRAM_SHAPE)]
    for entry in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if entry == "M":
            stack.append(layers.MaxPooling2D())
        else:
            channels = max(int(entry * width), 4)
            stack += [
                layers.Conv2D(channels, 3, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(),
            ]
    stack += [
        layers.Flatten(),
        layers.Dense(max(int(512 * width), 16), activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(num_classes),
    ]
    return keras.Sequential(stack, name="vgg11")


def build_model(name: str, num_classes: int, seed: int, vgg_width: float) -> keras.Model:
    if name == "lenet":
        return lenet(num_classes, seed)
    if name == "vgg11":
        return vgg11(num_classes, seed, vgg_width)
    raise SystemExit(f"unknown model {name!r}; choose lenet or vgg11")


# ----------------------------------------------------------------------------- training
def train_row(model_name, alpha, splits, num_classes, args, seed):
    """One model trained with ERM (alpha 0) or mixup; per-epoch validation error
    and the final validation / test error."""
    model = build_model(model_name, num_classes, seed, args.vgg_width)
    # A fresh shuffle with the run's seed: ERM and mixup rows see the same batches.
    transform = MixupTransform(0.0, num_classes=num_classes, seed=seed)
    train = (
        splits["train"]
        .shuffle(args.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .map(transform)
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = int(train.cardinality())
    callbacks = [EpochEvaluation(evaluation(splits["validation"], args), log_name="validation")]
    if alpha > 0:
        schedule = alpha_schedule(alpha, warmup_epochs=args.warmup_epochs)
        callbacks.append(AlphaScheduler(schedule, transform))
    milestones = range(args.lr_drop_every, args.epochs, args.lr_drop_every)
    model.compile(
        optimizer=keras.optimizers.Adam(step_schedule(args.lr, milestones, steps)),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(
        train,
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=args.verbose,
        shuffle=False,
    )
    validation_curve = callbacks[0].errors[1]
    return {
        "validation": validation_curve[-1],
        "test": top_k_errors(model, evaluation(splits["test"], args))[1],
        # did the model fit its training set? (error on the clean training clips)
        "train": top_k_errors(model, evaluation(splits["train"], args))[1],
        "validation_per_epoch": validation_curve,
        "alpha_per_epoch": history.history.get("mixup_alpha", [0.0] * args.epochs),
    }


def evaluation(dataset, args):
    return dataset.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)


def row_name(alpha: float) -> str:
    return "ERM" if alpha == 0 else f"mixup α={alpha:g}"


def quick_defaults() -> dict:
    """--quick: espeak-ng's synthetic words (mock data where espeak-ng is missing), a
    shorter schedule and a quarter-width VGG-11."""
    return {
        "data": "espeak" if shutil.which("espeak-ng") else "mock",
        "epochs": 12, "lr_drop_every": 4, "warmup_epochs": 2, "vgg_width": 0.25, "seeds": 3,
    }  # fmt: skip


def main(argv=None) -> dict:
    quick = quick_defaults()
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--data",
        default="v0.01",
        choices=("v0.01", "tfds", "espeak", "mock"),
        help="the data set (see the module docstring)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="v0.01 folder or TFDS dir")
    add_quick_flag(parser, quick, "espeak-ng synthetic words (mock data without espeak-ng)")
    parser.add_argument("--models", default="lenet,vgg11", help="comma-separated: lenet, vgg11")
    parser.add_argument("--alphas", default="0,0.1,0.2", help="comma-separated; 0 = ERM")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument(
        "--lr-drop-every",
        type=int,
        default=10,
        help="divide the learning rate by 10 every N epochs",
    )
    parser.add_argument("--warmup-epochs", type=int, default=5, help="first epochs without mixup")
    parser.add_argument("--batch-size", type=int, default=100, help="minibatch size")
    parser.add_argument("--shuffle-buffer", type=int, default=20_000, help="tf.data shuffle buffer")
    parser.add_argument("--vgg-width", type=float, default=1.0, help="VGG-11 channel multiplier")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--mock-examples", type=int, default=200, help="examples per mock split")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    parser.add_argument(
        "--output", type=Path, default=Path("runs/speech_commands"), help="output folder"
    )
    args = parse_with_quick(parser, argv, quick)
    if args.data == "mock":
        print("--data mock: random noise; the numbers below mean nothing. For the synthetic "
              "speech set install espeak-ng (Debian: apt install espeak-ng).")  # fmt: skip

    splits, names, description = load_data(args)
    print(f"data: {description}")
    small = args.data in ("espeak", "mock")
    splits = {split: features(dataset, cache=small) for split, dataset in splits.items()}
    alphas = [float(a) for a in args.alphas.split(",")]
    results, curves = {}, {}
    for model_name in args.models.split(","):
        for alpha in alphas:
            key = f"{model_name} {row_name(alpha)}"
            runs = [
                train_row(model_name, alpha, splits, len(names), args, seed)
                for seed in range(args.seed, args.seed + args.seeds)
            ]
            results[key] = {
                "validation": [r["validation"] for r in runs],
                "test": [r["test"] for r in runs],
                "train": [r["train"] for r in runs],
                "runs": runs,
            }
            curves[key] = [r["validation_per_epoch"] for r in runs]
            print(
                f"{key}: validation {mean_std(results[key]['validation'])} %, "
                f"test {mean_std(results[key]['test'])} %",
                flush=True,
            )

    print(f"\nFigure 4: error (%) after {args.epochs} epochs, mean ± std over {args.seeds} "
          f"seed(s); data: {description}")  # fmt: skip
    print(f"{'model':<8}{'method':<14}{'validation':>14}{'test':>14}   paper validation / test")
    for key, row in results.items():
        model_name, method = key.split(" ", 1)
        paper = PAPER_FIGURE4.get((model_name, method))
        paper_cell = f"{paper[0]} / {paper[1]}" if paper else "-"
        print(
            f"{model_name:<8}{method:<14}{mean_std(row['validation']):>14}"
            f"{mean_std(row['test']):>14}   {paper_cell}"
        )
    config = {**vars(args), "data_description": description}
    path = write_results(args.output, config, results)
    figures({"config": config, "results": results}, args.output, "figure4_validation_error")
    print(f"wrote {path} and figure4_validation_error.png")
    return results


def markdown(data: dict) -> str:
    """Figure 4's numbers: validation and test error after the last epoch."""
    rows = []
    for key, row in data["results"].items():
        model_name, method = key.split(" ", 1)
        paper = PAPER_FIGURE4.get((model_name, method))
        rows.append([model_name, method, cell(row["train"]), cell(row["validation"]),
                     cell(row["test"]), "" if paper is None else f"{paper[0]} / {paper[1]}"])  # fmt: skip
    return markdown_table(
        ["model", "method", "training error (%)", "validation error (%)", "test error (%)",
         "paper validation / test"],
        rows,
    )  # fmt: skip


def figures(data: dict, folder: Path, name: str) -> list[Path]:
    config = data["config"]
    path = folder / f"{name}.png"
    plot_curves(
        {
            key: [r["validation_per_epoch"] for r in row["runs"]]
            for key, row in data["results"].items()
        },
        path,
        f"Speech commands ({config['data']}): validation error per epoch",
        ylabel="validation error (%)",
    )
    return [path]


if __name__ == "__main__":
    main()
