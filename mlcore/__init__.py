"""Shared, Django-free machinery for every learning algorithm in CTR Studio.

Modules here import only the standard library, NumPy, pandas and PyTorch, so they can be used
from a notebook, a benchmark or a Celery worker alike.
"""
