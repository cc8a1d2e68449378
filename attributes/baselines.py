"""The two baselines every HyperPAVE result is read against.

- :class:`TextSimilarityRanker`: cosine between the product text and the value text, no training
  and no graph. Spec 3.4 found it hard to beat on explicit values, so it is always reported.
- :class:`MultiLabelClassifier`: one-vs-rest logistic regression on the frozen product
  embeddings. It cannot score a value it never saw (it has no output for it): the supervised
  reference point that shows what zero-shot costs.

Both follow the ranker protocol of :mod:`attributes.training`: ``fit(catalogue, features, split,
...)`` then ``score(products) -> (n, A)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from attributes.evaluation import Split, allowed_matrix, ranking_metrics, truth_matrix
from attributes.features import NodeFeatures
from attributes.hypergraph import Catalogue


class TextSimilarityRanker:
    """Scores a (product, value) pair by the cosine of their frozen text embeddings."""

    def fit(self, catalogue: Catalogue, features: NodeFeatures, split: Split, **_) -> dict:
        self.features = features
        return {}

    def score(self, products: np.ndarray) -> np.ndarray:
        return self.features.text_similarity(products)  # (n, A)


class MultiLabelClassifier:
    """One-vs-rest L2-regularised logistic regression over the values seen in training.

    All the per-value regressions share one full-batch optimiser in torch (equivalent to
    scikit-learn's ``OneVsRestClassifier(LogisticRegression())`` with an L2 penalty, but one
    matrix product per step instead of thousands of separate fits). Values with no training
    link score 0. The number of steps is chosen on the validation products' mAP.
    ``l2`` is the penalty on the squared weights per training product; the default 0 relies on
    that early stopping (any fixed penalty measured on OA-Mine hurt validation mAP).
    """

    def __init__(self, l2: float = 0.0, max_epochs: int = 100, lr: float = 0.5,
                 eval_every: int = 10, seed: int = 0, device: str = "cpu"):
        self.l2 = l2
        self.max_epochs = max_epochs
        self.lr = lr
        self.eval_every = eval_every
        self.seed = seed
        self.device = torch.device(device)

    def fit(self, catalogue: Catalogue, features: NodeFeatures, split: Split, *,
            progress: Callable[[float, str], None] = lambda f, p: None,
            check_cancelled: Callable[[], None] = lambda: None, **_) -> dict:
        torch.manual_seed(self.seed)
        self.num_aspects = catalogue.num_aspects
        self.features = features
        self.columns = np.flatnonzero(split.seen_aspects)  # (S,)
        x = torch.from_numpy(features.product[split.train_products]).to(self.device)  # (n, D)
        y = torch.from_numpy(truth_matrix(catalogue, split.train_products)[:, self.columns])
        y = y.float().to(self.device)  # (n, S)
        self.weight = torch.zeros(x.shape[1], len(self.columns), device=self.device,
                                  requires_grad=True)  # (D, S)
        self.bias = torch.full((len(self.columns),), -5.0, device=self.device,
                               requires_grad=True)  # (S,)
        optimiser = torch.optim.Adam([self.weight, self.bias], lr=self.lr)
        valid_truth = truth_matrix(catalogue, split.valid_products)
        valid_allowed = allowed_matrix(catalogue, split, split.valid_products)
        best, best_state, history = -1.0, None, []
        for epoch in range(1, self.max_epochs + 1):
            check_cancelled()
            optimiser.zero_grad()
            logits = x @ self.weight + self.bias  # (n, S)
            loss = F.binary_cross_entropy_with_logits(logits, y) + \
                self.l2 * self.weight.pow(2).sum() / len(x)
            loss.backward()
            optimiser.step()
            if epoch % self.eval_every == 0 or epoch == self.max_epochs:
                valid_map = ranking_metrics(self.score(split.valid_products), valid_truth,
                                            valid_allowed).get("map", 0.0)
                history.append({"epoch": epoch, "train_loss": loss.item(), "valid_map": valid_map})
                if valid_map > best:
                    best = valid_map
                    best_state = (self.weight.detach().clone(), self.bias.detach().clone())
                progress(epoch / self.max_epochs, "training")
        self.weight, self.bias = best_state
        return {"history": history, "best_valid_map": best}

    @torch.no_grad()
    def score(self, products: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(self.features.product[products]).to(self.device)  # (n, D)
        probs = torch.sigmoid(x @ self.weight + self.bias).cpu().numpy()  # (n, S)
        out = np.zeros((len(products), self.num_aspects), dtype=np.float32)
        out[:, self.columns] = probs
        return out
