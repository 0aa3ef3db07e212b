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


def test_lm_imports_no_model_above_it():
    code = (
        "import sys, transnar.lm, transnar.lm.hf, transnar.persistence; "
        "print(sorted(m for m in sys.modules if m.startswith(('transnar.nar', 'transnar.model', "
        "'transnar.training', 'transnar.evaluation', 'transnar.data'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
