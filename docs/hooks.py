"""MkDocs hooks: the README becomes the home page and the tutorials of examples/ become pages.

A tutorial (`examples/<name>.py`) reads top to bottom like a keras.io example: a header
docstring (Title, Description), then prose sections in string literals between straight-line
code. Each prose literal becomes Markdown, each stretch of code a fenced Python block.
Links in the README to `docs/...` are rewritten relative to the site, and links to other files
of the repository point at the file's name in code font (the site holds the docs only).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = (
    "mixup_tf_data",
    "mixup_in_model",
    "cutmix_recipe",
    "label_noise_demo",
    "keras_pipeline",
    "detection_mixup",
    "text_mixup",
    "grain_jax",
)
LINK = re.compile(r"\[(?P<label>[^\]]+)\]\((?P<target>(?!https?://|#)[^)\s]+)\)")


def readme_page() -> str:
    """README.md with `docs/x.md` links made relative to the site; links to other repository
    files become their label (the site holds the docs, not the code)."""

    def relink(match: re.Match) -> str:
        target = match["target"]
        if target.startswith("docs/"):
            return f"[{match['label']}]({target[len('docs/') :]})"
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
    return "\n\n".join(parts) + "\n"


def on_files(files, config):
    files.append(File.generated(config, "index.md", content=readme_page()))
    for name in TUTORIALS:
        files.append(File.generated(config, f"tutorials/{name}.md", content=tutorial_page(name)))
    return files
