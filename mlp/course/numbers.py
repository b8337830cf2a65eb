"""How the notebooks print the small numbers a learner must learn to read.

The relative error of a correct gradient is rounding noise: its digits
change from one CPU or BLAS library to the next (a different order of
additions, fused multiply-adds or not), its order of magnitude does not.
The notebooks print such a figure with ``about``, as ``~3e-12``, beside the
threshold it is asserted against; the ``~`` tells the reader, and the test
suite's sanitize file (``nbval_sanitize.cfg``), that its digits are noise.
Figures that do not depend on rounding, such as the error of a wrong
gradient (0.71) or a truncation error, keep two digits with ``significant``.
"""

from __future__ import annotations

import math

__all__ = ["about", "significant"]


def about(value: float) -> str:
    """A figure made of rounding noise, to one significant digit after a ``~``: ``~3e-12``.

    An exact zero is ``~0``: where rounding happens to cancel on one computer it need not on the next.
    Non-finite values are written as they are (``inf``, ``nan``): those are never noise.
    """
    value = float(value)
    if not math.isfinite(value):
        return f"{value:g}"
    return "~" + (significant(value, 1) if value else "0")


def significant(value: float, digits: int = 2) -> str:
    """``value`` to ``digits`` significant digits, the course's way: ``0.71``, ``4.5e-6`` (not ``4.5e-06``).

    Below 0.01 in scientific notation, so that small figures line up by their exponent.
    """
    value = float(value)
    small = value != 0 and abs(value) < 0.01  # 2e-3 rather than 0.002: the exponent is the lesson
    text = f"{value:.{digits - 1}e}" if small else f"{value:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"
