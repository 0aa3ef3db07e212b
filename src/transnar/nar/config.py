"""Configuration of the Neural Algorithmic Reasoner."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from transnar._config import check_keys
from transnar.clrs.specs import get_spec

PROCESSORS = (
    "triplet_gmpnn",
    "triplet_mpnn",
    "gmpnn",
    "mpnn",
    "triplet_gpgn",
    "triplet_pgn",
    "gpgn",
    "pgn",
)
HINT_MODES = ("encoded_decoded", "decoded_only", "none")
REPRED_MODES = ("soft", "hard", "hard_on_eval")
ENCODER_INITS = ("xavier_on_scalars", "default")


@dataclass(frozen=True)
class NARConfig:
    """Architecture and hint handling of a NAR (defaults: Ibarz et al. 2022).

    Attributes:
        algorithms: the algorithms it has encoders and decoders for (multi-task
            when several; the processor is shared).
        hidden_dim: width ``H`` of node, edge and graph embeddings.
        processor: message-passing processor: ``triplet_gmpnn`` (gated MPNN with
            triplet edge latents, the default), ``mpnn``, ``pgn`` (max over the
            graph's edges and pointers instead of all nodes), and the variants
            with or without gating (``g``) and triplets.
        nb_triplet_fts: width of the triplet messages.
        use_ln: layer normalisation of the processor's node update.
        hint_mode: ``encoded_decoded`` (hints are predicted and fed back),
            ``decoded_only`` (predicted, not fed back) or ``none``.
        hint_teacher_forcing: probability, per sample and step, of feeding the
            ground-truth hint instead of the prediction during training.
        hint_repred_mode: fed-back hints are ``soft`` (softmax / sigmoid),
            ``hard`` (argmax / threshold) or ``hard_on_eval``.
        dropout: dropout on the processor output during training.
        encoder_init: ``xavier_on_scalars`` (scalar hints' encoders get std
            ``1 / sqrt(H)``) or ``default``.
        msg_passing_steps: processor applications per hint step.
        sinkhorn_steps: Sinkhorn iterations when decoding permutations.
        feedback_sinkhorn_steps: Sinkhorn iterations when feeding them back.
        sinkhorn_temperature: temperature of the Sinkhorn operator.
        termination: a termination head per algorithm, trained to predict
            each sample's last step, so that the NAR can stop on its own at
            inference (leak-free stepping, :mod:`transnar.nar.stepping`).
            Files written before it existed load with ``False``.
    """

    algorithms: tuple[str, ...] = ("bfs",)
    hidden_dim: int = 128
    processor: str = "triplet_gmpnn"
    nb_triplet_fts: int = 8
    use_ln: bool = True
    hint_mode: str = "encoded_decoded"
    hint_teacher_forcing: float = 0.0
    hint_repred_mode: str = "soft"
    dropout: float = 0.0
    encoder_init: str = "xavier_on_scalars"
    msg_passing_steps: int = 1
    sinkhorn_steps: int = 10
    feedback_sinkhorn_steps: int = 25
    sinkhorn_temperature: float = 0.1
    termination: bool = True
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        if not self.algorithms:
            raise ValueError("a NAR needs at least one algorithm")
        for name in self.algorithms:
            get_spec(name)
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError(f"algorithms listed twice: {self.algorithms}")
        _choice("processor", self.processor, PROCESSORS)
        _choice("hint_mode", self.hint_mode, HINT_MODES)
        _choice("hint_repred_mode", self.hint_repred_mode, REPRED_MODES)
        _choice("encoder_init", self.encoder_init, ENCODER_INITS)
        for name in (
            "hidden_dim",
            "nb_triplet_fts",
            "msg_passing_steps",
            "sinkhorn_steps",
            "feedback_sinkhorn_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("hint_teacher_forcing", "dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.sinkhorn_temperature <= 0:
            raise ValueError("sinkhorn_temperature must be positive")

    @property
    def encode_hints(self) -> bool:
        return self.hint_mode == "encoded_decoded"

    @property
    def decode_hints(self) -> bool:
        return self.hint_mode in ("encoded_decoded", "decoded_only")

    @property
    def uses_triplets(self) -> bool:
        return self.processor.startswith("triplet")

    @property
    def gated(self) -> bool:
        return self.processor.removeprefix("triplet_").startswith("g")

    def to_dict(self) -> dict:
        """JSON-serialisable fields."""
        data = dataclasses.asdict(self)
        data.pop("extra")
        data["algorithms"] = list(self.algorithms)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NARConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        check_keys(data, cls, "NAR", ignore=("extra",))
        return cls(**{"termination": False, **data})  # older files: no termination head


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
