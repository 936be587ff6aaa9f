"""Renders docs/results.md's tables and docs/figures/ from the committed results files.

Every number in docs/results.md's marked blocks comes from `examples/paper/results/*.json`
(written by `python -m examples.paper.reproduce`): the block between
`<!-- report:NAME -->` and `<!-- /report:NAME -->` is the table of NAME.json, rendered by
the `markdown` function of the module that wrote it, with the command, its time and its
commit; its figures are drawn by the module's `figures` function from the same file. A
profile without a results file renders as "not run yet" with its command.

    python -m examples.paper.report            # rewrite docs/results.md and docs/figures/
    python -m examples.paper.report --check    # exit 1 if docs/results.md is not the rendering
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

from examples.paper.common import argument_parser
from examples.paper.reproduce import PROFILES, RESULTS

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "results.md"
FIGURES = ROOT / "docs" / "figures"
BLOCK = re.compile(
    r"(<!-- report:(?P<name>[a-z0-9_]+) -->\n)(?P<body>.*?)(<!-- /report:(?P=name) -->)", re.S
)


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def module_of(name: str):
    return importlib.import_module(f"examples.paper.{PROFILES[name].module}")


def block(name: str, figures: list[str]) -> str:
    """The rendered body of NAME's block."""
    if name not in PROFILES:
        raise SystemExit(f"docs/results.md has a block for an unknown profile {name!r}")
    data = load(name)
    if data is None:
        return f"_Not run yet. Command: `{PROFILES[name].command_line}`._\n"
    run = data["reproduce"]
    lines = [
        module_of(name).markdown(data),
        "",
        f"Command: `{run['command']}` ({run['seconds'] / 60:.0f} min on this project's 2-core "
        f"CPU machine; commit {run['commit']}; results file `examples/paper/results/{name}.json`).",
    ]
    lines += [f"\n![{name}](figures/{figure})" for figure in figures]
    return "\n".join(lines) + "\n"


def figure_names(name: str) -> list[str]:
    """The figure files NAME's module draws (without drawing them)."""
    data = load(name)
    if data is None or not hasattr(module_of(name), "figures"):
        return []
    if PROFILES[name].module == "gan":
        return [f"{name}_{dataset}.png" for dataset in data["config"]["datasets"].split(",")]
    return [f"{name}.png"]


def render(text: str) -> str:
    return BLOCK.sub(
        lambda m: m.group(1) + block(m["name"], figure_names(m["name"])) + m.group(4), text
    )


def draw_figures(names) -> list[Path]:
    FIGURES.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        data = load(name)
        if data is not None and hasattr(module_of(name), "figures"):
            paths += module_of(name).figures(data, FIGURES, name)
    return paths


def main(argv=None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    parser.add_argument("--no-figures", action="store_true", help="do not redraw docs/figures/")
    args = parser.parse_args(argv)
    text = DOCUMENT.read_text()
    rendered = render(text)
    names = [m["name"] for m in BLOCK.finditer(text)]
    if args.check:
        if rendered != text:
            print("docs/results.md differs from the rendering of examples/paper/results/")
            return 1
        print(f"docs/results.md is the rendering of {len(names)} results blocks")
        return 0
    DOCUMENT.write_text(rendered)
    drawn = [] if args.no_figures else draw_figures(names)
    print(f"rendered {len(names)} blocks into {DOCUMENT} and {len(drawn)} figures into {FIGURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
