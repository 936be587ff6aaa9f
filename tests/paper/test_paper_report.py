"""The paper reproductions as a package: --help everywhere, no sys.path edits, and
docs/results.md rendered byte for byte from the committed results files."""

import importlib
import json
from pathlib import Path

import pytest

from examples.paper import report, reproduce

ROOT = Path(__file__).resolve().parents[2]
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
        assert data["reproduce"]["profile"] == name
        # the file was made by its profile's command as `make reproduce` runs it today
        assert data["reproduce"]["command"] == reproduce.PROFILES[name].command_line, name
        assert data["reproduce"]["command"] in body
        assert body.count("|") > 10  # a table
        for figure in report.figure_names(name):
            assert (report.FIGURES / figure).exists(), figure


def test_a_missing_results_file_renders_as_not_run_with_its_command(monkeypatch, tmp_path):
    monkeypatch.setattr(reproduce, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    body = report.block("table4_quick", [])
    assert body.startswith("_Not run yet. Command: `python -m examples.paper.uci --quick`")


def test_every_committed_results_file_draws_its_figures(tmp_path):
    from PIL import Image

    for path in sorted(reproduce.RESULTS.glob("*.json")):
        module = report.module_of(path.stem)
        if not hasattr(module, "figures"):
            continue
        for figure in module.figures(json.loads(path.read_text()), tmp_path, path.stem):
            with Image.open(figure) as image:
                assert image.size[0] > 300 and image.size[1] > 200, figure


def test_table5_figure_has_a_row_per_method(tmp_path):
    """Table 5's 22 rows x 2 weight decays draw as a dot plot whose height grows with the rows
    (44 curves in one axes would be unreadable)."""
    from PIL import Image

    from examples.paper import cifar

    results = {
        f"{label} | wd={decay}": {
            "median_last_10": [4.0 + i, 5.0 + i, 6.0],
            "test_error_per_epoch": [],
        }
        for i, (label, _, _) in enumerate(cifar.PAPER_TABLE5)
        for decay in ("0.0001", "0.0005")
    }
    data = {"config": {"quick": True, "experiment": "table5", "weight_decays": "1e-4,5e-4"},
            "results": results}  # fmt: skip
    (figure,) = cifar.figures(data, tmp_path, "table5_quick")
    with Image.open(figure) as image:
        assert image.size[1] > 0.3 * 120 * len(cifar.PAPER_TABLE5)  # about 0.32 inch per row
