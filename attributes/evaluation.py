"""Splits, ranking / F1 metrics and evidence spans for attribute-value extraction.

Protocols (spec 1.7 and 3.3, re-implemented cleanly rather than ported):

- **zero-shot**: hold out whole aspects (attribute-value pairs seen on at least ``min_count``
  products). Every product carrying a held-out aspect becomes a test (or validation) product and
  loses *all* its links from training, so held-out aspects have no training link at all.
- **inductive**: hold out whole products at random (stratified by category); their values may or
  may not have been seen on training products.

Evaluation ranks, for every evaluated product, every candidate aspect of its category (all other
candidates are the negatives: full ranking, as in the reference code), and decides, per
attribute, every value whose score passes that attribute's threshold chosen on validation.
Candidates come from the training products and the analyst's vocabulary only
(:func:`~attributes.hypergraph.candidate_matrix`); a held-out label that is not a candidate still
counts as a positive, one no ranking can find.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from attributes.hypergraph import Catalogue, candidate_matrix

RANK_KS = (1, 5, 10)


@dataclass
class Split:
    """Product indices per part, the links training may use, and the aspects never seen there."""

    protocol: str
    seed: int
    train_products: np.ndarray
    valid_products: np.ndarray
    test_products: np.ndarray
    train_links: np.ndarray  # (L, 2) product, aspect
    seen_aspects: np.ndarray  # (A,) bool: has a training link
    allowed: np.ndarray  # (C, A) bool: candidates from training links + vocabulary only

    def part_of(self, num_products: int) -> np.ndarray:
        """``(P,)`` names: train / valid / test, or unlabelled for products in none."""
        part = np.full(num_products, "unlabelled", dtype=object)
        part[self.train_products] = "train"
        part[self.valid_products] = "valid"
        part[self.test_products] = "test"
        return part


def _finish_split(catalogue: Catalogue, protocol: str, seed: int, valid: np.ndarray,
                  test: np.ndarray) -> Split:
    labelled = np.unique(catalogue.links[:, 0])
    train = np.setdiff1d(labelled, np.concatenate([valid, test]))
    train_links = catalogue.links[np.isin(catalogue.links[:, 0], train)]
    seen = np.zeros(catalogue.num_aspects, dtype=bool)
    seen[train_links[:, 1]] = True
    return Split(protocol, seed, train, np.sort(valid), np.sort(test), train_links, seen,
                 candidate_matrix(catalogue, train_links))


def zero_shot_split(catalogue: Catalogue, seed: int, *, share: float = 0.15,
                    min_count: int = 2, max_count_share: float = 0.05) -> Split:
    """Hold out random aspects until about ``share`` of labelled products are test, then valid.

    Only aspects on at least ``min_count`` products (values, not one-off model numbers) and on at
    most ``max_count_share`` of the labelled products (so one popular value does not swallow the
    catalogue; at least ``2 * min_count``) are drawn.
    """
    links = catalogue.links
    labelled = np.unique(links[:, 0])
    counts = np.bincount(links[:, 1], minlength=catalogue.num_aspects)
    most = max(max_count_share * len(labelled), 2 * min_count)  # tiny catalogues still split
    eligible = np.flatnonzero((counts >= min_count) & (counts <= most))
    if len(eligible) == 0:
        raise ValueError("no value occurs on enough products to be held out for a zero-shot split")
    rng = np.random.default_rng(seed)
    rank = np.full(catalogue.num_aspects, np.iinfo(np.int64).max)
    rank[rng.permutation(eligible)] = np.arange(len(eligible))
    # A product leaves training as soon as its first-ranked held-out aspect is drawn.
    first_rank = np.full(catalogue.num_products, np.iinfo(np.int64).max)
    np.minimum.at(first_rank, links[:, 0], rank[links[:, 1]])
    order = np.sort(first_rank[labelled])
    target = max(1, int(round(share * len(labelled))))
    cut_test = order[min(target, len(order)) - 1]
    cut_valid = order[min(2 * target, len(order)) - 1]
    test = np.flatnonzero(first_rank <= cut_test)
    valid = np.flatnonzero((first_rank > cut_test) & (first_rank <= cut_valid))
    return _finish_split(catalogue, "zero_shot", seed, valid, test)


def inductive_split(catalogue: Catalogue, seed: int, *, share: float = 0.15) -> Split:
    """Hold out random labelled products (``share`` each for valid and test, per category)."""
    labelled = np.unique(catalogue.links[:, 0])
    rng = np.random.default_rng(seed)
    shuffled = labelled[rng.permutation(len(labelled))]
    category = catalogue.product_category[shuffled]
    # Position of each product within its category in the shuffled order, as a share.
    order = np.argsort(category, kind="stable")
    sizes = np.bincount(category, minlength=catalogue.num_categories)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.empty(len(shuffled))
    position[order] = (np.arange(len(shuffled)) - starts[category[order]]) / \
        np.maximum(sizes[category[order]], 1)
    test = shuffled[position < share]
    valid = shuffled[(position >= share) & (position < 2 * share)]
    return _finish_split(catalogue, "inductive", seed, valid, test)


def make_split(catalogue: Catalogue, protocol: str, seed: int, share: float = 0.15) -> Split:
    if protocol == "zero_shot":
        return zero_shot_split(catalogue, seed, share=share)
    if protocol == "inductive":
        return inductive_split(catalogue, seed, share=share)
    raise ValueError(f"unknown split protocol {protocol!r}; use zero_shot or inductive")


# --- matrices for a set of evaluated products ----------------------------------------------------

def truth_matrix(catalogue: Catalogue, products: np.ndarray) -> np.ndarray:
    """``(n, A)`` bool: True where product ``products[i]`` carries aspect ``j``."""
    row = pd.Series(np.arange(len(products)), index=products)
    keep = np.isin(catalogue.links[:, 0], products)
    truth = np.zeros((len(products), catalogue.num_aspects), dtype=bool)
    truth[row.reindex(catalogue.links[keep, 0]).to_numpy(), catalogue.links[keep, 1]] = True
    return truth


def allowed_matrix(catalogue: Catalogue, split: Split, products: np.ndarray) -> np.ndarray:
    """``(n, A)`` bool: the split's candidate aspects of each product's category."""
    return split.allowed[catalogue.product_category[products]]


def _attribute_starts(aspect_attribute: np.ndarray) -> np.ndarray:
    if len(aspect_attribute) and np.any(np.diff(aspect_attribute) < 0):
        raise ValueError("aspects must be sorted by attribute (encode_catalogue does this)")
    return np.flatnonzero(np.r_[True, np.diff(aspect_attribute) != 0])


def top_value_per_attribute(scores: np.ndarray, allowed: np.ndarray,
                            aspect_attribute: np.ndarray,
                            max_values: np.ndarray | None = None) -> np.ndarray:
    """``(n, A)`` bool: the best-scoring allowed values of each attribute, for every product.

    ``max_values`` (``(n_attributes,)`` int, indexed by attribute) says how many values an
    attribute may take; one each by default (ties keep the first value).
    """
    masked = np.where(allowed, scores, -np.inf)  # (n, A)
    starts = _attribute_starts(aspect_attribute)
    if max_values is None or np.all(max_values[aspect_attribute[starts]] <= 1):
        best = np.maximum.reduceat(masked, starts, axis=1)  # (n, n_attr)
        group = np.cumsum(np.r_[False, np.diff(aspect_attribute) != 0])  # (A,) attribute position
        is_best = (masked == best[:, group]) & allowed & np.isfinite(masked)
        # Keep only the first of tied values so each attribute gets at most one.
        cumulative = np.cumsum(is_best, axis=1)  # (n, A)
        before_group = np.concatenate([np.zeros((len(masked), 1), dtype=cumulative.dtype),
                                       cumulative], axis=1)[:, starts]  # (n, n_attr)
        return is_best & (cumulative - before_group[:, group] == 1)
    chosen = np.zeros(masked.shape, dtype=bool)
    for begin, stop in zip(starts, np.r_[starts[1:], masked.shape[1]]):
        block = masked[:, begin:stop]  # (n, values of this attribute)
        k = int(max_values[aspect_attribute[begin]])
        top = np.argsort(-block, axis=1, kind="stable")[:, :max(k, 1)]  # (n, k)
        picked = np.zeros(block.shape, dtype=bool)
        np.put_along_axis(picked, top, True, axis=1)
        chosen[:, begin:stop] = picked & np.isfinite(block)
    return chosen


def max_values_per_attribute(catalogue: Catalogue, train_links: np.ndarray) -> np.ndarray:
    """``(n_attributes,)`` int: the most values one training product carries for each attribute.

    1 for a single-valued attribute (a product has one colour), more for a multi-valued one
    (a product has several features); attributes without training links get 1.
    """
    n_attr = len(catalogue.attributes)
    links = np.asarray(train_links, dtype=np.int64).reshape(-1, 2)
    if not len(links):
        return np.ones(n_attr, dtype=np.int64)
    pairs = pd.DataFrame({"p": links[:, 0], "a": catalogue.aspect_attribute[links[:, 1]]})
    counts = pairs.value_counts().groupby(level="a").max()
    out = np.ones(n_attr, dtype=np.int64)
    out[counts.index.to_numpy()] = np.maximum(counts.to_numpy(), 1)
    return out


def _best_cut(winner_scores: np.ndarray, hits: np.ndarray, n_true: int) -> float:
    """The score cut over ``winner_scores`` that maximises F1 against ``n_true`` positives."""
    if winner_scores.size == 0 or n_true == 0:
        return 0.0
    order = np.argsort(-winner_scores, kind="stable")
    tp = np.cumsum(hits[order])
    f1 = 2 * tp / (np.arange(1, len(order) + 1) + n_true)
    best = int(np.argmax(f1))
    cut = winner_scores[order]
    # Halfway to the next score, so a tiny shift on test data does not flip the boundary value.
    return float(cut[best] if best + 1 == len(cut) else (cut[best] + cut[best + 1]) / 2)


def choose_threshold(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray,
                     aspect_attribute: np.ndarray,
                     max_values: np.ndarray | None = None) -> float:
    """The one score cut that maximises micro-F1 of the top-values-per-attribute decisions.

    Only the per-attribute winners can be predicted, so their scores sorted descending are every
    threshold worth trying; F1 at each cut comes from one cumulative sum.
    """
    winners = top_value_per_attribute(scores, allowed, aspect_attribute, max_values)
    return _best_cut(scores[winners], truth[winners], int(truth.sum()))


def choose_thresholds(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray,
                      aspect_attribute: np.ndarray, max_values: np.ndarray | None = None,
                      min_labels: int = 5) -> np.ndarray:
    """``(n_attributes,)`` cuts: per attribute, the F1-best cut on these (validation) labels.

    An attribute with fewer than ``min_labels`` positives here gets the one micro-F1 cut over
    all attributes, so a rare attribute's rule is not fitted to two or three products.
    """
    n_attr = int(aspect_attribute.max()) + 1 if len(aspect_attribute) else 0
    winners = top_value_per_attribute(scores, allowed, aspect_attribute, max_values)
    overall = _best_cut(scores[winners], truth[winners], int(truth.sum()))
    cuts = np.full(n_attr, overall, dtype=float)
    for a in range(n_attr):
        cols = aspect_attribute == a
        n_true = int(truth[:, cols].sum())
        if n_true >= min_labels:
            w = winners[:, cols]
            cuts[a] = _best_cut(scores[:, cols][w], truth[:, cols][w], n_true)
    return cuts


def decide(scores: np.ndarray, allowed: np.ndarray, aspect_attribute: np.ndarray,
           threshold: float | np.ndarray, max_values: np.ndarray | None = None) -> np.ndarray:
    """``(n, A)`` bool predictions: per attribute, its top ``max_values`` values (1 by default)
    that score at least the threshold (one float, or one per attribute)."""
    cut = np.asarray(threshold, dtype=float)
    if cut.ndim:
        cut = cut[aspect_attribute][None, :]  # (1, A)
    return top_value_per_attribute(scores, allowed, aspect_attribute, max_values) & (scores >= cut)


def _f1(tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray) -> np.ndarray:
    return np.where(n_pred + n_true > 0, 2 * tp / np.maximum(n_pred + n_true, 1), 0.0)


def ranking_metrics(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray,
                    columns: np.ndarray | None = None, ks: Sequence[int] = RANK_KS) -> dict:
    """mAP, recall@k and hit@k over the rows with at least one positive.

    ``columns`` (bool ``(A,)``) restricts the ranking to some aspects, e.g. the unseen ones.
    AP is the mean precision at the rank of each positive; recall@k is the share of a product's
    positives in its top k; hit@k is the share of products with a positive in the top k.
    A positive outside ``allowed`` is never ranked but still counts (precision 0 at its rank),
    so a candidate list that misses true values costs what it costs the analyst.
    """
    keep = allowed if columns is None else allowed & columns[None, :]
    positives_all = truth if columns is None else truth & columns[None, :]
    truth = truth & keep
    rows = positives_all.any(axis=1)
    if not rows.any():
        return {}
    masked = np.where(keep[rows], scores[rows], -np.inf)  # (n, A)
    order = np.argsort(-masked, axis=1, kind="stable")
    ranked = np.take_along_axis(truth[rows], order, axis=1)  # (n, A) bool by rank
    positives = positives_all[rows].sum(axis=1)  # (n,) candidates or not
    precision = np.cumsum(ranked, axis=1) / np.arange(1, ranked.shape[1] + 1)  # (n, A)
    metrics = {"map": float(((precision * ranked).sum(axis=1) / positives).mean()),
               "n_products": float(rows.sum())}
    for k in ks:
        found = ranked[:, :k].sum(axis=1)
        metrics[f"recall@{k}"] = float((found / positives).mean())
        metrics[f"hit@{k}"] = float((found > 0).mean())
    return metrics


def f1_metrics(predicted: np.ndarray, truth: np.ndarray,
               aspect_attribute: np.ndarray) -> dict:
    """Micro F1 / precision / recall over all pairs, and macro F1 averaged over attributes."""
    tp = (predicted & truth).sum()
    n_pred, n_true = predicted.sum(), truth.sum()
    n_attr = int(aspect_attribute.max()) + 1 if len(aspect_attribute) else 0
    per_attr = lambda m: np.bincount(aspect_attribute, m.sum(axis=0), minlength=n_attr)  # noqa
    a_tp, a_pred, a_true = per_attr(predicted & truth), per_attr(predicted), per_attr(truth)
    active = (a_pred + a_true) > 0
    return {
        "micro_f1": float(_f1(tp, n_pred, n_true)),
        "precision": float(tp / n_pred) if n_pred else 0.0,
        "recall": float(tp / n_true) if n_true else 0.0,
        "macro_f1": float(_f1(a_tp, a_pred, a_true)[active].mean()) if active.any() else 0.0,
    }


def evaluate_scores(catalogue: Catalogue, split: Split, products: np.ndarray, scores: np.ndarray,
                    threshold: float | np.ndarray,
                    max_values: np.ndarray | None = None) -> tuple[dict, dict]:
    """Flat headline metrics and per-category / per-attribute breakdowns for one product set.

    Headline keys: ``micro_f1, macro_f1, precision, recall, map, recall@k, hit@k`` over all
    aspects, ``unseen_map, unseen_recall@k...`` and ``seen_map...`` over unseen / seen aspects
    only, and ``unseen_decision_recall``: the share of unseen-value labels the decisions recover.
    """
    seen_aspects = split.seen_aspects
    truth = truth_matrix(catalogue, products)
    allowed = allowed_matrix(catalogue, split, products)
    predicted = decide(scores, allowed, catalogue.aspect_attribute, threshold, max_values)
    metrics = {**f1_metrics(predicted, truth, catalogue.aspect_attribute),
               **ranking_metrics(scores, truth, allowed)}
    for name, columns in (("seen", seen_aspects), ("unseen", ~seen_aspects)):
        for key, value in ranking_metrics(scores, truth, allowed, columns).items():
            metrics[f"{name}_{key}"] = value
    unseen_truth = truth & ~seen_aspects[None, :]
    metrics["unseen_decision_recall"] = float((predicted & unseen_truth).sum() /
                                              max(unseen_truth.sum(), 1))
    metrics["unseen_label_share"] = float(unseen_truth.sum() / max(truth.sum(), 1))
    breakdown = {"category": {}, "attribute": {}}
    product_category = catalogue.product_category[products]
    for c in np.unique(product_category):
        rows = product_category == c
        breakdown["category"][catalogue.categories[c]] = {
            **f1_metrics(predicted[rows], truth[rows], catalogue.aspect_attribute),
            "map": ranking_metrics(scores[rows], truth[rows], allowed[rows]).get("map", 0.0),
            "n_products": int(rows.sum())}
    for a in np.unique(catalogue.aspect_attribute[truth.any(axis=0) | predicted.any(axis=0)]):
        cols = catalogue.aspect_attribute == a
        tp, n_pred, n_true = (predicted[:, cols] & truth[:, cols]).sum(), \
            predicted[:, cols].sum(), truth[:, cols].sum()
        breakdown["attribute"][catalogue.attributes[a]] = {
            "f1": float(_f1(tp, n_pred, n_true)), "n_labels": int(n_true),
            "n_predicted": int(n_pred)}
    return metrics, breakdown


def mean_std(runs: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """``{key: mean, key_std: population std}`` over runs (keys missing in a run are skipped)."""
    runs = list(runs)
    keys = sorted({k for run in runs for k in run})
    out = {}
    for key in keys:
        values = np.array([run[key] for run in runs if key in run], dtype=float)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


# --- evidence -------------------------------------------------------------------------------------

def find_evidence(titles: Sequence[str], descriptions: Sequence[str],
                  values: Sequence[str]) -> pd.DataFrame:
    """Where each value is stated: the first whole-word, case-insensitive match.

    The title is searched before the description. Returns ``stated`` (bool),
    ``evidence_field`` ("title" / "description" / ""), ``evidence_start``, ``evidence_end``
    (nullable Int64, end exclusive). A value found nowhere is *inferred*, not stated.
    """
    fields, starts, ends = [], [], []
    for title, description, value in zip(titles, descriptions, values):
        found = ("", None, None)
        value = (value or "").strip()
        if value:
            pattern = re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE)
            for field, text in (("title", title or ""), ("description", description or "")):
                match = pattern.search(text)
                if match:
                    found = (field, match.start(), match.end())
                    break
        fields.append(found[0])
        starts.append(found[1])
        ends.append(found[2])
    return pd.DataFrame({
        "stated": [f != "" for f in fields],
        "evidence_field": fields,
        "evidence_start": pd.array(starts, dtype="Int64"),
        "evidence_end": pd.array(ends, dtype="Int64"),
    })
