"""Training recipes follow the spec: QIN's whole-table embedding L2 and its halving schedule."""
from __future__ import annotations

import pytest
import torch

from modeling.algorithms import CTR_ALGORITHMS
from modeling.nets import QIN
from modeling.schema import CategoricalField, FeatureSchema, SequenceSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALGORITHMS = {a.key: a for a in CTR_ALGORITHMS}


def _schema():
    seq = SequenceSpec(item_field="item_id", fields={"item_id": "item_id"}, max_len=4)
    return FeatureSchema(categorical=(CategoricalField("user_id", 5), CategoricalField("item_id", 9)), sequence=seq)


def _batch():
    return {"cat": torch.tensor([[1, 2], [2, 3]]), "hist_item_id": torch.tensor([[0, 0, 1, 2], [0, 3, 4, 5]]),
            "hist_mask": torch.tensor([[False, False, True, True], [False, True, True, True]]),
            "label": torch.tensor([1.0, 0.0])}


def test_qin_adds_l2_over_its_whole_embedding_tables_in_training():
    torch.manual_seed(0)
    net = QIN(_schema(), embedding_dim=4, num_layers=1, max_len=4, embedding_table_l2=2e-4).train()
    net(_batch())
    squares = sum(w.pow(2).sum() for w in net.embedding.parameters())
    torch.testing.assert_close(net.aux_loss, 0.5 * 2e-4 * squares)
    net.aux_loss.backward()
    grads = [w.grad for w in net.embedding.parameters() if w.grad is not None]
    # Rows no batch uses (item 8 here) are shrunk too: that is what "whole table" means.
    assert any(g.dim() == 2 and g.shape[0] >= 9 and g[8].abs().sum() > 0 for g in grads)
    net.eval()
    net(_batch())
    assert net.aux_loss is None


def test_qin_job_defaults_follow_the_reference_recipe():
    qin = ALGORITHMS["qin"].validate({})
    assert qin["embedding_table_l2"] == 2e-4 and qin["lr_decay"] == 0.5
    assert ALGORITHMS["din"].validate({"lr_decay": 0.1})["lr_decay"] == 0.1  # configurable per job
    assert "embedding_table_l2" not in ALGORITHMS["din"].validate({})
