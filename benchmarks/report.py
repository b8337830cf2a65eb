"""The benchmark's figures: each one all its runs, its target, and how it prints in the table."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Figure:
    """One measured quantity: all its runs, its target, and the load it was measured under."""

    name: str
    unit: str
    runs: list[float]
    target: float | None = None
    higher_is_better: bool = False
    digits: int = 3
    note: str = ""
    other_load: float | None = None

    @property
    def median(self) -> float:
        return float(np.median(self.runs))

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.median >= self.target if self.higher_is_better else self.median <= self.target

    def measured(self) -> str:
        text = f"{self.median:.{self.digits}f} {self.unit}".rstrip()
        if len(self.runs) > 1:
            text += f" [{min(self.runs):.{self.digits}f}–{max(self.runs):.{self.digits}f}]"
        return text

    def wanted(self) -> str:
        if self.target is None:
            return ""
        sign, mark = ("≥" if self.higher_is_better else "≤"), ("✓" if self.met else "✗")
        return f"{sign} {self.target:g} {self.unit}".rstrip() + f" {mark}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median, "met": self.met}


@dataclass
class Report:
    """Figures in sections, the machine they were measured on, and notes that explain them."""

    machine: dict[str, Any]
    sections: dict[str, dict[str, Figure]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        self.sections[title] = {}
        print(title, file=sys.stderr, flush=True)

    def add(self, key: str, figure: Figure) -> Figure:
        next(reversed(self.sections.values()))[key] = figure
        print(f"  {figure.name}: {figure.measured()}", file=sys.stderr, flush=True)
        return figure

    @property
    def figures(self) -> dict[str, Figure]:
        return {key: f for figures in self.sections.values() for key, f in figures.items()}

    def table(self) -> str:
        header = ("figure", "median [min–max]", "target", "load")
        rows: list[tuple[str, ...]] = []
        for title, figures in self.sections.items():
            rows.append((title,))
            for f in figures.values():
                load = "" if f.other_load is None else f"{f.other_load:.1f}"
                rows.append(
                    ("  " + f.name + (f" ({f.note})" if f.note else ""), f.measured(), f.wanted(), load)
                )
        widths = [max(len(row[i]) for row in [header, *rows] if len(row) > 1) for i in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths))]
        lines.append("  ".join("-" * width for width in widths))
        lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        sections = {
            title: {k: f.as_dict() for k, f in figures.items()} for title, figures in self.sections.items()
        }
        return {"machine": self.machine, "sections": sections, "notes": self.notes}
