"""A tiny LM overfits a handful of CLRS-Text examples (answer-only loss, random positions)."""

from __future__ import annotations

import pytest
import torch

from tests import tiny
from transnar.clrs.text.rows import examples
from transnar.lm import IGNORE_INDEX, DecoderLM, generate

ALGORITHMS = ("insertion_sort", "bfs", "binary_search", "activity_selector")


def _rows():
    return [row for algorithm in ALGORITHMS for row, _ in examples(algorithm, 4, 0, 2)]


def _train(tokenizer, rows, steps: int, lr: float) -> tuple[DecoderLM, list[float]]:
    pairs = [tokenizer.encode_example(row["question"], row["answer"]) for row in rows]
    ids, _ = tokenizer.pad([p[0] for p in pairs], padding_side="right")
    labels, _ = tokenizer.pad([p[1] for p in pairs], padding_side="right", value=IGNORE_INDEX)
    torch.manual_seed(0)  # weights and the random positions of every step
    model = DecoderLM(tiny.lm_config(), tokenizer=tokenizer).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = model(ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def test_loss_drops_on_a_handful_of_examples(tokenizer):
    _, losses = _train(tokenizer, _rows(), steps=150, lr=1e-2)
    assert losses[0] > 3.5  # about log(79) at init
    assert max(losses[-10:]) < min(0.5, losses[0] / 8)


@pytest.mark.slow
def test_overfit_save_load_and_generate_the_answers(tokenizer, tmp_path):
    rows = _rows()
    model, losses = _train(tokenizer, rows, steps=500, lr=3e-3)
    assert max(losses[-10:]) < 0.15
    model.save_pretrained(tmp_path)
    loaded = DecoderLM.from_pretrained(tmp_path)
    result = generate(
        loaded,
        loaded.tokenizer,
        [row["question"] for row in rows],
        60,
        generator=torch.Generator().manual_seed(0),
    )
    exact = sum(text == row["answer"] for text, row in zip(result.texts, rows, strict=True))
    assert exact >= len(rows) // 2
    assert all(result.stopped)
