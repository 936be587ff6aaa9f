"""The documentation site: every public name has a reference page with typed parameters and
no private names, the site builds with `mkdocs build --strict`, tutorial pages show what the
tutorials printed and drew, and (with Chromium) every page, laid out at a desktop's width and
a phone's, is no wider than the window."""

import functools
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
from html import unescape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import keras_mixup

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTHS = (1400, 400)  # a desktop's window and a phone's, in CSS pixels


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


# ----------------------------------------------------------------------------- public API

# Parameters that stay unannotated on purpose: documented pass-through of keyword arguments.
PASS_THROUGH = {
    ("MixupLayer", "kwargs"): "keras.layers.Layer arguments (name, dtype, ...)",
    ("MixupLoss", "loss_kwargs"): "arguments of the named loss's class (from_logits=True, ...)",
}


def public_callables() -> dict[str, object]:
    """Every public function and class, by its public name: `keras_mixup.__all__`, then the
    `__all__` of the public submodules (a name exported twice counts once, at the top)."""
    found, seen = {}, set()
    names = sorted(
        keras_mixup.__all__, key=lambda n: isinstance(getattr(keras_mixup, n), types.ModuleType)
    )
    for name in names:
        value = getattr(keras_mixup, name)
        members = (
            [(f"{name}.{member}", getattr(value, member)) for member in value.__all__]
            if isinstance(value, types.ModuleType)
            else [(name, value)]
        )
        for public, member in members:
            if callable(member) and id(member) not in seen:
                seen.add(id(member))
                found[public] = member
    return found


def test_every_public_parameter_is_annotated():
    """The reference pages show each parameter's type (mkdocstrings reads annotations)."""
    missing = set()
    for name, value in public_callables().items():
        for parameter in inspect.signature(value).parameters.values():
            if parameter.annotation is inspect.Parameter.empty:
                missing.add((name, parameter.name))
    missing -= set(PASS_THROUGH)
    assert not missing, f"public parameters without a type: {sorted(missing)}"


def article(html: str) -> str:
    """The page's content (Material's <article>), without the navigation."""
    start = html.index("<article")
    return html[start : html.index("</article>", start)]


def test_reference_pages_show_the_public_surface_only(site):
    """No private module, base class or member on a reference page: not in the text, not in
    a heading, not in the page's table of contents."""
    pages = sorted((site / "api").glob("*/index.html"))
    assert len(pages) == len(list(API.glob("*.md"))) - 1  # api/index.md is api/index.html
    for page in pages:
        html = page.read_text()
        text = text_of(article(html))
        for private in ("_src", "RuntimeSettings", "Bases:", "RuntimeVariables", "LayerFollower"):
            assert private not in text, (page.parent.name, private)
        headings = [
            text_of(h) for h in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", article(html), re.S)
        ]
        toc = re.search(r'<nav class="md-nav md-nav--secondary".*?</nav>', html, re.S)
        entries = [
            text_of(a) for a in re.findall(r"<a [^>]*>(.*?)</a>", toc.group(0) if toc else "", re.S)
        ]
        for label in headings + entries:
            assert not re.search(r"(?<![\w.])_\w", label), (page.parent.name, label)
    layer = (site / "api" / "MixupLayer" / "index.html").read_text()
    for method in ("_bind", "_bound_followers", "_step_targets", "bind", "step_targets"):
        assert f'id="keras_mixup.MixupLayer.{method}"' not in layer, method


def test_every_heading_of_a_page_is_unique(site):
    """A table of contents that repeats a heading ("Op level" twice) does not say which is
    which, and the second one's anchor is `op-level_1`."""
    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        if "<article" not in html:
            continue
        headings = [
            text_of(h) for h in re.findall(r"<h[2-6][^>]*>(.*?)</h[2-6]>", article(html), re.S)
        ]
        headings = [h.rstrip("¶").strip() for h in headings]
        repeated = sorted({h for h in headings if headings.count(h) > 1})
        assert not repeated, (str(page.relative_to(site)), repeated)


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_tutorial_pages_show_their_output_and_figures(site):
    """Each tutorial page ends with what the tutorial printed (committed, with how and at
    which commit it ran) and every figure it writes; the figures stay small."""
    hooks = load_hooks()
    for name in hooks.TUTORIALS:
        committed = (hooks.OUTPUTS / f"{name}.txt").read_text()
        header, _, printed = committed.partition("\n")
        assert header.startswith("# `KERAS_BACKEND=") and f"examples/{name}.py" in header
        assert "at commit " in header and "CPU cores" in header, header
        assert printed.strip() and "\r" not in printed and "\x1b" not in printed, name
        html = (site / "tutorials" / name / "index.html").read_text()
        output = article(html)[article(html).index('id="output"') :]
        last_line = printed.strip().splitlines()[-1].strip()
        assert " ".join(last_line.split()) in text_of(output), (name, last_line)
        source = (ROOT / "examples" / f"{name}.py").read_text()
        figures = hooks.tutorial_figures(name)
        if "savefig(" in source or "plot_batch(" in source:
            assert figures, (
                f"examples/{name}.py draws a figure: `python docs/hooks.py --refresh {name}`"
            )
        for figure in figures:
            assert figure.stat().st_size < hooks.FIGURE_BUDGET, figure
            assert f"figures/tutorials/{figure.name}" in output, (name, figure.name)
            assert (site / "figures" / "tutorials" / figure.name).exists()


def test_output_cleaning_keeps_the_final_state_of_each_line():
    hooks = load_hooks()
    raw = "Epoch 1/2\r\x1b[1m 1/9\x1b[0m [==>...]\r\x1b[1m9/9\x1b[0m done\nab\bc\nlast\r\n"
    assert hooks.clean_output(raw) == "9/9 done\nac\nlast\n"


def test_the_home_page_stays_a_readme(site):
    """The home page is the README (~200 lines since 073c6ba; the manual it held, 475 lines
    and 6,000 words, moved to the User guide, Semantics and the other pages). Its rendered
    text is about 1,550 words (prose, code and tables); 2,000 leaves room for a few additions
    and fails long before the manual comes back."""
    html = (site / "index.html").read_text()
    assert len(html.encode()) < 120_000, len(html.encode())
    words = len(text_of(article(html)).split())
    assert words < 2_000, f"the home page has {words} words: move the detail to a docs page"


def test_the_home_page_links_each_tutorial_to_its_page(site):
    """The README links the example programs (they resolve on GitHub); on the site each link
    goes to the tutorial's page, which the link checker of `mkdocs build --strict` resolves."""
    hooks = load_hooks()
    html = article((site / "index.html").read_text())
    for name in hooks.TUTORIALS:
        assert f'href="tutorials/{name}/"' in html, name


# ----------------------------------------------------------------------------- in a browser


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on localhost, as a reader gets it (404.html's links are
    absolute, so it needs a server root)."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def browser():
    if BROWSER is None:
        if os.environ.get("KERAS_MIXUP_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (Debian: apt install chromium)")
        pytest.skip("chromium is not installed (`make docs-check` needs it)")
    return BROWSER


def chromium(browser: str, profile: Path, *args: str, timeout: int = 300) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]  # fmt: skip
    process = subprocess.run([browser, *flags, *args], capture_output=True, text=True,
                             timeout=timeout, check=True)  # fmt: skip
    return process.stdout


def lay_out(browser: str, site: Path, served: str, pages: list[str], profile: Path) -> dict:
    """Each of `pages` (paths in the site) laid out at each of WIDTHS in one headless
    Chromium: a page of frames, one per page and width (a headless window cannot be as
    narrow as a phone; a frame can), served from the site itself so that, once every frame
    has loaded, it can call each frame's layout probe (docs/javascripts/layout_probe.js)
    and print what they measured for `--dump-dom`. Returns {(page, width): measures}."""
    frames = "".join(
        f'<iframe name="{page}@{width}" src="/{page}" '
        f'style="display:block;border:0;width:{width}px;height:900px"></iframe>'
        for page in pages
        for width in WIDTHS
    )
    frame_page = site / "__layout_frames__.html"
    frame_page.write_text(
        '<!doctype html><html><body style="margin:0"><pre id="probes"></pre>' + frames
        + "<script>"
        'window.addEventListener("load", function () {'
        "  var probes = {};"
        '  document.querySelectorAll("iframe").forEach(function (frame) {'
        "    var probe = frame.contentWindow.layoutProbe;"
        "    probes[frame.name] = probe ? probe() : null;"
        "  });"
        '  document.getElementById("probes").textContent = JSON.stringify(probes);'
        "});</script></body></html>"
    )  # fmt: skip
    try:
        dom = chromium(browser, profile, "--dump-dom", "--virtual-time-budget=2000",
                       f"--window-size={max(WIDTHS) + 100},1000", f"{served}/{frame_page.name}")  # fmt: skip
    finally:
        frame_page.unlink()
    found = re.search(r'<pre id="probes">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), "the page of frames printed nothing"
    records = {}
    for name, record in json.loads(unescape(found.group(1))).items():
        page, width = name.rsplit("@", 1)
        records[page, int(width)] = record
    missing = sorted(f"{p}@{w}" for p in pages for w in WIDTHS if not records.get((p, w)))
    assert not missing, f"no layout probe in {missing} (docs/javascripts/layout_probe.js)"
    return records


CODE_LINE_LIMIT = 100  # characters: ruff's line length for examples/


def test_every_page_fits_the_window_at_desktop_and_phone_widths(site, served, browser, tmp_path):
    """Every page of the site, laid out at 1400 px and 400 px: the document is no wider than
    the window (wide tables and code scroll in their own box), mkdocstrings' parameter tables
    fit without scrolling, every image loads (each tutorial's figures included), and at
    1400 px a tutorial's code block scrolls only for a line over 100 characters. And the
    probe sees an overflow where there is one: a page made 3,000 px wide fails the first
    check at both widths."""
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    overflowing = "api/MixupLayer/overflow-probe.html"
    html = (site / "api" / "MixupLayer" / "index.html").read_text()
    (site / overflowing).write_text(
        html.replace("<article", '<div style="width:3000px">wide</div><article', 1)
    )
    start = time.perf_counter()
    try:
        records = lay_out(browser, site, served, [*pages, overflowing], tmp_path / "profile")
    finally:
        (site / overflowing).unlink()
    seconds = time.perf_counter() - start
    failures = []
    for (page, width), record in sorted(records.items()):
        if page == overflowing:
            continue
        where = f"{page} at {width} px"
        if record["scrollWidth"] > record["innerWidth"]:
            failures.append(
                f"{where}: {record['scrollWidth']} px wide in a {record['innerWidth']} px "
                f"window; past its edge: {record['overflow']}"
            )
        if record["docTables"]:
            failures.append(f"{where}: parameter tables scroll: {record['docTables']}")
        broken = [src for src, loaded in record["images"] if not loaded]
        if broken:
            failures.append(f"{where}: images not loaded: {broken}")
        cut = [line for line in record["scrollingCode"] if line[0] <= CODE_LINE_LIMIT]
        if page.startswith("tutorials/") and width == max(WIDTHS) and cut:
            failures.append(f"{where}: code blocks scroll for lines of <= 100 characters: {cut}")
    assert not failures, "\n".join(failures)
    for width in WIDTHS:
        home = records["index.html", width]
        assert home["innerWidth"] == width and home["overflow"] == [], home
        wide = records[overflowing, width]
        assert wide["scrollWidth"] >= 3000 > width == wide["innerWidth"], wide
        assert wide["overflow"] == ["div"], wide["overflow"]
    hooks = load_hooks()
    for name in hooks.TUTORIALS:
        for width in WIDTHS:
            shown = [src for src, loaded in records[f"tutorials/{name}/index.html", width]["images"]
                     if "figures/tutorials/" in src and loaded]  # fmt: skip
            assert len(shown) == len(hooks.tutorial_figures(name)), (name, width, shown)
    print(
        f"{len(records)} layouts ({len(pages) + 1} pages x {len(WIDTHS)} widths) in {seconds:.0f} s"
    )
    assert seconds < 150, f"laying the site out took {seconds:.0f} s"


def test_pages_render_in_a_browser(site, served, browser, tmp_path):
    """Screenshots of the home page and the MixupTransform reference at a desktop's width
    (under site/screenshots/ with KERAS_MIXUP_REQUIRE_BROWSER=1, for a look), and the
    reference's signature and example as Chromium renders them."""
    screenshots = (
        ROOT / "site" / "screenshots" if os.environ.get("KERAS_MIXUP_REQUIRE_BROWSER") else tmp_path
    )
    screenshots.mkdir(parents=True, exist_ok=True)
    for page, name in (
        ("index.html", "home"),
        ("api/MixupTransform/index.html", "mixup_transform"),
    ):
        shot = screenshots / f"{name}.png"
        chromium(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2000",
                 "--virtual-time-budget=5000", f"{served}/{page}", timeout=120)  # fmt: skip
        assert shot.stat().st_size > 20_000
    dom = chromium(browser, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000",
                   f"{served}/api/MixupTransform/index.html", timeout=120)  # fmt: skip
    text = text_of(dom)
    assert "MixupTransform(" in text and "Example" in text
