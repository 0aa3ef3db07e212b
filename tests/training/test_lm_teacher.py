"""Token-level distillation: the loss, the teacher section of the config, and a
student trained on a TransNAR's distributions (no NAR of its own)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests import tiny
from tests.training.helpers import interrupted_in_step_5, losses_of, records, val_losses_of
from transnar.lm.tokenizer import IGNORE_INDEX, CharTokenizer
from transnar.model import TransNAR
from transnar.persistence import CheckpointError
from transnar.training import (
    LMTrainConfig,
    TeacherSource,
    apply_overrides,
    read_lm_checkpoint,
    train_lm,
)
from transnar.training.lm_step import distilled_loss
from transnar.training.lm_teacher import Teacher, distillation_loss

V = 7


def _labels() -> torch.Tensor:
    """``(2, 5)`` labels: answers at tokens 2-4 of the first row and 3 of the second."""
    labels = torch.full((2, 5), IGNORE_INDEX)
    labels[0, 2:5] = torch.tensor([1, 2, 3])
    labels[1, 3] = 4
    return labels


def test_the_loss_is_the_mean_kl_over_answer_tokens_at_the_temperature():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, V, generator=generator)
    teacher = torch.randn(2, 5, V, generator=generator)
    labels = _labels()
    # by hand: the positions that predict an answer token are (0, 1), (0, 2), (0, 3), (1, 2)
    for temperature in (1.0, 2.0):
        terms = []
        for row, t in ((0, 1), (0, 2), (0, 3), (1, 2)):
            p = F.softmax(teacher[row, t] / temperature, dim=-1)
            q = F.softmax(logits[row, t] / temperature, dim=-1)
            terms.append(float((p * (p.log() - q.log())).sum()))
        expected = temperature**2 * sum(terms) / len(terms)
        loss = distillation_loss(logits, teacher, labels, temperature)
        assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(distillation_loss(teacher, teacher, labels, 2.0)) == pytest.approx(0, abs=1e-6)


def test_the_loss_ignores_the_prompt_and_padding_and_teaches_only_the_student():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, V, generator=generator, requires_grad=True)
    teacher = torch.randn(2, 5, V, generator=generator, requires_grad=True)
    labels = _labels()
    loss = distillation_loss(logits, teacher.detach(), labels, 2.0)
    changed = logits.detach().clone()
    changed[0, 0] += 5.0  # predicts a prompt token
    changed[1, 4] += 5.0  # the last position predicts nothing
    assert torch.equal(distillation_loss(changed, teacher.detach(), labels, 2.0), loss.detach())
    loss.backward()
    assert logits.grad[0, 0].abs().sum() == 0 and logits.grad[0, 1].abs().sum() > 0
    no_answer = torch.full((2, 5), IGNORE_INDEX)
    empty = distillation_loss(logits, teacher, no_answer)
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_the_teacher_section_is_checked_and_saved_only_when_set():
    assert "teacher" not in LMTrainConfig().to_dict()  # configs without one are as before
    assert not LMTrainConfig().distilled
    config = apply_overrides(
        LMTrainConfig(), ["teacher.model=runs/t", "teacher.weight=1", "temperature=1.5"]
    )
    assert config.distilled and config.teacher == TeacherSource("runs/t", 1.0, 1.5)
    assert LMTrainConfig.from_dict(config.to_dict()) == config
    weighted = apply_overrides(LMTrainConfig(), ["teacher.weight=0.25"])
    assert weighted.to_dict()["teacher"]["weight"] == 0.25 and not weighted.distilled
    for field, value in (("weight", 0.0), ("weight", 1.5), ("temperature", 0.0)):
        with pytest.raises(ValueError, match=f"teacher.{field}"):
            TeacherSource("t", **{field: value})


def test_a_teacher_with_another_vocabulary_fewer_positions_or_algorithms_is_refused():
    teacher = Teacher(tiny.transnar(use_nar=True), TeacherSource("t"))
    known = tiny.ALGORITHMS
    teacher.check_compatible(CharTokenizer(), 512, known)
    with pytest.raises(ValueError, match="same vocabulary"):
        teacher.check_compatible(CharTokenizer(alphabet="0123456789"), 512, known)
    with pytest.raises(ValueError, match="max_position=512"):
        teacher.check_compatible(CharTokenizer(), 1024, known)
    with pytest.raises(ValueError, match="not trained on dfs"):
        teacher.check_compatible(CharTokenizer(), 512, (*known, "dfs"))
    assert all(not p.requires_grad for p in teacher.model.parameters())


def test_a_student_matching_its_teacher_pays_only_the_answers_loss():
    """A student with the teacher's own LM weights (the teacher's gates closed:
    its memory changes nothing) has a distillation term of zero."""
    teacher_model = tiny.transnar(use_nar=True)
    student = tiny.transnar(use_nar=False)
    student.lm.load_state_dict(teacher_model.lm.state_dict())
    teacher = Teacher(teacher_model, TeacherSource("t", weight=0.5, temperature=2.0))
    config = tiny.lm_train_config(None)
    from transnar.training.lm_data import build_dataset

    dataset = build_dataset(config.data, "train", CharTokenizer(), True, 512)
    batch = dataset.batch(dataset.groups[next(iter(dataset.groups))][:3])
    positions = teacher.positions(batch, None, torch.Generator().manual_seed(0))
    mixed = distilled_loss(student.train(), teacher, batch, positions, None, positions)
    assert mixed.distillation == pytest.approx(0.0, abs=1e-5)
    assert float(mixed.loss.detach()) == pytest.approx(0.5 * mixed.answer, rel=1e-5)
    # the teacher reads its own NAR: a batch without the graphs is a clear error,
    # even with a cached memory (the student's, were it a TransNAR)
    memory = teacher_model.graph_memory(batch.features)
    blind = dataclasses.replace(batch, features=None, memory=memory)
    with pytest.raises(ValueError, match=r"needs its graphs \(features\)$"):
        distilled_loss(student, teacher, blind, positions, None, positions)


@pytest.fixture
def teacher_dir(tmp_path):
    """A saved tiny TransNAR that knows the tiny runs' algorithms, with large
    random weights (its gates open: its distributions are not a fresh LM's)."""
    tiny.talkative_transnar(use_nar=True).save_pretrained(tmp_path / "teacher")
    return tmp_path / "teacher"


def test_a_student_learns_from_its_teacher_without_a_nar(tmp_path, teacher_dir):
    config = tiny.lm_train_config(None, f"teacher.model={teacher_dir}", "teacher.weight=0.75")
    result = train_lm(config, tmp_path / "student", progress=False)
    steps = [r for r in records(result.run_dir) if "loss" in r]
    assert len(steps) == 6
    for record in steps:  # the loss is the mix of its two terms
        mixed = 0.25 * record["answer_loss"] + 0.75 * record["distillation_loss"]
        assert record["loss"] == pytest.approx(mixed, rel=1e-6)
        assert record["distillation_loss"] > 0
    student = TransNAR.from_pretrained(result.model_dir)
    assert student.nar is None and not (result.run_dir / "nar").exists()
    summary = json.loads((result.run_dir / "summary.json").read_text())
    teacher = Teacher.load(TeacherSource(str(teacher_dir)), "cpu")
    assert summary["teacher_sha256"] == teacher.sha256
    # validation: the answers' cross-entropy alone, as the baseline's
    baseline = train_lm(tiny.lm_train_config(None), tmp_path / "baseline", progress=False)
    assert [s for s, _ in val_losses_of(result.run_dir)] == [2, 4, 6]
    assert val_losses_of(result.run_dir) != val_losses_of(baseline.run_dir)


def test_a_distilled_run_resumes_exactly_and_only_with_its_teacher(
    tmp_path, monkeypatch, teacher_dir
):
    config = tiny.lm_train_config(None, f"teacher.model={teacher_dir}", "dropout=0.1")
    straight = train_lm(config, tmp_path / "straight", progress=False)
    interrupted_in_step_5(monkeypatch, config, tmp_path / "resumed")
    assert read_lm_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 4
    other = tiny.saved_transnar(tmp_path / "other", use_nar=True, seed=1)
    with pytest.raises(CheckpointError, match="another teacher"):
        train_lm(
            apply_overrides(config, [f"teacher.model={other}"]),
            tmp_path / "resumed",
            resume=True,
            progress=False,
        )
    torch.manual_seed(123)
    np.random.seed(123)
    moved = teacher_dir.rename(tmp_path / "moved")  # the same weights elsewhere
    resumed = train_lm(
        apply_overrides(config, [f"teacher.model={moved}"]),
        tmp_path / "resumed",
        resume=True,
        progress=False,
    )
    assert losses_of(tmp_path / "resumed") == losses_of(straight.run_dir)
    assert resumed.val_loss == straight.val_loss


def test_a_missing_teacher_is_a_clear_error(tmp_path):
    config = tiny.lm_train_config(None, f"teacher.model={tmp_path / 'nowhere'}")
    with pytest.raises(CheckpointError, match=r"teacher\.model"):
        train_lm(config, tmp_path / "student", progress=False)
