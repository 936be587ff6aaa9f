"""keras_mixup's inside: private, may change in any release. The public API is
what `keras_mixup/__init__.py` exports, and the submodules `adversarial`,
`diagnostics` and `neighbours`."""
