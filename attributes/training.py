"""Full-batch training of :class:`~attributes.nets.hyperpave.HyperPAVE` and its final scorer.

Why not ``mlcore.trainer.fit``: that loop slices mini-batches of rows from a ``TensorTable``.
Here one step is one forward pass over the *whole* graph, and each epoch re-draws which training
links are messages (graph) and which are supervision (loss), which rebuilds the hypergraph; there
are no rows to slice. This loop is the smallest that does that: AdamW, early stopping on
validation mAP, the best state kept, cancellation and progress every epoch.

Training recipe (spec 3.3, lessons of 3.4):

- node-level masking: each epoch ~30 % of training products act as new products and ~20 % of
  seen aspects as unseen ones; all their links become supervision-only, so the model learns to
  embed nodes that have no links, which is exactly what test products and unseen values are;
- 2 negatives per positive drawn from *seen* aspects only, one of the same attribute (hard), one
  uniform; a draw that is one of the product's own training values (the positive itself, drawn a
  quarter of the time from an attribute with four values) is left out of the loss, since it is
  no negative;
- final score ``text_sim + beta * link_cosine - gamma * [aspect seen in training]``; ``beta`` and
  ``gamma`` (calibrated stacking) are chosen on the validation products, never on test.
"""
from __future__ import annotations

import copy
import itertools
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from attributes.evaluation import Split, allowed_matrix, ranking_metrics, truth_matrix
from attributes.features import NodeFeatures
from attributes.hypergraph import Catalogue, build_hypergraph
from attributes.nets.hyperpave import HyperPAVE

BETA_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
GAMMA_GRID = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.2)


def _sample_negatives(positive_aspects: np.ndarray, seen: np.ndarray,
                      aspect_attribute: np.ndarray, count: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``(count * E,)`` seen aspects: alternately one of the same attribute and one uniform."""
    seen_attribute = aspect_attribute[seen]  # sorted, because aspects are sorted by attribute
    start = np.searchsorted(seen_attribute, aspect_attribute[positive_aspects], side="left")
    stop = np.searchsorted(seen_attribute, aspect_attribute[positive_aspects], side="right")
    draws = []
    for i in range(count):
        if i % 2 == 0:
            offset = np.floor(rng.random(len(positive_aspects)) * (stop - start)).astype(np.int64)
            draws.append(seen[np.minimum(start + offset, len(seen) - 1)])
        else:
            draws.append(seen[rng.integers(0, len(seen), len(positive_aspects))])
    return np.concatenate(draws)


def _known_link(products: np.ndarray, aspects: np.ndarray, link_keys: np.ndarray,
                num_aspects: int) -> np.ndarray:
    """``(E,)`` bool: whether (``products[i]``, ``aspects[i]``) is among the link keys."""
    return np.isin(products * num_aspects + aspects, link_keys)


class HyperPAVERanker:
    """Fits HyperPAVE on a split's training links and ranks every candidate value per product."""

    def __init__(self, hidden_dim: int = 128, max_epochs: int = 150, lr: float = 1e-3,
                 weight_decay: float = 1e-6, dropout: float = 0.2, negatives: int = 2,
                 mask_products: float = 0.3, mask_aspects: float = 0.2, eval_every: int = 10,
                 patience: int = 4, use_candidate_edges: bool = True,
                 center_embeddings: bool = False, seed: int = 0, device: str = "cpu"):
        self.hidden_dim = hidden_dim
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.negatives = negatives
        self.mask_products = mask_products
        self.mask_aspects = mask_aspects
        self.eval_every = eval_every
        self.patience = patience
        self.use_candidate_edges = use_candidate_edges
        self.center_embeddings = center_embeddings
        self.seed = seed
        self.device = torch.device(device)
        self.beta = 1.0
        self.gamma = 0.0

    def fit(self, catalogue: Catalogue, features: NodeFeatures, split: Split, *,
            groups: pd.DataFrame | None = None,
            progress: Callable[[float, str], None] = lambda f, p: None,
            check_cancelled: Callable[[], None] = lambda: None,
            log: Callable[[str], None] = lambda m: None) -> dict:
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        cat, device = catalogue, self.device
        self.catalogue, self.features, self.seen = catalogue, features, split.seen_aspects
        x = torch.from_numpy(features.node_matrix()).to(device)  # (N, D)
        product_text = torch.from_numpy(features.product).to(device)  # (P, D)
        value_text = torch.from_numpy(features.value).to(device)  # (A, D)
        build = lambda links: build_hypergraph(  # noqa: E731
            cat, links, groups, self.use_candidate_edges, split.allowed).to(device)
        self.graph = build(split.train_links)
        self.model = HyperPAVE(x.shape[1], tuple(self.graph.incidence), self.hidden_dim,
                               self.dropout, center=self.center_embeddings).to(device)
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        links = split.train_links
        train_products = np.unique(links[:, 0])
        link_keys = np.sort(links[:, 0] * cat.num_aspects + links[:, 1])
        seen = np.flatnonzero(split.seen_aspects)
        valid_truth = truth_matrix(cat, split.valid_products)
        valid_allowed = allowed_matrix(cat, split, split.valid_products)
        self._x = x
        best, best_state, history, stale = -1.0, None, [], 0
        for epoch in range(1, self.max_epochs + 1):
            check_cancelled()
            self.model.train()
            new_products = rng.choice(train_products, int(self.mask_products * len(train_products)),
                                      replace=False)
            hidden_aspects = rng.choice(seen, int(self.mask_aspects * len(seen)), replace=False)
            supervise = np.isin(links[:, 0], new_products) | np.isin(links[:, 1], hidden_aspects)
            graph = build(links[~supervise])
            positive = links[supervise]  # (E, 2)
            negative_aspects = _sample_negatives(positive[:, 1], seen, cat.aspect_attribute,
                                                 self.negatives, rng)
            products = np.concatenate([positive[:, 0], np.tile(positive[:, 0], self.negatives)])
            aspects = np.concatenate([positive[:, 1], negative_aspects])
            target = torch.cat([torch.ones(len(positive)),
                                torch.zeros(len(negative_aspects))]).to(device)  # (E',)
            # A drawn "negative" that is one of the product's own training values is no negative.
            is_negative = np.arange(len(products)) >= len(positive)
            own = is_negative & _known_link(products, aspects, link_keys, cat.num_aspects)
            weight = torch.from_numpy(~own).float().to(device)  # (E',)
            p = torch.from_numpy(products).to(device)
            a = torch.from_numpy(aspects).to(device)
            text_sim = (product_text[p] * value_text[a]).sum(dim=1)  # (E',)
            h = self.model(x, graph)  # (N, d)
            logits = self.model.pair_logits(h, p, a + cat.num_products + cat.num_categories,
                                            text_sim)
            loss = F.binary_cross_entropy_with_logits(logits, target, weight) * \
                len(weight) / weight.sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            progress(epoch / self.max_epochs, "training")
            if epoch % self.eval_every and epoch != self.max_epochs:
                continue
            self._embed()
            self.beta = (self.model.link_scale / self.model.text_scale).item()
            valid_map = ranking_metrics(self.score(split.valid_products), valid_truth,
                                        valid_allowed).get("map", 0.0)
            history.append({"epoch": epoch, "train_loss": loss.item(), "valid_map": valid_map})
            log(f"epoch {epoch}: loss {loss.item():.4f}, valid mAP {valid_map:.4f}")
            if valid_map > best:
                best, best_state, stale = valid_map, copy.deepcopy(self.model.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.model.load_state_dict(best_state)
        self._embed()
        self._calibrate(split.valid_products, valid_truth, valid_allowed)
        mixing = self.model.mixing_weights().detach().cpu().numpy()
        return {"history": history, "best_valid_map": best, "beta": self.beta,
                "gamma": self.gamma, "epochs_run": epoch,
                "mixing_weights": {node: dict(zip(self.model.edge_types, map(float, row)))
                                   for node, row in zip(("product", "category", "aspect"), mixing)}}

    @torch.no_grad()
    def _embed(self) -> None:
        self.model.eval()
        self._h = self.model(self._x, self.graph)  # (N, d)

    @torch.no_grad()
    def link_cosine(self, products: np.ndarray) -> np.ndarray:
        """``(n, A)`` cosine between the learned product and aspect embeddings."""
        cat = self.catalogue
        aspect_nodes = torch.arange(cat.num_aspects, device=self.device) + \
            cat.num_products + cat.num_categories
        p = torch.from_numpy(np.asarray(products)).to(self.device)
        return self.model.link_cosine(self._h, p, aspect_nodes).cpu().numpy()

    def _calibrate(self, products: np.ndarray, truth: np.ndarray, allowed: np.ndarray) -> None:
        text = self.features.text_similarity(products)  # (n, A)
        link = self.link_cosine(products)  # (n, A)
        best = (-1.0, self.beta, 0.0)
        for beta, gamma in itertools.product(BETA_GRID, GAMMA_GRID):
            scores = text + beta * link - gamma * self.seen[None, :]
            valid_map = ranking_metrics(scores, truth, allowed).get("map", 0.0)
            if valid_map > best[0]:
                best = (valid_map, beta, gamma)
        _, self.beta, self.gamma = best

    def score(self, products: np.ndarray) -> np.ndarray:
        """Final scores ``(n, A)``: text prior + beta * learned link - gamma * seen."""
        text = self.features.text_similarity(products)  # (n, A)
        return text + self.beta * self.link_cosine(products) - self.gamma * self.seen[None, :]

    def save(self, path) -> None:
        torch.save({"state_dict": self.model.state_dict(), "beta": self.beta,
                    "gamma": self.gamma, "edge_types": self.model.edge_types,
                    "hidden_dim": self.hidden_dim, "center": self.center_embeddings}, path)
