"""Placeholder until the strings algorithms land."""

ALGORITHMS: dict = {}
