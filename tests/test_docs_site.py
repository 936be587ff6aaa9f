"""The documentation site: every public name has a reference page, the site builds with
`mkdocs build --strict`, and (with Chromium) the pages render as a reader sees them."""

import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

import keras_mixup

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def test_every_public_name_has_a_reference_page():
    documented = set(
        re.findall(r"::: keras_mixup\.(\w+)", "".join(p.read_text() for p in API.glob("*.md")))
    )
    assert set(keras_mixup.__all__) <= documented, set(keras_mixup.__all__) - documented


def test_the_layering_figure_is_drawn_from_the_code_as_it_is():
    """docs/design.md's picture (docs/figures/layering.png) and its edges
    (layering.json) come from `python docs/layering.py`; rerun it when imports change."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("layering", ROOT / "docs" / "layering.py")
    layering = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layering)
    committed = json.loads((ROOT / "docs" / "figures" / "layering.json").read_text())
    assert [list(edge) for edge in layering.import_edges()] == committed, (
        "the package's imports changed: run `python docs/layering.py` and commit the figure"
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mkdocs is not installed (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    process = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, (process.stdout + process.stderr)[-4000:]
    return out


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_reference_pages_show_signatures_and_examples(site):
    page = text_of((site / "api" / "MixupTransform" / "index.html").read_text())
    assert "MixupTransform(" in page and "num_mixed" in page and "cutmix_alpha" in page
    assert "Example" in page and "dataset.apply(MixupTransform(alpha=0.2" in page
    for name in ("MixupLayer", "MixupLoss", "MixupAccuracy"):
        text = text_of((site / "api" / name / "index.html").read_text())
        assert f"{name}(" in text, name
    layer = text_of((site / "api" / "MixupLayer" / "index.html").read_text())
    assert "Call arguments" in layer and "References" in layer


def test_tutorials_and_home_page_are_rendered(site):
    tutorial = text_of((site / "tutorials" / "mixup_tf_data" / "index.html").read_text())
    assert "Prepare the dataset" in tutorial and "MixupTransform(alpha=alpha" in tutorial
    home = text_of((site / "index.html").read_text())
    assert "keras_mixup" in home and "MixupLoss" in home


def test_pages_render_in_a_browser(site, tmp_path):
    if BROWSER is None:
        if os.environ.get("KERAS_MIXUP_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (Debian: apt install chromium)")
        pytest.skip("chromium is not installed (`make docs-check` needs it)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    screenshots = (
        ROOT / "site" / "screenshots" if os.environ.get("KERAS_MIXUP_REQUIRE_BROWSER") else tmp_path
    )
    screenshots.mkdir(parents=True, exist_ok=True)
    for page, name in (
        (site / "index.html", "home"),
        (site / "api/MixupTransform/index.html", "mixup_transform"),
    ):
        shot = screenshots / f"{name}.png"
        subprocess.run([BROWSER, *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                       capture_output=True, timeout=120, check=True)  # fmt: skip
        assert shot.stat().st_size > 20_000
        dom = subprocess.run([BROWSER, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                             text=True, timeout=120, check=True).stdout  # fmt: skip
        if name == "mixup_transform":
            text = text_of(dom)
            assert "MixupTransform(" in text and "Example" in text
