"""Fast paths: the same arithmetic as the plain code, rearranged for speed.

The notebooks print the plain versions, which read like their derivations.
Each class here computes the same thing in fewer passes over memory, and a
test (``tests/test_fast_path.py``) pins it to its plain twin, so that a speed
trick can never quietly change what is computed.
"""

from __future__ import annotations

import math

import numpy as np

from mlp.nn.layers import Parameter
from mlp.nn.optimizers import Adam, State


class FusedAdam(Adam):
    """``Adam``'s update in 10 passes over each array instead of about 20, without temporaries.

    Two rearrangements, both exact in real arithmetic:

    * ``m`` and ``v`` hold the paper's averages divided by ``1 - beta1`` and
      ``1 - beta2``, so their updates become ``m = beta1 m + g`` and
      ``v = beta2 v + g²``: no multiplication of ``g`` by ``1 - beta``;
    * every scalar of the step (learning rate, both bias corrections, those
      two factors) is folded into two Python floats, ``lr_t`` and ``eps_t``,
      so the arrays see one ``sqrt``, one add, one divide and one multiply.

    Results agree with ``Adam`` to float rounding (about 1e-7 relative in
    float32), not bit for bit.
    """

    def _new_state(self, p: Parameter) -> State:
        return {**super()._new_state(p), "denom": np.empty_like(p.value)}

    def _update(self, w: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        m, v, denom = state["m"], state["v"], state["denom"]
        b1, b2, t = self.beta1, self.beta2, state["t"]
        m *= b1
        m += g
        np.multiply(g, g, out=denom)
        v *= b2
        v += denom
        # w -= lr m_hat / (sqrt(v_hat) + eps), with m_hat = (1 - b1) m / (1 - b1^t) and
        # sqrt(v_hat) = v_scale sqrt(v). (math.sqrt, not np.sqrt: Python floats keep the array
        # arithmetic in float32.)
        v_scale = math.sqrt((1 - b2) / (1 - b2**t))
        lr_t = lr * (1 - b1) / (1 - b1**t) / v_scale
        eps_t = self.eps / v_scale
        np.sqrt(v, out=denom)
        denom += eps_t
        np.divide(m, denom, out=denom)
        denom *= lr_t
        w -= denom
