"""rnngrad: why RNN gradients vanish, measured with a hand-derived NumPy BPTT engine."""

from .init import RECURRENT_INITS, init_params, sigma_max, spectral_radius
from .optim import clip_grad_norm, global_norm, sgd_step, sgd_update
from .rnn import RNN, LossAndGrads

__all__ = [
    "RECURRENT_INITS",
    "RNN",
    "LossAndGrads",
    "clip_grad_norm",
    "global_norm",
    "init_params",
    "sgd_step",
    "sgd_update",
    "sigma_max",
    "spectral_radius",
]
