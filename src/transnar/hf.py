"""The Hugging Face backend, now :mod:`transnar.lm.hf`.

This name stays importable until the training package imports
:mod:`transnar.lm.hf` directly; then this module goes.
"""

from transnar.lm.hf import HFCache, HFCausalLM, HFTokenizer, pretrained_lm_config

__all__ = ["HFCache", "HFCausalLM", "HFTokenizer", "pretrained_lm_config"]
