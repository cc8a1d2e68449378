"""Attributes app (algorithms arrive with their issue)."""
