"""SUAN / LightSUAN forward latency at long behaviour sequences: kept-pair sparse attention against
the dense masked reference, and K candidates scored in parallel against K separate calls.

    python bench/suan_latency.py [--lengths 200,500,1000] [--batch 64] [--threads 1,2] [--repeats 5]
                                 [--candidates 10,50] [--candidate-lengths 200,1000]

Models at their default sizes (embedding 8 per field, 2 item fields → token width 16, 2 heads,
prediction MLP 256-128): LightSUAN (1 block, window 8, dilation 4) with ``attention_impl="kept"``
(only the kept pairs are computed) and ``"dense_mask"`` (dense N × N logits under the same mask),
and SUAN (2 blocks, full causal attention, the dense path). Inputs are generated (random ids and
increasing times, every history full), untrained weights: latency does not depend on the values.
Prints, per length and thread count, the median ms per batch over ``--repeats`` calls after one
warm-up, and the attention FLOPs per batch (QKᵀ and AV multiply-adds × 2 over every block, head and
row: the logits each implementation computes × 4·d_head). Then LightSUAN scoring K candidates per
row in one ``score_candidates`` call against K ``forward`` calls. No Django needed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from modeling.nets.sparse_attention import LocalDilatedHistory  # noqa: E402
from modeling.nets.suan import SUAN, LightSUAN, RelativeBias  # noqa: E402
from modeling.schema import CategoricalField, FeatureSchema, SequenceSpec  # noqa: E402

N_ITEMS = 5000


def schema_for(length: int) -> FeatureSchema:
    return FeatureSchema(
        categorical=(CategoricalField("user_id", 1000), CategoricalField("item_id", N_ITEMS),
                     CategoricalField("genre", 20), CategoricalField("city", 10)),
        numeric=("age",),
        sequence=SequenceSpec(item_field="item_id", fields={"item_id": "item_id", "genre": "genre"}, max_len=length,
                              has_time=True, behaviour_fields={"label": 4}),
        has_user=True)


def make_batch(rows: int, length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hist = torch.randint(2, N_ITEMS, (rows, length), generator=g)
    item = torch.randint(2, N_ITEMS, (rows,), generator=g)
    times = torch.cumsum(torch.randint(1, 3600, (rows, length + 1), generator=g).float(), 1)
    return {"cat": torch.stack([torch.randint(2, 1000, (rows,), generator=g), item, item % 20,
                                torch.randint(0, 10, (rows,), generator=g)], 1),
            "num": torch.randn(rows, 1, generator=g), "label": torch.zeros(rows),
            "hist_item_id": hist, "hist_genre": hist % 20, "hist_mask": torch.ones(rows, length, dtype=torch.bool),
            "hist_time": times[:, :-1], "target_time": times[:, -1],
            "hist_label": torch.randint(2, 4, (rows, length), generator=g)}


def median_ms(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def attention_gflop(net: SUAN, rows: int, length: int, candidates: int = 1) -> float:
    """Multiply-adds × 2 of QKᵀ and AV over the logits the implementation computes, every block."""
    heads = net.blocks[0].self_attention.h
    dh = net.blocks[0].self_attention.dh
    n = length + 1
    if net.attention_impl == "dense_mask":
        logits = n * n * candidates
    elif net.attention == "sparse":
        p = LocalDilatedHistory(torch.ones(1, length, dtype=torch.bool), None, RelativeBias(n), net.window,
                                net.dilation, net.block_size)
        logits = p.logits_per_head + candidates * n  # window blocks, residue classes, target rows
    else:
        logits = length * length + candidates * n
    return 4 * dh * heads * logits * rows * len(net.blocks) / 1e9


def models(length: int) -> dict[str, SUAN]:
    schema = schema_for(length)
    torch.manual_seed(0)
    return {"LightSUAN, kept pairs": LightSUAN(schema).eval(),
            "LightSUAN, dense mask": LightSUAN(schema, attention_impl="dense_mask").eval(),
            "SUAN (dense, 2 blocks)": SUAN(schema, attention_impl="dense_mask").eval()}


def latency_table(lengths, rows, threads, repeats) -> list[str]:
    lines = ["| model | L | attention GFLOP/batch | " + " | ".join(f"ms/batch, {t} thread{'s' * (t > 1)}" for t in threads)
             + " |", "|---|---|---|" + "---|" * len(threads)]
    for length in lengths:
        batch = make_batch(rows, length)
        for name, net in models(length).items():
            cells = []
            for t in threads:
                torch.set_num_threads(t)
                with torch.inference_mode():
                    cells.append(f"{median_ms(lambda: net(batch), repeats):.1f}")
            lines.append(f"| {name} | {length} | {attention_gflop(net, rows, length):.3f} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def candidate_table(lengths, rows, ks, threads, repeats) -> list[str]:
    lines = ["| L | K | threads | ms, one score_candidates call | ms, K forward calls | speed-up |", "|---|---|---|---|---|---|"]
    for length in lengths:
        net = models(length)["LightSUAN, kept pairs"]
        batch = make_batch(rows, length)
        for k in ks:
            g = torch.Generator().manual_seed(k)
            items = torch.randint(2, N_ITEMS, (rows, k), generator=g)
            cands = {"item_id": items, "genre": items % 20}

            def separate():
                for j in range(k):
                    cat = batch["cat"].clone()
                    cat[:, 1], cat[:, 2] = items[:, j], items[:, j] % 20
                    net(dict(batch, cat=cat))

            with torch.inference_mode():
                parallel = net.score_candidates(batch, cands)
                cat = batch["cat"].clone()
                cat[:, 1], cat[:, 2] = items[:, -1], items[:, -1] % 20
                assert torch.allclose(parallel[:, -1], net(dict(batch, cat=cat)), atol=1e-5)
            for t in threads:
                torch.set_num_threads(t)
                with torch.inference_mode():
                    one = median_ms(lambda: net.score_candidates(batch, cands), repeats)
                    many = median_ms(separate, max(1, repeats // 2))
                lines.append(f"| {length} | {k} | {t} | {one:.1f} | {many:.1f} | {many / one:.1f}× |")
                print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    parser.add_argument("--lengths", type=ints, default=[200, 500, 1000])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=ints, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--candidates", type=ints, default=[10, 50])
    parser.add_argument("--candidate-lengths", type=ints, default=[200, 1000])
    parser.add_argument("--candidate-threads", type=ints, default=[1])
    args = parser.parse_args()
    print(f"batch {args.batch}, median of {args.repeats} after a warm-up")
    table = latency_table(args.lengths, args.batch, args.threads, args.repeats)
    cands = candidate_table(args.candidate_lengths, args.batch, args.candidates, args.candidate_threads, args.repeats) \
        if args.candidates else []
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(cands))


if __name__ == "__main__":
    main()
