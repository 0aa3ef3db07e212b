"""Import hygiene: clrs without torch, packages importing only downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import transnar


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
        "'transnar.training', 'transnar.evaluation', 'transnar.training.lm_data'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# Which package may import which: only those of a lower rank (issue 14: clrs <- nar,
# lm <- model <- training/evaluation <- pipeline (its report included) <- cli; training imports the
# NAR's scoring from evaluation, never the other way).
RANKS = {
    "__init__": 0,
    "persistence": 1,
    "tables": 1,
    "arms": 1,
    "clrs": 2,
    "_config": 3,
    "nar": 4,
    "lm": 4,
    "model": 5,
    "evaluation": 6,
    "training": 7,
    "pipeline": 8,
    "cli": 9,
    "__main__": 10,
}
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _package_imports() -> set[tuple[str, str]]:
    """``(importer, imported)`` top-level parts of ``transnar`` over the source tree."""
    root = Path(transnar.__file__).parent
    pairs = set()
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        importer = parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = (
                    [node.module]
                    if node.module != "transnar"
                    else [f"transnar.{alias.name}" for alias in node.names]
                )
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("transnar."):
                    imported = name.split(".")[1]
                    imported = "__init__" if imported == "__version__" else imported
                    if imported != importer:
                        pairs.add((importer, imported))
    return pairs


def test_packages_import_only_downwards():
    pairs = _package_imports()
    unknown = sorted({p for pair in pairs for p in pair} - set(RANKS))
    assert not unknown, f"packages without a rank: {unknown}"
    upward = sorted(p for p in pairs if RANKS[p[0]] <= RANKS[p[1]] and p not in KNOWN_UPWARD)
    assert not upward, f"imports against the layering: {upward}"
