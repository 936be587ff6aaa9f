"""Shared pieces of the paper reproductions: command lines and result files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of `doc`, whose `--help` shows every default."""
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def add_quick_flag(parser: argparse.ArgumentParser, quick_defaults: dict, what: str) -> None:
    """`--quick`: the offline CPU profile, which changes the defaults listed in its help."""
    changes = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in quick_defaults.items())
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"offline quick profile on {what}; its defaults: {changes or 'none changed'} "
        "(options given on the command line still win)",
    )


def parse_with_quick(parser: argparse.ArgumentParser, argv, quick_defaults: dict):
    """Parses `argv`; with `--quick`, `quick_defaults` are the defaults of the options
    the command line does not give (nothing is changed after parsing)."""
    known, _ = parser.parse_known_args(argv)
    # argparse fills only the attributes a namespace lacks: the quick values stand in for
    # the defaults, and the command line still overrides them
    namespace = argparse.Namespace(**quick_defaults) if known.quick else None
    return parser.parse_args(argv, namespace)


def write_results(output: Path, config: dict, results: dict) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / "results.json"
    config = {
        key: (str(value) if isinstance(value, Path) else value) for key, value in config.items()
    }
    path.write_text(json.dumps({"config": config, "results": results}, indent=2, default=float))
    return path


def mean_std(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.1f}"


def cell(values, digits: int = 1) -> str:
    """A table cell: mean ± std over seeds, then each seed's value."""
    values = np.asarray(values, float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    per_seed = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f} ({per_seed})"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
