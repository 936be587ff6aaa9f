"""Everything that decides a value: the random primitives (`sampling.py`), one module per
mixing method (`methods/`), the sampler (`sampler.py`), the one place that applies
(`mixing.py`, `boxes.py`), the element parser (`elements.py`), the label rules
(`labels.py`), the option table (`options.py`), `MixSpec` (`spec.py`), the checks
(`validation.py`) and host seeds (`seeds.py`). Imports `bindings` only."""
