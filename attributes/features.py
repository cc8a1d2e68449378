"""Frozen text features for every node of a catalogue, shared by all three methods."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attributes.hypergraph import Catalogue
from mlcore.text import TextEncoder


@dataclass
class NodeFeatures:
    """Unit-norm text embeddings per node type, plus the fitted encoder that made them.

    ``aspect`` embeds "attribute is value" (the node feature); ``value`` embeds the value alone,
    which is the better text prior for matching a title (spec 3.4: values appear literally).
    """

    product: np.ndarray  # (P, D)
    category: np.ndarray  # (C, D)
    aspect: np.ndarray  # (A, D)
    value: np.ndarray  # (A, D)
    encoder: TextEncoder

    def node_matrix(self) -> np.ndarray:
        """``(N, D)`` in graph node order: products, categories, aspects."""
        return np.concatenate([self.product, self.category, self.aspect])

    def text_similarity(self, products: np.ndarray) -> np.ndarray:
        """Cosine of each listed product against every value, ``(n, A)``."""
        return self.product[products] @ self.value.T


def encode_node_features(catalogue: Catalogue, *, method: str = "auto", dim: int = 384,
                         device: str = "cpu", cache_dir: Path | None = None) -> NodeFeatures:
    """Fit the encoder on the catalogue's own texts (no labels involved) and embed every node."""
    product_texts = catalogue.product_texts()
    category_texts = [f"product category: {c}" for c in catalogue.categories]
    aspect_texts = catalogue.aspect_texts()
    value_texts = list(catalogue.aspect_values)
    encoder = TextEncoder.fit(product_texts + category_texts + aspect_texts, method=method,
                              dim=dim, device=device)
    encode = lambda texts: encoder.encode(texts, cache_dir=cache_dir)  # noqa: E731
    return NodeFeatures(encode(product_texts), encode(category_texts), encode(aspect_texts),
                        encode(value_texts), encoder)
