"""The heterogeneous product / category / aspect hypergraph HyperPAVE learns on.

Nodes share one index space: products ``[0, P)``, categories ``[P, P+C)``, aspects
(attribute-value pairs) ``[P+C, N)``. Hyperedge types (Gong & Eldardiry, WWW 2024, and spec 3.3):

- ``pa``: one per product with training labels: the product and its *training* aspects.
- ``cpa``: one per category: the category, all its products, and the aspects of its *training*
  products.
- ``ca`` (our extension): one per category: the category and its candidate aspects (values on
  its training products plus the analyst's vocabulary, see :func:`candidate_matrix`), so a
  value never seen on a product still has a structural context.
- one type per behaviour kind (``view``, ``buy``, ``session``...): one hyperedge per group of at
  least two catalogue products.
- every node a type leaves uncovered gets a singleton hyperedge of that type, because a hypergraph
  convolution gives an isolated node only its bias.

Labels enter **only** through ``train_links``: the reference code built product-aspect hyperedges
from every label, leaking the answers of held-out products into the graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

LABEL_EDGE_TYPES = ("pa", "cpa")


@dataclass
class Catalogue:
    """Products, categories and the candidate aspect vocabulary as integer indices.

    ``links`` holds every known (product, aspect) label; which of them the model may see is
    decided by the split, never here. Candidates never come from ``links``: ``vocabulary`` marks
    the aspects the analyst listed for a category, ``vocabulary_any`` those listed without a
    category; :func:`candidate_matrix` adds the values of the *training* products.
    """

    product_ids: np.ndarray  # (P,) str
    titles: list[str]
    descriptions: list[str]
    categories: list[str]  # (C,)
    product_category: np.ndarray  # (P,) int64
    attributes: list[str]
    aspect_attribute: np.ndarray  # (A,) int64
    aspect_values: list[str]  # (A,)
    links: np.ndarray  # (L, 2) int64: product, aspect
    vocabulary: np.ndarray  # (C, A) bool: listed by the analyst for that category
    vocabulary_any: np.ndarray  # (A,) bool: listed by the analyst for every category

    @property
    def num_products(self) -> int:
        return len(self.product_ids)

    @property
    def num_categories(self) -> int:
        return len(self.categories)

    @property
    def num_aspects(self) -> int:
        return len(self.aspect_values)

    @property
    def num_nodes(self) -> int:
        return self.num_products + self.num_categories + self.num_aspects

    def aspect_node(self, aspect: np.ndarray) -> np.ndarray:
        return aspect + self.num_products + self.num_categories

    def category_node(self, category: np.ndarray) -> np.ndarray:
        return category + self.num_products

    def aspect_texts(self) -> list[str]:
        """``"attribute is value"``, the aspect wording of the paper."""
        return [f"{self.attributes[a]} is {v}" for a, v in zip(self.aspect_attribute,
                                                                self.aspect_values)]

    def product_texts(self) -> list[str]:
        return [f"{t}. {d}" if d else t for t, d in zip(self.titles, self.descriptions)]

    def product_index(self, product_ids: pd.Series | np.ndarray) -> np.ndarray:
        lookup = pd.Series(np.arange(self.num_products), index=self.product_ids)
        return lookup.reindex(np.asarray(product_ids, dtype=str)).to_numpy()


def encode_catalogue(products: pd.DataFrame, labels: pd.DataFrame,
                     candidates: pd.DataFrame | None = None, *,
                     oracle_candidates: bool = False) -> Catalogue:
    """Index a normalised catalogue (see :mod:`attributes.io`); vocabularies are sorted.

    ``candidates`` (``attribute, value`` and optionally ``category``) is the analyst's value
    vocabulary: values that may be proposed even though no training product carries them (the
    zero-shot targets). A row with an empty or missing category applies to every category.
    ``oracle_candidates`` adds every labelled (category, value) pair, test products' included,
    to the vocabulary: the old, optimistic protocol, kept only for comparison.
    """
    products = products.reset_index(drop=True)
    categories = sorted(products["category"].unique())
    product_category = pd.Categorical(products["category"], categories=categories).codes
    labels = labels[labels["product_id"].isin(products["product_id"])]
    cat_of_product = pd.Series(products["category"].to_numpy(), index=products["product_id"])
    label_pairs = pd.DataFrame({"category": cat_of_product.reindex(labels["product_id"]).to_numpy(),
                                "attribute": labels["attribute"].to_numpy(),
                                "value": labels["value"].to_numpy()})
    listed = _vocabulary_frame(candidates, categories)
    if oracle_candidates:
        listed = pd.concat([listed, label_pairs], ignore_index=True)
    pairs = pd.concat([label_pairs, listed], ignore_index=True)
    aspects = pairs[["attribute", "value"]].drop_duplicates().sort_values(["attribute", "value"])
    aspects = aspects.reset_index(drop=True)
    attributes = sorted(aspects["attribute"].unique())
    aspect_key = pd.Series(np.arange(len(aspects)),
                           index=pd.MultiIndex.from_frame(aspects[["attribute", "value"]]))

    vocabulary = np.zeros((len(categories), len(aspects)), dtype=bool)
    vocabulary_any = np.zeros(len(aspects), dtype=bool)
    listed_aspect = aspect_key.reindex(
        pd.MultiIndex.from_frame(listed[["attribute", "value"]])).to_numpy()
    everywhere = listed["category"].isna().to_numpy()
    vocabulary_any[listed_aspect[everywhere]] = True
    listed_cat = pd.Categorical(listed["category"][~everywhere], categories=categories).codes
    vocabulary[listed_cat, listed_aspect[~everywhere]] = True

    product_lookup = pd.Series(np.arange(len(products)), index=products["product_id"])
    link_product = product_lookup.reindex(labels["product_id"]).to_numpy()
    link_aspect = aspect_key.reindex(pd.MultiIndex.from_frame(labels[["attribute", "value"]]))
    links = np.stack([link_product, link_aspect.to_numpy()], axis=1).astype(np.int64)
    return Catalogue(
        product_ids=products["product_id"].to_numpy(dtype=str),
        titles=products["title"].tolist(), descriptions=products["description"].tolist(),
        categories=categories, product_category=np.asarray(product_category, dtype=np.int64),
        attributes=attributes,
        aspect_attribute=pd.Categorical(aspects["attribute"], categories=attributes).codes
        .astype(np.int64),
        aspect_values=aspects["value"].tolist(),
        links=np.unique(links, axis=0) if len(links) else links.reshape(0, 2),
        vocabulary=vocabulary, vocabulary_any=vocabulary_any,
    )


def _vocabulary_frame(candidates: pd.DataFrame | None, categories: list[str]) -> pd.DataFrame:
    """``category`` (None = every category), ``attribute``, ``value`` rows of the vocabulary."""
    if candidates is None or not len(candidates):
        return pd.DataFrame({"category": pd.Series([], dtype=object),
                             "attribute": pd.Series([], dtype=object),
                             "value": pd.Series([], dtype=object)})
    frame = candidates.copy()
    if "category" not in frame:
        frame["category"] = None
    frame = frame[["category", "attribute", "value"]].astype(object)
    for column in ("attribute", "value"):
        frame[column] = frame[column].astype(str).str.strip()
    frame = frame[(frame["attribute"] != "") & (frame["value"] != "")]
    blank = frame["category"].isna() | (frame["category"].astype(str).str.strip() == "")
    frame.loc[blank, "category"] = None
    frame = frame[frame["category"].isna() | frame["category"].isin(categories)]
    return frame.drop_duplicates().reset_index(drop=True)


def parse_vocabulary(text: str) -> pd.DataFrame:
    """The ``vocabulary`` job parameter as an ``attribute, value`` frame (every category).

    One attribute per line (or per ``;``): ``Color: red | navy blue | green``. Values are split
    on ``|`` so they may contain commas.
    """
    rows = []
    for entry in str(text or "").replace(";", "\n").splitlines():
        if not entry.strip():
            continue
        attribute, sep, values = entry.partition(":")
        if not sep or not attribute.strip():
            raise ValueError(f"vocabulary line {entry.strip()!r} must read `attribute: value | value`")
        rows += [(attribute.strip(), v.strip()) for v in values.split("|") if v.strip()]
    return pd.DataFrame(rows, columns=["attribute", "value"])


def candidate_matrix(catalogue: Catalogue, train_links: np.ndarray) -> np.ndarray:
    """``(C, A)`` bool: the values that may be proposed for a product of each category.

    A value is a candidate in a category when a *training* product of that category carries it,
    when the analyst listed it for that category, or when the analyst listed it without a
    category: then in every category where its attribute occurs in training (every category when
    the attribute is new). Held-out products' labels never enter, so a value only test products
    carry can be found only through the vocabulary, from product text, never from the answers.
    """
    cat = catalogue
    train_links = np.asarray(train_links, dtype=np.int64).reshape(-1, 2)
    allowed = cat.vocabulary.copy()
    link_cat = cat.product_category[train_links[:, 0]]
    allowed[link_cat, train_links[:, 1]] = True
    n_attr = len(cat.attributes)
    has_attribute = np.zeros((cat.num_categories, n_attr), dtype=bool)  # (C, n_attr)
    has_attribute[link_cat, cat.aspect_attribute[train_links[:, 1]]] = True
    has_attribute[:, ~has_attribute.any(axis=0)] = True  # a new attribute: every category
    allowed |= cat.vocabulary_any[None, :] & has_attribute[:, cat.aspect_attribute]
    return allowed


@dataclass
class AttributeHypergraph:
    """Sparse incidence matrices per hyperedge type plus the pairwise relations for SAGE.

    ``incidence[t]`` is a coalesced sparse COO ``(N, M_t)`` 0/1 matrix. ``relations[r]`` is a
    ``(2, E)`` LongTensor of (source node, target node) for ``in`` (product -> category),
    ``has`` (product -> aspect, training links only) and their reverses ``rev_in``, ``rev_has``.
    """

    num_nodes: int
    node_type: torch.Tensor  # (N,) 0 product, 1 category, 2 aspect
    incidence: dict[str, torch.Tensor]
    relations: dict[str, torch.Tensor] = field(default_factory=dict)

    def hyperedge_index(self, edge_type: str) -> torch.Tensor:
        """``(2, nnz)`` node / hyperedge ids, the layout torch-geometric's convolutions take."""
        return self.incidence[edge_type].indices()

    def to(self, device: torch.device | str) -> "AttributeHypergraph":
        return AttributeHypergraph(
            self.num_nodes, self.node_type.to(device),
            {k: v.to(device) for k, v in self.incidence.items()},
            {k: v.to(device) for k, v in self.relations.items()},
        )


def _incidence(nodes: np.ndarray, edges: np.ndarray, num_nodes: int) -> torch.Tensor:
    """Sparse (N, M) incidence, deduplicated, with a singleton hyperedge per uncovered node."""
    pairs = np.unique(np.stack([nodes, edges]).astype(np.int64), axis=1) if len(nodes) else \
        np.zeros((2, 0), dtype=np.int64)
    num_edges = int(pairs[1].max()) + 1 if pairs.shape[1] else 0
    uncovered = np.setdiff1d(np.arange(num_nodes), pairs[0])
    singles = np.stack([uncovered, num_edges + np.arange(len(uncovered))])
    pairs = np.concatenate([pairs, singles], axis=1)
    index = torch.from_numpy(pairs)
    return torch.sparse_coo_tensor(index, torch.ones(index.shape[1]),
                                   (num_nodes, num_edges + len(uncovered)),
                                   check_invariants=False).coalesce()


def build_hypergraph(catalogue: Catalogue, train_links: np.ndarray,
                     groups: pd.DataFrame | None = None,
                     use_candidate_edges: bool = True,
                     allowed: np.ndarray | None = None) -> AttributeHypergraph:
    """Build every hyperedge type from ``train_links`` (``(L, 2)`` product, aspect) only.

    ``allowed`` (``(C, A)``) are the split's candidates for the ``ca`` hyperedges, by default
    :func:`candidate_matrix` of ``train_links``.

    ``groups`` (``group_id, product_id, kind``) are behaviour groups, e.g. from
    :func:`groups_from_events` or :func:`groups_from_neighbour_lists`.
    """
    cat = catalogue
    n = cat.num_nodes
    train_links = np.asarray(train_links, dtype=np.int64).reshape(-1, 2)
    link_p, link_a = train_links[:, 0], cat.aspect_node(train_links[:, 1])
    incidence: dict[str, torch.Tensor] = {}

    # pa: one hyperedge per labelled training product = {p} + its training aspects.
    labelled, pa_edge = np.unique(link_p, return_inverse=True)
    incidence["pa"] = _incidence(np.concatenate([labelled, link_a]),
                                 np.concatenate([np.arange(len(labelled)), pa_edge]), n)

    # cpa: one per category = {c} + all its products + the training aspects of its products.
    all_products = np.arange(cat.num_products)
    categories = np.arange(cat.num_categories)
    incidence["cpa"] = _incidence(
        np.concatenate([cat.category_node(categories), all_products, link_a]),
        np.concatenate([categories, cat.product_category, cat.product_category[link_p]]), n)

    if use_candidate_edges:
        if allowed is None:
            allowed = candidate_matrix(cat, train_links)
        allowed_c, allowed_a = np.nonzero(allowed)
        incidence["ca"] = _incidence(
            np.concatenate([cat.category_node(categories), cat.aspect_node(allowed_a)]),
            np.concatenate([categories, allowed_c]), n)

    if groups is not None and len(groups):
        for kind, frame in groups.groupby("kind", sort=True):
            members = cat.product_index(frame["product_id"])
            ok = ~np.isnan(members)
            group_codes = pd.factorize(frame["group_id"].to_numpy()[ok])[0]
            members = members[ok].astype(np.int64)
            member_pairs = np.unique(np.stack([members, group_codes]), axis=1)
            sizes = np.bincount(member_pairs[1])
            keep = sizes[member_pairs[1]] >= 2
            _, edge = np.unique(member_pairs[1][keep], return_inverse=True)
            incidence[f"behaviour_{kind}"] = _incidence(member_pairs[0][keep], edge, n)

    product_cat = np.stack([all_products, cat.category_node(cat.product_category)])
    product_aspect = np.stack([link_p, link_a])
    relations = {
        "in": torch.from_numpy(product_cat), "rev_in": torch.from_numpy(product_cat[::-1].copy()),
        "has": torch.from_numpy(product_aspect),
        "rev_has": torch.from_numpy(product_aspect[::-1].copy()),
    }
    node_type = torch.cat([torch.zeros(cat.num_products), torch.ones(cat.num_categories),
                           torch.full((cat.num_aspects,), 2.0)]).long()
    return AttributeHypergraph(n, node_type, incidence, relations)


def groups_from_events(events: pd.DataFrame, *, session_gap_s: float = 1800.0,
                       kind: str = "session") -> pd.DataFrame:
    """Sessions from a ``user_id, product_id, timestamp`` event log (a new session after a gap)."""
    frame = events.sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    gap = pd.to_datetime(frame["timestamp"]).diff().dt.total_seconds()
    new_user = frame["user_id"].ne(frame["user_id"].shift())
    new_session = new_user | (gap > session_gap_s)
    return pd.DataFrame({"group_id": new_session.cumsum().astype(str).radd(f"{kind}-"),
                         "product_id": frame["product_id"].astype(str), "kind": kind})


def groups_from_neighbour_lists(frame: pd.DataFrame, list_column: str,
                                kind: str) -> pd.DataFrame:
    """One group per product from an "also viewed" style list column (anchor not included)."""
    exploded = frame[["product_id", list_column]].explode(list_column).dropna()
    return pd.DataFrame({"group_id": exploded["product_id"].astype(str).radd(f"{kind}-"),
                         "product_id": exploded[list_column].astype(str), "kind": kind})
