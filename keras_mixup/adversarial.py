"""FGSM, I-FGSM and a white-box / black-box evaluator, Keras-native (the paper's Table 3).

Written with `keras.ops`, they run on TensorFlow, JAX and PyTorch. Attacks are
untargeted and work in the model's input units: `epsilon` is the largest change of
any input value (L-infinity), `clip` the valid input range. For images in [0, 255]
the paper's "epsilon = 4" is `epsilon=4.0, clip=(0, 255)`; for images scaled to
[0, 1] it is `epsilon=4 / 255, clip=(0, 1)`; for inputs normalized outside the
model ((x - mean) / std) it is `4 / 255 / std` per channel, which a scalar cannot
express: put the normalization inside the model instead (a
`keras.layers.Normalization` or `Rescaling` first layer) and attack raw pixels.

References:
    - Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
      Examples", ICLR 2015 (FGSM).
    - Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world",
      2017 (iterative FGSM).
"""

from keras_mixup._src.paper.adversarial import evaluate_adversarial, fgsm, i_fgsm
from keras_mixup._src.paper.models import outputs_logits

__all__ = ["evaluate_adversarial", "fgsm", "i_fgsm", "outputs_logits"]
