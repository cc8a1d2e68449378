"""Attribute-extraction networks (plain PyTorch)."""
