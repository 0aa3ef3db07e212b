"""Times training steps of the reference dm-clrs BaselineModel; run under the reference interpreter.

Called by ``benchmarks/nar_step.py``. Arguments: algorithms (comma list),
processor, hidden size, batch size, problem size, steps to time. Builds one
fixed batch per algorithm (``build_sampler(..., num_samples=batch)`` + the
``run.py`` preprocessing), a single-task ``BaselineModel`` with the
``run.py`` defaults (hints encoded and decoded, ``xavier_on_scalars``, Adam
1e-3, clipping 1.0), runs one warm-up step (JIT compilation) and prints one JSON
object: algorithm -> seconds per training step (median of the timed steps).
"""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import clrs
import jax

PRED_AS_INPUT = {
    "binary_search",
    "minimum",
    "find_maximum_subarray",
    "find_maximum_subarray_kadane",
    "matrix_chain_order",
    "lcs_length",
    "optimal_bst",
    "activity_selector",
    "task_scheduling",
    "naive_string_matcher",
    "kmp_matcher",
    "jarvis_march",
}


def step_time(algorithm, processor, hidden, batch, size, steps):
    sampler, spec = clrs.build_sampler(algorithm, num_samples=batch, length=size, seed=0)
    stream = iter([sampler.next()])
    if algorithm in PRED_AS_INPUT:
        spec, stream = clrs.process_pred_as_input(spec, stream)
    spec, stream = clrs.process_permutations(spec, stream, True)
    feedback = next(stream)
    factory = clrs.get_processor_factory(processor, use_ln=True, nb_triplet_fts=8, nb_heads=1)
    model = clrs.models.BaselineModel(
        spec=[spec],
        dummy_trajectory=[feedback],
        processor_factory=factory,
        hidden_dim=hidden,
        encode_hints=True,
        decode_hints=True,
        encoder_init="xavier_on_scalars",
        learning_rate=1e-3,
        grad_clip_max_norm=1.0,
        checkpoint_path=tempfile.mkdtemp(),
    )
    model.init([feedback.features], 0)
    key = jax.random.PRNGKey(0)
    float(model.feedback(key, feedback))  # compilation
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        float(model.feedback(key, feedback))  # float() waits for the result
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    algorithms = sys.argv[1].split(",")
    processor, hidden, batch, size, steps = sys.argv[2], *map(int, sys.argv[3:7])
    results = {}
    for algorithm in algorithms:
        results[algorithm] = step_time(algorithm, processor, hidden, batch, size, steps)
        print(f"reference {algorithm}: {results[algorithm]:.3f} s/step", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
