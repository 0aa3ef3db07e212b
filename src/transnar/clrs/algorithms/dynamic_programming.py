"""Placeholder until the dynamic_programming algorithms land."""

ALGORITHMS: dict = {}
