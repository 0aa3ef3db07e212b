"""Parity with the reference dm-clrs NAR (JAX/Haiku), run in float64 in a subprocess.

Runs only where ``TRANSNAR_REFERENCE_PYTHON`` names the reference interpreter
(see ``tests/reference.py``); ``tests/oracle/nar_reference.py`` computes the
reference values. Besides the Sinkhorn operator, the losses and the scores of
every probe type, whole networks are compared: the reference ``nets.Net`` is
initialised, its parameters are copied into our :class:`~transnar.nar.NAR`, and
both run the same batch (of one size: the reference has no padding) in
evaluation and training mode, with the same losses and gradients.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from tests import tiny
from tests.nar.helpers import as_double, probe, sampled, synthetic_spec
from tests.nar.test_losses import REFERENCE_CASES, random_probe_data
from tests.reference import job_name, load_dump, requires_reference, run_reference
from transnar.clrs.specs import Type
from transnar.evaluation.nar_scoring import Scorer, fuse_permutations
from transnar.nar import NAR, Features
from transnar.nar.decoders import log_sinkhorn
from transnar.nar.losses import hint_loss, output_loss

pytestmark = [pytest.mark.reference, requires_reference]

SCRIPT = "nar_reference.py"

# --- Whole networks ---------------------------------------------------------------

NET_SIZE, NET_COUNT = 5, 3
NET_ALGORITHMS = [
    "bfs",
    "insertion_sort",
    "floyd_warshall",
    "lcs_length",
    "dfs",
    "binary_search",
    "segments_intersect",
    "mst_kruskal",
    "heapsort",
    "activity_selector",
    "kmp_matcher",
]
BFS_VARIANTS = [
    {"processor": "mpnn"},
    {"processor": "gmpnn"},
    {"processor": "pgn"},
    {"processor": "gpgn"},
    {"processor": "triplet_mpnn"},
    {"processor": "triplet_gpgn"},
    {"use_ln": False},
    {"hint_mode": "decoded_only"},
    {"hint_mode": "none"},
    {"hint_repred_mode": "hard"},
    {"hint_repred_mode": "hard_on_eval"},
    {"hint_teacher_forcing": 1.0},
    {"encoder_init": "default"},
    {"msg_passing_steps": 2},
]
NET_CASES = [(a, {}) for a in NET_ALGORITHMS] + [("bfs", v) for v in BFS_VARIANTS]
NET_CASES += [("floyd_warshall", {"hint_repred_mode": "hard"}), ("dfs", {"processor": "pgn"})]


def _config(overrides):
    config = tiny.nar_config()
    settings = {
        "hidden_dim": config.hidden_dim,
        "processor": config.processor,
        "nb_triplet_fts": config.nb_triplet_fts,
        "use_ln": config.use_ln,
        "hint_mode": config.hint_mode,
        "hint_repred_mode": config.hint_repred_mode,
        "hint_teacher_forcing": config.hint_teacher_forcing,
        "encoder_init": config.encoder_init,
        "msg_passing_steps": config.msg_passing_steps,
    }
    return {**settings, **overrides}


def _features(algorithm):
    trajectories = sampled(algorithm, [NET_SIZE] * NET_COUNT, seed=11)
    return as_double(Features.from_trajectories(trajectories))


def _net_job(algorithm, overrides):
    features = _features(algorithm)
    spec = features.spec
    return {
        "kind": "net",
        "seed": 0,
        "algorithm": algorithm,
        "config": _config(overrides),
        "spec": {n: [p.stage.value, p.location.value, p.type.value] for n, p in spec.items()},
        "nb_dims": {n: (p.num_classes or 1) for n, p in spec.items()},
        "inputs": {n: v.tolist() for n, v in features.inputs.items()},
        "hints": {n: v.transpose(0, 1).tolist() for n, v in features.hints.items()},
        "outputs": {n: v.tolist() for n, v in features.outputs.items()},
        "lengths": features.lengths.tolist(),
    }


def _case_id(case):
    algorithm, overrides = case
    return "-".join([algorithm, *(f"{k}={v}" for k, v in overrides.items())])


@pytest.fixture(scope="module")
def net_dumps(reference_cache):
    jobs = [_net_job(a, o) for a, o in NET_CASES]
    paths = run_reference(SCRIPT, jobs, reference_cache)
    return {_case_id(case): paths[job_name(job)] for case, job in zip(NET_CASES, jobs, strict=True)}


def _index(name: str) -> int:
    """Haiku's creation index of ``linear``, ``linear_3``, ...: 0, 3, ..."""
    match = re.fullmatch(r"linear(?:_(\d+))?", name)
    return int(match.group(1) or 0)


def _parameter_map(nar: NAR, algorithm: str, dump: dict) -> dict[str, torch.nn.Parameter]:
    """Reference parameter key (``param/<module>/<w|b|scale|offset>``) -> our parameter."""
    head, proc = nar.head(algorithm), nar.processor
    mapping: dict[str, torch.nn.Parameter] = {}

    def linear(key_prefix, layer):
        mapping[f"{key_prefix}/w"] = layer.weight
        mapping[f"{key_prefix}/b"] = layer.bias

    processor_linears = [proc.m1, proc.m2, proc.m_edge, proc.m_graph, proc.o1, proc.o2]
    if proc.triplets is not None:
        t = proc.triplets
        processor_linears += [t.t1, t.t2, t.t3, t.te1, t.te2, t.te3, t.tg, t.o3]
    if proc.gate is not None:
        processor_linears += [proc.gate.g1, proc.gate.g2, proc.gate.g3]
    modules = {
        key.split("/")[1:-1] and "/".join(key.split("/")[1:-1])
        for key in dump
        if key.startswith("param/")
    }
    processor_modules = sorted(
        (m for m in modules if re.fullmatch(r"net/mpnn_aggr_clrs_processor/linear(_\d+)?", m)),
        key=lambda m: _index(m.rsplit("/", 1)[1]),
    )
    assert len(processor_modules) == len(processor_linears)
    for module, layer in zip(processor_modules, processor_linears, strict=True):
        linear(f"param/{module}", layer)
    linear("param/net/mpnn_aggr_clrs_processor/mlp/~/linear_0", proc.message_mlp[0])
    linear("param/net/mpnn_aggr_clrs_processor/mlp/~/linear_1", proc.message_mlp[2])
    if proc.layer_norm is not None:
        mapping["param/net/mpnn_aggr_clrs_processor/layer_norm/scale"] = proc.layer_norm.weight
        mapping["param/net/mpnn_aggr_clrs_processor/layer_norm/offset"] = proc.layer_norm.bias
    prefix = "param/net/~_construct_encoders_decoders/algo_0_"
    for name, encoder in head.encoders.items():
        linear(f"{prefix}{name}_enc_linear", encoder.first)
        if encoder.second is not None:
            linear(f"{prefix}{name}_enc_linear_1", encoder.second)
    for name, decoder in head.decoders.items():
        for k, layer in enumerate(decoder.layers):
            linear(f"{prefix}{name}_dec_linear" + (f"_{k}" if k else ""), layer)
    return mapping


def _load(nar, algorithm, dump):
    mapping = _parameter_map(nar, algorithm, dump)
    params = {k for k in dump if k.startswith("param/")}
    assert set(mapping) == params, sorted(set(mapping) ^ params)
    assert len({id(p) for p in mapping.values()}) == len(list(nar.parameters()))
    with torch.no_grad():
        for key, parameter in mapping.items():
            value = torch.from_numpy(dump[key])
            parameter.copy_(value.T if key.endswith("/w") else value)
    return mapping


def _close(ours, theirs, what):
    torch.testing.assert_close(
        ours, torch.as_tensor(theirs, dtype=ours.dtype), rtol=1e-6, atol=1e-6, msg=what
    )


@pytest.mark.parametrize("case", NET_CASES, ids=[_case_id(c) for c in NET_CASES])
def test_net_matches_reference(case, net_dumps):
    algorithm, overrides = case
    dump = load_dump(net_dumps[_case_id(case)])
    # The reference has no termination head (ours is an addition for leak-free stepping).
    nar = NAR(tiny.nar_config((algorithm,), termination=False, **overrides)).double()
    mapping = _load(nar, algorithm, dump)
    features = _features(algorithm)
    spec = nar.head(algorithm).spec
    permutations = {n for n, p in spec.items() if p.type is Type.PERMUTATION_POINTER}

    evaluation = nar(features, repred=True)
    for name, value in evaluation.outputs.items():
        _close(value, dump[f"eval_out/{name}"], f"evaluation output {name}")
    for name, value in evaluation.hints.items():
        _close(value.transpose(0, 1), dump[f"eval_hint/{name}"], f"evaluation hint {name}")
    assert set(evaluation.hints) == {k.split("/", 1)[1] for k in dump if k.startswith("eval_hint/")}

    torch.manual_seed(0)
    training = nar(features, repred=False)
    for name, value in training.outputs.items():
        if name not in permutations:  # the reference's Gumbel noise is its own
            _close(value, dump[f"train_out/{name}"], f"training output {name}")
    for name, value in training.hints.items():
        _close(value.transpose(0, 1), dump[f"train_hint/{name}"], f"training hint {name}")
    total, terms = nar.loss(features, training)
    reference_terms = {k.split("/", 1)[1]: float(dump[k]) for k in dump if k.startswith("loss/")}
    for name, value in reference_terms.items():
        if name in permutations:
            continue
        # Hint terms of a batch of one-step trajectories are absent here, 0 there.
        expected = terms.get(name, 0.0)
        assert expected == pytest.approx(value, rel=1e-6, abs=1e-9), name
    if not permutations:
        total.backward()
        for key, parameter in mapping.items():
            grad = dump["grad/" + key.removeprefix("param/")]
            ours = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
            _close(ours.T if key.endswith("/w") else ours, grad, f"gradient of {key}")


# --- Sinkhorn, losses, scores -----------------------------------------------------------


def _small_jobs():
    rng = np.random.default_rng(0)
    jobs = []
    x = rng.normal(size=(2, 5, 5))
    for steps, temperature in [(10, 0.1), (25, 0.1), (60, 1.0)]:
        jobs.append(
            {"kind": "sinkhorn", "x": x.tolist(), "steps": steps, "temperature": temperature}
        )
    for location, type_ in REFERENCE_CASES:
        pred, truth = random_probe_data(location, type_, (3,), 4, rng)
        if type_ == "mask":
            truth.reshape(-1)[0] = 1.0
        jobs.append(
            {
                "kind": "output_loss",
                "location": location,
                "type": type_,
                "pred": pred.tolist(),
                "truth": truth.tolist(),
                "nb_nodes": 4,
            }
        )
        preds, _ = random_probe_data(location, type_, (4, 3), 4, rng)
        _, hint_truth = random_probe_data(location, type_, (5, 3), 4, rng)
        if type_ in ("mask", "categorical"):
            hint_truth[1, 0] = np.abs(hint_truth[1, 0])  # something counts
        jobs.append(
            {
                "kind": "hint_loss",
                "location": location,
                "type": type_,
                "preds": preds.tolist(),
                "truth": hint_truth.tolist(),
                "lengths": [5, 2, 4],
                "nb_nodes": 4,
            }
        )
    return jobs


@pytest.fixture(scope="module")
def small_dumps(reference_cache):
    jobs = _small_jobs() + [_evaluation_job(seed) for seed in range(3)]
    paths = run_reference(SCRIPT, jobs, reference_cache)
    return [(job, load_dump(paths[job_name(job)])) for job in jobs]


def test_sinkhorn_matches_reference(small_dumps):
    for job, dump in small_dumps:
        if job["kind"] != "sinkhorn":
            continue
        x = torch.tensor(job["x"], dtype=torch.float64)
        ours = log_sinkhorn(
            x, torch.ones(2, 5, dtype=torch.bool), job["steps"], job["temperature"], False
        )
        _close(ours, dump["y"], f"sinkhorn {job['steps']} {job['temperature']}")


def test_losses_match_reference(small_dumps):
    checked = 0
    for job, dump in small_dumps:
        if job["kind"] not in ("output_loss", "hint_loss"):
            continue
        classes = 3 if job["type"] == "categorical" else None
        p = probe(
            "output" if job["kind"] == "output_loss" else "hint",
            job["location"],
            job["type"],
            classes,
        )
        mask = torch.ones(3, 4, dtype=torch.bool)
        if job["kind"] == "output_loss":
            ours = output_loss(p, torch.tensor(job["pred"]), torch.tensor(job["truth"]), mask)
        else:
            ours = hint_loss(
                p,
                torch.tensor(job["preds"]).transpose(0, 1),
                torch.tensor(job["truth"])[1:].transpose(0, 1),
                torch.tensor(job["lengths"]),
                mask,
            )
        assert ours.item() == pytest.approx(float(dump["loss"]), rel=1e-6), job["kind"] + str(p)
        checked += 1
    assert checked == 2 * len(REFERENCE_CASES)


EVAL_SPEC = {
    "node_mask": ("node", "mask"),
    "node_one": ("node", "mask_one"),
    "node_cat": ("node", "categorical"),
    "node_ptr": ("node", "pointer"),
    "node_scalar": ("node", "scalar"),
    "edge_mask": ("edge", "mask"),
    "edge_one": ("edge", "mask_one"),
    "edge_cat": ("edge", "categorical"),
    "edge_ptr": ("edge", "pointer"),
    "edge_scalar": ("edge", "scalar"),
    "graph_mask": ("graph", "mask"),
    "graph_cat": ("graph", "categorical"),
    "graph_scalar": ("graph", "scalar"),
    "perm": ("node", "permutation_pointer"),
    "perm_mask": ("node", "mask_one"),
}


def _random_outputs(rng, b=6, n=4, c=3, hard=True):
    shapes = {"node": (b, n), "edge": (b, n, n), "graph": (b,)}
    values = {}
    for name, (location, type_) in EVAL_SPEC.items():
        shape = shapes[location]
        if type_ == "mask":
            values[name] = rng.choice([0.0, 1.0] if hard else [-1.0, 0.0, 1.0, 1.0], size=shape)
        elif type_ == "mask_one":  # one-hot over the last node axis
            values[name] = np.eye(n)[rng.integers(0, n, size=shape[:-1])]
        elif type_ == "categorical":
            values[name] = np.eye(c)[rng.integers(0, c, size=shape)]
            if not hard:
                values[name][rng.random(shape) < 0.2] = -1.0
        elif type_ == "pointer":
            values[name] = rng.integers(0, n, size=(*shape,)).astype(np.float64)
        elif type_ == "scalar":
            values[name] = rng.normal(size=shape)
        else:
            values[name] = np.eye(n)[np.stack([rng.permutation(n) for _ in range(b)])]
    return values


def _evaluation_job(seed):
    rng = np.random.default_rng(seed)
    truth, pred = _random_outputs(rng, hard=False), _random_outputs(rng)
    return {
        "kind": "evaluate",
        "spec": {k: list(v) for k, v in EVAL_SPEC.items()},
        "truth": {k: v.tolist() for k, v in truth.items()},
        "pred": {k: v.tolist() for k, v in pred.items()},
    }


def test_scores_match_reference(small_dumps):
    spec = synthetic_spec(
        {
            n: probe("output", loc, typ, 3 if typ == "categorical" else None)
            for n, (loc, typ) in EVAL_SPEC.items()
        }
    )
    checked = 0
    for job, dump in small_dumps:
        if job["kind"] != "evaluate":
            continue

        def tensors(values):
            return {
                k: torch.tensor(
                    v, dtype=torch.int64 if EVAL_SPEC[k][1] == "pointer" else torch.float64
                )
                for k, v in values.items()
            }

        truth, pred = tensors(job["truth"]), tensors(job["pred"])
        features = Features(
            "synthetic",
            spec,
            {},
            {},
            truth,
            torch.ones(6, dtype=torch.int64),
            torch.ones(6, 4, dtype=torch.bool),
        )
        scorer = Scorer(spec)
        scorer.update(fuse_permutations(spec, pred), features)
        ours = scorer.scores()
        theirs = {k.split("/", 1)[1]: float(v) for k, v in dump.items()}
        assert set(ours) == set(theirs)
        for name, value in theirs.items():
            assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        checked += 1
    assert checked == 3
