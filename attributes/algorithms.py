"""The attribute-extraction methods as the job system sees them."""
from __future__ import annotations

from attributes.pipeline import train_attributes
from mlcore.api import Algorithm, Param

REQUIRED_ROLES = ("item_id", "title")

CENTERING = ("auto", "off", "on")  # HyperPAVE's center_embeddings: auto picks on validation mAP

_COMMON = (
    Param("split", "choice", "zero_shot", choices=("zero_shot", "inductive"),
          help="zero_shot holds out whole values (their products become test products); "
               "inductive holds out whole products at random"),
    Param("holdout_share", "float", 0.15, min=0.05, max=0.4,
          help="share of labelled products held out for test (and again for validation)"),
    Param("n_splits", "int", 3, min=1, max=10,
          help="seeded splits to average the metrics over (mean ± std)"),
    Param("seed", "int", 0, min=0, max=2**31 - 1, help="seed of the first split"),
    Param("text_encoder", "choice", "tfidf", choices=("tfidf", "minilm", "auto"),
          help="tfidf: character n-grams, best on values written in the title (measured on "
               "OA-Mine); minilm: all-MiniLM-L6-v2 sentence embeddings; auto: minilm if installed"),
    Param("vocabulary", "str", "",
          help="values the model may propose although no training product carries them, one "
               "attribute per line or `;`: `Color: red | navy blue`. Candidates are otherwise "
               "only the values of the training products"),
)

HYPERPAVE_PARAMS = _COMMON + (
    Param("hidden_dim", "int", 128, min=16, max=768, help="node embedding width"),
    Param("max_epochs", "int", 150, min=10, max=1000,
          help="full-graph training steps (early stopping on validation mAP)"),
    Param("lr", "float", 1e-3, min=1e-5, max=1e-1, log=True, help="AdamW learning rate"),
    Param("weight_decay", "float", 1e-6, min=0.0, max=0.1, help="AdamW weight decay"),
    Param("dropout", "float", 0.2, min=0.0, max=0.9),
    Param("negatives", "int", 2, min=1, max=10, help="negative values sampled per known value"),
    Param("mask_products", "float", 0.3, min=0.05, max=0.9,
          help="share of training products treated as new in each epoch"),
    Param("mask_aspects", "float", 0.2, min=0.0, max=0.9,
          help="share of seen values treated as unseen in each epoch"),
    Param("use_candidate_edges", "bool", True,
          help="link each category to its candidate values (gives never-seen values a context)"),
    Param("center_embeddings", "choice", "auto", choices=CENTERING,
          help="centre the node embeddings per node type (helps where values are implied by the "
               "product text rather than written in it, hurt on AE-110K); auto trains both ways "
               "and keeps the one with the better validation mAP, which doubles the training time"),
)

CLASSIFIER_PARAMS = _COMMON + (
    Param("l2", "float", 0.0, min=0.0, max=10.0,
          help="L2 penalty on the squared weights, per training product"),
    Param("max_epochs", "int", 100, min=10, max=2000,
          help="full-batch optimiser steps (the best on validation mAP is kept)"),
    Param("lr", "float", 0.5, min=1e-4, max=5.0, log=True, help="Adam learning rate"),
)


ATTRIBUTE_ALGORITHMS: tuple[Algorithm, ...] = (
    Algorithm(
        key="hyperpave", kind="attributes", label="HyperPAVE (hypergraph link prediction)",
        description="Links products to attribute values through a product / category / value "
                    "hypergraph (Gong & Eldardiry, WWW 2024); can propose values no product "
                    "has been labelled with yet.",
        params=HYPERPAVE_PARAMS, run=lambda ctx: train_attributes(ctx, "hyperpave"),
        required_roles=REQUIRED_ROLES),
    Algorithm(
        key="text_similarity", kind="attributes", label="Text similarity (baseline)",
        description="Ranks candidate values by how close their text is to the product's; no "
                    "training. The baseline every other method must beat.",
        params=_COMMON, run=lambda ctx: train_attributes(ctx, "text_similarity"),
        required_roles=REQUIRED_ROLES),
    Algorithm(
        key="multilabel_classifier", kind="attributes",
        label="Multi-label classifier (baseline)",
        description="One-vs-rest logistic regression on text embeddings; predicts only values "
                    "seen in training.",
        params=CLASSIFIER_PARAMS, run=lambda ctx: train_attributes(ctx, "multilabel_classifier"),
        required_roles=REQUIRED_ROLES),
)
