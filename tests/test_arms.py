"""The arms table: one row per arm, and what the pipeline derives from it."""

import subprocess
import sys

import pytest

from transnar.arms import ARM_NAMES, ARMS, ARMS_BY_NAME, TEACHER, get_arm
from transnar.model.config import MEMORY_MODES, MEMORY_SOURCES
from transnar.pipeline.layout import ModelRun


def test_every_arm_is_one_row_with_valid_fields():
    assert len(set(ARM_NAMES)) == len(ARMS) and ARM_NAMES[:4] == (
        "baseline", "control", "control-blank", "transnar",
    )  # fmt: skip
    assert len({arm.label for arm in ARMS}) == len(ARMS)  # labels tell the arms apart
    for arm in ARMS:
        assert arm.memory_source in MEMORY_SOURCES and arm.memory in (None, *MEMORY_MODES)
        assert arm.use_nar or (arm.memory_source == "question" and arm.memory is None)
    assert ARMS_BY_NAME[TEACHER].use_nar and not ARMS_BY_NAME[TEACHER].student


def test_a_memory_arm_for_every_memory_mode():
    memory_arms = {
        arm.memory: arm.name for arm in ARMS if arm.memory and arm.memory_source == "question"
    }
    assert memory_arms == {mode: f"transnar-{mode}" for mode in MEMORY_MODES}
    (control,) = [arm for arm in ARMS if arm.memory and arm.memory_source != "question"]
    assert control.model_changes() == {
        "use_nar": True, "memory_source": "last-step", "memory": "all",
    }  # fmt: skip


def test_model_runs_read_the_table():
    assert ModelRun("control-blank", 2).arm.model_changes() == {
        "use_nar": True, "memory_source": "blank",
    }  # fmt: skip
    assert ModelRun("transnar-all", 0).arm.model_changes()["memory"] == "all"
    assert "memory" not in ModelRun("transnar", 0).arm.model_changes()
    assert not ModelRun("baseline", 0).use_nar and ModelRun("control", 0).use_nar
    assert ModelRun("baseline-hints", 1).index_hints and not ModelRun("baseline-hints", 1).use_nar
    assert ModelRun("baseline-hints", 1).data_dir == "data-hints"
    student = ModelRun("student", 3)
    assert student.teacher == ModelRun("transnar", 3) and student.data_dir == "distill-s3"
    assert ModelRun("transnar", 3).teacher is None and ModelRun("transnar", 3).distill_dir is None
    soft = ModelRun("student-soft", 3)  # learns the run's data and its teacher's distributions
    assert soft.teacher == ModelRun("transnar", 3) and soft.data_dir == "data"
    assert soft.distill_dir is None and soft.teacher_answers_dir is None and soft.arm.student
    assert [ModelRun(n, 0).label for n in ("transnar-lockstep", "transnar-hints")] == [
        "TransNAR (lockstep)", "TransNAR (index hints)",
    ]  # fmt: skip


def test_an_unknown_arm_names_the_arms():
    with pytest.raises(ValueError, match=r"unknown arm 'transnr' \(arms: baseline, control"):
        get_arm("transnr")


def test_the_table_and_the_cli_arguments_need_no_torch():  # --help without torch
    code = "import sys, transnar.arms, transnar.cli._arguments; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
