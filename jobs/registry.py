"""The registry of trainable algorithms; each app registers its own in ``AppConfig.ready``."""
from __future__ import annotations

from mlcore.api import Algorithm

_ALGORITHMS: dict[str, Algorithm] = {}


def register(*algorithms: Algorithm) -> None:
    for algorithm in algorithms:
        _ALGORITHMS[algorithm.key] = algorithm


def get_algorithm(key: str) -> Algorithm:
    try:
        return _ALGORITHMS[key]
    except KeyError:
        raise KeyError(f"Unknown algorithm {key!r}; known: {', '.join(sorted(_ALGORITHMS))}.") from None


def algorithms_for_kind(kind: str) -> list[Algorithm]:
    return [a for a in _ALGORITHMS.values() if a.kind == kind]


def all_algorithms() -> list[Algorithm]:
    return list(_ALGORITHMS.values())
