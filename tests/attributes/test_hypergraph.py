"""The hypergraph is built from training labels only, and covers every node."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attributes.evaluation import zero_shot_split
from attributes.hypergraph import build_hypergraph, groups_from_events


def _members(graph, edge_type):
    """{hyperedge id: set of node ids}, singletons dropped."""
    nodes, edges = graph.hyperedge_index(edge_type).numpy()
    out = {}
    for node, edge in zip(nodes, edges):
        out.setdefault(edge, set()).add(node)
    return {e: m for e, m in out.items() if len(m) > 1}


def test_no_hyperedge_is_built_from_held_out_labels(catalogue):
    split = zero_shot_split(catalogue, seed=0)
    held_out = np.flatnonzero(~split.seen_aspects)
    assert len(split.test_products) and len(held_out)
    first_aspect = catalogue.num_products + catalogue.num_categories
    graph = build_hypergraph(catalogue, split.train_links, use_candidate_edges=False)
    train_pairs = {tuple(link) for link in split.train_links}
    for edge_type in ("pa", "cpa"):
        for members in _members(graph, edge_type).values():
            aspects = {m - first_aspect for m in members if m >= first_aspect}
            assert not aspects & set(held_out), f"{edge_type} hyperedge holds a held-out value"
            if edge_type == "pa":
                (product,) = [m for m in members if m < catalogue.num_products]
                assert {(product, a) for a in aspects} <= train_pairs
    assert not np.isin(graph.relations["has"][1].numpy() - first_aspect, held_out).any()
    # The reference code's construction (every label) would have put them in: the check bites.
    leaky = build_hypergraph(catalogue, catalogue.links, use_candidate_edges=False)
    leaky_aspects = {m - first_aspect for ms in _members(leaky, "pa").values() for m in ms
                     if m >= first_aspect}
    assert leaky_aspects & set(held_out)


def _ca_aspects(graph, catalogue):
    first_aspect = catalogue.num_products + catalogue.num_categories
    return {m - first_aspect for ms in _members(graph, "ca").values() for m in ms
            if m >= first_aspect}


def test_a_value_only_held_out_products_carry_is_never_a_candidate(catalogue, features):
    """Candidates come from training links (and a vocabulary), never from test labels."""
    from attributes.pipeline import evaluate_method, prediction_rows

    split = zero_shot_split(catalogue, seed=1)
    held_out = np.flatnonzero(~split.seen_aspects)
    assert len(held_out)
    assert not split.allowed[:, held_out].any()
    assert not _ca_aspects(build_hypergraph(catalogue, split.train_links), catalogue) & \
        set(held_out)
    # Every held-out value is written in its products' titles, so text similarity would
    # propose it if it were a candidate (it was, from the test labels, before).
    ranker, cuts, _, _, info = evaluate_method(catalogue, features, split, "text_similarity", {})
    rows = prediction_rows(catalogue, ranker, split, cuts, split.test_products,
                           info["max_values"])
    held_out_values = {(catalogue.attributes[catalogue.aspect_attribute[a]],
                        catalogue.aspect_values[a]) for a in held_out}
    assert len(rows) and not set(zip(rows["attribute"], rows["value"])) & held_out_values


def test_the_analysts_vocabulary_makes_held_out_values_candidates(listed_catalogue, features):
    catalogue = listed_catalogue
    split = zero_shot_split(catalogue, seed=1)
    held_out = np.flatnonzero(~split.seen_aspects)
    # Listed without a category: a candidate where its attribute occurs in training.
    for a in held_out:
        attribute_cats = np.unique(catalogue.product_category[split.train_links[
            catalogue.aspect_attribute[split.train_links[:, 1]] == catalogue.aspect_attribute[a], 0]])
        assert split.allowed[attribute_cats, a].all()
    assert _ca_aspects(build_hypergraph(catalogue, split.train_links), catalogue) >= set(held_out)
    # ... and text similarity finds them from the product titles.
    from attributes.pipeline import evaluate_method
    metrics = evaluate_method(catalogue, features, split, "text_similarity", {})[2]
    assert metrics["unseen_map"] > 0.8


def test_the_vocabulary_parameter_is_parsed_into_rows():
    from attributes.hypergraph import parse_vocabulary

    frame = parse_vocabulary("Color: red | navy blue, dark\n; Size: S|M")
    assert frame.values.tolist() == [["Color", "red"], ["Color", "navy blue, dark"],
                                     ["Size", "S"], ["Size", "M"]]
    with pytest.raises(ValueError, match="attribute: value"):
        parse_vocabulary("red, blue")


def test_every_node_is_covered_by_every_hyperedge_type(catalogue):
    graph = build_hypergraph(catalogue, catalogue.links[:5])
    for edge_type, incidence in graph.incidence.items():
        degree = incidence.to_dense().sum(dim=1)
        assert (degree >= 1).all(), edge_type
        assert incidence.shape[0] == catalogue.num_nodes


def test_behaviour_groups_of_two_or_more_products_become_hyperedges(catalogue):
    groups = pd.DataFrame({"group_id": ["s1", "s1", "s1", "s2", "s3", "s3"],
                           "product_id": ["shoe-0", "shoe-1", "tea-2", "shoe-3", "tea-0",
                                          "not-in-catalogue"],
                           "kind": "session"})
    graph = build_hypergraph(catalogue, catalogue.links, groups)
    members = _members(graph, "behaviour_session")
    index = {pid: i for i, pid in enumerate(catalogue.product_ids)}
    assert list(members.values()) == [{index["shoe-0"], index["shoe-1"], index["tea-2"]}]


def test_event_log_is_cut_into_sessions_at_the_gap():
    events = pd.DataFrame({
        "user_id": ["u1", "u1", "u1", "u2"],
        "product_id": ["a", "b", "c", "a"],
        "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:10",
                                     "2024-01-01 12:00", "2024-01-01 10:05"]),
    })
    groups = groups_from_events(events, session_gap_s=1800)
    sessions = groups.groupby("group_id")["product_id"].apply(set).tolist()
    assert sorted(map(sorted, sessions)) == [["a"], ["a", "b"], ["c"]]
