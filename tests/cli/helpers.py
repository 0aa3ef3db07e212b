"""Running the ``transnar`` command line inside the test process.

Import it as ``from tests.cli.helpers import run_cli``.
"""

from __future__ import annotations

from transnar.cli import main


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``transnar ARGV`` in this process; the
    arguments may be paths or numbers."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_info:
        status = exit_info.code
    out, err = capsys.readouterr()
    return status, out, err


def one_error(err: str) -> bool:
    """Whether standard error holds one error line (``transnar: error: ...``),
    besides the note of a trainer that continues a run with its own config."""
    lines = [line for line in err.splitlines() if not line.startswith("continuing with the config")]
    return len(lines) == 1 and lines[0].startswith("transnar: error: ")
