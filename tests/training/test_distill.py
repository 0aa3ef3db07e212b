"""Distillation: the teacher's answers as a dataset, and a student without a NAR."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tests import tiny
from tests.cli.helpers import run_cli
from transnar.evaluation import EvalSettings, evaluate
from transnar.model import TransNAR
from transnar.training.distill import DistillConfig, distill, teacher_dataset
from transnar.training.lm_data import DataConfig
from transnar.training.lm_model import state_sha256

TINY = DistillConfig(algorithms=("bfs", "insertion_sort"), sizes=(4, 5), count=3, val_count=1)


def tiny_student():
    """The base config of a student: the tiny LM run, 2 steps."""
    return tiny.lm_train_config(None, "train.steps=2")


def counted_cells(monkeypatch) -> list[tuple]:
    """The cells the teacher answers from now on, ``(algorithms, sizes, seeds)``
    each, in the order asked."""
    from transnar.training import distill as module

    answered, real = [], module.evaluate

    def counted(model, settings):
        answered.append((settings.algorithms, settings.sizes, settings.seeds))
        return real(model, settings)

    monkeypatch.setattr(module, "evaluate", counted)
    return answered


def test_the_dataset_holds_the_teachers_answers(tmp_path):
    teacher = tiny.talkative_transnar(use_nar=True)
    manifest = teacher_dataset(teacher, TINY, tmp_path, teacher_path="t")
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 3 and manifest["splits"]["val"]["rows"] == 2 * 2 * 1
    settings = EvalSettings(
        algorithms=TINY.algorithms, sizes=TINY.sizes, seeds=(TINY.seed,), count=3,
        batch_size=TINY.batch_size, training_seeds=(), train_sizes=None,
    )  # fmt: skip
    predictions = [s.prediction for s in evaluate(teacher, settings).samples]
    for row, prediction in zip(rows, predictions, strict=True):
        assert row["answer"].endswith("\n\n")
        assert row["answer"].rstrip("\n") == prediction.rstrip("\n")
        assert row["true_answer"] != row["answer"]  # a random teacher is wrong
        assert row["seed"] == TINY.seed and not row["use_hints"]
    agreement = manifest["teacher_vs_truth"]["train"]
    assert agreement["exact"] == 0.0 and set(agreement["by_size"]) == {"4", "5"}
    by_size = [entry["clrs"] for entry in agreement["by_size"].values()]
    assert agreement["clrs"] == pytest.approx(sum(by_size) / 2)  # sizes weigh the same
    assert manifest["config"]["sizes"] == [4, 5] and manifest["teacher"] == "t"


def test_an_interrupted_dataset_resumes_from_the_cells_it_answered(tmp_path, monkeypatch):
    from transnar.training import distill as module

    teacher = tiny.talkative_transnar(use_nar=True)
    whole = teacher_dataset(teacher, TINY, tmp_path / "whole")
    answered, real = [], module.evaluate

    def evaluate_until(limit):
        def cell(model, settings):
            if len(answered) == limit:
                raise KeyboardInterrupt
            answered.append((settings.algorithms, settings.sizes, settings.seeds))
            return real(model, settings)

        return cell

    monkeypatch.setattr(module, "evaluate", evaluate_until(3))
    with pytest.raises(KeyboardInterrupt):
        teacher_dataset(teacher, TINY, tmp_path / "cut")
    assert len(list((tmp_path / "cut" / "cells").glob("*.jsonl"))) == 3
    answered.clear()
    monkeypatch.setattr(module, "evaluate", evaluate_until(99))
    resumed = teacher_dataset(teacher, TINY, tmp_path / "cut", resume=True)
    assert len(answered) == 2 * 2 * 2 - 3  # (train, val) x algorithms x sizes, less the kept
    assert resumed == whole and not (tmp_path / "cut" / "cells").exists()
    for split in ("train.jsonl", "val.jsonl"):
        assert (tmp_path / "cut" / split).read_bytes() == (tmp_path / "whole" / split).read_bytes()
    # the cells of another teacher (other weights) are answered again
    monkeypatch.setattr(module, "evaluate", evaluate_until(len(answered) + 3))
    with pytest.raises(KeyboardInterrupt):
        teacher_dataset(teacher, TINY, tmp_path / "other")
    answered.clear()
    monkeypatch.setattr(module, "evaluate", evaluate_until(99))
    teacher_dataset(tiny.transnar(use_nar=True), TINY, tmp_path / "other", resume=True)
    assert len(answered) == 2 * 2 * 2


def test_students_of_one_teacher_share_its_answers(tmp_path, monkeypatch):
    teacher = tiny.talkative_transnar(use_nar=True)
    narrow, wide = dataclasses.replace(TINY, sizes=(4,)), TINY
    alone = teacher_dataset(teacher, wide, tmp_path / "alone")  # its own cells
    answered = counted_cells(monkeypatch)
    shared = tmp_path / "answers"
    teacher_dataset(teacher, narrow, tmp_path / "narrow", answers=shared)
    assert len(answered) == 2 * 2 * 1  # (train, val) x algorithms x sizes
    answered.clear()
    manifest = teacher_dataset(teacher, wide, tmp_path / "wide", answers=shared)
    assert sorted(answered) == sorted(  # only the size the narrow one had not
        ((algorithm,), (5,), (seed,)) for algorithm in wide.algorithms for seed in (3, 4)
    )
    assert manifest == alone and shared.is_dir()  # kept for the next student
    for split in ("train.jsonl", "val.jsonl"):
        assert (tmp_path / "wide" / split).read_bytes() == (tmp_path / "alone" / split).read_bytes()
    answered.clear()  # another teacher (other weights): every cell is answered again
    teacher_dataset(tiny.transnar(use_nar=True), narrow, tmp_path / "other", answers=shared)
    assert len(answered) == 2 * 2 * 1
    assert len(list(shared.glob("*.jsonl"))) == 2 * 2 * 1  # the first teacher's are gone


def test_two_students_of_one_teacher_written_at_once_take_turns(tmp_path, monkeypatch):
    """Two datasets sharing one teacher's answers, written at the same time
    (e.g. two pipeline stages run at once): each cell is answered once."""
    import threading

    teacher = tiny.talkative_transnar(use_nar=True)
    answered = counted_cells(monkeypatch)
    shared = tmp_path / "answers"
    configs = {"narrow": dataclasses.replace(TINY, sizes=(4,)), "wide": TINY}
    threads = [
        threading.Thread(
            target=teacher_dataset,
            args=(teacher, config, tmp_path / name),
            kwargs={"answers": shared},
        )
        for name, config in configs.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answered) == sorted(set(answered))  # no cell twice
    assert len(answered) == 2 * 2 * 2  # (train, val) x algorithms x sizes 4 and 5
    assert (tmp_path / "answers.lock").is_file()
    for name in configs:
        assert (tmp_path / name / "manifest.json").is_file()


def test_the_student_trains_without_a_nar_and_a_second_run_resumes(tmp_path):
    teacher = tiny.talkative_transnar(use_nar=True)
    manifest, result = distill(teacher, tiny_student(), TINY, tmp_path, "t", progress=False)
    student = TransNAR.from_pretrained(result.run_dir / "model")
    assert student.nar is None and not student.config.use_nar
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["data"]["path"] == str((tmp_path / "data").resolve())
    written = (tmp_path / "data" / "train.jsonl").stat().st_mtime_ns
    again, result_again = distill(teacher, tiny_student(), TINY, tmp_path, "t", progress=False)
    assert again == manifest and (tmp_path / "data" / "train.jsonl").stat().st_mtime_ns == written
    assert result_again.steps == result.steps == 2


def test_a_teacher_trained_again_in_its_place_is_asked_again(tmp_path, monkeypatch):
    """The same path, other weights: the teacher answers again, and the student
    learns its answers from the start (not resumed on the old teacher's)."""
    from transnar.training import distill as module

    resumed, real = [], module.train_lm

    def train_lm(*args, resume, **kwargs):
        resumed.append(resume)
        return real(*args, resume=resume, **kwargs)

    monkeypatch.setattr(module, "train_lm", train_lm)
    teacher = tiny.talkative_transnar(use_nar=True)
    first, _ = distill(teacher, tiny_student(), TINY, tmp_path, "t", progress=False)
    assert first["teacher_sha256"] == state_sha256(teacher)
    with torch.no_grad():
        next(iter(teacher.xattn.parameters())).add_(1.0)
    second, _ = distill(teacher, tiny_student(), TINY, tmp_path, "t", progress=False)
    assert second["teacher_sha256"] == state_sha256(teacher) != first["teacher_sha256"]
    third, _ = distill(teacher, tiny_student(), TINY, tmp_path, "t", progress=False)
    assert third == second
    assert resumed == [False, False, True]


def test_the_command_line(tmp_path, capsys):
    teacher = tiny.saved_transnar(tmp_path / "teacher", use_nar=True)
    config = tmp_path / "student.json"
    config.write_text(json.dumps(tiny_student().to_dict()))
    argv = ["distill", str(teacher), "--out", str(tmp_path / "d"), "--config", str(config),
            "--sizes", "4", "--count", "2", "--val-count", "1", "--no-progress"]  # fmt: skip
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "teacher's answers:" in err and "student:" in out
    rows = (tmp_path / "d" / "data" / "train.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 2  # bfs and insertion_sort at size 4


def test_the_command_line_student_of_the_teachers_distributions(tmp_path, capsys):
    teacher = tmp_path / "teacher"
    tiny.talkative_transnar(use_nar=True).save_pretrained(teacher)
    config = tmp_path / "student.json"
    config.write_text(json.dumps(tiny_student().to_dict()))
    argv = ["distill", str(teacher), "--out", str(tmp_path / "d"), "--config", str(config),
            "--sizes", "4", "--count", "2", "--val-count", "1", "--no-progress",
            "--distributions", "teacher.weight=0.9"]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    student = json.loads((tmp_path / "d" / "student" / "config.json").read_text())
    assert student["teacher"] == {"model": str(teacher), "weight": 0.9, "temperature": 2.0}
    assert not student["model"]["use_nar"]
    steps = [json.loads(line) for line in (tmp_path / "d" / "student" / "metrics.jsonl").open()]
    assert all(r["distillation_loss"] > 0 for r in steps if "loss" in r)


def test_a_model_without_a_nar_is_no_teacher(tmp_path, capsys):
    baseline = tiny.saved_transnar(tmp_path / "baseline", use_nar=False)
    status, _, err = run_cli(["distill", str(baseline), "--out", str(tmp_path / "d")], capsys)
    assert status == 2 and "no TransNAR" in err


@pytest.mark.parametrize(
    ("field", "value"), [("count", -1), ("val_count", -1), ("batch_size", 0), ("sizes", (1,))]
)
def test_bad_values_are_errors_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"distill.{field}"):
        DistillConfig(**{field: value})


def test_what_is_left_empty_is_the_students_data():
    data = DataConfig(algorithms=("bfs",), train_sizes=(4, 5), train_count=7, val_count=2)
    resolved = DistillConfig().resolved(data, ("bfs", "dfs"))
    assert (resolved.algorithms, resolved.sizes) == (("bfs", "dfs"), (4, 5))
    assert (resolved.count, resolved.val_count) == (7, 2)
    given = DistillConfig(algorithms=("dfs",), sizes=(4, 9), count=3, val_count=1)
    assert given.resolved(data, ("bfs",)) == given
    with pytest.raises(ValueError, match="resolve it"):
        teacher_dataset(None, DistillConfig(), "unused")


def test_the_student_config_drops_the_nar():
    from transnar.training.distill import student_config

    student = student_config(tiny_student(), "somewhere", ["bfs"])
    assert not student.model.use_nar and student.data.algorithms == ("bfs",)
    assert student.optim == tiny_student().optim  # the same budget as the base
