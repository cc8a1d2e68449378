"""Score new rows with a trained run: its input schema, the column check, and one streaming scorer per kind.

No Django here. A scorer is built from a run's artifact (``model.pt`` / ``model.pkl``); the scoring
job (``registry/scoring_job.py``) feeds it the new table chunk by chunk and writes each scored chunk
out, so memory is bounded by the chunk size whatever the table's length. Categories the model never
saw go to its out-of-vocabulary slot (the encoders' rule), never to an error.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mlcore.api import DataError
from mlcore.metrics import auc, logloss

NUMERIC_DTYPES = {"int", "float", "bool"}
SCORABLE_KINDS = ("ctr", "uplift", "attributes")
CTR_SCORABLE = ("lr", "deepfm", "dcnv2", "din", "qin", "tin", "awmoe")
ATTRIBUTE_SCORABLE = ("hyperpave", "text_similarity")


class ScoringError(DataError):
    """A scoring request the analyst must fix (wrong columns, a model that cannot score)."""


@dataclass
class ServingSchema:
    """What a run reads from a table: feature columns with their type, optional label and id columns.

    ``features`` maps column -> ``categorical`` | ``numeric`` | ``sequence`` | ``text``; every one
    must be in the new table. ``labels`` are read when present (drift metrics); ``ids`` are copied
    into the predictions when present. ``known`` lists every column of the training table.
    """

    kind: str
    algorithm: str
    features: dict[str, str]
    labels: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ServingSchema":
        return cls(**data)


def schema_for_run(kind: str, algorithm: str, artifact: Path, training_columns: list[dict]) -> ServingSchema:
    """The input schema of a finished run, read from its artifact (and, for attributes, its roles)."""
    known = [c["name"] for c in training_columns]
    if kind == "ctr":
        if algorithm not in CTR_SCORABLE:
            raise ScoringError(f"{algorithm} runs cannot score new rows yet; scorable CTR models: "
                               f"{', '.join(CTR_SCORABLE)}.")
        saved = torch.load(artifact, map_location="cpu", weights_only=False)
        if int(saved["params"].get("item_table") or 0):
            raise ScoringError("This run read an item table (multimodal item vectors); scoring such runs is not "
                               "supported yet.")
        enc = saved["encoder"]
        features = {c: "categorical" for c in enc["vocabs"]}
        features.update({c: "numeric" for c in enc["numeric"]})
        features.update({c: "sequence" for c in [*enc.get("sequences", {}), *enc.get("behaviour_sequences", {})]})
        if enc.get("time_sequence"):
            features[enc["time_sequence"]] = "sequence"
        if enc.get("timestamp") and enc.get("time_sequence"):
            features[enc["timestamp"]] = "numeric"
        ids = [c for c in (enc.get("user"), enc.get("item")) if c]
        return ServingSchema(kind, algorithm, features, [enc["label"]], ids, known)
    if kind == "uplift":
        from uplift.pipeline import load_model

        _, encoder = load_model(artifact)
        c = encoder.columns
        features = {name: "categorical" for name in c.categorical}
        features.update({name: "numeric" for name in c.numeric})
        labels = [c.treatment, c.click, c.conversion]
        return ServingSchema(kind, algorithm, features, labels, [c.user_id] if c.user_id else [], known)
    if kind == "attributes":
        if algorithm not in ATTRIBUTE_SCORABLE:
            raise ScoringError(f"{algorithm} runs cannot score new products yet; use HyperPAVE or text similarity.")
        roles = {c["name"]: c["role"] for c in training_columns}
        features = {name: "text" for name, role in roles.items() if role in ("item_id", "title")}
        optional = [name for name, role in roles.items() if role in ("description", "category")]
        return ServingSchema(kind, algorithm, features, [n for n, r in roles.items() if r in ("attribute", "value")],
                             optional, known)
    raise ScoringError(f"{kind} runs cannot score new rows; scorable kinds: {', '.join(SCORABLE_KINDS)}.")


def check_columns(schema: ServingSchema, columns: list[dict]) -> list[str]:
    """Problems with a new table's columns (``name`` and profiled ``dtype`` each), one message per kind of problem."""
    have = {c["name"]: c.get("dtype", "") for c in columns}
    problems = []
    missing = [name for name in schema.features if name not in have]
    if missing:
        problems.append(f"missing column(s) {_names(missing)} that the model reads; the file needs the training "
                        f"columns {_names(schema.features)}.")
    extra = [name for name in have if name not in schema.known]
    if extra:
        problems.append(f"extra column(s) {_names(extra)} that the training data did not have; drop them or rename "
                        "them to training columns.")
    wrong = [name for name, kind in schema.features.items()
             if kind == "numeric" and name in have and have[name] not in NUMERIC_DTYPES]
    if wrong:
        problems.append(f"column(s) {_names(wrong)} hold text ({', '.join(have[n] for n in wrong)}) but the model "
                        "reads them as numbers.")
    return problems


def _names(names) -> str:
    return ", ".join(f"`{n}`" for n in names)


class CTRScorer:
    """Predicted click probability per row from a CTR run (tabular or behaviour-sequence net)."""

    def __init__(self, artifact: Path, algorithm: str, schema: ServingSchema, device: str = "cpu",
                 batch_size: int = 8192):
        from modeling.algorithms import NET_FACTORIES
        from modeling.features import FeatureEncoder

        saved = torch.load(artifact, map_location="cpu", weights_only=False)
        self.encoder = FeatureEncoder.from_dict(saved["encoder"])
        self.net = NET_FACTORIES[algorithm](self.encoder.schema, saved["params"])
        self.net.load_state_dict(saved["state_dict"])
        self.net.eval().to(device)
        self.schema, self.device, self.batch_size = schema, torch.device(device), batch_size
        self._y: list[np.ndarray] = []
        self._p: list[np.ndarray] = []

    def read_columns(self, available: list[str]) -> list[str]:
        return [c for c in available if c in self.schema.features or c in self.schema.ids or c == self.encoder.label]

    def score(self, frame: pd.DataFrame, offset: int) -> pd.DataFrame:
        label = self.encoder.label
        has_label = label in frame.columns
        work = frame if has_label else frame.assign(**{label: 0})
        table = self.encoder.transform(work)
        prob = predict_probabilities(self.net, table, self.device, self.batch_size)
        out = pd.DataFrame({"row": np.arange(offset, offset + len(frame), dtype=np.int64)})
        for name in self.schema.ids:
            if name in frame.columns:
                out[name] = frame[name].to_numpy()
        out["predicted_ctr"] = prob
        if has_label:
            self._y.append(table["label"].numpy().astype(np.float64))
            self._p.append(prob.astype(np.float64))
        return out

    def metrics(self) -> dict[str, float]:
        """AUC and log-loss on the new rows when they carried the label (both classes needed for AUC)."""
        if not self._y:
            return {}
        y, p = np.concatenate(self._y), np.concatenate(self._p)
        out = {"logloss": logloss(y, p), "n_labelled": float(len(y))}
        if 0 < y.sum() < len(y):
            out["auc"] = auc(y, p)
        return out


def predict_probabilities(net: torch.nn.Module, table: dict[str, torch.Tensor], device: torch.device,
                          batch_size: int) -> np.ndarray:
    """sigmoid(net(batch)) for every row, batch by batch, in eval mode and without gradients."""
    n = len(next(iter(table.values())))
    parts = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = {k: v[start:start + batch_size].to(device) for k, v in table.items()}
            parts.append(torch.sigmoid(net(batch).float()).cpu())
    return torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.float32)


class UpliftScorer:
    """Predicted uplift per treated arm and task (``uplift/scoring.py``); Qini/AUUC when outcomes come along."""

    def __init__(self, artifact: Path, schema: ServingSchema, device: str = "cpu"):
        from uplift.pipeline import load_model

        self.model, self.encoder = load_model(artifact)
        self.schema, self.device = schema, device
        self._labelled: list[pd.DataFrame] = []

    def read_columns(self, available: list[str]) -> list[str]:
        wanted = set(self.schema.features) | set(self.schema.ids) | set(self.schema.labels)
        return [c for c in available if c in wanted]

    def score(self, frame: pd.DataFrame, offset: int) -> pd.DataFrame:
        from uplift.scoring import score_frame

        out = score_frame(self.model, self.encoder, frame, offset=offset, device=self.device)
        c = self.encoder.columns
        if all(name in frame.columns for name in (c.treatment, c.click, c.conversion)):
            from uplift.data import _binary

            part = out[[col for col in out.columns if col.startswith("uplift_")]].copy()
            part["_t"] = self.encoder.treatment_index(frame[c.treatment])
            part["_click"] = _binary(frame[c.click], c.click, "Click")
            part["_conv"] = part["_click"] * _binary(frame[c.conversion], c.conversion, "Conversion")
            self._labelled.append(part)
        return out

    def metrics(self) -> dict[str, float]:
        """scikit-uplift Qini coefficient and normalised AUUC per task (mean over arms, and per arm)."""
        if not self._labelled:
            return {}
        from uplift import metrics as M

        data = pd.concat(self._labelled, ignore_index=True)
        t = data["_t"].to_numpy()
        out: dict[str, float] = {"n_labelled": float(len(data))}
        for task, y_col in (("ctr", "_click"), ("ctcvr", "_conv")):
            y = data[y_col].to_numpy(dtype=np.float64)
            per_arm: dict[str, list[float]] = {"sklift_qini": [], "sklift_auuc": []}
            for k, arm in enumerate(self.encoder.arms[1:], start=1):
                rows = (t == 0) | (t == k)
                if not (t[rows] == k).any() or not (t[rows] == 0).any():
                    continue
                s, w = data[f"uplift_{task}__{arm}"].to_numpy()[rows], (t[rows] == k).astype(np.float64)
                out[f"sklift_qini_{task}_arm{k}"] = M.sklift_qini_auc_score(y[rows], s, w)
                out[f"sklift_auuc_{task}_arm{k}"] = M.sklift_uplift_auc_score(y[rows], s, w)
                per_arm["sklift_qini"].append(out[f"sklift_qini_{task}_arm{k}"])
                per_arm["sklift_auuc"].append(out[f"sklift_auuc_{task}_arm{k}"])
            for short, values in per_arm.items():
                if values:
                    out[f"{short}_{task}"] = float(np.nanmean(values))
        return {k: float(v) for k, v in out.items() if np.isfinite(v)}


class AttributeScorer:
    """Attribute values for new products from a HyperPAVE (or text-similarity) run.

    The new products join the training catalogue's graph as nodes without links (exactly what the
    run's held-out products were), every known label of the training table is a message link, and
    the run's own score (text prior + beta * learned link - gamma * seen) and threshold decide.
    A category the run never saw allows every value.
    """

    def __init__(self, artifact: Path, schema: ServingSchema, training_table: pd.DataFrame,
                 training_roles: dict[str, str], device: str = "cpu", products_per_pass: int = 4096):
        from attributes.pipeline import catalogue_from_table

        self.saved = torch.load(artifact, map_location="cpu", weights_only=False)
        self.schema, self.device, self.products_per_pass = schema, device, products_per_pass
        self.training_roles = training_roles
        self.train_products, self.train_labels, self.groups = catalogue_from_table(training_table, training_roles)
        self._frames: list[pd.DataFrame] = []

    def read_columns(self, available: list[str]) -> list[str]:
        wanted = set(self.schema.features) | set(self.schema.ids)
        return [c for c in available if c in wanted]

    def score(self, frame: pd.DataFrame, offset: int) -> pd.DataFrame:
        """Collects products; attribute scoring needs every new product's text first (see :meth:`finish`)."""
        self._frames.append(frame)
        return pd.DataFrame()

    def finish(self) -> list[pd.DataFrame]:
        """Score the collected products, ``products_per_pass`` at a time; one predictions frame per pass."""
        from attributes.pipeline import catalogue_from_table

        if not self._frames:
            return []
        frame = pd.concat(self._frames, ignore_index=True)
        roles = {c: r for c, r in self.training_roles.items() if c in frame.columns and r in
                 ("item_id", "title", "description", "category")}
        products, _, _ = catalogue_from_table(frame, roles)
        return [self._score_products(products.iloc[i:i + self.products_per_pass].reset_index(drop=True))
                for i in range(0, len(products), self.products_per_pass)]

    def _score_products(self, new: pd.DataFrame) -> pd.DataFrame:
        from attributes.evaluation import decide
        from attributes.features import NodeFeatures
        from attributes.hypergraph import Catalogue, _incidence, build_hypergraph, candidate_matrix
        from mlcore.text import TextEncoder

        s = self.saved
        attributes, aspect_attribute = list(s["attributes"]), np.asarray(s["aspect_attribute"], dtype=np.int64)
        aspect_values = list(s["aspect_values"])
        products = pd.concat([self.train_products, new], ignore_index=True)
        categories = sorted(set(products["category"]))
        product_category = pd.Categorical(products["category"], categories=categories).codes.astype(np.int64)
        key = pd.Series(np.arange(len(aspect_values)),
                        index=pd.MultiIndex.from_arrays([[attributes[a] for a in aspect_attribute], aspect_values]))
        labels = self.train_labels
        link_aspect = key.reindex(pd.MultiIndex.from_frame(labels[["attribute", "value"]])).to_numpy()
        index = pd.Series(np.arange(len(self.train_products)), index=self.train_products["product_id"].astype(str))
        link_product = index.reindex(labels["product_id"].astype(str)).to_numpy()
        ok = ~(np.isnan(link_aspect) | np.isnan(link_product))
        links = np.stack([link_product[ok], link_aspect[ok]], axis=1).astype(np.int64).reshape(-1, 2)
        cat = Catalogue(product_ids=products["product_id"].to_numpy(dtype=str), titles=products["title"].tolist(),
                        descriptions=products["description"].tolist(), categories=categories,
                        product_category=product_category, attributes=attributes, aspect_attribute=aspect_attribute,
                        aspect_values=aspect_values, links=links,
                        vocabulary=np.zeros((len(categories), len(aspect_values)), dtype=bool),
                        vocabulary_any=np.zeros(len(aspect_values), dtype=bool))
        allowed = candidate_matrix(cat, links)  # the training products' values only, as in the run
        allowed[~allowed.any(axis=1)] = True  # a category the run never saw: every value is a candidate
        encoder = TextEncoder(s["encoder"]["method"], s["encoder"]["dim"], s["encoder"]["projection"], device=self.device)
        encode = lambda texts: encoder.encode(texts)  # noqa: E731
        features = NodeFeatures(encode(cat.product_texts()), encode([f"product category: {c}" for c in categories]),
                                encode(cat.aspect_texts()), encode(aspect_values), encoder)
        targets = np.arange(len(self.train_products), len(products))
        seen = np.zeros(len(aspect_values), dtype=bool)
        seen[links[:, 1]] = True
        scores = features.text_similarity(targets)  # (n, A)
        if s["method"] == "hyperpave":
            from attributes.nets.hyperpave import HyperPAVE

            graph = build_hypergraph(cat, links, self.groups, "ca" in s["edge_types"], allowed=allowed)
            for edge_type in s["edge_types"]:  # behaviour kinds the new table lacks: singletons only
                graph.incidence.setdefault(edge_type, _incidence(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                                                 cat.num_nodes))
            state = s["state_dict"]
            hidden, text_dim = state["project.0.weight"].shape
            model = HyperPAVE(text_dim, s["edge_types"], hidden, center=s.get("center", False))
            model.load_state_dict(state)
            model.eval()
            with torch.no_grad():
                h = model(torch.from_numpy(features.node_matrix()), graph)  # (N, d)
                aspect_nodes = torch.arange(cat.num_aspects) + cat.num_products + cat.num_categories
                link = model.link_cosine(h, torch.from_numpy(targets), aspect_nodes).numpy()  # (n, A)
            scores = scores + s["beta"] * link - s["gamma"] * seen[None, :]
        chosen = decide(scores, allowed[product_category[targets]], aspect_attribute,
                        np.asarray(s["threshold"], dtype=float), s.get("max_values"))
        row, aspect = np.nonzero(chosen)
        return pd.DataFrame({
            "product_id": cat.product_ids[targets[row]],
            "attribute": [attributes[a] for a in aspect_attribute[aspect]],
            "value": [aspect_values[a] for a in aspect],
            "score": scores[row, aspect].astype(np.float64),
            "is_new_value": ~seen[aspect],
        })

    def metrics(self) -> dict[str, float]:
        return {}


def load_schema(path: Path) -> ServingSchema:
    return ServingSchema.from_dict(json.loads(Path(path).read_text()))
