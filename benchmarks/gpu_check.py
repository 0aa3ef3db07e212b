"""The ``paper`` preset on a GPU, every stage for a bounded number of steps.

Runs the whole pipeline of ``transnar run --preset paper`` (30 algorithms, the
paper's widths, batch 256, bf16 autocast on CUDA) with each trainer stopped
after ``--steps`` optimizer steps and the evaluation cut to ``--questions``
questions per algorithm and size, then records per stage its time, its
throughput (NAR steps per second; training and decoding tokens per second) and
its peak memory (GPU and resident), with the device's name, into
``gpu_check.json`` and ``gpu_check.md``. Use it to check a GPU machine before a
full run, and to turn ``transnar run --preset paper --estimate`` into hours.

    python benchmarks/gpu_check.py --out docs/results/gpu-check
    python benchmarks/gpu_check.py --device cpu --steps 1 nar.nar.algorithms=[bfs] \
        lm.data.algorithms=[bfs] lm.model.lm.d_model=16 ...      # a CPU smoke test

Extra ``KEY=VALUE`` overrides go to the pipeline config after the bounded ones
(e.g. ``lm.optim.grad_accum=2`` where a batch does not fit).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import torch

from _results import machine, save
from transnar.pipeline import apply_overrides, preset, run_pipeline
from transnar.pipeline.records import read_records
from transnar.pipeline.resources import format_bytes


def bounded_overrides(steps: int, questions: int, device: str) -> list[str]:
    """The ``paper`` preset cut to ``steps`` optimizer steps per trainer."""
    config = preset("paper")
    cells = len(config.lm.data.algorithms) * len(config.lm.data.train_sizes)
    examples = math.ceil(steps * config.lm.train.batch_size / cells) + 1
    return [
        "seeds=1",
        f"nar.train.steps={steps}",
        f"nar.train.eval_every={steps}",
        "nar.data.val_count=32",
        "nar.data.test_count=8",
        "nar.data.eval_multipliers=false",
        f"nar.train.device={device}",
        f"lm.data.train_count={examples}",
        "lm.data.val_count=2",
        f"lm.data.test_count={questions}",
        f"lm.train.steps={steps}",
        f"lm.optim.warmup_steps={max(1, steps // 10)}",
        f"lm.train.eval_every={steps}",
        f"lm.train.device={device}",
    ]


def stage_rows(run_dir: Path) -> list[dict]:
    """Per stage: seconds, throughput and peak memory, from the run directory."""
    rows = []
    for name, record in read_records(run_dir).items():
        if record.get("status") != "done":
            continue
        peaks = record.get("peak_memory") or {}
        row = {
            "stage": name,
            "seconds": record["seconds"],
            "peak_gpu_bytes": peaks.get("cuda_bytes"),
            "peak_rss_bytes": peaks.get("rss_bytes"),
            "throughput": None,
        }
        if name == "nar":
            results = json.loads((run_dir / "nar" / "results.json").read_text())
            algorithms = len(results["algorithms"])
            row["throughput"] = (
                f"{1 / results['seconds_per_step']:.2f} NAR steps/s ({algorithms} algorithms)"
            )
        elif name.startswith("eval-"):
            timing = json.loads((run_dir / "eval" / name[5:] / "results.json").read_text())[
                "timing"
            ]
            row["throughput"] = f"{timing['tokens_per_second']:,.0f} decoded tokens/s"
        elif (run_dir / name / "summary.json").is_file():
            summary = json.loads((run_dir / name / "summary.json").read_text())
            row["throughput"] = f"{summary['tokens_per_second']:,.0f} training tokens/s"
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| stage | seconds | throughput | peak GPU memory | peak resident memory |",
        "|---|---:|---|---:|---:|",
    ]
    for row in rows:
        gpu, rss = row["peak_gpu_bytes"], row["peak_rss_bytes"]
        lines.append(
            f"| {row['stage']} | {row['seconds']:.1f} | {row['throughput'] or '-'} "
            f"| {'-' if gpu is None else format_bytes(gpu)} "
            f"| {'-' if rss is None else format_bytes(rss)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test)")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per trainer")
    parser.add_argument("--questions", type=int, default=16, help="per algorithm and size")
    parser.add_argument(
        "--run-dir", type=Path, help="keep the run here (default: a temporary directory)"
    )
    parser.add_argument("--out", type=Path, help="directory for gpu_check.json and .md")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device here (--device cpu runs the smoke test)")
    overrides = [*bounded_overrides(args.steps, args.questions, args.device), *args.overrides]
    config = apply_overrides(preset("paper"), overrides)
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="transnar-gpu-check-")) / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run: every stage measured
    try:
        run_pipeline(config, run_dir, progress=False)
        rows = stage_rows(run_dir)
    finally:
        if args.run_dir is None:
            shutil.rmtree(run_dir.parent, ignore_errors=True)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    meta = machine(device=device, overrides=overrides, algorithms=len(config.nar.nar.algorithms))
    text = table(rows)
    print(f"device: {device}\n\n{text}")
    save(args.out, "gpu_check", meta, rows, f"Device: {device}.\n\n{text}")


if __name__ == "__main__":
    main()
