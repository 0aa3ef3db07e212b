"""Placeholder until the searching algorithms land."""

ALGORITHMS: dict = {}
