"""One attribute-extraction job: read the catalogue, evaluate on seeded splits, write predictions.

The dataset reaches us through :class:`~mlcore.api.RunContext`: ``read_table()`` is a long table
with a row per known (product, attribute, value) and the product columns repeated; a product with
no label has one row with empty attribute and value. Column roles:

====================  ==================================================================
``item_id``           product id (required)
``title``             product title (required)
``description``       longer product text (optional)
``category``          product category (optional; one category for all when absent)
``attribute``         attribute name of the label on this row (optional)
``value``             attribute value of the label on this row (optional)
====================  ==================================================================

``ctx.extra`` may carry ``groups`` (a ``group_id, product_id, kind`` frame of behaviour groups:
sessions, co-view lists), ``candidates`` (an ``attribute, value`` frame, optionally with
``category``: the analyst's value vocabulary, values no training product carries yet) and
``text_cache_dir``. The ``vocabulary`` job parameter adds to it (``Color: red | navy blue``, one
attribute per line). Candidates are the training products' values plus that vocabulary, never
the held-out products' labels (:func:`~attributes.hypergraph.candidate_matrix`).

Memory: unlike the CTR and uplift click logs, this data is a product catalogue, not an event log,
so it is read whole (``read_table``) and the hypergraph, text vectors and label matrices are held in
memory: all are bounded by the catalogue's size (products × attribute values), which does not grow
with traffic. The out-of-core path of ``modeling/encoded.py`` is for tables that grow with events.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from attributes.baselines import MultiLabelClassifier, TextSimilarityRanker
from attributes.calibration import Calibration, fit_calibration
from attributes.evaluation import (Split, allowed_matrix, choose_thresholds, decide,
                                   evaluate_scores, find_evidence, make_split,
                                   max_values_per_attribute, mean_std, truth_matrix)
from attributes.features import NodeFeatures, encode_node_features
from attributes.hypergraph import Catalogue, encode_catalogue, parse_vocabulary
from attributes.io import _normalise_labels, split_long_table
from attributes.training import HyperPAVERanker
from mlcore.api import DataError, RunContext, RunResult

METHODS = ("hyperpave", "text_similarity", "multilabel_classifier")
_ROLE_COLUMNS = {"item_id": "product_id", "product_id": "product_id", "title": "title",
                 "description": "description", "category": "category",
                 "attribute": "attribute", "value": "value"}


def catalogue_from_context(ctx: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products and labels from the job's table, using the roles the analyst confirmed.

    ``ctx.extra`` may add ``accepted_labels`` (values a reviewer accepted on an earlier run) and
    ``rejected_labels`` (values a reviewer rejected, dropped even when the file states them),
    both ``product_id, attribute, value`` frames. A ``group`` column fills ``ctx.extra["groups"]``
    when the caller gave none.
    """
    frame = ctx.read_table([c for c, r in ctx.roles.items() if r in _TABLE_ROLES])
    products, labels, groups = catalogue_from_table(
        frame, ctx.roles, accepted=ctx.extra.get("accepted_labels"),
        rejected=ctx.extra.get("rejected_labels"))
    if groups is not None and ctx.extra.get("groups") is None:
        ctx.extra["groups"] = groups
    if labels.empty:
        raise DataError("no labelled (attribute, value) rows: give at least some products their "
                        "known attribute values in the `attribute` and `value` columns")
    return products, labels


_TABLE_ROLES = set(_ROLE_COLUMNS) | {"brand", "group"}


def catalogue_from_table(frame: pd.DataFrame, roles: dict[str, str], *,
                         accepted: pd.DataFrame | None = None,
                         rejected: pd.DataFrame | None = None
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The analyst's long table as the engine's ``(products, labels, groups)``.

    ``roles`` maps column name to role. A ``brand`` column becomes a ``Brand`` label per product;
    a ``group`` column (session, basket, co-view list id) becomes behaviour groups of the
    products sharing a value (``group_id, product_id, kind``), or ``None`` without one.
    """
    columns: dict[str, str] = {}
    extra: dict[str, str] = {}
    for column, role in roles.items():
        if role in _ROLE_COLUMNS and _ROLE_COLUMNS[role] not in columns:
            columns[_ROLE_COLUMNS[role]] = column
        elif role in ("brand", "group") and role not in extra:
            extra[role] = column
    for needed in ("product_id", "title"):
        if needed not in columns:
            role = "item_id" if needed == "product_id" else needed
            raise DataError(f"no column has the role `{role}`; attribute extraction needs a "
                            "product id and a title")
    frame = frame.copy()
    for column in columns.values():
        frame[column] = frame[column].where(frame[column].notna(), None)
    attribute = columns.get("attribute")
    if attribute is not None:  # empty strings, not only nulls, mark an unlabelled product row
        blank = frame[attribute].isna() | (frame[attribute].astype(str).str.strip() == "")
        frame.loc[blank, attribute] = None
    products, labels = split_long_table(frame, columns)
    ids = frame[columns["product_id"]].astype(str)
    parts = [labels]
    if "brand" in extra:
        parts.append(pd.DataFrame({"product_id": ids, "attribute": "Brand",
                                   "value": frame[extra["brand"]].fillna("").astype(str)}))
    if accepted is not None and len(accepted):
        parts.append(accepted[["product_id", "attribute", "value"]].astype(str))
    if len(parts) > 1:
        labels = _normalise_labels(pd.concat(parts, ignore_index=True))
        labels = labels[labels["product_id"].isin(products["product_id"])].reset_index(drop=True)
    if rejected is not None and len(rejected):
        key = ["product_id", "attribute", "value"]
        drop = labels[key].merge(rejected[key].astype(str).drop_duplicates(), how="left",
                                 indicator=True)["_merge"].eq("both").to_numpy()
        labels = labels[~drop].reset_index(drop=True)
    groups = None
    if "group" in extra:
        g = pd.DataFrame({"group_id": frame[extra["group"]], "product_id": ids}).dropna()
        g = g[g["group_id"].astype(str).str.strip() != ""].drop_duplicates()
        groups = g.assign(group_id=g["group_id"].astype(str), kind="group").reset_index(drop=True)
    return products, labels, groups


def make_ranker(method: str, params: dict[str, Any], seed: int, device: str):
    """The ranker for ``method`` with the job's hyperparameters.

    For HyperPAVE, ``center_embeddings`` must be ``"on"`` or ``"off"`` here (``"auto"`` is resolved
    by :func:`evaluate_method`, which trains both).
    """
    if method == "text_similarity":
        return TextSimilarityRanker()
    if method == "multilabel_classifier":
        return MultiLabelClassifier(l2=params["l2"], max_epochs=params["max_epochs"],
                                    lr=params["lr"], seed=seed, device=device)
    if method == "hyperpave":
        return HyperPAVERanker(
            hidden_dim=params["hidden_dim"], max_epochs=params["max_epochs"], lr=params["lr"],
            weight_decay=params["weight_decay"], dropout=params["dropout"],
            negatives=params["negatives"], mask_products=params["mask_products"],
            mask_aspects=params["mask_aspects"],
            use_candidate_edges=params["use_candidate_edges"],
            center_embeddings=params.get("center_embeddings", "off") == "on", seed=seed, device=device)
    raise ValueError(f"unknown attribute method {method!r}; known: {', '.join(METHODS)}")


def evaluate_method(catalogue: Catalogue, features: NodeFeatures, split: Split, method: str,
                    params: dict[str, Any], *, groups: pd.DataFrame | None = None,
                    device: str = "cpu", progress=lambda f, p: None,
                    check_cancelled=lambda: None, log=lambda m: None):
    """Fit on one split, pick the per-attribute thresholds on validation, score the test products.

    An attribute may take as many values as one training product carries for it (several for a
    multi-valued attribute); each attribute's cut is chosen on the validation links.
    Returns ``(ranker, thresholds, metrics, breakdown, fit_info)``; ``fit_info`` gains
    ``max_values`` (per attribute).
    """
    if method == "hyperpave" and params.get("center_embeddings") == "auto":
        ranker, info = _fit_hyperpave_centring_on_validation(
            catalogue, features, split, params, groups=groups, device=device, progress=progress,
            check_cancelled=check_cancelled, log=log)
    else:
        ranker = make_ranker(method, params, split.seed, device)
        info = ranker.fit(catalogue, features, split, groups=groups, progress=progress,
                          check_cancelled=check_cancelled, log=log)
    max_values = max_values_per_attribute(catalogue, split.train_links)
    valid_scores = ranker.score(split.valid_products)
    thresholds = choose_thresholds(valid_scores, truth_matrix(catalogue, split.valid_products),
                                   allowed_matrix(catalogue, split, split.valid_products),
                                   catalogue.aspect_attribute, max_values)
    metrics, breakdown = evaluate_scores(catalogue, split, split.test_products,
                                         ranker.score(split.test_products), thresholds,
                                         max_values)
    info = {**info, "max_values": max_values}
    return ranker, thresholds, metrics, breakdown, info


def _fit_hyperpave_centring_on_validation(catalogue: Catalogue, features: NodeFeatures, split: Split,
                                          params: dict[str, Any], *, groups, device: str, progress,
                                          check_cancelled, log):
    """Train HyperPAVE uncentred and centred; keep the one with the better validation mAP.

    Only validation links decide (each fit's early-stopping best), never the test products.
    Returns ``(ranker, fit_info)``; ``fit_info`` says which was kept and both validation mAPs.
    """
    fits = {}
    for i, choice in enumerate(("off", "on")):
        log(f"centre embeddings {choice}: training")
        ranker = make_ranker("hyperpave", {**params, "center_embeddings": choice}, split.seed, device)
        info = ranker.fit(catalogue, features, split, groups=groups,
                          progress=lambda f, phase, i=i, c=choice: progress((i + f) / 2, f"{phase}, centring {c}"),
                          check_cancelled=check_cancelled, log=log)
        fits[choice] = (ranker, info)
    scores = {choice: float(info["best_valid_map"]) for choice, (_, info) in fits.items()}
    kept = "on" if scores["on"] > scores["off"] else "off"  # a tie keeps the simpler, uncentred model
    log(f"centre embeddings: kept {kept} (validation mAP off {scores['off']:.4f}, on {scores['on']:.4f})")
    ranker, info = fits[kept]
    return ranker, {**info, "centring_kept": kept, "centring_valid_map": scores}


def prediction_rows(catalogue: Catalogue, ranker, split: Split, threshold: float | np.ndarray,
                    products: np.ndarray, max_values: np.ndarray | None = None,
                    calibration: Calibration | None = None) -> pd.DataFrame:
    """Decided values for ``products`` with score, evidence span and stated/inferred flag.

    ``score`` is the ranker's raw score, or with ``calibration`` the probability in [0, 1] that
    the value is right (what the pages call confidence).
    """
    columns = ["product_id", "attribute", "value", "score", "stated", "evidence_field",
               "evidence_start", "evidence_end", "split", "is_new_value", "correct"]
    if len(products) == 0:
        return pd.DataFrame(columns=columns)
    scores = ranker.score(products)  # (n, A)
    predicted = decide(scores, allowed_matrix(catalogue, split, products),
                       catalogue.aspect_attribute, threshold, max_values)
    row, aspect = np.nonzero(predicted)
    product = products[row]
    values = [catalogue.aspect_values[a] for a in aspect]
    evidence = find_evidence([catalogue.titles[p] for p in product],
                             [catalogue.descriptions[p] for p in product], values)
    part = split.part_of(catalogue.num_products)[product]
    correct = pd.array(truth_matrix(catalogue, products)[row, aspect], dtype="boolean")
    correct[part == "unlabelled"] = pd.NA
    return pd.DataFrame({
        "product_id": catalogue.product_ids[product],
        "attribute": [catalogue.attributes[i] for i in catalogue.aspect_attribute[aspect]],
        "value": values, "score": (calibration(scores[row, aspect]) if calibration is not None
                                   else scores[row, aspect]).astype(float),
        **{c: evidence[c].to_numpy() for c in ("stated", "evidence_field")},
        "evidence_start": evidence["evidence_start"].array,
        "evidence_end": evidence["evidence_end"].array,
        "split": part, "is_new_value": ~split.seen_aspects[aspect], "correct": correct,
    })[columns]


def _save_model(path: Path, method: str, ranker, features: NodeFeatures, catalogue: Catalogue,
                threshold: np.ndarray, max_values: np.ndarray) -> None:
    state: dict[str, Any] = {"method": method, "threshold": threshold, "max_values": max_values,
                             "encoder": {"method": features.encoder.method,
                                         "dim": features.encoder.dim,
                                         "projection": features.encoder.projection},
                             "attributes": catalogue.attributes,
                             "aspect_attribute": catalogue.aspect_attribute,
                             "aspect_values": catalogue.aspect_values}
    if isinstance(ranker, HyperPAVERanker):
        state.update(state_dict=ranker.model.state_dict(), beta=ranker.beta, gamma=ranker.gamma,
                     edge_types=ranker.model.edge_types, center=ranker.model.center)
    elif isinstance(ranker, MultiLabelClassifier):
        state.update(weight=ranker.weight.cpu(), bias=ranker.bias.cpu(), columns=ranker.columns)
    torch.save(state, path)


def _vocabulary(ctx: RunContext) -> pd.DataFrame | None:
    """The analyst's candidate values: ``ctx.extra["candidates"]`` plus the ``vocabulary`` param."""
    parts = [ctx.extra.get("candidates")]
    try:
        parts.append(parse_vocabulary(ctx.params.get("vocabulary", "")))
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    parts = [p for p in parts if p is not None and len(p)]
    return pd.concat(parts, ignore_index=True) if parts else None


def train_attributes(ctx: RunContext, method: str) -> RunResult:
    """Evaluate ``method`` over ``n_splits`` seeded splits, then predict with the first split's model.

    Metrics are means over splits (``<name>_std`` beside each); predictions cover the first
    split's test products and every unlabelled product, written to ``predictions.parquet``.
    """
    params = ctx.params
    started = time.perf_counter()
    ctx.progress(0.0, "reading catalogue")
    products, labels = catalogue_from_context(ctx)
    catalogue = encode_catalogue(products, labels, _vocabulary(ctx))
    groups = ctx.extra.get("groups")
    ctx.progress(0.02, "encoding text")
    features = encode_node_features(catalogue, method=params["text_encoder"],
                                    dim=384 if params["text_encoder"] != "tfidf" else 256,
                                    device=ctx.device, cache_dir=ctx.extra.get("text_cache_dir"))
    ctx.check_cancelled()
    n_splits = params["n_splits"]
    runs, first = [], None
    for i in range(n_splits):
        seed = params["seed"] + i
        try:
            split = make_split(catalogue, params["split"], seed, params["holdout_share"])
        except ValueError as exc:
            raise DataError(str(exc)) from exc
        if len(split.valid_products) == 0 or len(split.test_products) == 0:
            raise DataError("too few labelled products to hold out validation and test products; "
                            "label more products or raise `holdout_share`")
        span = lambda f, phase, i=i: ctx.progress(0.1 + 0.85 * (i + f) / n_splits,  # noqa: E731
                                                  f"{phase} (split {i + 1} of {n_splits})")
        outcome = evaluate_method(catalogue, features, split, method, params, groups=groups,
                                  device=ctx.device, progress=span,
                                  check_cancelled=ctx.check_cancelled, log=ctx.log)
        runs.append(outcome[2])
        if first is None:
            first = (split, *outcome)
        ctx.log(f"split {i + 1}: micro-F1 {outcome[2]['micro_f1']:.4f}, mAP {outcome[2]['map']:.4f}")

    ctx.progress(0.96, "writing predictions")
    split, ranker, threshold, _, breakdown, info = first
    unlabelled = np.setdiff1d(np.arange(catalogue.num_products), np.unique(catalogue.links[:, 0]))
    targets = np.concatenate([split.test_products, unlabelled])
    workdir = Path(ctx.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    max_values = info["max_values"]
    calibration = fit_calibration(ranker.score(split.valid_products),
                                  truth_matrix(catalogue, split.valid_products),
                                  allowed_matrix(catalogue, split, split.valid_products), seed=params["seed"])
    ctx.log(f"confidence: {calibration.method} (slope {calibration.slope:.3g}, intercept {calibration.intercept:.3g})")
    predictions = prediction_rows(catalogue, ranker, split, threshold, targets, max_values, calibration)
    predictions.to_parquet(workdir / "predictions.parquet", index=False)
    artifact = workdir / "model.pt"
    _save_model(artifact, method, ranker, features, catalogue, threshold, max_values)
    ctx.progress(1.0, "done")
    summary = {
        "method": method, "device": ctx.device, "text_encoder": features.encoder.method,
        "split": params["split"], "n_splits": n_splits,
        "thresholds": {catalogue.attributes[a]: float(t) for a, t in enumerate(threshold)},
        "max_values": {catalogue.attributes[a]: int(k) for a, k in enumerate(max_values)},
        "confidence": f"probability the value is right: {calibration.method}",
        "calibration_slope": calibration.slope, "calibration_intercept": calibration.intercept,
        "products": catalogue.num_products, "categories": catalogue.num_categories,
        "candidate_values": int(split.allowed.any(axis=0).sum()),
        "vocabulary_values": int((catalogue.vocabulary.any(axis=0) |
                                  catalogue.vocabulary_any).sum()),
        "labels": int(len(catalogue.links)),
        "train_products": int(len(split.train_products)),
        "valid_products": int(len(split.valid_products)),
        "test_products": int(len(split.test_products)), "unlabelled_products": int(len(unlabelled)),
        "predictions_file": "predictions.parquet", "predicted_values": int(len(predictions)),
        "seconds": round(time.perf_counter() - started, 1),
        **{k: v for k, v in info.items() if k in ("beta", "gamma", "mixing_weights", "centring_kept",
                                                  "centring_valid_map", "epochs_run")},
    }
    curves = {"history": info.get("history", []), "per_category": breakdown["category"],
              "per_attribute": breakdown["attribute"]}
    return RunResult(metrics=mean_std(runs), curves=curves, artifact=artifact, summary=summary)
