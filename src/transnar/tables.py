"""Markdown tables: the one helper every table of the project is written with.

:func:`markdown_table` pads the columns so that the Markdown reads as plain
text too, left-aligns text columns and right-aligns number columns (a column
is numeric when every cell is a number (``1,234``, ``0.5``, ``1.2e+09``,
``0.3 ± 0.1``) or ``-``, ``?``, ``all``). Reports, results files,
``transnar score`` and the estimate use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NUMBER = re.compile(
    r"[+-]?\d{1,3}(,\d{3})*(\.\d+)?(e[+-]?\d+)?( ?± ?\d+(\.\d+)?)?"  # 1,234.5e+06 ± 0.1
    r"|[+-]?\d+(\.\d+)?"  # 1234.5
)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table with padded columns (readable as plain
    text too); text columns left-aligned, number columns right-aligned."""
    widths = [max(3, *(len(r[i]) for r in [header, *rows])) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in rows) and rows for i in range(len(header))]

    def line(cells):
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + (":" if num else "-") for w, num in zip(widths, numeric, strict=True)]
    return [line(header), "| " + " | ".join(rule) + " |", *map(line, rows)]


def _is_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text)) or text in ("-", "?", "all")


__all__ = ["markdown_table"]
