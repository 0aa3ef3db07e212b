"""The LM config (transnar.lm.config): validation, dict round trip, derived widths."""

from __future__ import annotations

import json

import pytest

from tests import tiny
from transnar.lm import CharTokenizer, LMConfig


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"d_model": 30, "n_heads": 4}, "divisible"),
        ({"d_model": 36, "n_heads": 12}, "even"),
        ({"n_layers": 0}, "n_layers"),
        ({"vocab_size": 2.5}, "vocab_size"),
        ({"mlp": "relu"}, "mlp"),
        ({"dropout": 1.0}, "dropout"),
        ({"d_ff": 0}, "d_ff"),
        ({"rope_base": 0.0}, "rope_base"),
        ({"max_position": True}, "max_position"),
    ],
)
def test_config_is_validated(overrides, match):
    with pytest.raises(ValueError, match=match):
        tiny.lm_config(**overrides)


def test_config_dict_round_trip():
    config = tiny.lm_config(mlp="gelu", d_ff=50, tie_embeddings=False)
    assert LMConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"unknown LM config key\(s\) \['width'\]"):
        LMConfig.from_dict({**config.to_dict(), "width": 3})
    assert LMConfig().mlp_hidden == 704 and tiny.lm_config(mlp="gelu").mlp_hidden == 128
    assert LMConfig().vocab_size == len(CharTokenizer())
