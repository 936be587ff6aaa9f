"""The README's Python snippets, extracted and run as written.

    python tests/readme_snippets.py README.md            # every ```python block, in order
    python tests/readme_snippets.py README.md --block 1  # the first one only
    python tests/readme_snippets.py README.md --list     # number, first line, length

Each block runs in a fresh namespace (the README promises that each is self-contained), as
`python -c` would run it; a failing block exits non-zero with its number and traceback.
`make user` runs the first block in an environment holding only `pip install ".[tensorflow]"`;
`tests/integration/test_readme.py` runs them all. Plain Python, no test framework: it runs where only the
user's install is.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path

FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def python_blocks(markdown: str) -> list[str]:
    """The bodies of the ```python fenced blocks of `markdown`, in order."""
    return FENCE.findall(markdown)


def run_block(code: str, number: int) -> None:
    """Runs one block as a script (`__name__ == "__main__"`) in a fresh namespace."""
    namespace = {"__name__": "__main__"}
    exec(compile(code, f"<README python block {number}>", "exec"), namespace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("markdown", type=Path, help="the Markdown file (README.md)")
    parser.add_argument("--block", type=int, action="append", help="1-based block number")
    parser.add_argument("--list", action="store_true", help="list the blocks and exit")
    args = parser.parse_args(argv)
    blocks = python_blocks(args.markdown.read_text())
    if args.list:
        for number, code in enumerate(blocks, 1):
            print(f"{number}: {code.splitlines()[0]!r} ({len(code.splitlines())} lines)")
        return 0
    chosen = args.block or range(1, len(blocks) + 1)
    for number in chosen:
        if not 1 <= number <= len(blocks):
            parser.error(f"--block {number}: {args.markdown} has {len(blocks)} python blocks")
        print(f"--- {args.markdown.name}, python block {number} ---", flush=True)
        try:
            run_block(blocks[number - 1], number)
        except Exception:
            traceback.print_exc()
            print(f"FAILED: {args.markdown.name}, python block {number}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
