"""Quality: on real MovieLens histories every sequence model beats logistic regression on held-out AUC.

The table: all 610 MovieLens latest-small users (100,836 ratings, label = rating ≥ 4), built with
``build_sequences`` (histories of at most 20 strictly earlier ratings with their genres, times and
the user's feedback on each, ``hist_label``) and split ``last`` per user: each user's 10 last
ratings are test (6,100 rows), the 5 before validation. LR sees user, item and genre ids, at its own
good learning rate (1e-2, 3 epochs); the sequence models see those plus the histories, in one short
epoch each with small dims, so the module stays near two minutes on 2 cores.

The assertion is the issue's "beats LR on held-out AUC"; the margins printed are what the models
gain from the history. GAUC is printed too: within one user the sequence models do not rank better
than LR here (see the README's MovieLens table), so it is reported, not asserted.
"""
from __future__ import annotations

import pytest

from mlcore.api import RunContext
from modeling.algorithms import CTR_ALGORITHMS
from modeling.distill import SUAN_ALGORITHMS
from modeling.sequences import SequenceConfig, build_sequences, load_movielens, sequence_roles

pytestmark = [pytest.mark.slow, pytest.mark.quality]
ALGORITHMS = {a.key: a for a in CTR_ALGORITHMS + SUAN_ALGORITHMS}
MAX_LEN = 20
SEQ = dict(epochs=1, batch_size=512, embedding_dim=8, max_len=MAX_LEN, lr=3e-3, patience=1)
PARAMS = {
    "lr": dict(epochs=3, batch_size=512, lr=1e-2, patience=1),
    "din": dict(SEQ, hidden_units="64,32", attention_units="32"),
    "qin": dict(SEQ, num_layers=2),
    "tin": dict(SEQ, hidden_units="64,32"),
    "awmoe": dict(SEQ, expert_units="32", attention_units="32", gate_units="32"),
    "suan": dict(SEQ, n_layers=1, n_heads=2, hidden_units="64,32"),
    "lightsuan": dict(SEQ, n_layers=1, n_heads=2, hidden_units="64,32", window=4, dilation=4),
}


@pytest.fixture(scope="module")
def movielens_table():
    from mlcore.paths import shared_data_dir

    folder = shared_data_dir() / "movielens_latest_small"
    if not (folder / "ratings.csv").exists():
        pytest.fail(f"MovieLens is missing under {folder}; set CTRSTUDIO_SHARED_DATA.")
    log = load_movielens(folder)
    table = build_sequences(log.events, fields=log.fields,
                            config=SequenceConfig(max_len=MAX_LEN, split="last", valid_events=5, test_events=10))
    return table, sequence_roles(log.fields)


def held_out(key, movielens_table, tmp_path) -> dict[str, float]:
    table, roles = movielens_table
    if key == "lr":
        roles = {c: r for c, r in roles.items() if r != "sequence"}
    algo = ALGORITHMS[key]
    ctx = RunContext(params=algo.validate({**PARAMS[key], "split_method": "column", "seed": 2024}), roles=roles,
                     read_table=lambda cols=None: table[cols] if cols else table, workdir=tmp_path)
    return algo.run(ctx).metrics


@pytest.fixture(scope="module")
def lr_metrics(movielens_table, tmp_path_factory):
    return held_out("lr", movielens_table, tmp_path_factory.mktemp("lr"))


@pytest.mark.parametrize("key", ["din", "qin", "tin", "awmoe", "suan", "lightsuan"])
def test_sequence_model_beats_lr_on_held_out_auc(key, movielens_table, lr_metrics, tmp_path):
    m = held_out(key, movielens_table, tmp_path)
    assert m["n"] == lr_metrics["n"] == 6100  # the same held-out rows
    print(f"{key}: held-out AUC {m['auc']:.4f} vs LR {lr_metrics['auc']:.4f} "
          f"(GAUC {m['gauc']:.4f} vs {lr_metrics['gauc']:.4f})")
    assert m["auc"] > lr_metrics["auc"], f"{key} AUC {m['auc']:.4f} does not beat LR {lr_metrics['auc']:.4f}"
