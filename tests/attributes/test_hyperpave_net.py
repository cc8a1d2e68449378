"""HyperPAVE layers against hand computations, and the parts that must learn."""
from __future__ import annotations

import numpy as np
import torch

from attributes.hypergraph import build_hypergraph
from attributes.nets.hyperpave import HeteroSAGELayer, HyperPAVE


def test_hypergraph_conv_matches_hand_computation_on_three_nodes():
    model = HyperPAVE(text_dim=2, edge_types=("t",), hidden_dim=2)
    conv = model.conv
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(2))
        conv.bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Hyperedge 0 = {0, 1, 2}, hyperedge 1 = {1, 2}.
    index = torch.tensor([[0, 1, 2, 1, 2], [0, 0, 0, 1, 1]])
    out = conv(x, index)
    # e0 mean = (2/3, 2/3); e1 mean = (1/2, 1); node 0 sees e0; nodes 1, 2 average e0 and e1.
    expected = torch.tensor([[2 / 3, 2 / 3], [7 / 12, 5 / 6], [7 / 12, 5 / 6]])
    torch.testing.assert_close(out, expected)


def test_sage_layer_gives_an_edge_less_node_its_root_term_only():
    layer = HeteroSAGELayer(2, relations=("has",))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    edges = torch.tensor([[0, 1], [2, 2]])  # nodes 0 and 1 send to node 2
    out = layer(x, {"has": edges})
    root = layer.root(x)
    torch.testing.assert_close(out[0], root[0])
    expected = root[2] + layer.neighbour["has"](x[:2]).mean(dim=0)
    torch.testing.assert_close(out[2], expected)


def _loss(model, catalogue, features, graph):
    x = torch.from_numpy(features.node_matrix())
    h = model(x, graph)
    p = torch.from_numpy(catalogue.links[:, 0])
    a = torch.from_numpy(catalogue.aspect_node(catalogue.links[:, 1]))
    logits = model.pair_logits(h, p, a, torch.zeros(len(p)))
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones(len(p)))


def test_learned_mixing_weights_receive_gradients(catalogue, features):
    graph = build_hypergraph(catalogue, catalogue.links)
    model = HyperPAVE(features.product.shape[1], tuple(graph.incidence), hidden_dim=16)
    _loss(model, catalogue, features, graph).backward()
    grad = model.mix_logits.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    weights = model.mixing_weights()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))


def test_mixing_weights_change_with_training(catalogue, features):
    torch.manual_seed(0)
    graph = build_hypergraph(catalogue, catalogue.links)
    model = HyperPAVE(features.product.shape[1], tuple(graph.incidence), hidden_dim=16)
    before = model.mixing_weights().detach().clone()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        optimiser.zero_grad()
        _loss(model, catalogue, features, graph).backward()
        optimiser.step()
    assert not torch.allclose(model.mixing_weights(), before)


def test_aspect_with_no_links_still_gets_a_distinct_embedding(catalogue, features):
    unlinked = np.flatnonzero(np.isin(catalogue.aspect_values, ["Navy", "Chai"]))
    keep = ~np.isin(catalogue.links[:, 1], unlinked)
    graph = build_hypergraph(catalogue, catalogue.links[keep])
    model = HyperPAVE(features.product.shape[1], tuple(graph.incidence), hidden_dim=16).eval()
    with torch.no_grad():
        h = model(torch.from_numpy(features.node_matrix()), graph)
    rows = h[catalogue.aspect_node(unlinked)]
    assert torch.isfinite(rows).all()
    assert not torch.allclose(rows[0], rows[1])


def test_centred_product_embeddings_keep_their_text_differences(catalogue, features):
    """With ``center``, the shared biases and category message do not make products look alike.

    Uncentred, untrained product embeddings have a mean pairwise cosine near 1 while their text
    features differ, so the cosine link head can hardly tell products apart.
    """
    torch.manual_seed(0)
    graph = build_hypergraph(catalogue, catalogue.links)
    model = HyperPAVE(features.product.shape[1], tuple(graph.incidence), hidden_dim=16,
                      center=True).eval()
    with torch.no_grad():
        h = model(torch.from_numpy(features.node_matrix()), graph)
    products = torch.nn.functional.normalize(h[:catalogue.num_products], dim=1)
    torch.testing.assert_close(h[:catalogue.num_products].mean(dim=0), torch.zeros(16),
                               atol=1e-5, rtol=0)
    off_diagonal = ~torch.eye(len(products), dtype=torch.bool)
    assert (products @ products.T)[off_diagonal].mean() < 0.5
