"""The benchmark scripts run end to end at toy sizes and write their results
(JSON rows + Markdown table); their numbers are not checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

CASES = {
    "samplers": ["--algorithms", "bfs,insertion_sort", "--sizes", "5", "--min-time", "0.01"],
    "nar_step": ["--algorithms", "bfs", "--hidden", "8", "--batch", "2", "--size", "5",
                 "--steps", "1", "--rounds", "2"],
    "lm": ["--sizes", "small", "--size", "4", "--batch-size", "2", "--new-tokens", "2",
           "--min-time", "0.01", "--llama-batch", "2", "--llama-tokens", "16",
           "--llama-repeats", "1"],
    "gpu_check": ["--device", "cpu", "--steps", "1", "--questions", "1",
                  "nar.nar.algorithms=[bfs]", "lm.data.algorithms=[bfs]", "nar.nar.hidden_dim=8",
                  "nar.train.batch_size=2", "nar.data.test_sizes=[6]", "nar.train.threads=1",
                  "lm.model.lm.d_model=16", "lm.model.lm.n_layers=1", "lm.model.lm.n_heads=2",
                  "lm.train.batch_size=4", "lm.train.threads=1", "eval.batch_size=4"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_writes_its_results(name, tmp_path, monkeypatch):
    monkeypatch.delenv("TRANSNAR_REFERENCE_PYTHON", raising=False)  # transnar alone
    command = [sys.executable, str(BENCHMARKS / f"{name}.py"), *CASES[name], "--out", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / f"{name}.json").read_text())
    assert results["rows"] and results["meta"]["command"].startswith("python ")
    assert len(results["meta"]["load_after"]) == 3
    table = (tmp_path / f"{name}.md").read_text()
    table_lines = [line for line in table.splitlines() if line.startswith("|")]
    llama = results["meta"].get("against_llama") or []  # lm.py: a second table
    assert (name == "lm") == bool(llama)
    assert all(row["ours_tokens_per_s"] > 0 and row["ratio"] > 0 for row in llama)
    tables = 2 + len(results["rows"]) + (2 + len(llama) if llama else 0)
    assert len(table_lines) == tables  # header, rule, one line per row (per table)
    assert "load average" in table


def test_lm_benchmark_rows_per_memory_mode(tmp_path):
    """``--memories``: one TransNAR row per memory mode after the baseline; the
    step modes keep every step the NAR ran, so their memory is the final
    memory's times the steps (``--nar-steps oracle``: the true number)."""
    modes = ["final", "lockstep", "all", "pooled"]
    command = [sys.executable, str(BENCHMARKS / "lm.py"), "--sizes", "small",
               "--algorithm", "insertion_sort", "--size", "4", "--batch-size", "2",
               "--new-tokens", "2", "--min-time", "0.01", "--llama-repeats", "0",
               "--memories", ",".join(modes), "--nar-steps", "oracle", "--nar-width", "16",
               "--name", "memory-modes", "--out", str(tmp_path)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / "memory-modes.json").read_text())
    assert not results["meta"]["against_llama"] and results["meta"]["nar_steps"] == "oracle"
    rows = results["rows"]
    assert [row["model"] for row in rows] == [
        "baseline", "TransNAR", "TransNAR (lockstep)", "TransNAR (all)", "TransNAR (pooled)"
    ]  # fmt: skip
    assert [row["memory"] for row in rows] == [None, *modes]
    final, *stepped = (row["train"] for row in rows[1:])
    assert final["nar_steps"] > 1
    assert final["memory_kib"] == 2 * (4 + 4 * 4) * 16 * 4 / 1024  # B (N + N^2) width float32
    for train in stepped:
        assert train["nar_steps"] == final["nar_steps"]
        assert train["memory_kib"] == pytest.approx(final["memory_kib"] * final["nar_steps"])
    assert rows[3]["parameters"] > rows[1]["parameters"]  # all: the step encodings


def test_lm_benchmark_soft_student_row(tmp_path):
    """``--soft-student``: the baseline learning TransNAR's distributions, after
    the others: the baseline's parameters, a step that also runs its teacher."""
    command = [sys.executable, str(BENCHMARKS / "lm.py"), "--sizes", "small",
               "--algorithm", "insertion_sort", "--size", "4", "--batch-size", "2",
               "--new-tokens", "2", "--min-time", "0.01", "--llama-repeats", "0",
               "--nar-width", "16", "--soft-student", "--name", "soft",
               "--out", str(tmp_path)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    rows = json.loads((tmp_path / "soft.json").read_text())["rows"]
    assert [row["model"] for row in rows] == ["baseline", "TransNAR", "student (distributions)"]
    baseline, _, student = rows
    assert student["parameters"] == baseline["parameters"] and student["memory"] is None
    assert "nar_ms" not in student["train"] and student["train"]["tokens_per_s"] > 0
    assert student["train"]["tokens"] == baseline["train"]["tokens"]


def test_lm_benchmark_refuses_an_unknown_memory_mode(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "lm.py"), "--memories", "final,everything"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "unknown memory mode(s) everything" in run.stderr
