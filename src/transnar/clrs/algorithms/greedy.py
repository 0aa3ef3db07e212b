"""Placeholder until the greedy algorithms land."""

ALGORITHMS: dict = {}
