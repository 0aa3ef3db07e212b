"""Placeholder until the geometry algorithms land."""

ALGORITHMS: dict = {}
