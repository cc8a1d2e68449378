"""Uplift app (algorithms arrive with their issue)."""
