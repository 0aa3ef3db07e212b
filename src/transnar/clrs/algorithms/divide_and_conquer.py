"""Placeholder until the divide_and_conquer algorithms land."""

ALGORITHMS: dict = {}
