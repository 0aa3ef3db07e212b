"""Import hygiene."""

from __future__ import annotations

import subprocess
import sys


def test_clrs_does_not_import_torch():
    code = "import sys, transnar.clrs, transnar.clrs.io; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
