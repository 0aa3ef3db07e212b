"""Placeholder until these graph algorithms land (issue 3)."""

ALGORITHMS: dict = {}
