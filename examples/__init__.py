"""keras_mixup's examples: short tutorials here, the paper reproductions in `examples.paper`."""
