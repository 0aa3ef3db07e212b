"""What a ``transnar run`` will cost, before it runs (``transnar run --estimate``).

Per stage: the examples, tokens and optimizer steps, the longest sequence, the
trainable parameters, the floating-point operations, and the memory of the
largest batch (activations kept for the backward pass, and the NAR memory the
cross-attention reads), so that a job can be sized before a GPU is rented.

Nothing is trained. The CLRS-Text cells (algorithm x size) are measured on a
few samples each (``samples``): their mean and longest token counts, the
answer budgets of evaluation; the NAR's trajectories likewise give its mean
number of steps per algorithm and size. Counts scale those by the config's
example counts; everything else follows from the config.

FLOPs count multiply-adds as 2 operations, in the matrix products only (as
:class:`torch.utils.flop_counter.FlopCounterMode` counts them; the tests check
the formulas against it), attention over the whole ``T x T`` square (kernels
that skip the causal half do less); a training step is 3x its forward pass.
Memory figures are orders of magnitude: float32 activations of one step of the
largest batch (``B`` x the longest sequence), with attention probabilities as
the math kernel keeps them; mixed precision halves them, fused kernels keep
less.

Shapes: ``T`` tokens of a sequence, ``D`` d_model, ``F`` MLP width, ``L``
layers, ``V`` vocabulary, ``N`` nodes, ``H`` NAR width, ``S`` NAR steps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from transnar.arms import ARMS_BY_NAME, TEACHER
from transnar.clrs import sample
from transnar.clrs.text.budget import answer_length_bound
from transnar.clrs.text.rows import examples
from transnar.lm.tokenizer import CharTokenizer
from transnar.lm.transformer import DecoderLM, LMConfig
from transnar.model import TransNARConfig, with_nar_widths
from transnar.model.transnar import memory_readers
from transnar.nar.config import NARConfig
from transnar.nar.model import NAR
from transnar.pipeline.resources import format_bytes
from transnar.tables import markdown_table
from transnar.training.lm_model import total_steps
from transnar.training.nar_data import eval_count, train_options, train_sizes, validation_size

FLOAT_BYTES = 4
SAMPLES = 4
"""Samples measured per CLRS-Text cell and per NAR (algorithm, size) by default."""


@dataclass(frozen=True)
class StageEstimate:
    """The cost of one stage (of one seed, for the language models).

    Attributes:
        stage: the stage (``nar``, ``baseline-s*``, ``eval-transnar-s*``, ...).
        examples: training examples (or evaluation questions).
        tokens: tokens processed (training: over all epochs; evaluation:
            prompts plus answer budgets); ``None`` for the NAR.
        steps: optimizer steps (``None`` for evaluation).
        longest: the longest sequence: tokens, or NAR nodes and steps.
        parameters: trainable parameters (the NAR's own for the ``nar`` stage;
            the frozen NAR is not counted in the language models').
        flops: floating-point operations of the whole stage.
        activation_bytes: activations of the largest batch (float32, math
            attention kernel).
        fused_activation_bytes: the same in bf16 with a fused attention
            kernel (GPUs); the NAR's stay float32.
        memory_bytes: the NAR memory of the largest batch, as the
            cross-attention reads it (``None`` without one).
    """

    stage: str
    examples: int
    tokens: int | None
    steps: int | None
    longest: str
    parameters: int
    flops: float
    activation_bytes: float
    fused_activation_bytes: float
    memory_bytes: float | None


@dataclass(frozen=True)
class TextCell:
    """One CLRS-Text cell, measured: its example count and token lengths."""

    algorithm: str
    size: int
    count: int
    mean_tokens: float  # <bos> question answer
    max_tokens: int
    mean_budget: float  # evaluation: <bos> question + the answer budget
    nodes: int


# --- formulas ---------------------------------------------------------------------------


def lm_forward_flops(lm: LMConfig, tokens: int) -> float:
    """Forward FLOPs of a :class:`~transnar.lm.DecoderLM` on one sequence of ``tokens``."""
    d, f, t = lm.d_model, lm.mlp_hidden, tokens
    mlp_matrices = 3 if lm.mlp == "swiglu" else 2
    per_token = lm.n_layers * (4 * d * d + mlp_matrices * d * f) + d * lm.vocab_size
    attention = lm.n_layers * 2 * t * t * d  # q k^T and probs v
    return 2.0 * (t * per_token + attention)


def memory_steps_read(config: TransNARConfig, steps: float) -> float:
    """How many NAR steps' states each cross-attention block reads, for a
    memory of ``steps`` steps: all of them in ``all`` mode (its slots are the
    steps' slots side by side), one in the others (``pooled`` pools the steps
    first, ``lockstep`` reads one step per block)."""
    return steps if config.memory == "all" else 1


def xattn_forward_flops(
    config: TransNARConfig, tokens: int, nodes: int, memory_steps: float = 1
) -> float:
    """Forward FLOPs of TransNAR's gated cross-attention blocks on one sequence
    of ``tokens`` reading a memory of ``nodes`` nodes and ``nodes ** 2`` edges,
    ``memory_steps`` times over (:func:`memory_steps_read`)."""
    lm = config.lm
    d, f, t = lm.d_model, lm.mlp_hidden, tokens
    slots = (nodes + nodes * nodes) * memory_steps
    mlp_matrices = 3 if lm.mlp == "swiglu" else 2
    per_token = 2 * d * d + 2 * d * d + mlp_matrices * d * f  # queries, combine, MLP
    memory = nodes * config.nar_node_dim * 2 * d + nodes * nodes * config.nar_edge_dim * 2 * d
    memory *= memory_steps
    attention = 2 * t * slots * d
    return 2.0 * len(config.xattn_layers()) * (t * per_token + memory + attention)


def processor_flops(nar: NARConfig, nodes: int) -> float:
    """FLOPs of one step of the NAR's processor on one graph of ``nodes`` nodes."""
    h, n = nar.hidden_dim, nodes
    f = nar.nb_triplet_fts if nar.uses_triplets else 0
    gate = h if nar.gated else 0
    node = n * 2 * h * (3 * h + 3 * f + gate) + n * h * h + (n * 2 * h * h if nar.gated else 0)
    edge = n * n * h * (h + 3 * f) + n * n * 2 * h * h + n * n * f * h
    graph = h * (h + f)
    return 2.0 * (node + edge + graph)


def activation_bytes(
    config: TransNARConfig,
    batch: int,
    tokens: int,
    nodes: int,
    float_bytes: int = FLOAT_BYTES,
    fused: bool = False,
    memory_steps: float = 1,
) -> float:
    """Activations of one training step on ``batch`` sequences of ``tokens``
    (reading graphs of ``nodes`` nodes, ``memory_steps`` steps' states:
    :func:`memory_steps_read`): float32 with the math attention kernel's
    probabilities (``T x T``, and ``T x (N + N^2)`` per step read in the
    cross-attention) by default; ``float_bytes=2, fused=True`` for bf16 with a
    fused (flash) kernel."""
    lm = config.lm
    d, f = lm.d_model, lm.mlp_hidden
    layers = lm.n_layers + (len(config.xattn_layers()) if config.use_nar else 0)
    per_layer = batch * tokens * (11 * d + 4 * f)  # fitted to the tensors autograd saves
    probabilities = 0
    if not fused:
        probabilities = lm.n_layers * batch * lm.n_heads * tokens * tokens
        if config.use_nar:
            slots = (nodes + nodes * nodes) * memory_steps
            probabilities += len(config.xattn_layers()) * batch * config.heads * tokens * slots
    logits = 2 * batch * tokens * lm.vocab_size
    return float(float_bytes * (layers * per_layer + probabilities + logits))


def memory_bytes(config: TransNARConfig, batch: int, nodes: int, steps: int) -> float:
    """The NAR memory of ``batch`` graphs: ``final`` keeps one state, the other
    modes one per step."""
    states = 1 if config.memory == "final" else steps
    width = nodes * config.nar_node_dim + nodes * nodes * config.nar_edge_dim
    return float(FLOAT_BYTES * batch * states * width)


def nar_activation_bytes(nar: NARConfig, batch: int, nodes: int, steps: int) -> float:
    """Activations of one NAR training step on ``batch`` graphs of ``nodes`` run
    ``steps`` steps: the edge messages, triplets and latents of every step."""
    h, n = nar.hidden_dim, nodes
    f = nar.nb_triplet_fts if nar.uses_triplets else 0
    per_step = n * n * (4 * h + 4 * f) + n * n * n * f
    return float(FLOAT_BYTES * batch * steps * per_step)


def trainable_parameters(config: TransNARConfig) -> int:
    """Trainable parameters of the language model (and its cross-attention blocks)."""
    with torch.device("meta"):
        modules = [DecoderLM(config.lm), *filter(None, memory_readers(config))]
        return sum(p.numel() for module in modules for p in module.parameters())


# --- the run's stages ---------------------------------------------------------------------


def estimate(config, samples: int = SAMPLES) -> list[StageEstimate]:
    """The stages of one seed of ``config`` (a
    :class:`~transnar.pipeline.RunPipelineConfig`), estimated.

    Args:
        config: the pipeline config.
        samples: samples measured per cell.
    """
    rows = [_nar_stage(config.nar, samples)]  # every run trains its NAR (build_stages)
    data = config.lm.data
    hints = data.index_hints
    train = text_cells(data.algorithms, data.train_sizes, data.train_count, samples, hints)
    test = text_cells(data.algorithms, data.test_sizes, data.test_count, samples, hints)
    students = [config.student_questions(a) for a in config.arms if ARMS_BY_NAME[a].distill]
    sizes = {*data.train_sizes, *data.test_sizes, *(n for q in students for n in q.sizes)}
    steps_per_size = _nar_steps(config.nar.nar.algorithms, sorted(sizes), samples)
    batch = config.eval.batch_size
    if any(ARMS_BY_NAME[arm].index_hints for arm in config.arms):
        hinted = [text_cells(data.algorithms, sizes, count, samples, True) for sizes, count in (
            (data.train_sizes, data.train_count), (data.test_sizes, data.test_count)
        )]  # fmt: skip
    base = with_nar_widths(config.lm.model, config.nar.nar)  # the NAR the pipeline trains
    teacher = _arm_model(base, TEACHER)
    for arm in config.arms:
        model, cells, asked = _arm_model(base, arm), train, test
        if ARMS_BY_NAME[arm].index_hints:
            cells, asked = hinted
        if ARMS_BY_NAME[arm].distill:  # its teacher answers its questions first
            questions = config.student_questions(arm)
            cells = text_cells(data.algorithms, questions.sizes, questions.count, samples)
            name = ARMS_BY_NAME[arm].distill
            rows.append(_eval_stage(name, teacher, cells, steps_per_size, batch))
        reads = teacher if ARMS_BY_NAME[arm].distributions else None  # in every step
        rows.append(_lm_stage(arm, model, config.lm, config.nar.nar, cells, steps_per_size, reads))
        rows.append(_eval_stage(f"eval-{arm}", model, asked, steps_per_size, batch))
    return rows


def text_cells(
    algorithms: Iterable[str],
    sizes: Iterable[int],
    count: int,
    samples: int,
    index_hints: bool = False,
) -> list[TextCell]:
    """The CLRS-Text cells of a split, each measured on ``samples`` rows (with
    index hints when ``index_hints``)."""
    tokenizer = CharTokenizer()
    cells = []
    for algorithm in algorithms:
        for size in sizes:
            lengths, budgets, nodes = [], [], 0
            rows = examples(algorithm, size, 0, samples, index_hints=index_hints)
            for row, trajectory in rows:
                prompt = len(tokenizer.encode(row["question"], add_bos=True))
                lengths.append(prompt + len(tokenizer.encode(row["answer"])))
                bound = answer_length_bound(algorithm, trajectory.inputs, index_hints=index_hints)
                budgets.append(prompt + bound)
                nodes = trajectory.num_nodes
            cells.append(
                TextCell(
                    algorithm,
                    size,
                    count,
                    sum(lengths) / len(lengths),
                    max(lengths),
                    sum(budgets) / len(budgets),
                    nodes,
                )
            )
    return cells


def _arm_model(model: TransNARConfig, name: str) -> TransNARConfig:
    return dataclasses.replace(model, **ARMS_BY_NAME[name].model_changes())


def _cell_steps(steps_per_size: dict, cell: TextCell) -> tuple[float, int]:
    """The mean and the most NAR steps of a cell's instances (1, 1 when the NAR
    does not know its algorithm)."""
    return steps_per_size.get((cell.algorithm, cell.size), (1, 1))


def _nar_steps(algorithms: Sequence[str], sizes: Iterable[int], samples: int) -> dict:
    """``(algorithm, size) -> (mean steps, most steps)`` of the NAR's trajectories."""
    return {(a, n): _steps(a, n, samples) for a in algorithms for n in sizes}


def _steps(algorithm: str, size: int, samples: int) -> tuple[float, int]:
    """The mean and the most steps of ``samples`` trajectories."""
    options = train_options(algorithm, size)
    lengths = [t.length for t in sample(algorithm, size, 0, samples, **options)]
    return sum(lengths) / len(lengths), max(lengths)


def _nar_stage(nar_config, samples: int) -> StageEstimate:
    """The NAR's pre-training, validations and tests."""
    nar, data, train = nar_config.nar, nar_config.data, nar_config.train
    flops, largest, longest = 0.0, 0.0, (0, 0)
    examples_count = 0
    for algorithm in nar.algorithms:
        sizes = train_sizes(algorithm, data.train_sizes)
        lengths = _nar_steps([algorithm], sizes, samples)
        per_example = sum(
            3 * mean * processor_flops(nar, size) for (_, size), (mean, _) in lengths.items()
        ) / len(sizes)
        flops += train.steps * train.batch_size * per_example
        examples_count += train.steps * train.batch_size
        for (_, size), (_, most) in lengths.items():
            largest = max(largest, nar_activation_bytes(nar, train.batch_size, size, most))
        size = validation_size(algorithm, data.train_sizes)
        mean, _ = _steps(algorithm, size, samples)
        validations = math.ceil(train.steps / train.eval_every)
        flops += validations * data.val_count * mean * processor_flops(nar, size)
        count = eval_count(algorithm, data.test_count, data.eval_multipliers)
        for size in data.test_sizes:
            mean, most = _steps(algorithm, size, 1)
            flops += count * mean * processor_flops(nar, size)
            longest = max(longest, (size, most))
    with torch.device("meta"):
        parameters = sum(p.numel() for p in NAR(nar).parameters())
    return StageEstimate(
        stage="nar",
        examples=examples_count,
        tokens=None,
        steps=train.steps,
        longest=f"N={longest[0]}, {longest[1]:,} steps (test)",
        parameters=parameters,
        flops=flops,
        activation_bytes=largest,
        fused_activation_bytes=largest,
        memory_bytes=None,
    )


def _lm_stage(arm, model, lm_config, nar, cells, steps_per_size, teacher=None) -> StageEstimate:
    """One language model's training (one seed); ``teacher``: the config of the
    TransNAR whose distributions it learns (a forward pass, and its NAR, per
    example), else None."""
    optim = lm_config.optim
    micro = lm_config.micro_batch_size
    batches = sum(math.ceil(cell.count / micro) for cell in cells)
    steps = total_steps(lm_config, batches)
    epochs = steps * optim.grad_accum / batches
    per_epoch = sum(cell.count * cell.mean_tokens for cell in cells)
    flops = 0.0
    for cell in cells:
        forward, nar_flops = _example_flops(model, nar, cell, steps_per_size)
        flops += cell.count * (3 * forward + nar_flops)
        if teacher is not None:
            flops += cell.count * sum(_example_flops(teacher, nar, cell, steps_per_size))
    longest = max(cells, key=lambda c: c.max_tokens)
    biggest = max(cells, key=lambda c: c.nodes)
    most_steps = _cell_steps(steps_per_size, biggest)[1]
    longest_steps = _cell_steps(steps_per_size, longest)[1]
    read = memory_steps_read(model, longest_steps)
    return StageEstimate(
        stage=f"{arm}-s*",
        examples=sum(cell.count for cell in cells),
        tokens=round(per_epoch * epochs),
        steps=steps,
        longest=f"{longest.max_tokens:,} tokens ({longest.algorithm}, {longest.size})",
        parameters=trainable_parameters(model),
        flops=flops * epochs,
        activation_bytes=activation_bytes(
            model, micro, longest.max_tokens, longest.nodes, memory_steps=read
        ),
        fused_activation_bytes=activation_bytes(
            model, micro, longest.max_tokens, longest.nodes, 2, fused=True, memory_steps=read
        ),
        memory_bytes=(
            memory_bytes(model, micro, biggest.nodes, most_steps) if model.use_nar else None
        ),
    )


def _example_flops(model, nar, cell: TextCell, steps_per_size: dict) -> tuple[float, float]:
    """The forward pass of one example of ``cell`` (its mean length) through
    ``model`` (the LM and, for TransNAR, the cross-attention), and its NAR's
    rollout (0 without a NAR)."""
    t = round(cell.mean_tokens)
    forward = lm_forward_flops(model.lm, t)
    if not model.use_nar:
        return forward, 0.0
    mean_steps = _cell_steps(steps_per_size, cell)[0]
    read = memory_steps_read(model, mean_steps)
    forward += xattn_forward_flops(model, t, cell.nodes, read)
    return forward, mean_steps * processor_flops(nar, cell.nodes)


def _eval_stage(stage, model, cells, steps_per_size, batch: int) -> StageEstimate:
    """One language model answering questions (``stage``: ``eval-<arm>``, or
    ``distill`` for TransNAR answering the student's): greedy decoding with the
    KV cache up to each question's budget (an upper bound of the work)."""
    flops = 0.0
    for cell in cells:
        t = round(cell.mean_budget)
        flops += cell.count * lm_forward_flops(model.lm, t)
        if model.use_nar:
            mean_steps = _cell_steps(steps_per_size, cell)[0]
            read = memory_steps_read(model, mean_steps)
            flops += cell.count * xattn_forward_flops(model, t, cell.nodes, read)
    longest = max(cells, key=lambda c: c.mean_budget)
    biggest = max(cells, key=lambda c: c.nodes)
    most_steps = _cell_steps(steps_per_size, biggest)[1]
    return StageEstimate(
        stage=f"{stage}-s*",
        examples=sum(cell.count for cell in cells),
        tokens=round(sum(cell.count * cell.mean_budget for cell in cells)),
        steps=None,
        longest=f"{round(longest.mean_budget):,} tokens ({longest.algorithm}, {longest.size})",
        parameters=trainable_parameters(model),
        flops=flops,
        activation_bytes=0.0,
        fused_activation_bytes=0.0,
        memory_bytes=(
            memory_bytes(model, batch, biggest.nodes, most_steps) if model.use_nar else None
        ),
    )


# --- text ---------------------------------------------------------------------------------


def estimate_table(estimates: Sequence[StageEstimate], seeds: int) -> str:
    """The estimate as a Markdown table, with totals (the language-model stages
    times ``seeds``)."""
    header = [
        "stage",
        "examples",
        "tokens",
        "steps",
        "longest",
        "parameters",
        "FLOPs",
        "activations, fp32",
        "activations, bf16 + flash",
        "NAR memory",
    ]
    rows = [
        [
            row.stage,
            f"{row.examples:,}",
            _count(row.tokens),
            _count(row.steps),
            row.longest,
            f"{row.parameters:,}",
            f"{row.flops:.2e}",
            _memory(row.activation_bytes),
            _memory(row.fused_activation_bytes),
            _memory(row.memory_bytes),
        ]
        for row in estimates
    ]
    lines = markdown_table(header, rows)
    total = sum(r.flops * (1 if r.stage == "nar" else seeds) for r in estimates)
    lines.append("")
    lines.append(
        f"Total: {total:.2e} FLOPs for {seeds} seed(s) (the NAR once, every language "
        "model and its evaluation per seed). Activations and NAR memory: one step of the "
        "largest batch (micro-batch x longest sequence; the NAR's largest graphs run for "
        "their most steps)."
    )
    return "\n".join(lines) + "\n"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _memory(value: float | None) -> str:
    return "-" if not value else format_bytes(value)


__all__ = [
    "SAMPLES",
    "StageEstimate",
    "activation_bytes",
    "estimate",
    "estimate_table",
    "lm_forward_flops",
    "memory_bytes",
    "nar_activation_bytes",
    "processor_flops",
    "text_cells",
    "trainable_parameters",
    "xattn_forward_flops",
]
