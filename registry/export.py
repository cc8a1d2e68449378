"""Export a CTR run's net as TorchScript (and ONNX where the graph allows) with a model card.

No Django here. The exported graph takes *encoded* tensors, not raw columns: the model card's
``inputs`` lists them in order (name, dtype, shape) and ``encoder.json`` holds the fitted encoder
(vocabularies, numeric statistics) that turns raw columns into them, exactly as
``modeling.features.FeatureEncoder.transform`` does. The output is the click probability (B,).

Which models export: the tabular nets (LR, DeepFM, DCNv2) and the behaviour-sequence nets (DIN,
QIN, TIN, AW-MoE) trace to TorchScript; each export is checked against the eager net on a batch
of a different size than the tracing batch before it is written, so a graph that baked in a
shape is refused rather than shipped. Uplift and attribute models are not exported (the uplift
nets return several heads per arm; HyperPAVE needs the whole product graph at scoring time):
score them with a scoring job.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

TORCHSCRIPT_FILE = "model.torchscript.pt"
ONNX_FILE = "model.onnx"
CARD_FILE = "model_card.json"
CARD_MD_FILE = "model_card.md"
ENCODER_FILE = "encoder.json"
NOT_MODEL_INPUTS = ("label", "user")  # the label and the GAUC user index are not read by any net's forward


class ExportError(ValueError):
    """The model cannot be exported as asked (wrong kind, a graph that does not trace faithfully)."""


class EncodedInputModel(nn.Module):
    """Wraps a CTR net so it takes its encoded tensors positionally (in ``input_names`` order) and returns
    probabilities (B,); the names are the batch keys of ``modeling/schema.py``."""

    def __init__(self, net: nn.Module, input_names: list[str]):
        super().__init__()
        self.net = net
        self.input_names = list(input_names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        batch = dict(zip(self.input_names, tensors))
        return torch.sigmoid(self.net(batch).float())  # (B,)


def model_inputs(table: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in table if k not in NOT_MODEL_INPUTS]


def export_torchscript(net: nn.Module, table: dict[str, torch.Tensor], path: Path, *, atol: float = 1e-5) -> list[str]:
    """Trace ``net`` on encoded rows of ``table``, check it on a batch of another size, save it; return input names."""
    net.eval()
    names = model_inputs(table)
    n = len(table[names[0]])
    if n < 3:
        raise ExportError("need at least 3 encoded rows to trace and check the export")
    wrapper = EncodedInputModel(net, names).eval()
    trace_rows = max(2, n // 2)
    example = tuple(table[k][:trace_rows] for k in names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python values; the check below is the judge
        traced = torch.jit.trace(wrapper, example, check_trace=False, strict=False)
        check = tuple(table[k] for k in names)
        eager, got = wrapper(*check), traced(*check)
    if got.shape != eager.shape or not torch.allclose(got, eager, atol=atol, rtol=0):
        raise ExportError("the traced graph does not reproduce the model on a batch of another size; "
                          "it depends on the batch shape or on data-dependent Python control flow")
    torch.jit.save(traced, str(path))
    return names


def export_onnx(net: nn.Module, table: dict[str, torch.Tensor], path: Path, *, atol: float = 1e-4) -> str:
    """ONNX export (opset of the TorchScript-based exporter) with a dynamic batch axis, checked with onnx's reference evaluator; returns "" or why not."""
    try:
        import onnx  # noqa: F401
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return "the onnx package is not installed"
    names = model_inputs(table)
    wrapper = EncodedInputModel(net.eval(), names).eval()
    example = tuple(table[k] for k in names)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the TorchScript-based exporter: torch.export (dynamo=True) refuses the positional-inputs wrapper
            torch.onnx.export(wrapper, example, str(path), input_names=names, output_names=["probability"],
                              dynamic_axes={k: {0: "batch"} for k in names}, dynamo=False)
        feeds = {k: v[:3].numpy() for k, v in zip(names, example)}
        got = ReferenceEvaluator(str(path)).run(None, feeds)[0]
        with torch.no_grad():
            eager = wrapper(*(v[:3] for v in example)).numpy()
    except Exception as exc:  # noqa: BLE001 - any exporter failure means "no ONNX for this graph", with the reason
        Path(path).unlink(missing_ok=True)
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    if not np.allclose(got, eager, atol=atol):
        Path(path).unlink(missing_ok=True)
        return "the ONNX graph does not reproduce the model"
    return ""


def input_contract(table: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """Name, dtype and shape (B = rows) of every encoded input, in the order the exported model takes them."""
    out = []
    for name in model_inputs(table):
        t = table[name]
        shape = ["B", *[int(d) for d in t.shape[1:]]]
        out.append({"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": shape})
    return out


def model_card(*, name: str, version: int, algorithm: str, params: dict, encoder: dict, metrics: dict,
               dataset: dict, inputs: list[dict], exports: dict[str, str]) -> dict[str, Any]:
    """The card: what the model reads, how to encode it, how well it did, which data trained it."""
    vocab_sizes = {col: len(v) + 2 for col, v in encoder["vocabs"].items()}
    vocab_sizes.update({col: len(e) + 2 for col, e in encoder["buckets"].items()})
    return {
        "name": name, "version": version, "algorithm": algorithm, "kind": "ctr",
        "output": "probability of a click, float32 (B,)",
        "inputs": inputs,
        "encoding": ("Categorical ids: 0 = missing/padding, 1 = out of vocabulary, k + 2 = the k-th entry of the "
                     "field's sorted vocabulary in encoder.json. Numeric: (value filled with the training median "
                     "- mean) / std (after sign*log1p when numeric=log_standardize). Sequences: left-padded to "
                     "max_len, newest last; hist_mask marks real behaviours."),
        "schema": {"label": encoder["label"], "categorical": list(encoder["vocabs"]) + list(encoder["buckets"]),
                   "numeric": [c for c in encoder["numeric"] if c not in encoder["buckets"]],
                   "sequences": list(encoder.get("sequences", {})) + list(encoder.get("behaviour_sequences", {}))},
        "vocab_sizes": vocab_sizes,
        "metrics": metrics, "params": params,
        "training_data": dataset,
        "exports": exports,
    }


def card_markdown(card: dict[str, Any]) -> str:
    lines = [f"# {card['name']} v{card['version']} ({card['algorithm']})", "",
             f"Output: {card['output']}.", "", "## Inputs (in order)", "", "| name | dtype | shape |", "|---|---|---|"]
    lines += [f"| `{i['name']}` | {i['dtype']} | ({', '.join(map(str, i['shape']))}) |" for i in card["inputs"]]
    lines += ["", card["encoding"], "", "## Schema", ""]
    lines += [f"- {k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in card["schema"].items()]
    lines += ["", "## Vocabulary sizes (incl. padding and OOV)", ""]
    lines += [f"- `{k}`: {v:,}" for k, v in card["vocab_sizes"].items()]
    lines += ["", "## Held-out metrics of the training run", ""]
    lines += [f"- {k}: {v:.5g}" if isinstance(v, (int, float)) else f"- {k}: {v}" for k, v in card["metrics"].items()]
    data = card["training_data"]
    lines += ["", "## Training data", "", f"- name: {data.get('name')}", f"- rows: {data.get('rows', 0):,}",
              f"- SHA-256: `{data.get('sha256')}`", "", "## Exports", ""]
    lines += [f"- {k}: {v}" for k, v in card["exports"].items()]
    lines += ["", "## Hyperparameters", "", "```json", json.dumps(card["params"], indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
