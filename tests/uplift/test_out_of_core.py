"""Uplift's out-of-core data path: the columnar copy read in chunks, the encoded splits reused on resume."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcore.api import Cancelled, RunContext
from mlcore.columnar import ColumnarTable
from uplift.algorithms import UPLIFT_ALGORITHMS
from uplift.pipeline import train_uplift
from uplift.synthetic import make_chain_uplift, synthetic_roles

ALGORITHMS = {a.key: a for a in UPLIFT_ALGORITHMS}
SMALL = dict(embedding_dim=4, representation_hidden="16", head_hidden="8", batch_size=64, n_bootstrap=10)


def frame_with_users(n=2000, seed=4) -> pd.DataFrame:
    frame = make_chain_uplift(n, n_treatments=2, seed=seed)
    frame["customer"] = [f"c{i}" for i in range(n)]
    return frame


def roles_of(frame):
    return dict(synthetic_roles(frame), customer="user_id")


def run(workdir, frame=None, table=None, check_cancelled=lambda: None, **extra):
    params = ALGORITHMS["tarnet"].validate(dict(SMALL, epochs=3, patience=10))
    logs: list[str] = []

    def read_table(columns=None):
        if frame is None:
            raise AssertionError("the job read the whole table")
        return frame[columns] if columns else frame

    ctx = RunContext(params=params, roles=roles_of(frame if frame is not None else table.read()), workdir=workdir,
                     read_table=read_table, table=table, log=logs.append, check_cancelled=check_cancelled,
                     extra={"encode_chunk_rows": 500, "store_chunk_rows": 256, **extra})
    return train_uplift(ctx, "tarnet"), logs


def test_the_columnar_copy_is_read_in_chunks_and_scores_like_the_frame(tmp_path):
    frame = frame_with_users()
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=300)
    streamed, logs = run(tmp_path / "columnar", table=ColumnarTable(path), train_data_path="stream")
    whole, _ = run(tmp_path / "frame", frame=frame, train_data_path="stream")
    assert streamed.metrics == pytest.approx(whole.metrics, abs=1e-9)
    scores = pd.read_parquet(tmp_path / "columnar" / streamed.summary["scores_file"])
    assert scores.equals(pd.read_parquet(tmp_path / "frame" / whole.summary["scores_file"]))
    assert (scores["user_id"] == frame["customer"].to_numpy()[scores["row"]]).all()
    assert np.allclose(scores["true_uplift_ctr_1"], frame["true_uplift_click_1"].to_numpy()[scores["row"]])
    assert any("split (random, stratified by `treatment`): train 1,400, valid 200, test 400" in m for m in logs)
    assert streamed.summary["test_rows_per_arm"] == {arm: int(round(0.2 * n)) for arm, n in
                                                    frame["treatment"].astype(str).value_counts().items()}


def test_a_streamed_uplift_job_resumes_from_its_checkpoint_and_reuses_the_encoded_splits(tmp_path):
    frame = frame_with_users()
    straight, logs = run(tmp_path / "straight", frame=frame, train_data_path="stream")
    assert not (tmp_path / "straight" / "encoded").exists()  # a finished job frees the disk
    calls = {"n": 0}

    def die_in_epoch_3():
        calls["n"] += 1
        if calls["n"] == 3 * 4 + 2 * 22 + 5:  # check, fit and encode passes of 4 chunks, then 22 batches an epoch
            raise Cancelled()

    with pytest.raises(Cancelled):
        run(tmp_path / "dies", frame=frame, check_cancelled=die_in_epoch_3, train_data_path="stream")
    assert (tmp_path / "dies" / "encoded" / "manifest.json").exists()
    resumed, logs = run(tmp_path / "dies", frame=frame, train_data_path="stream")
    assert resumed.summary["resumed_from"] == 2 and "resumed from epoch 2 checkpoint" in logs
    assert any("reusing the encoded splits" in m for m in logs)
    assert [h["epoch"] for h in resumed.curves["history"]] == [1, 2, 3]
    assert resumed.metrics == pytest.approx(straight.metrics, abs=1e-9)
