"""MkDocs hooks: the README becomes the home page and the tutorials of examples/ become pages,
each ending with the output it printed and the figures it drew.

A tutorial (`examples/<name>.py`) reads top to bottom like a keras.io example: a header
docstring (Title, Description), then prose sections in string literals between straight-line
code. Each prose literal becomes Markdown, each stretch of code a fenced Python block.
Links in the README to `docs/...` are rewritten relative to the site, and links to other files
of the repository point at the file's name in code font (the site holds the docs only).

Each tutorial page ends with an "Output" section: what the tutorial printed to stdout
(`docs/tutorial_outputs/<name>.txt`, whose first line says how, where and at which commit it
ran) in a text block, and the figures it wrote (`docs/figures/tutorials/<name>_<figure>.png`).
The build only reads these committed files; it runs nothing. To run the tutorials again and
rewrite them (one at a time, at low priority; about 18 minutes on 2 CPU cores in all, the
longest, label_noise_demo, cutmix_recipe and mixup_tf_data, 4 to 5 minutes each):

    python docs/hooks.py --refresh              # every tutorial
    python docs/hooks.py --refresh cutmix_recipe text_mixup

A refresh runs each tutorial in a scratch directory (its `runs/...` outputs land there), keeps
stdout only, with progress bars reduced to their final state and ANSI escapes removed, and
copies its PNG figures, downscaled below 300 KB.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "docs" / "tutorial_outputs"
FIGURES = ROOT / "docs" / "figures" / "tutorials"
FIGURE_BUDGET = 300_000  # bytes per committed PNG
TUTORIALS = (
    "mixup_tf_data",
    "mixup_in_model",
    "cutmix_recipe",
    "mask_family",
    "label_noise_demo",
    "keras_pipeline",
    "detection_mixup",
    "text_mixup",
    "c_mixup_regression",
    "grain_jax",
    "keras_hub_and_applications",
    "manifold_mixup",
)
BACKENDS = {"grain_jax": "jax"}  # the Keras backend of each tutorial; TensorFlow otherwise
LINK = re.compile(r"\[(?P<label>[^\]]+)\]\((?P<target>(?!https?://|#)[^)\s]+)\)")


def readme_page() -> str:
    """README.md with `docs/x.md` links made relative to the site and `examples/<tutorial>.py`
    links sent to the tutorial's page; links to other repository files become their label (the
    site holds the docs, not the code)."""

    def relink(match: re.Match) -> str:
        target = match["target"]
        if target.startswith("docs/"):
            return f"[{match['label']}]({target[len('docs/') :]})"
        tutorial = re.fullmatch(r"examples/(\w+)\.py", target)
        if tutorial and tutorial[1] in TUTORIALS:
            return f"[{match['label']}](tutorials/{tutorial[1]}.md)"
        return match["label"]

    return LINK.sub(relink, (ROOT / "README.md").read_text())


def tutorial_page(name: str) -> str:
    source = (ROOT / "examples" / f"{name}.py").read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    parts, position = [], 0
    for node in tree.body:
        is_prose = (
            isinstance(node, ast.Expr)
            and isinstance(getattr(node, "value", None), ast.Constant)
            and isinstance(node.value.value, str)
        )
        if not is_prose:
            continue
        code = "\n".join(lines[position : node.lineno - 1]).strip("\n")
        if code.strip():
            parts.append(f"```python\n{code}\n```")
        prose = node.value.value.strip("\n")
        if position == 0:  # the header: Title and Description
            fields = dict(re.findall(r"^(\w+): (.*(?:\n(?!\w+: ).*)*)", prose, re.M))
            prose = f"# {fields.get('Title', name)}\n\n{' '.join(fields.get('Description', '').split())}"
            prose += f"\n\nSource: `examples/{name}.py` (`python examples/{name}.py`)."
        parts.append(prose)
        position = node.end_lineno
    code = "\n".join(lines[position:]).strip("\n")
    if code.strip():
        parts.append(f"```python\n{code}\n```")
    output = output_section(name)
    if output:
        parts.append(output)
    return "\n\n".join(parts) + "\n"


def tutorial_figures(name: str) -> list[Path]:
    """The committed figures of a tutorial, `docs/figures/tutorials/<name>_<figure>.png`."""
    return sorted(FIGURES.glob(f"{name}_*.png"))


def output_section(name: str) -> str:
    """The "Output" section of a tutorial's page, from the committed output and figures
    (empty when the tutorial has not been run: `python docs/hooks.py --refresh <name>`)."""
    path = OUTPUTS / f"{name}.txt"
    if not path.exists():
        return ""
    header, _, text = path.read_text().partition("\n")
    how, body = header.removeprefix("# ").strip(), text.strip("\n")
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    figures = tutorial_figures(name)
    what = "printed and drew" if figures else "printed"
    parts = [
        "## Output",
        f"What the tutorial {what} when it last ran: {how}. Rerun it with "
        f"`python docs/hooks.py --refresh {name}`.",
        f"{fence}{{.text .tutorial-output}}\n{body}\n{fence}",
    ]
    for figure in figures:
        label = figure.stem[len(name) + 1 :].replace("_", " ")
        parts.append(f"![{name}: {label}](../figures/tutorials/{figure.name})")
    return "\n\n".join(parts)


def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, "index.md", content=readme_page()))
    for name in TUTORIALS:
        files.append(File.generated(config, f"tutorials/{name}.md", content=tutorial_page(name)))
    return files


# ----------------------------------------------------------------------------- refresh

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def clean_output(raw: str) -> str:
    """Readable text from a program's stdout: ANSI escapes removed, each line rewritten with
    carriage returns (progress bars) kept in its final state, backspaces applied."""
    lines = []
    for line in ANSI.sub("", raw).replace("\r\n", "\n").split("\n"):
        kept = []
        for character in line.rstrip("\r").rsplit("\r", 1)[-1]:
            if character == "\b":
                kept = kept[:-1]
            else:
                kept.append(character)
        lines.append("".join(kept).rstrip())
    return "\n".join(lines).strip("\n") + "\n"


def small_png(source: Path, target: Path, budget: int = FIGURE_BUDGET) -> None:
    """`source` written to `target` as an optimized PNG, scaled down until under `budget`."""
    from PIL import Image

    image = Image.open(source)
    image.load()
    scale = 1.0
    while True:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized = image if scale == 1.0 else image.resize(size, Image.LANCZOS)
        resized.save(target, optimize=True)
        if target.stat().st_size < budget or min(size) < 64:
            return
        scale *= 0.8


def commit() -> str:
    """The short commit the tutorials run at, marked when the package or the examples have
    uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    short = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--", "keras_mixup", "examples").strip()
    return f"{short} (with uncommitted changes)" if dirty else short


def refresh(name: str) -> float:
    """Runs `examples/<name>.py` and rewrites its committed output and figures; returns the
    seconds it ran."""
    backend = BACKENDS.get(name, "tensorflow")
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("KERAS_MIXUP_SMOKE_TEST", None)
    env.pop("KERAS_MIXUP_DEMO_OUTPUT", None)
    script = ROOT / "examples" / f"{name}.py"
    with tempfile.TemporaryDirectory(prefix=f"tutorial_{name}_") as scratch:
        start = time.perf_counter()
        process = subprocess.run(
            ["nice", "-n", "10", sys.executable, str(script)],
            cwd=scratch, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            raise SystemExit(f"examples/{name}.py failed (exit {process.returncode})")
        cores = os.cpu_count()
        header = (
            f"# `KERAS_BACKEND={backend} python examples/{name}.py` at commit {commit()}, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}, on {cores} CPU cores "
            f"({platform.machine()}, Python {platform.python_version()}), in {seconds:.0f} s"
        )
        OUTPUTS.mkdir(parents=True, exist_ok=True)
        (OUTPUTS / f"{name}.txt").write_text(header + "\n" + clean_output(process.stdout))
        FIGURES.mkdir(parents=True, exist_ok=True)
        for old in tutorial_figures(name):
            old.unlink()
        for figure in sorted(Path(scratch).rglob("*.png")):
            small_png(figure, FIGURES / f"{name}_{figure.name}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", nargs="*", metavar="TUTORIAL", help="run these tutorials "
                        "(all when none is named) and rewrite their committed output and figures")  # fmt: skip
    args = parser.parse_args(argv)
    if args.refresh is None:
        parser.print_help()
        return
    names = args.refresh or list(TUTORIALS)
    unknown = sorted(set(names) - set(TUTORIALS))
    if unknown:
        parser.error(f"not tutorials: {unknown} (choose from {list(TUTORIALS)})")
    for name in names:
        print(f"{name}: running examples/{name}.py ...", flush=True)
        print(f"{name}: {refresh(name):.0f} s", flush=True)


if __name__ == "__main__":
    main()
