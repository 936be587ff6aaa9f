"""keras_mixup benchmarks: `python -m benchmarks [--quick]` (or `make bench`).

Benchmarks report numbers; tests check behaviour. Nothing here is asserted in the
test suite except that the quick run completes and writes its JSON.
"""
