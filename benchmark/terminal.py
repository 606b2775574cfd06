"""What a user sees in the terminal fits the terminal: wrapped messages and tables that shrink to the width
(``$COLUMNS``, else the terminal's size; output to a file or pipe is not wrapped, and tables are then at
most 200 columns). Files (Markdown, CSV, LaTeX, HTML) are written in full; only the terminal rendering
adapts."""

from __future__ import annotations


def terminal_width(default: int | None = None) -> int | None:
    """Columns to fit: ``$COLUMNS`` when set, else the terminal's width when standard output is a terminal,
    else ``default`` (None: output goes to a file or pipe, so lines are not wrapped)."""
    import os
    import sys

    env = os.environ.get("COLUMNS", "")
    if env.strip().isdigit():
        return max(40, int(env))
    try:
        if sys.stdout.isatty():
            return max(40, os.get_terminal_size(sys.stdout.fileno()).columns)
    except (OSError, ValueError, AttributeError):
        pass
    return default


def say(text: str, *, file=None) -> None:
    """Print ``text``, wrapped to the terminal width when there is one (continuation lines indented)."""
    import sys
    import textwrap

    width = terminal_width()
    for line in str(text).splitlines() or [""]:
        print(textwrap.fill(line, width=width, subsequent_indent="    ", break_on_hyphens=False)
              if width is not None and len(line) > width else line, file=file or sys.stdout)


def print_table(df, *, title: str | None = None, max_col: int = 60) -> None:
    """A DataFrame as a table that fits the terminal (``rich``: columns shrink and cells wrap)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in df.columns:
        table.add_column(str(col), overflow="fold", max_width=max_col)
    for row in df.itertuples(index=False):
        table.add_row(*("" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    Console(width=terminal_width(default=200), highlight=False, soft_wrap=False).print(table)
