"""``run_stages(jobs=K)`` / ``transnar run --jobs K``: stages in parallel processes.

The scheduler is tested with fake stages: in threads of this process, and in
real child processes running this module (``python -m tests.pipeline.test_jobs
RUN STAGE`` handles one stage as ``transnar run --only`` does). Overlap is shown
by a rendezvous (each of two stages waits until the other has started) and the
timestamps the stages record, never by timing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from transnar.pipeline.records import read_record
from transnar.pipeline.schedule import (
    LOGS_DIR,
    run_stages,
    sigterm_interrupts,
    subprocess_launcher,
)
from transnar.pipeline.stages import PipelineStage, StageFailedError, check_jobs

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0


# --- fake stages, described by RUN/spec.json so that a child process can rebuild them ---


def write_spec(run_dir: Path, **stages: dict) -> None:
    """``name={"inputs": [...], "meet": other, "fail": bool, "hang": bool}``, in order."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.json").write_text(json.dumps(stages))


def fake_stages(run_dir: Path) -> list[PipelineStage]:
    """The stages of ``RUN/spec.json``: each writes ``<name>.txt`` (JSON: when it
    started and ended, its inputs' texts, whether it resumed). ``meet``: wait
    until that stage has started; ``fail``: raise (after meeting); ``hang``:
    wait until terminated."""
    spec = json.loads((run_dir / "spec.json").read_text())

    def make(name: str, options: dict) -> PipelineStage:
        def run(resume: bool) -> None:
            start = time.time()
            (run_dir / f"{name}.started").touch()
            if options.get("meet"):
                wait_for(run_dir / f"{options['meet']}.started")
            if options.get("fail"):
                raise RuntimeError(f"{name} breaks")
            if options.get("hang"):
                wait_for(run_dir / "never")
            inputs = {i: json.loads((run_dir / f"{i}.txt").read_text()) for i in options["inputs"]}
            document = {"start": start, "end": time.time(), "inputs": inputs, "resume": resume}
            (run_dir / f"{name}.txt").write_text(json.dumps(document))

        inputs = tuple(options.get("inputs", ()))
        return PipelineStage(name, f"make {name}", {"value": 1}, (f"{name}.txt",), run, inputs)

    return [make(name, {"inputs": [], **options}) for name, options in spec.items()]


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path.name}")
        time.sleep(0.01)


def output(run_dir: Path, name: str) -> dict:
    return json.loads((run_dir / f"{name}.txt").read_text())


# --- launchers ----------------------------------------------------------------------------


class ThreadChild:
    """A stage's 'process' as a thread of this one (exit status 0 or 1)."""

    def __init__(self, target):
        self.code: int | None = None
        self.thread = threading.Thread(target=self._main, args=(target,), daemon=True)
        self.thread.start()

    def _main(self, target) -> None:
        try:
            target()
            self.code = 0
        except BaseException:
            self.code = 1

    def poll(self) -> int | None:
        return None if self.thread.is_alive() else self.code

    def wait(self, timeout: float | None = None) -> int:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise subprocess.TimeoutExpired("thread", timeout or 0)
        assert self.code is not None
        return self.code

    def terminate(self) -> None:
        """Threads cannot be stopped: the fake stages used with them end by themselves."""

    kill = terminate


def thread_launcher(run_dir: Path, launched: list[str]):
    def launch(stage: PipelineStage, log: Path) -> ThreadChild:
        launched.append(stage.name)
        log.parent.mkdir(parents=True, exist_ok=True)

        def target() -> None:
            with open(log, "a") as handle:
                lines = lambda line: print(line, file=handle, flush=True)  # noqa: E731
                run_stages(run_dir, fake_stages(run_dir), only=stage.name, log=lines)

        return ThreadChild(target)

    return launch


def process_launcher(run_dir: Path, children: dict | None = None):
    """Children ``python -m tests.pipeline.test_jobs RUN STAGE`` (see ``__main__``)."""
    command = [sys.executable, "-m", "tests.pipeline.test_jobs", str(run_dir)]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    launch = subprocess_launcher(
        lambda stage: [*command, stage.name], {**os.environ, "PYTHONPATH": path}
    )

    def launch_and_keep(stage: PipelineStage, log: Path):
        child = launch(stage, log)
        if children is not None:
            children[stage.name] = child
        return child

    return launch_and_keep


def run(run_dir: Path, launch, jobs: int = 2, **options):
    lines: list[str] = []
    outcomes = run_stages(
        run_dir, fake_stages(run_dir), jobs=jobs, launch=launch, log=lines.append, **options
    )
    return {o.name: o.status for o in outcomes}, lines


# --- the scheduler ------------------------------------------------------------------------


def test_independent_stages_overlap_and_inputs_come_first(tmp_path):
    # a; b and c read a and wait for each other (so they must run at once); d reads both
    write_spec(
        tmp_path,
        a={},
        b={"inputs": ["a"], "meet": "c"},
        c={"inputs": ["a"], "meet": "b"},
        d={"inputs": ["b", "c"]},
    )
    launched: list[str] = []
    statuses, lines = run(tmp_path, thread_launcher(tmp_path, launched))
    assert statuses == dict.fromkeys("abcd", "ran")
    assert launched == ["a", "b", "c", "d"]
    times = {name: output(tmp_path, name) for name in "abcd"}
    b, c = times["b"], times["c"]
    assert b["start"] < c["end"] and c["start"] < b["end"]  # they overlapped
    for name, inputs in (("b", "a"), ("c", "a"), ("d", "bc")):
        assert all(times[name]["start"] >= times[i]["end"] for i in inputs)
    assert times["d"]["inputs"]["b"] == b
    log = tmp_path / LOGS_DIR / "a.log"
    assert lines[0] == f"[1/4] a: running: make a (log: {log})"
    assert lines[1].startswith("[1/4] a: done in ") and "elapsed" in lines[1]
    assert "[4/4] d: running: make d" in log.with_name("d.log").read_text()
    assert all(read_record(tmp_path, name)["status"] == "done" for name in "abcd")

    # a second run skips everything, in this process
    statuses, lines = run(tmp_path, thread_launcher(tmp_path, launched))
    assert statuses == dict.fromkeys("abcd", "skipped")
    assert lines == [f"[{k}/4] {n}: skipped (up to date)" for k, n in enumerate("abcd", 1)]
    assert len(launched) == 4


def test_the_earliest_ready_stage_starts_first(tmp_path):
    """When a slot frees, the earliest stage in order takes it (so a seed's evaluation
    comes before the next seed's training): here b, made ready by a, before y, ready
    from the start; x holds its slot until b has started."""
    write_spec(tmp_path, a={}, x={"meet": "b"}, b={"inputs": ["a"]}, y={})
    launched: list[str] = []
    statuses, _ = run(tmp_path, thread_launcher(tmp_path, launched))
    assert statuses == dict.fromkeys("axby", "ran")
    assert launched == ["a", "x", "b", "y"]


def test_the_stage_on_the_longest_chain_starts_first(tmp_path):
    """Once the stages' times are known (here from their records, as after an
    interruption), of two ready stages the one on the longer chain to the end
    starts first: long (100 s, then tail's 100 s) before short (10 s); the
    evaluations still come before either."""
    spec = {"a": {}, "short": {"inputs": ["a"]}, "long": {"inputs": ["a"]},
            "tail": {"inputs": ["long"]}}  # fmt: skip
    write_spec(tmp_path, **spec)
    launched: list[str] = []
    run(tmp_path, thread_launcher(tmp_path, launched))
    assert launched == ["a", "short", "long", "tail"]  # no times yet: in order
    for name, seconds in (("a", 1.0), ("short", 10.0), ("long", 100.0), ("tail", 100.0)):
        path = tmp_path / "stages" / f"{name}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "seconds": seconds}))
        (tmp_path / f"{name}.txt").unlink()  # made again
    launched.clear()
    statuses, _ = run(tmp_path, thread_launcher(tmp_path, launched))
    assert statuses == dict.fromkeys(spec, "ran")
    assert launched == ["a", "long", "short", "tail"]


def test_jobs_1_and_jobs_2_record_the_same_stages(tmp_path):
    spec = {"a": {}, "b": {"inputs": ["a"]}, "c": {}}
    write_spec(tmp_path / "one", **spec)
    write_spec(tmp_path / "two", **spec)
    one, _ = run(tmp_path / "one", None, jobs=1)
    two, _ = run(tmp_path / "two", thread_launcher(tmp_path / "two", []))
    assert one == two == dict.fromkeys("abc", "ran")
    keys = ("stage", "status", "config_sha256", "config")
    for name in "abc":
        first, second = read_record(tmp_path / "one", name), read_record(tmp_path / "two", name)
        assert {k: first[k] for k in keys} == {k: second[k] for k in keys}
        assert first["inputs"].keys() == second["inputs"].keys()


def test_stop_after_runs_the_stages_up_to_it(tmp_path):
    write_spec(tmp_path, a={}, b={"inputs": ["a"]}, c={})
    launched: list[str] = []
    statuses, _ = run(tmp_path, thread_launcher(tmp_path, launched), stop_after="b")
    assert statuses == {"a": "ran", "b": "ran"} and launched == ["a", "b"]
    assert read_record(tmp_path, "c") is None


def test_a_failing_stage_stops_the_others_and_a_rerun_resumes_them(tmp_path):
    # real child processes: b fails once c runs; c hangs until it is terminated
    write_spec(tmp_path, a={}, b={"inputs": ["a"], "meet": "c", "fail": True}, c={"hang": True})
    children: dict = {}
    lines: list[str] = []
    with pytest.raises(StageFailedError) as error:
        run_stages(
            tmp_path,
            fake_stages(tmp_path),
            jobs=2,
            launch=process_launcher(tmp_path, children),
            log=lines.append,
        )
    assert lines[-1] == "[3/3] c: stopped; it resumes on the next run"
    log = tmp_path / LOGS_DIR / "b.log"
    assert error.value.stage == "b" and error.value.log == log
    assert str(error.value) == f"stage b failed (exit status 1); its log: {log}"
    assert "RuntimeError: b breaks" in log.read_text()
    assert children["c"].poll() is not None  # terminated
    assert read_record(tmp_path, "a")["status"] == "done"
    assert read_record(tmp_path, "b")["status"] == read_record(tmp_path, "c")["status"] == "running"

    write_spec(tmp_path, a={}, b={"inputs": ["a"]}, c={})
    statuses, lines = run(tmp_path, thread_launcher(tmp_path, []))
    assert statuses == {"a": "skipped", "b": "resumed", "c": "resumed"}
    assert output(tmp_path, "b")["resume"] and output(tmp_path, "c")["resume"]
    assert any(line.startswith("[2/3] b: resuming: make b") for line in lines)


def test_the_failure_is_reported_with_the_end_of_its_log(tmp_path):
    write_spec(tmp_path, a={"fail": True})
    lines: list[str] = []
    with pytest.raises(StageFailedError, match="stage a failed"):
        run_stages(
            tmp_path,
            fake_stages(tmp_path),
            jobs=2,
            launch=process_launcher(tmp_path),
            log=lines.append,
        )
    assert lines[1].startswith("[1/1] a: failed (exit status 1) after ")
    assert lines[1].endswith("; its log ends:")
    assert "    RuntimeError: a breaks" in lines


def test_sigterm_terminates_the_children_and_a_rerun_resumes_them(tmp_path):
    write_spec(tmp_path, a={"hang": True}, b={"hang": True})
    children: dict = {}
    launch = process_launcher(tmp_path, children)

    def signal_once_both_run() -> None:
        wait_for(tmp_path / "a.started")
        wait_for(tmp_path / "b.started")
        os.kill(os.getpid(), signal.SIGTERM)  # to this process: the scheduler

    threading.Thread(target=signal_once_both_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, launch)
    assert all(child.poll() is not None for child in children.values())
    assert read_record(tmp_path, "a")["status"] == read_record(tmp_path, "b")["status"] == "running"

    write_spec(tmp_path, a={}, b={})
    statuses, _ = run(tmp_path, thread_launcher(tmp_path, []))
    assert statuses == {"a": "resumed", "b": "resumed"}


def test_a_child_that_records_nothing_is_an_error(tmp_path):
    write_spec(tmp_path, a={})

    def launch(stage: PipelineStage, log: Path) -> ThreadChild:
        return ThreadChild(lambda: None)  # exits 0 without running the stage

    with pytest.raises(StageFailedError, match="ended without recording it as done"):
        run(tmp_path, launch)


def test_the_options_are_checked(tmp_path, monkeypatch):
    write_spec(tmp_path, a={})
    for jobs in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="--jobs must be an integer >= 1"):
            check_jobs(jobs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a launcher"):
        run(tmp_path, None)
    with pytest.raises(ValueError, match="--only runs one stage: it takes no --jobs"):
        run(tmp_path, thread_launcher(tmp_path, []), only="a")
    with pytest.raises(ValueError, match="takes no --stop-after"):
        run(tmp_path, None, jobs=1, only="a", stop_after="a")
    import transnar.pipeline.stages as stages
    from transnar.training.distributed import World

    monkeypatch.setattr(stages, "world", lambda: World(0, 2, 0))
    with pytest.raises(ValueError, match=r"--jobs 2 .* torchrun"):
        run(tmp_path, thread_launcher(tmp_path, []))
    check_jobs(1)  # one at a time is fine under torchrun
    assert read_record(tmp_path, "a") is None


def test_sigterm_interrupts_only_inside_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted long before
    assert signal.getsignal(signal.SIGTERM) is before


# --- the pipeline ---------------------------------------------------------------------------


def test_transnar_run_jobs_2_end_to_end(tmp_path, capsys):
    from tests import tiny
    from tests.pipeline.helpers import run_fast, statuses
    from tests.training.helpers import losses_of
    from transnar.cli import main

    # TransNAR's arm alone: data and nar in parallel, then transnar-s0 reads both
    stop = ["--stop-after", "transnar-s0"]
    run_dir = tmp_path / "parallel"
    argv = ["run", "--out", str(run_dir), "--no-progress", "--jobs", "2", *stop]
    assert main([*argv, *tiny.PIPELINE, "arms=transnar"]) == 0
    err = capsys.readouterr().err
    names = [p.stem for p in (run_dir / "stages").iterdir()]
    assert set(names) == {"data", "nar", "transnar-s0"}
    assert all(read_record(run_dir, name)["status"] == "done" for name in names)
    assert {p.stem for p in (run_dir / LOGS_DIR).iterdir()} == set(names)
    assert "data: running: write the CLRS-Text" in err and "transnar-s0: done in " in err
    assert f"{len(names)} stage(s) run in " in err
    nar_log = (run_dir / LOGS_DIR / "nar.log").read_text()
    assert "--only nar" in nar_log and "nar: done in " in nar_log

    # the same models as one process makes
    sequential = run_fast(tmp_path / "sequential", "arms=transnar", stop_after="transnar-s0")
    assert set(statuses(sequential)) == set(names)
    assert losses_of(run_dir / "transnar-s0") == losses_of(tmp_path / "sequential" / "transnar-s0")

    # again: nothing to run, no process started
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "running:" not in err and re.search(
        rf"0 stage\(s\) run in [0-9.]+ s, {len(names)} skipped", err
    )


def test_the_command_line_errors(tmp_path, capsys, monkeypatch):
    from tests import tiny
    from transnar.cli import main

    def exit_status(*argv: str) -> int:
        try:
            return main(["run", "--out", str(tmp_path), "--no-progress", *argv, *tiny.PIPELINE])
        except SystemExit as exit_info:
            return int(exit_info.code or 0)

    assert exit_status("--only", "baseline-s0") == 2
    err = capsys.readouterr().err
    assert (
        "transnar: error: stage baseline-s0 needs its input stages done first: data (not run)"
        in err
    )
    assert exit_status("--only", "nope") == 2
    assert "no stage 'nope' to run" in capsys.readouterr().err
    assert exit_status("--jobs", "0") == 2
    assert "transnar: error: --jobs must be an integer >= 1, got 0" in capsys.readouterr().err

    import transnar.pipeline.run as pipeline_run

    def fail(*args, **kwargs):
        raise StageFailedError("nar", "stage nar failed (exit status 1); its log: L", Path("L"))

    monkeypatch.setattr(pipeline_run, "run_pipeline", fail)
    assert exit_status("--jobs", "2") == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "transnar: error: stage nar failed (exit status 1); its log: L"


if __name__ == "__main__":  # a stage's process: python -m tests.pipeline.test_jobs RUN STAGE
    run_dir = Path(sys.argv[1])
    try:
        with sigterm_interrupts():
            run_stages(run_dir, fake_stages(run_dir), only=sys.argv[2])
    except KeyboardInterrupt:
        sys.exit(130)
