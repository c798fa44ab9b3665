"""Results tables for the notebooks: Markdown in Jupyter and on GitHub, aligned text elsewhere."""


class Table:
    """A table that a notebook shows as Markdown, with an aligned plain-text fallback.

    Make it the last expression of a cell (or ``display`` it): Jupyter and GitHub render the
    Markdown; a terminal, a text-only viewer or a test reads the plain text. Both carry the same
    numbers.

    Args:
        header: the column titles.
        rows: one sequence of cells per row, each as long as ``header``; cells are shown with ``str``.
        note: a line of text shown under the table (optional).
    """

    def __init__(self, header, rows, note=""):
        self.header = [str(h) for h in header]
        self.rows = [[str(cell) for cell in row] for row in rows]
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"row {i} has {len(row)} cells, the header {len(self.header)}: "
                                 f"expected one cell per column ({self.header}).")
        self.note = str(note)

    def _repr_markdown_(self):
        def row(cells):  # a "|" inside a cell (e.g. "|z|") would end the cell: escape it
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        lines = [row(self.header), "|" + "---|" * len(self.header), *map(row, self.rows)]
        return "\n".join(lines) + (f"\n\n{self.note}" if self.note else "")

    def __repr__(self):
        widths = [max(len(cell) for cell in column) for column in zip(self.header, *self.rows)]

        def line(cells):
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

        lines = [line(self.header), line(["-" * w for w in widths]), *map(line, self.rows)]
        return "\n".join(lines) + (f"\n\n{self.note}" if self.note else "")


def mean_sd(values, fmt=".2f"):
    """``values`` (one per seed) as ``"mean ± sd"``, the sample standard deviation (ddof 1).

    One value has no spread to show, so it is returned alone.
    """
    import numpy as np

    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"Expected one or more finite numbers, got {values!r}.")
    if values.size == 1:
        return f"{values[0]:{fmt}}"
    return f"{values.mean():{fmt}} ± {values.std(ddof=1):{fmt}}"
