"""The probe recorder and the shared probe constructors."""

from __future__ import annotations

import numpy as np
import pytest

from transnar.clrs.probing import ProbeError, ProbeRecorder, heap_parents, order_to_predecessors


def _recorder():
    recorder = ProbeRecorder("minimum", 3)
    recorder.record_inputs({"pos": np.arange(3) / 3, "key": np.array([0.5, 0.2, 0.9])})
    return recorder


def test_missing_and_extra_probes_are_errors():
    recorder = _recorder()
    with pytest.raises(ProbeError, match=r"missing probes \['i'\] and unexpected probes \['k'\]"):
        recorder.record_hint({"pred_h": np.arange(3), "min_h": 0, "k": 0})
    with pytest.raises(ProbeError, match="missing probes"):
        recorder.record_outputs({})
    with pytest.raises(ProbeError, match=r"unexpected probes \['extra'\]"):
        ProbeRecorder("minimum", 3).record_inputs({"pos": 0, "key": 0, "extra": 0})


def test_order_of_calls_is_enforced():
    recorder = _recorder()
    with pytest.raises(ProbeError, match="twice"):
        recorder.record_inputs({"pos": np.zeros(3), "key": np.zeros(3)})
    with pytest.raises(ProbeError, match="no hint step"):
        recorder.record_outputs({"min": 1})
        recorder.finish()
    with pytest.raises(ProbeError, match="after the outputs"):
        recorder.record_hint({"pred_h": np.arange(3), "min_h": 0, "i": 0})


def test_index_forms_become_one_hot_float64():
    recorder = _recorder()
    recorder.record_hint({"pred_h": np.arange(3), "min_h": 0, "i": 0})
    recorder.record_hint({"pred_h": np.arange(3), "min_h": 1, "i": 2})
    recorder.record_outputs({"min": 1})
    trajectory = recorder.finish()
    assert trajectory.length == 2
    np.testing.assert_array_equal(trajectory.hints["i"], [[1, 0, 0], [0, 0, 1]])
    assert trajectory.hints["i"].dtype == np.float64
    np.testing.assert_array_equal(trajectory.outputs["min"], [0, 1, 0])
    assert trajectory.hints["pred_h"].dtype == np.int64


def test_categorical_index_forms():
    recorder = ProbeRecorder("heapsort", 2)
    recorder.record_inputs({"pos": np.arange(2) / 2, "key": np.zeros(2)})
    for phase in (0, 2):
        recorder.record_hint(
            {
                "pred_h": np.arange(2),
                "parent": np.arange(2),
                "i": 0,
                "j": 0,
                "largest": 0,
                "heap_size": 0,
                "phase": phase,
            }
        )
    recorder.record_outputs({"pred": np.arange(2)})
    np.testing.assert_array_equal(recorder.finish().hints["phase"], [[1, 0, 0], [0, 0, 1]])


def test_order_to_predecessors():
    # Order 2, 0, 1: node 2 first (points to itself), 0 after 2, 1 after 0.
    np.testing.assert_array_equal(order_to_predecessors(np.array([2, 0, 1])), [2, 0, 2])
    np.testing.assert_array_equal(order_to_predecessors(np.arange(4)), [0, 0, 1, 2])


def test_heap_parents():
    # Slots hold nodes 3, 1, 0, 2; heap of size 3: node 1 (slot 1) and node 0 (slot 2)
    # are children of node 3 (slot 0); node 2 (slot 3) is outside the heap.
    np.testing.assert_array_equal(heap_parents(np.array([3, 1, 0, 2]), 3), [3, 3, 2, 3])
    np.testing.assert_array_equal(heap_parents(np.array([3, 1, 0, 2]), 4), [3, 3, 1, 3])
