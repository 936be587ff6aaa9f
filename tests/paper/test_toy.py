"""examples/paper/toy.py (Figure 1b) end to end, shortened."""

import json

from examples.paper import toy


def test_toy_runs_and_writes_the_shading_figure(tmp_path):
    runs = toy.main(["--seeds", "1", "--epochs", "2", "--output", str(tmp_path)])
    assert set(runs) == {"ERM", "mixup α = 1"}
    saved = json.loads((tmp_path / "results.json").read_text())["results"]
    assert 0 <= saved["runs"]["ERM"][0]["uncertain_share"] <= 100
    figure = saved["figure"]["ERM"]  # the figure's data is in the results file
    assert len(figure["p_class_1"]) == len(figure["grid_y"])
    data = {"config": {}, "results": saved}
    assert "grid share with" in toy.markdown(data) and "mixup α = 1" in toy.markdown(data)
    assert (tmp_path / "toy_shading.png").stat().st_size > 20_000
