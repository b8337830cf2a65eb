"""Tolerances for float32 results computed in two ways, and why they are what they are.

float32 keeps 24 significant bits: each operation rounds by up to ``EPS / 2``
relative, ``EPS = 2**-23 ≈ 1.2e-7``. A matrix product sums K terms, and the
order of that sum is not fixed: OpenBLAS picks a kernel for the CPU
(SkylakeX's AVX-512, Haswell's AVX2 with fused multiply-adds, also picked on
AMD EPYC; Sandybridge's AVX; the SSE kernels of older CPUs), and the shape of
the call picks the blocking (one row is a matrix-vector product, a batch a
matrix-matrix one, split differently for 3 rows than for 10). So the same
float32 product differs between CPUs and between batch shapes by up to about
``K * EPS`` of the sum of its terms' sizes in the worst case, ``sqrt(K) * EPS``
typically: ``sqrt(784) * EPS ≈ 3e-6`` through a 784-input layer.

Softmax turns an absolute difference ``δ`` of the logits into a relative
difference of up to ``2 δ`` of the probabilities, so two float32 computations
of a network's probabilities agree to a few ``1e-6`` relative, not to
``EPS``. ``tests/test_layers.py::test_float32_probabilities_are_as_close_as_this_module_says``
measures the spread against float64 on whichever CPU runs it, so that a CPU
with a larger spread fails there, with the reason, rather than somewhere else
at random. A real mistake (a wrong row, a dropped unit, a slice taken twice)
moves probabilities by 1e-3 or more: these tolerances still catch it.
"""

import numpy as np

EPS = float(np.finfo(np.float32).eps)  # 1.19e-7

# Two float32 computations of one network's probabilities whose products sum in different orders
# (another batch shape, another OpenBLAS kernel). Largest seen: 1.5e-6 (Haswell kernels, 10 rows in
# slices of 3 against one pass), 1.6e-6 (SkylakeX, 500 rows in slices of 7) -- see the docstring.
PROBABILITIES_RTOL = 1e-5

# The rows of a float32 softmax sum to 1 within: each of the C = 10 probabilities is rounded once
# (EPS / 2), the sum of the exponentials it is divided by is rounded at most C - 1 times, and so is
# the sum of the probabilities: at most (1 + 2 (C - 1)) EPS / 2 < 10 EPS. (Pairwise summation in
# NumPy makes it smaller still; no BLAS kernel is involved.)
ROW_SUM_RTOL = 10 * EPS
