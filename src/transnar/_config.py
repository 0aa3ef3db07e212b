"""``key=value`` overrides of frozen, nested config dataclasses (shared by the NAR and
LM training configs).

A config is a frozen dataclass whose fields are plain values or other config
dataclasses (sections). An override names a field by its dotted path
(``model.lm.d_model``), by any unambiguous tail of it (``lm.d_model``,
``d_model``), and gives its value as text, parsed by the field's type:
integers, floats, booleans (``true``/``false``), strings, ``none`` for optional
fields, and comma-separated tuples (``train_sizes=4,7,11``; ``algorithms=all``
for the 30 of CLRS-30). Mistakes are one ``ValueError`` naming the key.

A key that a later version moved to another section (a config class's
``MOVED_KEYS``, old path -> new path) is still read, in overrides and in saved
configs (:func:`upgrade`), so that files, run directories and command lines
made before the move keep working.

Presets (:data:`PRESET_NAMES`) are defined once, as the YAML files packaged in
``transnar/presets/`` (``configs/`` in the repository points there): each is a
whole ``transnar run`` config, whose ``nar`` and ``lm`` sections are also the
presets of ``transnar nar train`` and ``transnar lm train``
(:func:`preset_data`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.resources
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from transnar.clrs.specs import ALL_ALGORITHMS_WORDS, CLRS30_ALGORITHMS

PRESET_NAMES = ("tiny", "small", "clrs30", "paper")
"""The presets, as ``transnar/presets/<name>.yaml``."""


def split_override(item: str) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")``; a clear error otherwise."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"config override {item!r} is not of the form KEY=VALUE")
    return key.strip(), value.strip()


def parse_value(text: str, hint: Any, key: str) -> Any:
    """An override's text as the field's type (``hint``); ``key`` names it in errors."""
    if _is_optional(hint):
        if text.strip().lower() in ("none", "null", ""):
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is tuple:
        (item_type, *_) = typing.get_args(hint)
        if key.split(".")[-1] == "algorithms" and text.strip().lower() in ALL_ALGORITHMS_WORDS:
            return tuple(CLRS30_ALGORITHMS)
        items = [t.strip() for t in text.strip().strip("[]()").split(",") if t.strip()]
        return tuple(parse_value(t, item_type, key) for t in items)
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"{key} must be true or false, got {text!r}")
    if hint in (int, float):
        try:
            return hint(text.replace("_", "")) if hint is float else int(text.replace("_", ""))
        except ValueError:
            kind = "an integer" if hint is int else "a number"
            raise ValueError(f"{key} must be {kind}, got {text!r}") from None
    return text


def not_int(value: Any) -> bool:
    """True unless ``value`` is an ``int`` (a ``bool`` is not one here)."""
    return isinstance(value, bool) or not isinstance(value, int)


def _is_optional(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def check_keys(data: Mapping[str, Any], cls: type, what: str, ignore: Iterable[str] = ()) -> None:
    """Refuses the keys of ``data`` that are not fields of the dataclass ``cls``
    (but ``ignore``): a ``ValueError`` naming them and the known ones (``what``:
    the config in the message, e.g. ``LM`` or ``train``)."""
    known = {f.name for f in dataclasses.fields(cls)} - set(ignore)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} config key(s) {unknown} (known: {sorted(known)})")


def field_paths(cls: type) -> dict[str, Any]:
    """Every leaf field of a nested config dataclass: dotted path -> type hint."""
    hints = typing.get_type_hints(cls)
    paths: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name == "extra":
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            paths.update({f"{f.name}.{k}": v for k, v in field_paths(hint).items()})
        else:
            paths[f.name] = hint
    return paths


def resolve_key(key: str, paths: Iterable[str]) -> str:
    """The full dotted path a key names: itself, or the one path it is a tail of.

    Raises:
        ValueError: no such field, or a tail shared by several (write more of it).
    """
    paths = list(paths)
    if key in paths:
        return key
    matches = [p for p in paths if p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"config key {key!r} is ambiguous: write one of {', '.join(matches)}")
    sections = sorted({p.rsplit(".", 1)[0] for p in paths if "." in p})
    head = key.rsplit(".", 1)[0] if "." in key else None
    if head is not None and not any(s == head or s.endswith("." + head) for s in sections):
        raise ValueError(
            f"unknown config section {head!r} in {key!r} (known: {', '.join(sections)})"
        )
    if head is not None:  # only the keys of the section named
        paths = [p for p in paths if p.startswith(head + ".") or f".{head}." in p] or paths
    tail = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(tail, sorted({p.rsplit(".", 1)[-1] for p in paths}), 3, 0.7)
    if close:
        candidates = [p for c in close for p in paths if p.rsplit(".", 1)[-1] == c]
        raise ValueError(f"unknown config key {key!r} (did you mean {' or '.join(candidates)}?)")
    if head is not None or len(paths) <= 30:
        raise ValueError(f"unknown config key {key!r} (known: {', '.join(paths)})")
    raise ValueError(
        f"unknown config key {key!r}: name a key of one of the sections {', '.join(sections)}"
    )


def apply_overrides(config: Any, overrides: Iterable[str] | Mapping[str, Any]) -> Any:
    """The config with ``key=value`` overrides applied (see the module docstring).

    Args:
        config: a frozen (nested) config dataclass.
        overrides: ``"key=value"`` strings, or a mapping of keys to values
            (strings are parsed, anything else is taken as it is).

    Raises:
        ValueError: a malformed item, an unknown or ambiguous key, a value that
            does not parse, or a config that fails validation.
    """
    paths = field_paths(type(config))
    moved = moved_keys(type(config))
    items = overrides.items() if isinstance(overrides, Mapping) else map(split_override, overrides)
    changes: dict[str, Any] = {}
    for key, value in items:
        path = resolve_key(_new_key(key, moved), paths)
        changes[path] = parse_value(value, paths[path], path) if isinstance(value, str) else value
    try:
        return _replace(config, changes)
    except TypeError as error:  # a typed value of the wrong kind
        raise ValueError(f"bad config override: {error}") from None


def moved_keys(cls: type) -> dict[str, str]:
    """Every moved key of a nested config dataclass and its sections (their
    ``MOVED_KEYS``), as full dotted paths: old path -> new path."""
    moved = dict(getattr(cls, "MOVED_KEYS", {}))
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.init and dataclasses.is_dataclass(hints[f.name]):
            inner = moved_keys(hints[f.name])
            moved.update({f"{f.name}.{old}": f"{f.name}.{new}" for old, new in inner.items()})
    return moved


def _new_key(key: str, moved: Mapping[str, str]) -> str:
    """The key where a moved one now lives: an old path, or a dotted tail of
    one old path, gives the new path; any other key is itself."""
    if key in moved:
        return moved[key]
    if "." in key:
        matches = [old for old in moved if old.endswith("." + key)]
        if len(matches) == 1:
            return moved[matches[0]]
    return key


def upgrade(data: Mapping[str, Any], cls: type) -> dict[str, Any]:
    """A saved config's nested mapping with the keys ``cls`` moved (see
    :func:`moved_keys`) at their new places; a current mapping is unchanged."""
    flat = flatten(data)
    moved = moved_keys(cls)
    if not any(key in moved for key in flat):
        return dict(data)
    nested = unflatten({moved.get(key, key): value for key, value in flat.items()})
    for key, value in data.items():  # empty sections stay
        if isinstance(value, Mapping) and not value:
            nested.setdefault(key, {})
    return nested


def check_preset(name: str) -> None:
    """Raises a ``ValueError`` naming the known presets unless ``name`` is one."""
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESET_NAMES)})")


def _preset_file(name: str):
    """The packaged resource of a preset's YAML file (``ValueError`` for another name)."""
    check_preset(name)
    return importlib.resources.files("transnar") / "presets" / f"{name}.yaml"


@functools.cache
def _preset_text(name: str) -> str:
    return _preset_file(name).read_text("utf-8")


def preset_data(name: str) -> dict[str, Any]:
    """A preset's whole ``transnar run`` config, as the nested mapping of its
    packaged YAML file (a fresh copy).

    Raises:
        ValueError: an unknown preset name (naming the known ones).
    """
    import yaml

    return yaml.safe_load(_preset_text(name))


def preset_path(name: str) -> Path:
    """Where a preset's YAML file is (``transnar/presets/<name>.yaml``)."""
    return Path(str(_preset_file(name)))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a mapping.

    Raises:
        ValueError: no such file (or a directory), not YAML text, or not a mapping.
    """
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; the config is a YAML file (e.g. RUN/config.yaml)")
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not a YAML text file (byte {error.start} is not UTF-8)"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{path} must hold a mapping of config sections, not {type(data).__name__}"
        )
    return data


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping (a config's ``to_dict()``) as ``{"dotted.path": leaf}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """The dotted keys (``train.steps``) whose values differ between two nested
    mappings (two configs' ``to_dict()``), sorted."""
    mine, theirs = flatten(mine), flatten(theirs)
    return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`: ``{"dotted.path": leaf}`` as a nested mapping."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *heads, leaf = key.split(".")
        section = nested
        for head in heads:
            section = section.setdefault(head, {})
        section[leaf] = value
    return nested


def _replace(config: Any, changes: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` along dotted paths, innermost sections first."""
    direct = {k: v for k, v in changes.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "." in key:
            head, rest = key.split(".", 1)
            nested.setdefault(head, {})[rest] = value
    for head, inner in nested.items():
        direct[head] = _replace(getattr(config, head), inner)
    return dataclasses.replace(config, **direct) if direct else config


__all__ = [
    "PRESET_NAMES",
    "apply_overrides",
    "check_keys",
    "check_preset",
    "differences",
    "field_paths",
    "flatten",
    "load_yaml",
    "moved_keys",
    "not_int",
    "parse_value",
    "preset_data",
    "preset_path",
    "resolve_key",
    "split_override",
    "unflatten",
    "upgrade",
]
