"""A behaviour-sequence net trained on 2 CPU processes from the out-of-core store (see mlcore/distributed.py)."""
from __future__ import annotations

import pytest

from .test_out_of_core import run
from .test_seq_nets import SEQ_ROLES, sequence_frame

DIN = dict(epochs=3, batch_size=64, embedding_dim=8, max_len=8, min_count=1, hidden_units="32,16", attention_units="16")


@pytest.mark.slow
def test_din_streamed_on_two_processes_matches_one_process(tmp_path, one_torch_thread):
    df = sequence_frame(2500, seed=1)
    one, _ = run("din", df, SEQ_ROLES, tmp_path / "one", "stream", devices=1, **DIN)
    two, log = run("din", df, SEQ_ROLES, tmp_path / "two", "stream", devices=2, **DIN)
    assert two.summary["train_data_path"] == "stream" and two.summary["devices"] == 2
    assert one.metrics["auc"] > 0.75 and abs(one.metrics["auc"] - two.metrics["auc"]) < 0.01
    assert any(m.startswith("2 devices: ") and "samples/s per device" in m for m in log)
    assert len(two.curves["history"]) == 3

