"""The paper's analysis tools: the mixup-aware predictor (`prediction.py`), FGSM / I-FGSM
(`adversarial.py`), the diagnostics of its figures (`diagnostics.py`) and their backend
helpers (`gradients.py`, `models.py`). Imports `core` and `bindings`, no front."""
