"""FGSM, I-FGSM and a white-box / black-box evaluator, Keras-native (the paper's Table 3).

See `keras_mixup._src.adversarial` for how epsilon and the input range are meant.
"""

from keras_mixup._src.adversarial import evaluate_adversarial, fgsm, i_fgsm, outputs_logits

__all__ = ["evaluate_adversarial", "fgsm", "i_fgsm", "outputs_logits"]
