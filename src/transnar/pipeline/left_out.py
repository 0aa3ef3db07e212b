"""The done stages whose outputs a copy of a run lacks (``COPY/export.json``).

``transnar export`` copies a run without its bulk (:mod:`~transnar.pipeline.export`):
the CLRS-Text splits, the weights of the models no unfinished stage needs, the
students' datasets. It records in the copy's ``export.json`` the stages that are
done but whose outputs it left out, each with the hash its record gives them.
``transnar run`` on the copy takes such a stage as done, and the stages that read
it see that hash, so nothing runs again because of what the export left out. A
left-out stage is made again only when a stage that must run needs its outputs
(:func:`~transnar.pipeline.stages.plan_left_out`): an evaluation whose settings
changed needs the model's weights, a student that resumes needs its dataset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

EXPORT_JSON = "export.json"


@dataclass(frozen=True)
class LeftOut:
    """The left-out stages of a copy of a run, and which must be made again.

    Attributes:
        hashes: each done stage whose outputs the copy lacks, with the output
            hash of its record when it was exported.
        needed: those to make again, each with why (``stage eval-baseline-s0
            needs them``).
    """

    hashes: Mapping[str, str]
    needed: Mapping[str, str] = field(default_factory=dict)

    def applies(self, name: str, record: Mapping) -> bool:
        """Whether stage ``name``'s missing outputs are those the export left out
        (its record is the one exported, not one made since)."""
        return name in self.hashes and self.hashes[name] == record.get("output_sha256")


def read_left_out(run_dir: str | Path) -> dict[str, str]:
    """The ``left_out`` of ``RUN/export.json`` (stage -> output hash); empty for a
    run that is no export, or whose ``export.json`` cannot be read."""
    try:
        data = json.loads((Path(run_dir) / EXPORT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    left_out = data.get("left_out") if isinstance(data, dict) else None
    if not isinstance(left_out, dict):
        return {}
    return {str(k): v for k, v in left_out.items() if isinstance(v, str)}


__all__ = ["EXPORT_JSON", "LeftOut", "read_left_out"]
