"""The NAR end to end: padded batches against samples one by one, freezing after
each sample's last step, hint feedback, hint modes, noise and dropout, determinism,
gradients, several algorithms (CLRS ``nets.py``)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from tests import tiny
from tests.nar.helpers import as_double, features_of, sampled
from transnar.clrs.specs import CLRS30_ALGORITHMS, SPECS, Location, Stage, Type
from transnar.clrs.transforms import preprocess_spec
from transnar.nar import NAR, Features, NARConfig
from transnar.nar.decoders import postprocess
from transnar.nar.encoders import dense
from transnar.nar.losses import output_loss


def node_axes(probe) -> int:
    """How many leading (after the batch) axes of a prediction run over the nodes."""
    axes = {Location.NODE: 1, Location.EDGE: 2, Location.GRAPH: 0}[probe.location]
    return axes + (probe.type in (Type.POINTER, Type.PERMUTATION_POINTER))


def real(probe, value: torch.Tensor, n: int) -> torch.Tensor:
    """The real part of one sample's prediction (padding nodes cut off)."""
    return value[(slice(0, n),) * node_axes(probe)]


# Algorithms that between them cover every probe (location, type) of CLRS-30.
COVERAGE = [
    "bfs",  # node pointer output and hint, node mask hint, edge mask input
    "insertion_sort",  # permutation output + mask_one, node mask_one hints
    "floyd_warshall",  # edge pointer output and hint, edge scalar and mask hints
    "lcs_length",  # edge categorical output and hint, node categorical and mask inputs
    "dfs",  # node categorical and scalar hints, graph scalar hint
    "binary_search",  # graph scalar input, pointer input (pred_h as input)
    "segments_intersect",  # graph mask output
    "mst_kruskal",  # graph categorical hint, edge mask output
    "activity_selector",  # node mask output
    "kmp_matcher",  # graph mask hints
]
# (sizes, seed) of each batch: a padded sample runs at least two steps after the
# first, so that its own predictions are fed back next to padding.
BATCHES = {
    "bfs": ([6, 4, 5], 8),
    "insertion_sort": ([6, 4, 5], 0),
    "floyd_warshall": ([5, 3, 4], 0),
    "lcs_length": ([6, 4, 5], 4),
    "dfs": ([3, 2, 4], 0),
    "binary_search": ([6, 4, 5], 0),
    "segments_intersect": ([4, 4, 4], 0),  # always 4 nodes: no padding
    "mst_kruskal": ([3, 8, 5], 11),
    "activity_selector": ([6, 4, 5], 0),
    "kmp_matcher": ([6, 4, 5], 0),
}


def _batch(algorithm):
    """The padded batch of ``BATCHES[algorithm]`` and its samples one by one (float64)."""
    sizes, seed = BATCHES[algorithm]
    trajectories = sampled(algorithm, sizes, seed)
    features = as_double(Features.from_trajectories(trajectories))
    padded_lengths = [t.length for t in trajectories if t.num_nodes < features.num_nodes]
    assert algorithm == "segments_intersect" or max(padded_lengths) >= 3
    assert len(set(features.lengths.tolist())) > 1 or algorithm == "segments_intersect"
    return features, [as_double(Features.from_trajectories([t])) for t in trajectories]


def test_coverage_spans_every_probe_kind():
    """COVERAGE holds every (stage, location, type) of the preprocessed CLRS-30 specs."""

    def kinds(algorithms):
        return {
            (p.stage, p.location, p.type)
            for a in algorithms
            for p in preprocess_spec(SPECS[a]).values()
        }

    assert kinds(COVERAGE) == kinds(CLRS30_ALGORITHMS)


def _one_by_one_check(nar, features, singles, repred):
    batch = nar(features, repred=repred, embeddings=True)
    spec = nar.head(features.algorithm).spec
    lengths = features.lengths.tolist()
    for b, single_features in enumerate(singles):
        n = int(single_features.node_mask.sum())
        alone = nar(single_features, repred=repred, embeddings=True)
        steps = max(1, lengths[b] - 1)
        for name, value in alone.outputs.items():
            torch.testing.assert_close(
                real(spec[name], batch.outputs[name][b], n),
                value[0],
                msg=f"output {name}, sample {b}",
            )
        for name, value in alone.hints.items():
            assert value.shape[1] == steps
            cut = (b, slice(0, steps)) + (slice(0, n),) * node_axes(spec[name])
            torch.testing.assert_close(
                batch.hints[name][cut],
                value[0],
                msg=f"hint {name}, sample {b}",
            )
        torch.testing.assert_close(batch.node_embeddings[b, :steps, :n], alone.node_embeddings[0])
        torch.testing.assert_close(
            batch.edge_embeddings[b, :steps, :n, :n], alone.edge_embeddings[0]
        )
        # Frozen after the sample's last step.
        for later in range(steps, batch.node_embeddings.shape[1]):
            assert torch.equal(batch.node_embeddings[b, later], batch.node_embeddings[b, steps - 1])
            assert torch.equal(batch.edge_embeddings[b, later], batch.edge_embeddings[b, steps - 1])


@pytest.mark.parametrize("algorithm", COVERAGE)
def test_padded_batch_equals_samples_one_by_one(algorithm):
    """Mixed sizes and lengths in one padded batch give, on every real element and
    step, what each sample gives alone (outputs, hint predictions, embeddings)."""
    features, singles = _batch(algorithm)
    nar = tiny.nar((algorithm,), double=True)
    _one_by_one_check(nar, features, singles, repred=True)
    if algorithm != "insertion_sort":  # training adds Gumbel noise to permutations
        _one_by_one_check(nar, features, singles, repred=False)


@pytest.mark.parametrize("processor", ["mpnn", "pgn", "gpgn", "triplet_gpgn", "gmpnn"])
def test_padded_batch_equals_samples_one_by_one_for_each_processor(processor):
    features, singles = _batch("bfs")
    nar = tiny.nar(("bfs",), double=True, processor=processor)
    _one_by_one_check(nar, features, singles, repred=True)


@pytest.mark.parametrize("algorithm", ["bfs", "floyd_warshall"])
@pytest.mark.parametrize(
    "overrides",
    [
        {"hint_repred_mode": "hard"},
        {"hint_teacher_forcing": 1.0},
        {"hint_mode": "decoded_only"},
        {"hint_mode": "none"},
        {"use_ln": False, "msg_passing_steps": 2},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_padded_batch_equals_samples_one_by_one_for_hint_settings(algorithm, overrides):
    features, singles = _batch(algorithm)
    nar = tiny.nar((algorithm,), double=True, **overrides)
    _one_by_one_check(nar, features, singles, repred=False)


def test_padded_batch_gradients_are_finite():
    for algorithm in ["bfs", "insertion_sort", "floyd_warshall"]:
        nar = tiny.nar((algorithm,))
        features = features_of(algorithm, [3, 4])
        total, _ = nar.loss(features, nar(features))
        total.backward()
        assert torch.isfinite(total)
        for name, parameter in nar.named_parameters():
            if parameter.grad is not None:
                assert torch.isfinite(parameter.grad).all(), (algorithm, name)


class _Spy:
    """Records what the head encodes and decodes at every step."""

    def __init__(self, nar, algorithm):
        self.head = nar.head(algorithm)
        self.encoded: list[dict[str, torch.Tensor]] = []
        self.decoded: list[dict[str, torch.Tensor]] = []
        encode, decode = self.head.encode_factored, self.head.decode
        inputs = {}

        def spy_encode(probes, node_mask):
            # The NAR encodes its inputs once, then each step's hints.
            if probes and all(self.head.spec[n].stage is Stage.INPUT for n in probes):
                inputs.update(probes)
            else:
                self.encoded.append({**inputs, **probes})
            return encode(probes, node_mask)

        def spy_decode(*args, **kwargs):
            predictions = decode(*args, **kwargs)
            self.decoded.append(predictions)
            return predictions

        self.head.encode_factored = spy_encode
        self.head.decode = spy_decode


def test_outputs_are_each_samples_predictions_at_its_own_last_step():
    """A sample's outputs are decoded once, at its own last step ``length - 2``, and
    equal what the NAR predicts for the sample alone."""
    nar = tiny.nar(("bfs",), double=True)
    features = features_of("bfs", [4, 6, 5, 6], seed=3, double=True)
    lengths = features.lengths.tolist()
    assert len(set(lengths)) > 1, "the batch must mix trajectory lengths"
    spy = _Spy(nar, "bfs")
    output = nar(features, repred=True)
    outputs = set(nar.head("bfs").spec.outputs)
    decoded_rows = [len(next(iter(p.values()))) for p in spy.decoded if set(p) == outputs]
    ending = Counter(max(0, length - 2) for length in lengths)
    assert decoded_rows == [ending[step] for step in sorted(ending)]
    for b in range(len(lengths)):
        alone = nar(features.rows(torch.tensor([b])), repred=True)
        for name in outputs:
            torch.testing.assert_close(output.outputs[name][b], alone.outputs[name][0])


@pytest.mark.parametrize("steps", ["oracle", "learned"])
def test_without_hints_kept_the_outputs_are_the_same_and_no_hint_is_returned(steps):
    """``keep_hints=False`` (scoring, TransNAR's memory) keeps no step's hint
    predictions, so memory does not grow with the steps, and changes nothing else."""
    nar = tiny.nar(("bfs",), double=True).eval()
    features = features_of("bfs", [4, 6, 5, 6], seed=3, double=True)
    kept = nar(features, embeddings=True, steps=steps)
    dropped = nar(features, embeddings=True, steps=steps, keep_hints=False)
    assert kept.hints and dropped.hints == {}
    assert nar.embed(features, steps=steps).hints == {}
    for name, value in kept.outputs.items():
        assert torch.equal(value, dropped.outputs[name])
    assert torch.equal(kept.last_steps, dropped.last_steps)
    assert torch.equal(kept.edge_embeddings, dropped.edge_embeddings)
    assert torch.equal(kept.termination, dropped.termination)


def test_single_step_trajectory_runs_one_step():
    """``T = 1``: one processor step (``max(1, T - 1)``) and no hint loss."""
    features = features_of("bfs", [4])
    features = Features(
        features.algorithm,
        features.spec,
        features.inputs,
        {k: v[:, :1] for k, v in features.hints.items()},
        features.outputs,
        torch.ones_like(features.lengths),
        features.node_mask,
    )
    nar = tiny.nar(("bfs",))
    output = nar(features)
    assert output.hints["pi_h"].shape[1] == 1
    _, terms = nar.loss(features, output)
    assert set(terms) == {"pi", "termination"}


class TestHintFeedback:
    algorithm = "bfs"

    def _run(self, repred=False, seed=0, **config):
        nar = tiny.nar((self.algorithm,), **config)
        features = features_of(self.algorithm, [4, 6, 5], seed=3)
        spy = _Spy(nar, self.algorithm)
        torch.manual_seed(seed)
        output = nar(features, repred=repred)
        return nar, features, spy, output

    def _fed(self, nar, features, output, step, hard):
        spec = nar.head(features.algorithm).spec
        return {
            name: postprocess(
                spec[name],
                output.hints[name][:, step - 1],
                features.node_mask,
                hard,
                nar.config.feedback_sinkhorn_steps,
                nar.config.sinkhorn_temperature,
            )
            for name in spec.hints
        }

    @pytest.mark.parametrize("repred", [False, True])
    def test_step_zero_encodes_ground_truth_then_soft_predictions(self, repred):
        nar, features, spy, output = self._run(repred=repred)
        for name in features.hints:
            assert torch.equal(spy.encoded[0][name], features.hints[name][:, 0])
        for name in features.inputs:
            assert all(torch.equal(e[name], features.inputs[name]) for e in spy.encoded)
        for step in range(1, len(spy.encoded)):
            expected = self._fed(nar, features, output, step, hard=False)
            for name, value in expected.items():
                torch.testing.assert_close(spy.encoded[step][name], value)
                if name == "pi_h":  # soft pointers: probability rows
                    assert spy.encoded[step][name].shape == (3, 6, 6)

    @pytest.mark.parametrize(
        ("mode", "repred", "hard"),
        [
            ("hard", False, True),
            ("hard", True, True),
            ("hard_on_eval", False, False),
            ("hard_on_eval", True, True),
        ],
    )
    def test_hard_feedback(self, mode, repred, hard):
        nar, features, spy, output = self._run(repred=repred, hint_repred_mode=mode)
        for step in range(1, len(spy.encoded)):
            expected = self._fed(nar, features, output, step, hard=hard)
            for name, value in expected.items():
                assert torch.equal(spy.encoded[step][name], value)
        assert spy.encoded[1]["pi_h"].dtype == (torch.int64 if hard else torch.float32)

    def test_full_teacher_forcing_feeds_ground_truth(self):
        _, features, spy, _ = self._run(hint_teacher_forcing=1.0)
        for step, encoded in enumerate(spy.encoded):
            for name, truth in features.hints.items():
                expected = truth[:, step]
                if step > 0 and name == "pi_h":
                    expected = dense(
                        features.spec[name], expected, features.num_nodes, torch.float32
                    )
                assert torch.equal(encoded[name], expected), (step, name)

    def test_evaluation_ignores_teacher_forcing(self):
        nar, features, spy, output = self._run(repred=True, hint_teacher_forcing=1.0)
        for step in range(1, len(spy.encoded)):
            for name, value in self._fed(nar, features, output, step, hard=False).items():
                torch.testing.assert_close(spy.encoded[step][name], value)

    def test_partial_teacher_forcing_mixes_per_sample(self):
        """With rate 0.5 each sample gets, at each step, all its hints from the
        ground truth or all from the prediction; both happen."""
        nar, features, spy, output = self._run(hint_teacher_forcing=0.5, seed=4)
        seen = set()
        for step in range(1, len(spy.encoded)):
            predicted = self._fed(nar, features, output, step, hard=False)
            for b in range(features.batch_size):
                choices = set()
                for name, truth in features.hints.items():
                    value = spy.encoded[step][name][b]
                    true_value = dense(
                        features.spec[name], truth[:, step], features.num_nodes, torch.float32
                    )[b]
                    if torch.equal(value, true_value):
                        choices.add("truth")
                    else:
                        torch.testing.assert_close(value, predicted[name][b])
                        choices.add("prediction")
                assert len(choices) == 1, (step, b)
                seen |= choices
        assert seen == {"truth", "prediction"}

    def test_decoded_only_encodes_no_hints(self):
        nar, features, spy, output = self._run(hint_mode="decoded_only")
        assert all(set(e) == set(features.inputs) for e in spy.encoded)
        assert set(nar.head("bfs").decoders) == {"pi", "reach_h", "pi_h"}
        assert set(output.hints) == {"reach_h", "pi_h"}

    def test_none_builds_no_hint_encoders_or_decoders(self):
        nar, features, spy, output = self._run(hint_mode="none")
        head = nar.head("bfs")
        assert set(head.encoders) == set(features.inputs)
        assert set(head.decoders) == {"pi"}
        assert output.hints == {}
        assert all(set(e) == set(features.inputs) for e in spy.encoded)

    def test_soft_feedback_passes_gradients_hard_does_not(self):
        """Soft feedback is differentiable: the output loss alone reaches the hint
        decoders; hard feedback cuts it."""
        grads = {}
        for mode in ("soft", "hard"):
            nar = tiny.nar(("bfs",), hint_repred_mode=mode)
            features = features_of("bfs", [5, 6], seed=3)
            assert features.max_length >= 3
            output = nar(features)
            spec = nar.head("bfs").spec
            output_loss(
                spec["pi"], output.outputs["pi"], features.outputs["pi"], features.node_mask
            ).backward()
            decoder = nar.head("bfs").decoders["reach_h"]
            grads[mode] = [p.grad for p in decoder.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads["soft"])
        assert all(g is None or g.abs().sum() == 0 for g in grads["hard"])


class TestNoiseDropoutDeterminism:
    def test_repred_means_no_noise_and_no_dropout(self):
        nar = tiny.nar(("insertion_sort",), dropout=0.5)
        features = features_of("insertion_sort", [3, 4])
        torch.manual_seed(0)
        a = nar(features, repred=True)
        torch.manual_seed(1)
        b = nar(features, repred=True)
        for name in a.outputs:
            assert torch.equal(a.outputs[name], b.outputs[name])
        torch.manual_seed(0)
        c = nar(features, repred=False)
        torch.manual_seed(1)
        d = nar(features, repred=False)
        assert not torch.allclose(c.outputs["pred"], d.outputs["pred"])

    def test_permutation_noise_only_in_training(self):
        nar = tiny.nar(("insertion_sort",))
        features = features_of("insertion_sort", [3, 4])
        torch.manual_seed(0)
        a = nar(features, repred=False)
        torch.manual_seed(1)
        b = nar(features, repred=False)
        assert not torch.allclose(a.outputs["pred"], b.outputs["pred"])
        assert torch.equal(a.outputs["pred_mask"], b.outputs["pred_mask"])  # no dropout

    def test_dropout_only_in_training(self):
        nar = tiny.nar(("bfs",), dropout=0.5)
        features = features_of("bfs", [4, 5])
        torch.manual_seed(0)
        a = nar(features)
        torch.manual_seed(1)
        b = nar(features)
        assert not torch.allclose(a.outputs["pi"], b.outputs["pi"])
        quiet = tiny.nar(("bfs",), dropout=0.0)
        torch.manual_seed(0)
        c = quiet(features)
        torch.manual_seed(1)
        assert torch.equal(c.outputs["pi"], quiet(features).outputs["pi"])

    def test_training_and_evaluation_agree_without_randomness(self):
        """No dropout, no teacher forcing, no permutation: training and evaluation
        runs compute the same thing."""
        nar = tiny.nar(("bfs",))
        features = features_of("bfs", [4, 6])
        a, b = nar(features, repred=False), nar(features, repred=True)
        for name in a.outputs:
            assert torch.equal(a.outputs[name], b.outputs[name])

    def test_deterministic_given_torch_seed(self):
        config = {"dropout": 0.3, "hint_teacher_forcing": 0.5}
        features = features_of("insertion_sort", [3, 4])
        runs = []
        for seed in (7, 7, 8):
            nar = tiny.nar(("insertion_sort",), seed=0, **config)
            torch.manual_seed(seed)
            output = nar(features)
            runs.append(nar.loss(features, output)[0])
        assert torch.equal(runs[0], runs[1])
        assert not torch.equal(runs[0], runs[2])
        assert torch.equal(
            tiny.nar(("insertion_sort",), seed=5).processor.m1.weight,
            tiny.nar(("insertion_sort",), seed=5).processor.m1.weight,
        )


class TestMultiTask:
    algorithms = ("bfs", "insertion_sort", "minimum")

    def test_heads_and_shared_processor(self):
        nar = tiny.nar(self.algorithms)
        assert set(nar.heads) == set(self.algorithms)
        single = tiny.nar(("bfs",))
        processor_params = sum(p.numel() for p in nar.processor.parameters())
        assert processor_params == sum(p.numel() for p in single.processor.parameters())
        assert sum(p.numel() for p in nar.parameters()) == processor_params + sum(
            p.numel() for h in nar.heads.values() for p in h.parameters()
        )
        for algorithm in self.algorithms:
            features = features_of(algorithm, [3, 4])
            output = nar(features)
            assert set(output.outputs) == set(nar.head(algorithm).spec.outputs)
        with pytest.raises(ValueError, match="not trained on"):
            nar.head("dijkstra")
        with pytest.raises(ValueError, match="not trained on"):
            nar(features_of("dijkstra", [4]))

    def test_gradients_reach_processor_and_own_head_only(self):
        nar = tiny.nar(self.algorithms)
        features = features_of("bfs", [4, 5])
        total, _ = nar.loss(features, nar(features))
        total.backward()
        for name, parameter in nar.processor.named_parameters():
            assert parameter.grad is not None, name
        assert sum(p.grad.abs().sum() for p in nar.processor.parameters()) > 0
        for name, parameter in nar.head("bfs").named_parameters():
            assert parameter.grad is not None, name
        for other in ("insertion_sort", "minimum"):
            assert all(p.grad is None for p in nar.head(other).parameters())

    def test_config_rejects_unknown_and_repeated_algorithms(self):
        with pytest.raises(ValueError):
            NARConfig(algorithms=("bfs", "bfs"))
        with pytest.raises((ValueError, KeyError)):
            NARConfig(algorithms=("not_an_algorithm",))


class TestEmbeddings:
    @pytest.mark.parametrize(
        ("processor", "edge_width"), [("triplet_gmpnn", tiny.NAR_HIDDEN), ("mpnn", tiny.NAR_HIDDEN)]
    )
    def test_embed(self, processor, edge_width):
        nar = tiny.nar(("bfs",), processor=processor, dropout=0.5)
        nar.train()
        features = features_of("bfs", [4, 6, 5])
        out = nar.embed(features)
        steps = features.max_length - 1
        assert out.node_embeddings.shape == (3, steps, 6, tiny.NAR_HIDDEN)
        assert out.edge_embeddings.shape == (3, steps, 6, 6, edge_width)
        assert not out.node_embeddings.requires_grad
        assert nar.training
        again = nar(features, repred=True, embeddings=True)
        assert torch.equal(out.node_embeddings, again.node_embeddings)
        assert torch.equal(out.edge_embeddings, again.edge_embeddings)

    def test_no_embeddings_unless_asked(self):
        nar = tiny.nar(("bfs",))
        out = nar(features_of("bfs", [4]))
        assert out.node_embeddings is None and out.edge_embeddings is None


def test_message_passing_steps_per_hint_step():
    nar = tiny.nar(("bfs",), msg_passing_steps=3)
    calls = []
    nar.processor.register_forward_hook(lambda *args: calls.append(1))
    features = features_of("bfs", [4, 5])
    nar(features)
    assert len(calls) == 3 * (features.max_length - 1)


class TestFeatures:
    def test_from_trajectories(self):
        trajectories = sampled("insertion_sort", [3, 5])
        features = Features.from_trajectories(trajectories)
        assert features.batch_size == 2 and features.num_nodes == 5
        assert features.node_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
        assert features.lengths.tolist() == [t.length for t in trajectories]
        assert features.max_length == max(t.length for t in trajectories)
        assert features.outputs["pred"].shape == (2, 5, 5)  # permutation matrix
        assert "pred_mask" in features.outputs
        assert features.hints["pred_h"].dtype == torch.int64
        assert features.inputs["key"].dtype == torch.float32
        # Hints are zero after each length.
        assert torch.all(features.hints["i"][0, trajectories[0].length :] == 0)

    def test_to_and_pred_as_input(self):
        features = features_of("binary_search", [4])
        assert "pred" in features.inputs and "pred_h" not in features.hints
        moved = features.to("cpu")
        assert moved.algorithm == features.algorithm
        assert all(torch.equal(moved.inputs[k], features.inputs[k]) for k in features.inputs)

    def test_random_pos_only_with_rng(self):
        trajectories = sampled("bfs", [5])
        plain = Features.from_trajectories(trajectories)
        shuffled = Features.from_trajectories(trajectories, rng=np.random.RandomState(0))
        torch.testing.assert_close(plain.inputs["pos"][0], torch.arange(5) / 5.0)
        assert not torch.equal(plain.inputs["pos"], shuffled.inputs["pos"])
        assert torch.all(shuffled.inputs["pos"][0].diff() > 0)


def test_float32_and_float64_agree():
    nar = tiny.nar(("bfs",))
    features = features_of("bfs", [4, 5])
    single = nar(features, repred=True)
    double = nar.double()(as_double(features), repred=True)
    torch.testing.assert_close(
        single.outputs["pi"].double(), double.outputs["pi"], atol=1e-4, rtol=1e-4
    )


def test_config_round_trip():
    config = tiny.nar_config(("bfs", "dfs"), processor="pgn", hint_mode="none")
    assert NARConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        NARConfig.from_dict({**config.to_dict(), "bogus": 1})
    nar = NAR(config)
    assert nar.processor.gate is None
