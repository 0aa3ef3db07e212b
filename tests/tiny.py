"""The tiny configs and models the tests use, defined once (HF ModelTester style).

Models: a NAR of width 8 (:func:`nar_config`, :func:`nar`), a decoder LM of width
32 with 2 layers (:func:`lm_config`, :func:`lm`) and the TransNAR of the two
(:func:`transnar`, saved by :func:`saved_transnar`), all random.

Runs: :data:`NAR_TRAIN` and :data:`LM_TRAIN` make the ``tiny`` presets of
``transnar nar train`` and ``transnar lm train`` runs of about a second (6 steps,
validation every 2); :data:`PIPELINE` is the two as the ``nar`` and ``lm``
sections of ``transnar run``'s ``tiny`` preset, a pipeline of a few seconds. The
overrides are full dotted keys, so each works on its trainer's command line too.

Import it as ``from tests import tiny`` and call ``tiny.nar(...)``, ``tiny.lm(...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from transnar import pipeline
from transnar.lm import CharTokenizer, DecoderLM, LMConfig
from transnar.model import TransNAR, TransNARConfig
from transnar.nar import NAR, NARConfig
from transnar.training import lm_config as lm_presets
from transnar.training import nar_config as nar_presets
from transnar.training.nar_checkpoint import save_nar_checkpoint
from transnar.training.options import TrainOptions

ALGORITHMS = ("bfs", "insertion_sort")
"""The algorithms of the tiny TransNAR and of the trainers' ``tiny`` presets."""

NAR_HIDDEN = 8
NAR_TRIPLET_FTS = 4

# --- models ----------------------------------------------------------------------------


def nar_config(algorithms: Sequence[str] = ("bfs",), **overrides) -> NARConfig:
    """A NAR config small enough for fast CPU tests."""
    settings = {"hidden_dim": NAR_HIDDEN, "nb_triplet_fts": NAR_TRIPLET_FTS, **overrides}
    return NARConfig(algorithms=tuple(algorithms), **settings)


def nar(algorithms: Sequence[str] = ("bfs",), seed: int = 0, double: bool = False, **overrides):
    """A freshly initialised tiny NAR (float64 when ``double``)."""
    torch.manual_seed(seed)
    model = NAR(nar_config(algorithms, **overrides))
    return model.double() if double else model


def lm_config(**overrides) -> LMConfig:
    """A decoder LM config of width 32, 2 layers, 4 heads, the CLRS-Text vocabulary."""
    options = {"vocab_size": 79, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_position": 256}
    return LMConfig(**{**options, **overrides})


def lm(seed: int = 0, tokenizer: CharTokenizer | None = None, **overrides) -> DecoderLM:
    """A tiny LM in eval mode, initialised from ``seed``.

    Pass a larger ``init_std`` (e.g. 0.3) for greedy outputs that depend on
    the context rather than repeating one token.
    """
    torch.manual_seed(seed)
    return DecoderLM(lm_config(**overrides), tokenizer=tokenizer).eval()


def transnar(
    use_nar: bool = True, algorithms: Sequence[str] = ALGORITHMS, seed: int = 0, **config
) -> TransNAR:
    """A tiny random TransNAR (or, without ``use_nar``, baseline) in eval mode;
    ``config``: more :class:`TransNARConfig` fields (``memory=...``). Its LM has
    512 positions, room for the evaluation tests' questions and answers."""
    torch.manual_seed(seed)
    settings = lm_config(max_position=512)
    decoder = DecoderLM(settings, tokenizer=CharTokenizer())
    if not use_nar:
        return TransNAR(TransNARConfig(lm=settings, use_nar=False, **config), decoder).eval()
    reasoner = NAR(nar_config(algorithms))
    full = TransNARConfig(lm=settings, nar_node_dim=NAR_HIDDEN, nar_edge_dim=NAR_HIDDEN, **config)
    return TransNAR(full, decoder, reasoner).eval()


def talkative_transnar(use_nar: bool = True) -> TransNAR:
    """A tiny TransNAR (or baseline) with large random weights: it runs on past
    any answer, and its tokens depend on their positions (and the graph memory)."""
    model = transnar(use_nar=use_nar)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return model


def saved_transnar(directory: Path, use_nar: bool = True, **options) -> Path:
    """``directory`` holding a tiny TransNAR (or baseline) saved with ``save_pretrained``."""
    transnar(use_nar, **options).save_pretrained(directory)
    return directory


def write_nar_checkpoint(path: Path, algorithms: Sequence[str] = ALGORITHMS, seed: int = 0):
    """A random (untrained) tiny NAR saved as a NAR checkpoint; returns ``path``."""
    torch.manual_seed(seed)
    config = nar_config(algorithms)
    run_config = nar_presets.NARTrainConfig(
        config, nar_presets.NARDataOptions(train_sizes=(4,)), TrainOptions(steps=1)
    )
    save_nar_checkpoint(path, run_config, 0, NAR(config).state_dict())
    return path


# --- runs: overrides of the tiny presets ------------------------------------------------

NAR_TRAIN = (
    "nar.hidden_dim=8",
    "nar.nb_triplet_fts=4",
    "data.val_count=8",
    "data.test_count=8",
    "train.steps=6",
    "train.batch_size=4",
    "train.eval_every=2",
    "train.eval_batch_size=8",
    "train.threads=1",
)
"""``transnar nar train --preset tiny`` in about a second: 6 steps, validation every 2."""

LM_TRAIN = (
    "model.lm.d_model=32",
    "data.train_count=8",
    "data.val_count=4",
    "data.test_count=2",
    "optim.warmup_steps=2",
    "train.steps=6",
    "train.batch_size=4",
    "train.eval_every=2",
    "train.eval_batch_size=8",
    "train.threads=1",
)
"""``transnar lm train --preset tiny`` in about half a second: 6 steps of 4 examples,
validation every 2."""

PIPELINE = (*(f"nar.{o}" for o in NAR_TRAIN), *(f"lm.{o}" for o in LM_TRAIN))
"""``transnar run --preset tiny`` in a few seconds: the NAR of :data:`NAR_TRAIN`,
language models of :data:`LM_TRAIN`, evaluations of 2 questions per cell."""


def nar_train_config(*overrides: str):
    """The ``tiny`` NAR training preset with :data:`NAR_TRAIN` and ``overrides``."""
    return nar_presets.apply_overrides(nar_presets.preset("tiny"), [*NAR_TRAIN, *overrides])


def lm_train_config(nar_checkpoint: Path | None, *overrides: str):
    """The ``tiny`` LM training preset with :data:`LM_TRAIN` and ``overrides``:
    TransNAR with ``nar_checkpoint``, else the baseline."""
    source = [f"nar.checkpoint={nar_checkpoint}"] if nar_checkpoint else ["use_nar=false"]
    return lm_presets.apply_overrides(lm_presets.preset("tiny"), [*LM_TRAIN, *source, *overrides])


def pipeline_config(*overrides: str):
    """The ``tiny`` preset of ``transnar run`` with :data:`PIPELINE` and ``overrides``."""
    return pipeline.apply_overrides(pipeline.preset("tiny"), [*PIPELINE, *overrides])
