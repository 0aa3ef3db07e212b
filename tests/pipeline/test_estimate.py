"""``transnar run --estimate``: the cost formulas against torch's FLOP counter,
and the estimate of the presets."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from tests.cli.helpers import run_cli
from transnar.arms import get_arm
from transnar.lm import DecoderLM, LMConfig
from transnar.lm.tokenizer import CharTokenizer
from transnar.model import GatedCrossAttentionBlock, TransNAR, TransNARConfig
from transnar.nar.config import NARConfig
from transnar.nar.model import NAR
from transnar.nar.processors import Processor
from transnar.pipeline.config import apply_overrides, preset
from transnar.pipeline.estimate import (
    activation_bytes,
    estimate,
    lm_forward_flops,
    memory_bytes,
    processor_flops,
    trainable_parameters,
    xattn_forward_flops,
)
from transnar.pipeline.run import build_stages
from transnar.training.lm_model import build_model


def counted(function) -> int:
    """FLOPs of ``function()``, attention by the math kernel (its matmuls are
    counted; the CPU's fused kernel is not)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


@pytest.mark.parametrize("mlp", ["swiglu", "gelu"])
def test_lm_flops_are_the_flop_counters(mlp):
    config = LMConfig(vocab_size=79, d_model=32, n_layers=2, n_heads=4, mlp=mlp)
    model = DecoderLM(config).eval()
    ids = torch.randint(0, 79, (1, 23))
    assert counted(lambda: model(ids)) == lm_forward_flops(config, 23)


def test_cross_attention_flops_are_the_flop_counters():
    config = TransNARConfig(lm=LMConfig(vocab_size=79, d_model=32, n_layers=2, n_heads=4))
    config = dataclasses.replace(config, nar_node_dim=16, nar_edge_dim=8, xattn_every=2)
    block = GatedCrossAttentionBlock(config)
    n, t = 5, 11
    x = torch.randn(1, t, 32)
    nodes, edges = torch.randn(1, n, 16), torch.randn(1, n * n, 8)
    masks = torch.ones(1, n, dtype=torch.bool), torch.ones(1, n * n, dtype=torch.bool)
    flops = counted(lambda: block(x, nodes, masks[0], edges, masks[1]))
    assert len(config.xattn_layers()) == 1
    assert flops == xattn_forward_flops(config, t, n)


@pytest.mark.parametrize("processor", ["triplet_gmpnn", "mpnn", "gpgn"])
def test_processor_flops_are_the_flop_counters(processor):
    config = NARConfig(algorithms=("bfs",), hidden_dim=16, nb_triplet_fts=4, processor=processor)
    layer = Processor(config)
    n, h = 6, 16
    args = (
        torch.randn(1, n, h),
        torch.randn(1, n, n, h),
        torch.randn(1, h),
        torch.ones(1, n, n, dtype=torch.bool),
        torch.randn(1, n, h),
        torch.ones(1, n, dtype=torch.bool),
    )
    assert counted(lambda: layer(*args)) == processor_flops(config, n)


@pytest.mark.parametrize(
    ("d_model", "layers", "tokens", "batch"), [(64, 2, 100, 4), (96, 3, 150, 2)]
)
def test_activation_bytes_are_what_autograd_keeps(d_model, layers, tokens, batch):
    """Within 10% of the bytes of the tensors saved for backward (weights excluded)."""
    config = LMConfig(vocab_size=79, d_model=d_model, n_layers=layers, n_heads=4)
    model = DecoderLM(config).train()
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    ids = torch.randint(0, 79, (batch, tokens))
    with sdpa_kernel(SDPBackend.MATH), torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        model(ids).logits.log_softmax(-1).mean()
    estimated = activation_bytes(TransNARConfig(lm=config, use_nar=False), batch, tokens, 4)
    assert estimated == pytest.approx(sum(saved.values()), rel=0.1)


def test_parameters_are_the_models():
    lm = LMConfig(vocab_size=79, d_model=32, n_layers=2, n_heads=4)
    baseline = TransNARConfig(lm=lm, use_nar=False)
    assert trainable_parameters(baseline) == sum(p.numel() for p in DecoderLM(lm).parameters())
    config = TransNARConfig(lm=lm, nar_node_dim=16, nar_edge_dim=16)
    model = TransNAR(dataclasses.replace(config, use_nar=False), DecoderLM(lm))
    blocks = sum(p.numel() for p in GatedCrossAttentionBlock(config).parameters())
    assert trainable_parameters(config) == sum(p.numel() for p in model.parameters()) + 2 * blocks


@pytest.mark.parametrize(
    "arm", ["baseline", "transnar", "transnar-lockstep", "transnar-all", "transnar-pooled"]
)
def test_an_arms_parameters_are_those_of_the_model_its_pipeline_trains(arm):
    """Every module TransNAR adds counts: the cross-attention at the NAR's widths,
    and the step encodings of the modes that read every step."""
    config = preset("tiny")  # the NAR is narrower than the cross-attention's default
    assert config.nar.nar.hidden_dim != TransNARConfig.nar_node_dim
    config = dataclasses.replace(config, arms=tuple(dict.fromkeys(("baseline", arm))))
    rows = {row.stage: row for row in estimate(config, samples=2)}
    model_config = dataclasses.replace(config.lm.model, **get_arm(arm).model_changes())
    lm_config = dataclasses.replace(config.lm, model=model_config)
    nar = NAR(config.nar.nar) if model_config.use_nar else None
    model = build_model(lm_config, CharTokenizer(), nar)
    trained = sum(p.numel() for p in model.trainable_parameters())
    assert rows[f"{arm}-s*"].parameters == trained


def test_the_evaluation_memory_of_the_step_modes_holds_every_step():
    config = dataclasses.replace(preset("tiny"), arms=("transnar", "transnar-all"))
    rows = {row.stage: row for row in estimate(config, samples=2)}
    assert rows["eval-transnar-all-s*"].memory_bytes > rows["eval-transnar-s*"].memory_bytes


def test_final_memory_does_not_grow_with_the_nar_steps():
    config = TransNARConfig(lm=LMConfig(vocab_size=79, d_model=32, n_layers=2, n_heads=4))
    assert memory_bytes(config, 4, 10, 1) == memory_bytes(config, 4, 10, 90)
    lockstep = dataclasses.replace(config, memory="lockstep")
    assert memory_bytes(lockstep, 4, 10, 90) == 90 * memory_bytes(lockstep, 4, 10, 1)


def test_estimate_of_the_tiny_preset_has_every_stage_and_consistent_counts():
    config = preset("tiny")
    rows = {row.stage: row for row in estimate(config, samples=2)}
    assert list(rows) == [
        "nar",
        *(f"{prefix}{arm}-s*" for arm in config.arms for prefix in ("", "eval-")),
    ]
    data = config.lm.data
    cells = len(data.algorithms) * len(data.train_sizes)
    assert rows["baseline-s*"].examples == cells * data.train_count
    assert rows["transnar-s*"].steps == rows["baseline-s*"].steps
    assert rows["transnar-s*"].flops > rows["baseline-s*"].flops
    assert rows["transnar-s*"].parameters == rows["control-s*"].parameters
    assert rows["baseline-s*"].memory_bytes is None and rows["transnar-s*"].memory_bytes > 0
    tests = len(data.algorithms) * len(data.test_sizes) * data.test_count
    assert rows["eval-transnar-s*"].examples == tests
    nar = config.nar.train
    assert rows["nar"].steps == nar.steps
    assert rows["nar"].examples == nar.steps * nar.batch_size * len(config.nar.nar.algorithms)


def test_a_baseline_only_run_still_estimates_the_nar_it_trains():
    config = apply_overrides(preset("tiny"), ["arms=baseline"])
    stages = [row.stage for row in estimate(config, samples=2)]
    assert stages[0] == "nar"  # build_stages trains the NAR whatever the arms
    assert "nar" in [stage.name for stage in build_stages(config, Path("run"))]


def test_more_epochs_cost_proportionally_more():
    config = preset("tiny")
    longer = apply_overrides(config, [f"lm.optim.epochs={2 * config.lm.optim.epochs}"])
    short = {row.stage: row for row in estimate(config, samples=2)}
    long = {row.stage: row for row in estimate(longer, samples=2)}
    assert long["baseline-s*"].flops == pytest.approx(2 * short["baseline-s*"].flops)
    assert long["baseline-s*"].tokens == pytest.approx(2 * short["baseline-s*"].tokens, rel=1e-6)


def test_cli_estimate_prints_the_table_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, err = run_cli(["run", "--estimate", "--out", str(out)], capsys)
    assert status == 0, err
    assert re.search(r"\| stage +\| +examples \| +tokens \| +steps \|", stdout)
    assert re.search(r"\| eval-transnar-s\* +\|", stdout) and "Total:" in stdout
    assert not out.exists()
