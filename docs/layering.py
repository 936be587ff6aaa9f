"""Draws keras_mixup's module layering from its imports: `python docs/layering.py`.

Writes docs/figures/layering.png (the picture in docs/design.md) and
docs/figures/layering.json (its edges; tests/integration/test_docs_site.py checks that they are
the code's current imports). A module sits one row above the highest module it
imports at import time; dashed arrows are imports made on first use (inside a
function: TensorFlow's binding, the tf.data machinery).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_mixup"
FIGURES = ROOT / "docs" / "figures"
ROLES = {"fronts": "front", "core": "core", "bindings": "binding", "paper": "paper"}  # by package
COLOURS = {
    "front": "#f6c89f",
    "core": "#a8d5a2",
    "binding": "#9fc5e8",
    "paper": "#e6e0f0",
    "public": "#d5d5d5",
}
LABELS = [
    "_src/fronts: fronts and their machinery",
    "_src/core: spec, methods, draw, apply, parse, label rules",
    "_src/bindings: ops bindings",
    "_src/paper: the paper's analysis tools",
    "public submodules",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "keras_mixup"


def import_edges() -> list[tuple[str, str, bool]]:
    """(importer, imported, at_import_time) for every import between package modules."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = set()
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_mixup")
            ):
                continue
            base = node.module.removeprefix("keras_mixup").lstrip(".")
            for alias in node.names:
                target = f"{base}.{alias.name}".lstrip(".")
                target = target if target in modules else base or "keras_mixup"
                if target not in (name, "_src"):
                    edges.add((name, target, id(node) in top_level))
    return sorted(edges)


def rows(edges) -> dict[str, int]:
    """Each module's row: 0 for modules importing nothing of the package."""
    nodes = {n for edge in edges for n in edge[:2]}
    below = {n: {b for a, b, eager in edges if a == n and eager} for n in nodes}
    row: dict[str, int] = {}

    def depth(node):
        if node not in row:
            row[node] = 1 + max((depth(child) for child in below[node]), default=-1)
        return row[node]

    for node in nodes:
        depth(node)
    return row


def role(node: str) -> str:
    """A module's colour: its subpackage of `_src`, or public."""
    parts = node.split(".")
    if parts[0] != "_src" or len(parts) < 2:
        return "public"
    return ROLES[parts[1]]


def draw(edges, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # keras_mixup/__init__.py re-exports the public names; its arrows would cover the rest
    edges = [e for e in edges if e[0] != "keras_mixup"]
    row = rows(edges)
    levels: dict[int, list[str]] = {}
    for node in sorted(row, key=lambda n: (role(n), n)):
        levels.setdefault(row[node], []).append(node)
    width = max(len(v) for v in levels.values())
    position = {}
    for level, nodes in levels.items():
        for i, node in enumerate(nodes):
            position[node] = ((i + 0.5) * width / len(nodes), level)
    fig, ax = plt.subplots(figsize=(1.55 * width + 1, 1.0 * len(levels) + 1.2))
    for a, b, eager in edges:
        (xa, ya), (xb, yb) = position[a], position[b]
        ax.annotate(
            "", xy=(xb, yb + 0.18), xytext=(xa, ya - 0.18),
            arrowprops=dict(arrowstyle="->", color="#555" if eager else "#c0392b",
                            lw=0.6, alpha=0.55, linestyle="-" if eager else "--"),
        )  # fmt: skip
    for node, (x, y) in position.items():
        label = node.removeprefix("_src.")
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.3", fc=COLOURS[role(node)], ec="#333", lw=0.5))  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c, ec="#333") for c in COLOURS.values()]
    ax.legend(handles, LABELS, loc="upper center", fontsize=8, frameon=False, ncol=3,
              bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-0.6, len(levels) - 0.4)
    ax.axis("off")
    ax.set_title("keras_mixup/_src: a row imports only rows below it (dashed: on first use); "
                 "keras_mixup/__init__.py re-exports the public names", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    edges = import_edges()
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / "layering.json").write_text(json.dumps([list(e) for e in edges], indent=0) + "\n")
    draw(edges, FIGURES / "layering.png")
    print(f"{len(edges)} imports, {len(rows(edges))} modules -> {FIGURES / 'layering.png'}")


if __name__ == "__main__":
    main()
