"""``transnar data text``: CLRS-Text splits of a preset, as files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from transnar import __version__
from transnar.cli import main
from transnar.clrs.io import load_trajectories
from transnar.clrs.text.dataset_files import read_rows
from transnar.clrs.text.rows import make_example

TINY = ["data", "text", "--algorithm", "bfs,minimum", "--count", "2", "--no-progress"]


def _files(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def test_help_shows_presets_and_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "text", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--preset", "--use-hints", "--with-graphs", "clrs-text", "ood-extrapolation"):
        assert word in text


def test_writes_every_split_of_the_preset(tmp_path, capsys):
    assert main([*TINY, "--out", str(tmp_path)]) == 0
    assert _files(tmp_path) == ["manifest.json", "test.jsonl", "train.jsonl", "val.jsonl"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["preset"] == "transnar" and manifest["transnar_version"] == __version__
    assert manifest["options"] == {
        "use_hints": False,
        "float_format": "default",
        "truncate_decimals": 3,
    }
    train, test = manifest["splits"]["train"], manifest["splits"]["test"]
    assert train["sizes"] == {"bfs": [4, 5, 6, 7, 8, 12], "minimum": [4, 5, 6, 7, 8, 12]}
    assert (train["seeds"], train["count"], train["rows"]) == ([0], 2, 24)
    assert (test["seeds"], test["rows"], test["sizes"]["bfs"]) == ([2], 12, [10, 12, 14])
    rows = list(read_rows(tmp_path / "test.jsonl"))
    assert len(rows) == 12 and rows[-1] == make_example("minimum", 14, 2, 1)
    assert "wrote 24 train rows" in capsys.readouterr().out


def test_same_command_same_bytes(tmp_path):
    for name in ("a", "b"):
        argv = [*TINY, "--split", "val", "--use-hints", "--with-graphs", "--out"]
        assert main([*argv, str(tmp_path / name)]) == 0
    files = _files(tmp_path / "a")
    assert files == _files(tmp_path / "b") and "graphs/val/bfs-12.npz" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_overrides_and_graphs(tmp_path):
    argv = ["data", "text", "--preset", "clrs-text", "--split", "test", "--algorithm", "dfs"]
    argv += ["--sizes", "4-5", "--seed", "7,8", "--count", "3", "--truncate-decimals", "none"]
    argv += ["--float-format", "legacy", "--with-graphs", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    rows = list(read_rows(tmp_path / "test.jsonl"))
    assert [(r["length"], r["seed"], r["index"]) for r in rows[:4]] == [
        (4, 7, 0),
        (4, 7, 1),
        (4, 7, 2),
        (4, 8, 0),
    ]
    assert rows[5] == make_example("dfs", 4, 8, 2, float_format="legacy", truncate_decimals=None)
    trajectories, meta = load_trajectories(tmp_path / "graphs" / "test" / "dfs-5.npz")
    assert len(trajectories) == 6 and meta["seeds"] == [7, 8] and meta["truncate_decimals"] is None


def test_counts_per_split_and_dry_run(tmp_path, capsys):
    argv = [*TINY, "--split", "train,test", "--count", "train=1,test=3", "--out", str(tmp_path)]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "train: 12 rows" in out and "test: 18 rows" in out
    assert not tmp_path.exists() or _files(tmp_path) == []
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["splits"]) == ["train", "test"]
    assert [s["rows"] for s in manifest["splits"].values()] == [12, 18]


def test_parquet(tmp_path):
    pytest.importorskip(
        "pyarrow", reason="pyarrow is not installed (pip install transnar[parquet])"
    )
    assert main([*TINY, "--split", "test", "--format", "parquet", "--out", str(tmp_path)]) == 0
    assert _files(tmp_path) == ["manifest.json", "test.parquet"]
    assert len(list(read_rows(tmp_path / "test.parquet"))) == 12


def test_parquet_without_pyarrow(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--format", "parquet", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "pip install 'transnar[parquet]'" in capsys.readouterr().err
    assert not tmp_path.exists() or _files(tmp_path) == []


def test_existing_output_is_kept(tmp_path, capsys):
    (tmp_path / "val.jsonl").write_text("precious")
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "val.jsonl already exist(s) (pass --force" in capsys.readouterr().err
    assert _files(tmp_path) == ["val.jsonl"] and (tmp_path / "val.jsonl").read_text() == "precious"
    assert main([*TINY, "--out", str(tmp_path), "--force"]) == 0
    assert len(list(read_rows(tmp_path / "val.jsonl"))) == 24


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--split", "dev"], "preset transnar has the splits train, val, test"),
        (["--seed", "5"], "--seed replaces the seeds of one split"),
        (["--split", "test", "--seed", "5,5"], "seeds must be distinct"),
        (["--sizes", "8-4"], "--sizes must be integers or ranges"),
        (["--sizes", "1"], "size of bfs must be"),
        (["--count", "0"], "--count must be at least 1"),
        (["--count", "tain=3"], "--count names split 'tain'"),
        (["--algorithm", "bfz"], "did you mean 'bfs'"),
        (["--truncate-decimals", "x"], "--truncate-decimals (or 'none') must be an integer"),
        (["--truncate-decimals", "99"], "truncate_decimals must be in [0, 15]"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--out", str(tmp_path / "out"), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("transnar: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "out").exists()


def test_mistakes_print_no_traceback(tmp_path):
    argv = [*TINY, "--split", "test", "--seed", "-1", "--out", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "transnar.cli", *argv], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("transnar: error: --seed must be integers")
    assert "Traceback" not in result.stderr
