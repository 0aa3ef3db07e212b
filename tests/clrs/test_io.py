"""Trajectory files: round trip, atomic writes, refusal to overwrite, corrupt files."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.io import load_trajectories, save_trajectories
from transnar.persistence import OutputExistsError


@pytest.mark.parametrize("algorithm", ["heapsort", "bfs", "lcs_length"])
def test_round_trip(tmp_path, algorithm):
    trajectories = clrs.sample(algorithm, 6, seed=0, count=4)
    path = tmp_path / "data.npz"
    save_trajectories(path, trajectories, {"size": 6, "seed": 0})
    loaded, meta = load_trajectories(path)
    assert meta["algorithm"] == algorithm and meta["count"] == 4 and meta["size"] == 6
    assert all(a.equals(b) for a, b in zip(loaded, trajectories, strict=True))


def test_transformed_trajectories_round_trip(tmp_path):
    trajectories = [clrs.preprocess(t) for t in clrs.sample("insertion_sort", 5, seed=0, count=2)]
    save_trajectories(tmp_path / "x.npz", trajectories)
    loaded, _ = load_trajectories(tmp_path / "x.npz")
    assert loaded[0].spec == trajectories[0].spec and loaded[0].equals(trajectories[0])


def test_refuses_to_overwrite_and_leaves_no_partial_file(tmp_path):
    path = tmp_path / "data.npz"
    save_trajectories(path, clrs.sample("bfs", 4, seed=0))
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        save_trajectories(path, clrs.sample("bfs", 4, seed=1))
    assert path.read_bytes() == before
    with pytest.raises(ValueError):
        save_trajectories(tmp_path / "bad.npz", [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz"]
    save_trajectories(path, clrs.sample("bfs", 4, seed=1), overwrite=True)
    assert path.read_bytes() != before


def test_corrupt_and_foreign_files_are_clear_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        load_trajectories(tmp_path / "junk.npz")
    np.savez(tmp_path / "foreign.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="no transnar metadata"):
        load_trajectories(tmp_path / "foreign.npz")
    np.savez(tmp_path / "list.npz", meta=np.array("[1, 2]"))
    with pytest.raises(ValueError, match="its metadata is not a JSON object"):
        load_trajectories(tmp_path / "list.npz")
