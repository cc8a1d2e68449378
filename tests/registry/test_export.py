"""Export: TorchScript reproduces the run's predictions in a fresh Python process; the card describes the model."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from registry import services
from registry.export import CARD_FILE, TORCHSCRIPT_FILE

from .conftest import FAST_CTR, clicks_frame, save, train

pytestmark = pytest.mark.django_db

FRESH = """
import json, sys, numpy as np, torch
torch.set_num_threads(1)
gaps = {}
for model_path, rows_path in json.loads(sys.argv[1]):
    model = torch.jit.load(model_path)
    data = np.load(rows_path)
    names = [n for n in data.files if n != "expected"]
    with torch.no_grad():
        got = model(*[torch.from_numpy(data[n]) for n in names]).numpy()
    gaps[model_path] = float(np.abs(got - data["expected"]).max())
print(json.dumps(gaps))
"""


def heldout_rows(job):
    """The run's own test rows: the dataset split again with the run's seed and fractions."""
    from datasets.services import load_frame
    from modeling.split import split_frame

    p = job.params
    _, _, test = split_frame(load_frame(job.dataset), method=p["split_method"], valid_frac=p["valid_frac"],
                             test_frac=p["test_frac"], seed=p["seed"])
    return test


def export_and_expect(user, job, name, rows, tmp_path):
    """Promote and export ``job``; write its encoded ``rows`` and the eager net's predictions for the fresh process."""
    from registry.serving import CTRScorer

    version = services.promote_run(job=job, name=name, user=user)
    card = services.export_version(version)
    assert card["exports"]["torchscript"] == TORCHSCRIPT_FILE, card["exports"]
    scorer = CTRScorer(job.workdir / "model.pt", job.algorithm, services.run_schema(job))
    encoded = scorer.encoder.transform(rows)
    expected = scorer.score(rows, 0)["predicted_ctr"].to_numpy()
    rows_path = tmp_path / f"{name}.npz"
    np.savez(rows_path, expected=expected, **{i["name"]: encoded[i["name"]].numpy() for i in card["inputs"]})
    return version, card, (str(services.export_folder(version) / TORCHSCRIPT_FILE), str(rows_path))


def test_torchscript_reproduces_test_predictions_in_a_fresh_process(user, tmp_path, movielens_csv):
    """LR, DeepFM, DCNv2 on their runs' held-out rows and DIN (a sequence model) on sequence rows, all
    loaded by one new Python interpreter that imports nothing of this project."""
    from datasets.services import create_dataset, load_frame

    dataset = save(clicks_frame(1200), tmp_path / "clicks.csv", user, "ctr", "clicks")
    pairs, cards = [], {}
    for algorithm, extra in (("lr", {"min_count": 1}), ("deepfm", FAST_CTR), ("dcnv2", {**FAST_CTR, "cross_layers": 2})):
        job = train(user, dataset, algorithm, epochs=2, batch_size=256, **{k: v for k, v in extra.items()
                                                                           if k not in ("epochs", "batch_size")})
        version, cards[algorithm], pair = export_and_expect(user, job, f"ctr-{algorithm}", heldout_rows(job), tmp_path)
        pairs.append(pair)
    sequences = create_dataset(owner=user, source_file=movielens_csv, filename=movielens_csv.name, name="ml30")
    din = train(user, sequences, "din", epochs=1, batch_size=256, embedding_dim=4, hidden_units="16",
                attention_units="8", max_len=20)
    _, cards["din"], pair = export_and_expect(user, din, "din-ml", heldout_rows(din), tmp_path)
    pairs.append(pair)
    done = subprocess.run([sys.executable, "-c", FRESH, json.dumps(pairs)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    gaps = json.loads(done.stdout)
    assert len(gaps) == 4 and max(gaps.values()) <= 1e-5, gaps
    assert "hist_mask" in {i["name"] for i in cards["din"]["inputs"]}
    card = json.loads((services.export_folder(version) / CARD_FILE).read_text())  # DCNv2's, as written to disk
    assert card["vocab_sizes"]["site"] == 4 + 2 and card["training_data"]["sha256"] == dataset.sha256
    assert card["metrics"]["auc"] == job.metrics["auc"] and card["inputs"][0] == {"name": "cat", "dtype": "int64",
                                                                                  "shape": ["B", 2]}


def test_onnx_export_reproduces_deepfm_with_the_reference_evaluator(user, tmp_path):
    pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    from registry.export import ONNX_FILE
    from registry.serving import CTRScorer

    dataset = save(clicks_frame(800), tmp_path / "clicks.csv", user, "ctr", "clicks")
    job = train(user, dataset, "deepfm", **FAST_CTR)
    version = services.promote_run(job=job, name="onnx-deepfm", user=user)
    card = services.export_version(version)
    assert card["exports"]["onnx"] == ONNX_FILE, card["exports"]
    rows = clicks_frame(37, seed=5)
    scorer = CTRScorer(job.workdir / "model.pt", "deepfm", services.run_schema(job))
    encoded = scorer.encoder.transform(rows)
    feeds = {i["name"]: encoded[i["name"]].numpy() for i in card["inputs"]}
    got = ReferenceEvaluator(str(services.export_folder(version) / ONNX_FILE)).run(None, feeds)[0]
    assert np.allclose(got, scorer.score(rows, 0)["predicted_ctr"].to_numpy(), atol=1e-5)
