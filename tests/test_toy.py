"""examples/toy.py (Figure 1b) end to end, shortened."""

import json

from examples.paper import toy


def test_toy_runs_and_writes_the_shading_figure(tmp_path):
    runs = toy.main(["--seeds", "1", "--epochs", "2", "--output", str(tmp_path)])
    assert set(runs) == {"ERM", "mixup α = 1"}
    saved = json.loads((tmp_path / "results.json").read_text())["results"]
    assert 0 <= saved["ERM"][0]["uncertain_share"] <= 100
    assert (tmp_path / "toy_shading.png").stat().st_size > 20_000
