"""The paper reproductions as a package: --help everywhere, no sys.path edits, and
docs/results.md rendered byte for byte from the committed results files."""

import importlib
import json
from pathlib import Path

import pytest

from examples.paper import report, reproduce

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ["adversarial", "calibration", "cifar", "gan", "imagenet", "in_between", "speech_commands",
         "toy", "uci", "reproduce", "report"]  # fmt: skip


@pytest.mark.parametrize("item", ITEMS)
def test_every_program_has_help_with_defaults(item, capsys):
    module = importlib.import_module(f"examples.paper.{item}")
    with pytest.raises(SystemExit) as exit_code:
        module.main(["--help"])
    assert exit_code.value.code == 0
    text = capsys.readouterr().out
    assert "usage:" in text and "--output" in text or item in ("report", "reproduce")
    if item not in ("report", "reproduce"):
        assert "(default:" in text  # ArgumentDefaultsHelpFormatter


def test_no_file_edits_sys_path():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("keras_mixup", "examples", "benchmarks", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if "sys.path." + "insert" in path.read_text() or "sys.path." + "append" in path.read_text()
    ]
    assert not offenders, offenders


def test_results_page_is_the_rendering_of_the_committed_results():
    text = report.DOCUMENT.read_text()
    assert report.render(text) == text, "run `python -m examples.paper.report`"
    blocks = [m["name"] for m in report.BLOCK.finditer(text)]
    assert set(blocks) == set(reproduce.PROFILES), "every profile has its block"


def test_every_committed_results_file_renders_with_its_command():
    for path in sorted(reproduce.RESULTS.glob("*.json")):
        name = path.stem
        body = report.block(name, report.figure_names(name))
        data = json.loads(path.read_text())
        assert data["reproduce"]["command"] in body
        assert body.count("|") > 10  # a table
        for figure in report.figure_names(name):
            assert (report.FIGURES / figure).exists(), figure


def test_a_missing_results_file_renders_as_not_run_with_its_command(monkeypatch, tmp_path):
    monkeypatch.setattr(reproduce, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    body = report.block("table4_quick", [])
    assert body.startswith("_Not run yet. Command: `python -m examples.paper.uci --quick`")
