"""Option types shared by the commands (imported only by the command that runs)."""

from __future__ import annotations

import math
from typing import Any, Optional

import click


class FiniteRange(click.FloatRange):
    """A finite number within [low, high]: ``nan``, ``inf`` and ``1e308`` are refused (exit 2).
    click's FloatRange lets nan through (every comparison with nan is false), and nan or inf
    as a timeout removes every deadline."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__(min=low, max=high)

    def convert(
        self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]
    ) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a finite number", param, ctx)
        return number
