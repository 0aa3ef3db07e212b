"""The pipeline's arms beyond the paper (issue 17): the students (distillation: TransNAR
answers the student's questions, the student trains on them with no NAR; or the
soft student learns TransNAR's next-token distributions on the run's data), TransNAR
with another memory mode (``transnar-all``) and the baseline with index hints
(``baseline-hints``), each evaluated and reported as an arm beside the others."""

from __future__ import annotations

import json
import shutil

import pytest

from tests import tiny
from tests.pipeline.helpers import run_fast, statuses
from transnar.model import TransNAR
from transnar.pipeline import apply_overrides
from transnar.pipeline.estimate import estimate
from transnar.pipeline.export import export_run

STUDENT = (
    "arms=baseline,control-blank,transnar,transnar-all,baseline-hints,student,student-wide,"
    "student-soft",
    "distill.sizes=4,6",
    "distill.count=3",
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("student") / "run"
    result = run_fast(run_dir, *STUDENT)
    return run_dir, result


def test_the_student_stages_run_after_their_teacher(finished):
    _, result = finished
    names = [o.name for o in result.outcomes]
    assert names.index("transnar-s0") < names.index("distill-s0") < names.index("student-s0")
    assert names.index("student-s0") < names.index("eval-student-s0")
    assert set(statuses(result).values()) == {"ran"}


def test_the_student_learns_the_teachers_answers_without_a_nar(finished):
    run_dir, _ = finished
    rows = [json.loads(line) for line in (run_dir / "distill-s0" / "train.jsonl").open()]
    assert len(rows) == 2 * 2 * 3  # algorithms x sizes 4 and 6 x count
    assert {row["length"] for row in rows} == {4, 6}  # 6 is beyond the training sizes
    assert all(row["seed"] == 3 for row in rows)  # their own sampler seed
    manifest = json.loads((run_dir / "distill-s0" / "manifest.json").read_text())
    assert manifest["teacher"].endswith("transnar-s0/model")
    student = TransNAR.from_pretrained(run_dir / "student-s0" / "model")
    assert not student.config.use_nar and student.nar is None
    config = json.loads((run_dir / "student-s0" / "config.json").read_text())
    assert config["data"]["path"].endswith("distill-s0")


def test_an_interrupted_distillation_resumes_from_its_answered_cells(tmp_path):
    from transnar.pipeline.run import build_stages

    stages = {s.name: s for s in build_stages(tiny.pipeline_config(*STUDENT), tmp_path)}
    assert not stages["distill-s0"].resumable()  # nothing answered yet: start over
    (tmp_path / "teacher-answers" / "transnar-s0").mkdir(parents=True)  # shared by both
    assert stages["distill-s0"].resumable() and stages["distill-wide-s0"].resumable()


def test_the_wide_student_also_learns_the_evaluation_sizes(finished):
    run_dir, result = finished
    names = [o.name for o in result.outcomes]
    assert names.index("transnar-s0") < names.index("distill-wide-s0")
    assert names.index("distill-wide-s0") < names.index("student-wide-s0")
    rows = [json.loads(line) for line in (run_dir / "distill-wide-s0" / "train.jsonl").open()]
    test_sizes = set(tiny.pipeline_config().lm.data.test_sizes)
    assert {row["length"] for row in rows} == {4, 6} | test_sizes  # distill.sizes + test's
    assert all(row["seed"] == 3 for row in rows)  # not the test seed: other instances
    narrow = [json.loads(line) for line in (run_dir / "distill-s0" / "train.jsonl").open()]
    assert [row for row in rows if row["length"] in (4, 6)] == narrow  # answered once
    assert (
        len(list((run_dir / "teacher-answers" / "transnar-s0").glob("*.jsonl")))
        == 2 * (2 + len(test_sizes)) * 2
    )  # algorithms x sizes x (train, val)
    config = json.loads((run_dir / "student-wide-s0" / "config.json").read_text())
    assert config["data"]["path"].endswith("distill-wide-s0") and not config["model"]["use_nar"]
    report = (run_dir / "report.md").read_text()
    assert "- the wide student (the student, with its questions drawn at the evaluation" in report
    assert f"at sizes {', '.join(map(str, sorted({4, 6} | test_sizes)))} (sampler" in report


def test_the_report_shows_the_student_as_an_arm(finished):
    run_dir, _ = finished
    report = (run_dir / "report.md").read_text()
    assert "student − baseline" in report and "student − TransNAR" in report
    assert "the student (the baseline's architecture, with no NAR" in report
    manifest = json.loads((run_dir / "distill-s0" / "manifest.json").read_text())
    exact = manifest["teacher_vs_truth"]["train"]["exact"]
    assert f"TransNAR's answers to them: exactly right {exact:.3f}, CLRS score " in report
    by_size = manifest["teacher_vs_truth"]["train"]["by_size"]
    assert (
        "; their CLRS score by size: "
        + ", ".join(f"{size}: {by_size[size]['clrs']:.3f}" for size in ("4", "6"))
        in report.split("- the student (")[1].split("\n")[0]
    )
    evaluation = json.loads((run_dir / "eval" / "student-s0" / "results.json").read_text())
    assert evaluation["model"]["label"] == "student"


def test_the_report_says_what_each_student_keeps_of_transnars_gain(finished):
    run_dir, _ = finished
    report = (run_dir / "report.md").read_text()
    section = report.split("### What the students keep")[1].split("\n## ")[0]
    assert "(student − baseline) / (TransNAR − baseline)" in section
    header = next(line for line in section.splitlines() if line.startswith("| size"))
    assert "| student keeps" in header and "| student (test sizes too) keeps" in header
    assert "| student (distributions) keeps" in header
    shares = json.loads((run_dir / "comparison.json").read_text())["student_shares"]
    sizes = {str(s) for s in tiny.pipeline_config().lm.data.test_sizes} | {"all"}
    assert set(shares) == {"student", "student (test sizes too)", "student (distributions)"}
    assert all(set(by_size) == sizes for by_size in shares.values())
    for by_size in shares.values():  # a share only where TransNAR's gain is significant
        for size, share in by_size.items():
            gain = _overall_gain(run_dir, size)
            assert (share is None) == (not gain["test"]["significant"])


def _overall_gain(run_dir, size: str) -> dict:
    """TransNAR − baseline at one size (or "all") in the run's comparison.json."""
    document = json.loads((run_dir / "comparison.json").read_text())
    row = next(r for r in document["by_size"] if str(r["size"]) == size)
    return row["differences"]["TransNAR - baseline"]


def test_a_resumable_copy_writes_the_students_data_again_from_the_kept_answers(
    finished, tmp_path, monkeypatch
):
    run_dir, result = finished
    done = export_run(run_dir, tmp_path / "done", resumable=True).out
    # every student trained: nothing to come needs the answers, nor the teacher's weights
    assert not (done / "teacher-answers").exists() and not (done / "transnar-s0/model").exists()
    run_dir = shutil.copytree(run_dir, tmp_path / "run")
    for name in ("student-s0", "eval-student-s0"):  # as if the student were still to come
        (run_dir / "stages" / f"{name}.json").unlink()
    copy = export_run(run_dir, tmp_path / "copy", resumable=True).out
    assert not (copy / "distill-s0" / "train.jsonl").exists()  # data: written again
    assert (copy / "distill-s0" / "manifest.json").is_file()
    assert (copy / "teacher-answers" / "transnar-s0").is_dir()
    assert (copy / "transnar-s0" / "model").is_dir()  # the teacher, for the student's data

    import transnar.training.distill as distill

    def asked(*args, **kwargs):
        raise AssertionError("the teacher was asked again")

    monkeypatch.setattr(distill, "evaluate", asked)
    again = statuses(run_fast(copy, *STUDENT))
    # the report too (a student made anew): it needs none of the weights the copy lacks
    ran = {"distill-s0", "student-s0", "eval-student-s0", "report"}
    assert again == {name: "ran" if name in ran else "skipped" for name in again}
    assert set(again) == set(statuses(result))
    name = "distill-s0/train.jsonl"
    assert (copy / name).read_bytes() == (run_dir / name).read_bytes()


def test_the_soft_student_learns_its_teachers_distributions_on_the_runs_data(finished):
    from transnar.training.lm_config import TeacherSource
    from transnar.training.lm_teacher import Teacher

    run_dir, result = finished
    names = [o.name for o in result.outcomes]
    assert names.index("transnar-s0") < names.index("student-soft-s0")
    assert "distill-soft-s0" not in names and not (run_dir / "distill-soft-s0").exists()
    config = json.loads((run_dir / "student-soft-s0" / "config.json").read_text())
    teacher_dir = run_dir / "transnar-s0" / "model"
    assert config["teacher"] == {"model": str(teacher_dir.resolve()), "weight": 0.5,
                                 "temperature": 2.0}  # fmt: skip
    assert config["data"]["path"] == str((run_dir / "data").resolve())
    assert not config["model"]["use_nar"] and config["nar"]["checkpoint"] is None
    baseline = json.loads((run_dir / "baseline-s0" / "config.json").read_text())
    assert "teacher" not in baseline  # no other arm has a teacher
    assert {k: v for k, v in config.items() if k != "teacher"} == baseline  # data, steps, seed
    summary = json.loads((run_dir / "student-soft-s0" / "summary.json").read_text())
    teacher = Teacher.load(TeacherSource(str(teacher_dir)), "cpu")
    assert summary["teacher_sha256"] == teacher.sha256 and summary["steps"] > 0
    record = json.loads((run_dir / "stages" / "student-soft-s0.json").read_text())
    assert set(record["inputs"]) == {"data", "transnar-s0"}
    report = (run_dir / "report.md").read_text()
    assert "- the soft student (the baseline's architecture" in report
    assert "its loss is 0.5 x the answers' cross-entropy + 0.5 x 2² x the KL" in report
    shares = json.loads((run_dir / "comparison.json").read_text())["student_shares"]
    assert "student (distributions)" in shares


def test_a_resumable_copy_keeps_the_teacher_of_a_soft_student_to_come(finished, tmp_path):
    run_dir = shutil.copytree(finished[0], tmp_path / "run")
    for name in ("student-soft-s0", "eval-student-soft-s0"):
        (run_dir / "stages" / f"{name}.json").unlink()
    copy = export_run(run_dir, tmp_path / "copy", resumable=True).out
    assert (copy / "transnar-s0" / "model").is_dir()  # the teacher, for the soft student
    assert not (copy / "teacher-answers").exists()  # no answers: it learns the run's data


def test_the_soft_students_weight_and_temperature_are_lm_teachers(tmp_path):
    from transnar.pipeline.run import build_stages

    config = tiny.pipeline_config(
        "arms=baseline,transnar,student-soft", "lm.teacher.weight=1", "lm.teacher.temperature=1"
    )
    stages = {s.name: s for s in build_stages(config, tmp_path)}
    assert stages["student-soft-s0"].config["lm.teacher.weight"] == 1.0
    assert stages["student-soft-s0"].config["lm.teacher.temperature"] == 1.0
    assert "lm.teacher.model" not in stages["student-soft-s0"].config  # its input instead
    assert not any(k.startswith("lm.teacher") for k in stages["baseline-s0"].config)
    with pytest.raises(ValueError, match=r"lm\.teacher\.model must be none"):
        tiny.pipeline_config("lm.teacher.model=somewhere")


def test_a_student_needs_its_teacher():
    for student in ("student", "student-soft"):
        with pytest.raises(ValueError, match="whose teacher is TransNAR"):
            tiny.pipeline_config(f"arms=baseline,{student}")
    with pytest.raises(ValueError, match=r"distill\.algorithms must be none"):
        tiny.pipeline_config(*STUDENT, "distill.algorithms=bfs")


def test_the_estimate_counts_every_arm():
    config = apply_overrides(tiny.pipeline_config(*STUDENT), ["distill.count=30"])
    stages = {row.stage: row for row in estimate(config, samples=2)}
    assert stages["distill-s*"].examples == 2 * 2 * 30
    assert stages["student-s*"].examples == 2 * 2 * 30
    assert stages["student-s*"].parameters == stages["baseline-s*"].parameters
    # the soft student: the baseline's training and a forward pass of its teacher
    soft, baseline = stages["student-soft-s*"], stages["baseline-s*"]
    assert (soft.examples, soft.tokens, soft.steps) == (baseline.examples, baseline.tokens,
                                                        baseline.steps)  # fmt: skip
    assert baseline.flops < soft.flops < baseline.flops + stages["transnar-s*"].flops / 2
    assert "distill-soft-s*" not in stages
    test_sizes = len(set(config.lm.data.test_sizes) - {4, 6})
    assert stages["distill-wide-s*"].examples == 2 * (2 + test_sizes) * 30
    assert stages["baseline-hints-s*"].tokens > stages["baseline-s*"].tokens  # the markers
    assert stages["transnar-all-s*"].parameters > stages["transnar-s*"].parameters  # step encodings
    # every block reads every step's states: more work than one state per block
    assert stages["transnar-all-s*"].flops > stages["transnar-s*"].flops
    assert stages["transnar-all-s*"].activation_bytes > stages["transnar-s*"].activation_bytes


def test_a_memory_variant_is_transnar_with_that_memory(finished):
    run_dir, _ = finished
    config = json.loads((run_dir / "transnar-all-s0" / "config.json").read_text())
    assert config["model"]["memory"] == "all" and config["model"]["use_nar"]
    plain = json.loads((run_dir / "transnar-s0" / "config.json").read_text())
    assert plain["model"]["memory"] == "final"
    assert {k: v for k, v in config["model"].items() if k != "memory"} == {
        k: v for k, v in plain["model"].items() if k != "memory"
    }
    report = (run_dir / "report.md").read_text()
    assert "TransNAR (all) − TransNAR" in report or "TransNAR − TransNAR (all)" in report
    assert "TransNAR reading the NAR's memory in mode all" in report


def test_the_index_hint_arm_learns_and_answers_with_markers(finished):
    run_dir, result = finished
    names = [o.name for o in result.outcomes]
    assert names[:3] == ["data", "data-hints", "nar"]
    manifest = json.loads((run_dir / "data-hints" / "manifest.json").read_text())
    assert manifest["options"]["index_hints"] is True
    config = json.loads((run_dir / "baseline-hints-s0" / "config.json").read_text())
    assert config["data"]["index_hints"] and config["data"]["path"].endswith("data-hints")
    assert not config["model"]["use_nar"]
    hinted = json.loads((run_dir / "eval" / "baseline-hints-s0" / "results.json").read_text())
    plain = json.loads((run_dir / "eval" / "baseline-s0" / "results.json").read_text())
    assert hinted["settings"]["index_hints"] and not plain["settings"].get("index_hints")
    # the same questions, in two formats: paired question by question in the report
    assert [s["question_sha256"] for s in hinted["samples"]] == [
        s["question_sha256"] for s in plain["samples"]
    ]
    report = (run_dir / "report.md").read_text()
    assert "baseline (index hints) − baseline" in report
    assert "the baseline with index hints (its own data with index markers" in report


def test_the_blank_control_is_transnar_reading_zeros(finished):
    run_dir, _ = finished
    config = json.loads((run_dir / "control-blank-s0" / "config.json").read_text())
    assert config["model"]["memory_source"] == "blank" and config["model"]["use_nar"]
    assert "control (blank memory) − baseline" in (run_dir / "report.md").read_text()
