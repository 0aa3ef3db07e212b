"""Language-model throughput on CPU: the baseline against TransNAR, at two sizes.

For random-weight models built here (no trained run needed), on CLRS-Text
batches of one algorithm and size (the training and evaluation batches):

- **training**: tokens per second of a full step (forward, backward, AdamW
  step) over the batch's real tokens; for TransNAR the step includes the
  frozen NAR (features built from the trajectories, then ``graph_memory``
  under no-grad), and the NAR's share of the step is reported (features and
  ``graph_memory``, against the rest: the LM, the cross-attention, backward
  and the optimizer);
- **decoding**: generated tokens per second of greedy batched decoding
  (:func:`transnar.lm.generate`) with the KV cache and without it (the whole
  sequence recomputed every step), the prompt's prefill included. Every
  sequence generates exactly ``--new-tokens`` tokens (the stop text and the
  special tokens are disabled), so both paths do the same work.

Every measurement runs the models in rounds, one call of each per round, so that
all see the same machine load: on a shared machine read the ratios between rows.

- **against Hugging Face**: training tokens/s of our ``DecoderLM`` and of a stock
  ``transformers`` ``LlamaForCausalLM`` of the same shape (width, depth, heads,
  SwiGLU width, tied embeddings, RMSNorm eps, RoPE base, SDPA attention), on the
  same batch of random token ids and random positions (``--llama-batch`` x
  ``--llama-tokens``, the loss on the second half), their steps interleaved so
  that both see the same machine load; skipped without ``transformers``.

Sizes: ``small`` (d_model 128, 4 layers, 4 heads) and ``base`` (256, 6, 8: the
``LMConfig`` default); TransNAR adds a gated cross-attention block after every
layer, reading a triplet-GMPNN NAR of width 128 (the paper's; ``--nar-width``).

The soft student (``--soft-student``): the baseline learning a TransNAR's
next-token distributions (token-level distillation,
:func:`transnar.training.lm_step.distilled_loss`): its training step runs the
frozen teacher (features, NAR and forward pass, no-grad) besides its own;
decoding is the baseline's (no teacher, no NAR).

Memory modes (``--memories``): TransNAR reading the NAR's final states (``final``,
the paper's), one step per block (``lockstep``), every step (``all``) or the steps
pooled (``pooled``); each row gives the memory the blocks read (nodes and edges of
the batch, KiB). A random NAR's own termination is arbitrary, so ``--nar-steps
oracle`` runs it for each instance's true number of steps (the cost of a NAR that
learned when to stop).

    python benchmarks/lm.py                               # bfs at size 12, batch 16
    python benchmarks/lm.py --algorithm insertion_sort --threads 2 --out results/
    python benchmarks/lm.py --sizes small --memories final,lockstep,all,pooled \
        --nar-steps oracle --llama-repeats 0 --name memory-modes --out results/
    python benchmarks/lm.py --sizes small --soft-student --llama-repeats 0
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _results import machine, save
from transnar.clrs.text.rows import examples
from transnar.lm import CharTokenizer, DecoderLM, LMConfig, generate, pad_positions
from transnar.lm import random_positions as draw_positions
from transnar.model import TransNAR, TransNARConfig
from transnar.model.config import MEMORY_MODES
from transnar.nar import NAR, Features, NARConfig
from transnar.training import TeacherSource
from transnar.training.lm_dataset import LMBatch
from transnar.training.lm_step import distilled_loss
from transnar.training.lm_teacher import Teacher

SIZES = {
    "small": {"d_model": 128, "n_layers": 4, "n_heads": 4},
    "base": {"d_model": 256, "n_layers": 6, "n_heads": 8},
}
NAR_WIDTH = 128
SOFT_STUDENT = "student (distributions)"


def build(
    size: str,
    memory: str | None,
    algorithm: str,
    nar_steps: str = "learned",
    nar_width: int = NAR_WIDTH,
    seed: int = 0,
) -> TransNAR:
    """A random-weight TransNAR reading ``memory`` (a memory mode) of a NAR of
    ``nar_width``, or with ``memory=None`` the baseline, of one of :data:`SIZES`."""
    torch.manual_seed(seed)
    lm_config = LMConfig(**SIZES[size])
    lm = DecoderLM(lm_config, tokenizer=CharTokenizer())
    if memory is None:
        return TransNAR(TransNARConfig(lm=lm_config, use_nar=False), lm)
    nar = NAR(NARConfig(algorithms=(algorithm,), hidden_dim=nar_width))
    config = TransNARConfig(
        lm=lm_config,
        nar_node_dim=nar_width,
        nar_edge_dim=nar_width,
        memory=memory,
        nar_steps=nar_steps,
    )
    return TransNAR(config, lm, nar)


def model_name(memory: str | None) -> str:
    """``baseline``, ``TransNAR`` (final memory) or ``TransNAR (lockstep)``, ..."""
    if memory is None:
        return "baseline"
    return "TransNAR" if memory == "final" else f"TransNAR ({memory})"


def batch_of(algorithm: str, size: int, count: int) -> tuple[list[dict], list]:
    """CLRS-Text rows and their trajectories (the test stream, seed 2)."""
    pairs = list(examples(algorithm, size, 2, count))
    return [row for row, _ in pairs], [t for _, t in pairs]


def interleaved(
    calls: dict[str, Callable[[], None]],
    min_time: float,
    min_repeats: int = 3,
    warm_up: bool = True,
) -> dict[str, list[float]]:
    """Seconds of each call of every function, called in rounds (one call of
    each per round, so that all see the same machine load), after a warm-up
    call each, until each has ``min_time`` seconds and ``min_repeats`` calls."""
    if warm_up:
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    while any(sum(t) < min_time or len(t) < min_repeats for t in times.values()):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


class TrainingStep:
    """One model's training step (forward, backward, AdamW step) on one batch,
    and for TransNAR the time its frozen NAR takes in each call; with a
    ``teacher``, the step of token-level distillation (the teacher's features,
    NAR and forward pass included)."""

    def __init__(
        self, model: TransNAR, rows: list[dict], trajectories: list, teacher: Teacher | None = None
    ):
        self.model = model.train()
        self.teacher = teacher
        self.trajectories = trajectories
        tokenizer = model.tokenizer
        encoded = [tokenizer.encode_example(r["question"], r["answer"]) for r in rows]
        self.ids, self.mask = tokenizer.pad([e[0] for e in encoded], padding_side="right")
        self.labels, _ = tokenizer.pad([e[1] for e in encoded], padding_side="right", value=-100)
        self.lengths = self.mask.sum(dim=1)  # (B,)
        self.optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-4)
        self.feature_times: list[float] = []
        self.nar_times: list[float] = []

    def __call__(self) -> None:
        model, memory = self.model, None
        if model.nar is not None:
            start = time.perf_counter()
            features = Features.from_trajectories(self.trajectories)
            middle = time.perf_counter()
            memory = model.graph_memory(features)
            self.feature_times.append(middle - start)
            self.nar_times.append(time.perf_counter() - middle)
        ids = self.ids
        positions = draw_positions(
            ids.shape[0], ids.shape[1], model.max_position, lengths=self.lengths
        )
        positions = pad_positions(positions, self.mask)
        if self.teacher is None:
            loss = model(ids, positions=positions, labels=self.labels, memory=memory).loss
        else:
            features = Features.from_trajectories(self.trajectories)
            indices = np.arange(ids.shape[0])
            batch = LMBatch("", 0, indices, ids, self.labels, self.mask, features)
            loss = distilled_loss(model, self.teacher, batch, positions, None, positions).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def result(self, times: list[float]) -> dict:
        """Tokens/s of the timed calls; for TransNAR the NAR's share, its steps
        and the size of the memory its blocks read."""
        seconds = statistics.median(times)
        tokens = int(self.lengths.sum())
        result = {
            "batch": self.ids.shape[0],
            "tokens": tokens,
            "padded_tokens": self.ids.numel(),
            "step_ms": 1000 * seconds,
            "tokens_per_s": tokens / seconds,
        }
        if self.nar_times:  # the warm-up call is not timed
            features = statistics.median(self.feature_times[1:])
            nar = statistics.median(self.nar_times[1:])
            result["features_ms"] = 1000 * features
            result["nar_ms"] = 1000 * nar
            result["nar_share"] = (features + nar) / seconds
            memory = self.model.graph_memory(Features.from_trajectories(self.trajectories))
            result["nar_steps"] = int(memory.steps.max())
            result["memory_kib"] = (
                sum(t.numel() * t.element_size() for t in (memory.nodes, memory.edges)) / 1024
            )
        return result


class NoStop(nn.Module):
    """The model with its special tokens banned, so that greedy decoding
    always generates the full ``max_new_tokens`` (no ``<eos>``)."""

    def __init__(self, model: TransNAR, banned: list[int]):
        super().__init__()
        self.model = model
        self.banned = banned

    def forward(self, *args, **kwargs):
        output = self.model(*args, **kwargs)
        output.logits[..., self.banned] = float("-inf")
        return output

    def make_cache(self, capacity: int = 0):
        return self.model.make_cache(capacity)

    @property
    def max_position(self) -> int:
        return self.model.max_position

    def uses_random_positions(self) -> bool:
        return self.model.uses_random_positions()


class Decoding:
    """Greedy batched decoding of one batch of questions by one model, with
    the KV cache or without it; every sequence generates ``new_tokens``."""

    def __init__(self, model: TransNAR, rows: list[dict], trajectories: list, new_tokens: int):
        self.tokenizer = tokenizer = model.tokenizer
        self.prompts = [r["question"] for r in rows]
        self.new_tokens = new_tokens
        self.model = NoStop(model.eval(), list(range(len(tokenizer.special_tokens)))).eval()
        self.memory = {}
        if model.nar is not None:
            self.memory["memory"] = model.graph_memory(Features.from_trajectories(trajectories))

    def run(self, use_cache: bool) -> None:
        out = generate(
            self.model,
            self.tokenizer,
            self.prompts,
            self.new_tokens,
            stop="",
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(0),
            **self.memory,
        )
        assert sum(out.num_tokens) == self.generated, out.num_tokens

    @property
    def generated(self) -> int:
        return len(self.prompts) * self.new_tokens

    def result(self, cache_times: list[float], no_cache_times: list[float]) -> dict:
        """Generated tokens/s with and without the cache, from the timed runs."""
        tokenizer = self.tokenizer
        result = {"prompt_tokens": max(len(tokenizer.encode(p)) + 1 for p in self.prompts)}
        for name, times in (("cache", cache_times), ("no_cache", no_cache_times)):
            seconds = statistics.median(times)
            result[f"{name}_ms"] = 1000 * seconds
            result[f"{name}_tokens_per_s"] = self.generated / seconds
        result["cache_speedup"] = result["no_cache_ms"] / result["cache_ms"]
        return result


def measure(
    models: dict[str, TransNAR],
    rows: list[dict],
    trajectories: list,
    new_tokens: int,
    min_time: float,
    teachers: dict[str, Teacher] | None = None,
) -> dict[str, dict]:
    """Per model, ``train`` (:meth:`TrainingStep.result`; a model of ``teachers``
    learning its teacher's distributions) and ``decode`` (:meth:`Decoding.result`),
    every measurement interleaved across the models."""
    teachers = teachers or {}
    steps = {
        name: TrainingStep(model, rows, trajectories, teachers.get(name))
        for name, model in models.items()
    }
    train_times = interleaved(steps, min_time)
    decoders = {name: Decoding(m, rows, trajectories, new_tokens) for name, m in models.items()}
    cache_times = interleaved({n: partial(d.run, True) for n, d in decoders.items()}, min_time)
    # without the cache, one call is long: no warm-up (the cached runs warmed up)
    no_cache_times = interleaved(
        {n: partial(d.run, False) for n, d in decoders.items()}, min_time, 1, warm_up=False
    )
    return {
        name: {
            "train": steps[name].result(train_times[name]),
            "decode": decoders[name].result(cache_times[name], no_cache_times[name]),
        }
        for name in models
    }


def against_llama(size: str, batch: int, tokens: int, repeats: int) -> dict | None:
    """Training tokens/s of ``DecoderLM`` and of ``LlamaForCausalLM`` of the same
    shape, steps interleaved (None without ``transformers``)."""
    try:
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        return None
    config = LMConfig(**SIZES[size], max_position=max(1024, tokens))
    torch.manual_seed(0)
    ours = DecoderLM(config)
    llama_config = LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.d_model,
        intermediate_size=config.mlp_hidden,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_heads,
        max_position_embeddings=config.max_position,
        rms_norm_eps=config.norm_eps,
        rope_theta=config.rope_base,
        tie_word_embeddings=config.tie_embeddings,
        attention_bias=False,
        mlp_bias=False,
    )
    llama_config._attn_implementation = "sdpa"
    llama = LlamaForCausalLM(llama_config)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, config.vocab_size, (batch, tokens), generator=generator)
    labels = ids.clone()
    labels[:, : tokens // 2] = -100  # an answer-only loss, as in training
    positions = draw_positions(batch, tokens, config.max_position, generator=generator)
    steps = {}
    for name, model, call in (
        ("ours", ours, lambda: ours(ids, positions=positions, labels=labels)),
        ("llama", llama, lambda: llama(input_ids=ids, position_ids=positions, labels=labels)),
    ):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step(call=call, optimizer=optimizer) -> None:
            call().loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        steps[name] = step
    times = interleaved(steps, min_time=0.0, min_repeats=repeats)
    ours_s, llama_s = (statistics.median(times[name]) for name in ("ours", "llama"))
    return {
        "size": size,
        "batch": batch,
        "tokens": tokens,
        "repeats": repeats,
        "ours_tokens_per_s": batch * tokens / ours_s,
        "llama_tokens_per_s": batch * tokens / llama_s,
        "ratio": llama_s / ours_s,
        "transformers_version": __import__("transformers").__version__,
    }


def llama_markdown(rows: list[dict]) -> str:
    lines = [
        "",
        "Training against a stock Hugging Face `LlamaForCausalLM` of the same shape "
        "(steps interleaved; ratio = our tokens/s over Llama's):",
        "",
        "| size | batch x tokens | ours tokens/s | Llama tokens/s | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['batch']} x {r['tokens']} | {r['ours_tokens_per_s']:,.0f} "
            f"| {r['llama_tokens_per_s']:,.0f} | {r['ratio']:.2f}x |"
        )
    return "\n".join(lines)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"Batch of {meta['batch']} `{meta['algorithm']}` questions at size {meta['size']}; "
        f"{meta['new_tokens']} new tokens per sequence.",
        "",
        "| model | size | parameters | train tokens/s | step ms | features + NAR ms | NAR share "
        "| NAR steps | memory KiB | decode tokens/s (cache) | decode tokens/s (no cache) "
        "| cache speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t, d = r["train"], r["decode"]
        nar = f"{t['features_ms']:.1f} + {t['nar_ms']:.1f}" if "nar_ms" in t else "-"
        share = f"{100 * t['nar_share']:.1f}%" if "nar_share" in t else "-"
        steps = f"{t['nar_steps']}" if "nar_steps" in t else "-"
        kib = f"{t['memory_kib']:,.0f}" if "memory_kib" in t else "-"
        lines.append(
            f"| {r['model']} | {r['size']} | {r['parameters']:,} | {t['tokens_per_s']:,.0f} "
            f"| {t['step_ms']:.1f} | {nar} | {share} | {steps} | {kib} "
            f"| {d['cache_tokens_per_s']:,.0f} | {d['no_cache_tokens_per_s']:,.0f} "
            f"| {d['cache_speedup']:.1f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithm", default="bfs", help="one CLRS-30 algorithm")
    parser.add_argument("--size", type=int, default=12, help="problem size (default 12)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sizes", default="small,base", help=f"of {', '.join(SIZES)}")
    parser.add_argument("--new-tokens", type=int, default=32, help="generated per sequence")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--llama-batch", type=int, default=32, help="batch of the Llama comparison")
    parser.add_argument("--llama-tokens", type=int, default=256, help="its sequence length")
    parser.add_argument(
        "--llama-repeats", type=int, default=6, help="its timed steps per model (0: no comparison)"
    )
    parser.add_argument(
        "--memories",
        default="final",
        help=f"TransNAR's memory modes, one row each (of {', '.join(MEMORY_MODES)}; default final)",
    )
    parser.add_argument(
        "--nar-steps",
        choices=("learned", "oracle"),
        default="learned",
        help="the NAR's own termination (default) or each instance's true number of steps",
    )
    parser.add_argument(
        "--nar-width", type=int, default=NAR_WIDTH, help=f"the NAR's width (default {NAR_WIDTH})"
    )
    parser.add_argument(
        "--soft-student",
        action="store_true",
        help="add the baseline learning TransNAR's (final memory) distributions",
    )
    parser.add_argument("--name", default="lm", help="the files' name (default lm: lm.json, lm.md)")
    parser.add_argument("--out", type=Path, help="directory for NAME.json and NAME.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = args.sizes.split(",")
    memories = args.memories.split(",")
    if unknown := sorted(set(memories) - set(MEMORY_MODES)):
        parser.error(
            f"unknown memory mode(s) {', '.join(unknown)}; known: {', '.join(MEMORY_MODES)}"
        )
    rows, trajectories = batch_of(args.algorithm, args.size, args.batch_size)
    meta = machine(
        algorithm=args.algorithm,
        size=args.size,
        batch=args.batch_size,
        new_tokens=args.new_tokens,
        min_time=args.min_time,
        nar_width=args.nar_width,
        nar_steps=args.nar_steps,
    )
    results = []
    for size in sizes:
        kinds = (None, *memories)
        models = {
            model_name(m): build(size, m, args.algorithm, args.nar_steps, args.nar_width)
            for m in kinds
        }
        teachers = {}
        if args.soft_student:
            kinds = (*kinds, None)
            models[SOFT_STUDENT] = build(size, None, args.algorithm)
            teacher = build(size, "final", args.algorithm, args.nar_steps, args.nar_width)
            teachers[SOFT_STUDENT] = Teacher(teacher.eval(), TeacherSource("random"))
        measured = measure(models, rows, trajectories, args.new_tokens, args.min_time, teachers)
        for memory, (name, model) in zip(kinds, models.items(), strict=True):
            row = {
                "model": name,
                "memory": memory,
                "size": size,
                **SIZES[size],
                "parameters": sum(p.numel() for p in model.trainable_parameters()),
                **measured[name],
            }
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    llama = [
        row
        for size in sizes
        if args.llama_repeats > 0
        and (row := against_llama(size, args.llama_batch, args.llama_tokens, args.llama_repeats))
    ]
    table = markdown(results, meta) + ("\n" + llama_markdown(llama) if llama else "")
    print(table)
    save(args.out, args.name, {**meta, "against_llama": llama}, results, table)


if __name__ == "__main__":
    main()
