"""The CTR algorithms the job system can run, with their hyperparameters and bounds."""
from __future__ import annotations

from dataclasses import replace

from mlcore.api import Algorithm, Param, RunContext, RunResult

from .nets import AWMoE, DCNv2, DeepFM, DIN, LR, QIN, TIN
from .checks import check_ctr_request
from .item_side import ITEM_TABLE_PARAM
from .pipeline import NetFactory, parse_hidden_units, train_sequence, train_tabular

COMMON = (
    Param("epochs", "int", 10, "Passes over the training rows (early stopping may end sooner).", min=1, max=200),
    Param("batch_size", "int", 1024, "Rows per gradient step.", min=16, max=65536),
    Param("lr", "float", 1e-3, "Adam learning rate.", min=1e-5, max=1.0, log=True),
    Param("weight_decay", "float", 0.0, "L2 penalty on all weights.", min=0.0, max=1.0),
    Param("embedding_l2", "float", 0.0, "L2 penalty on the sum of squared embedding rows a batch uses.", min=0.0, max=0.01),
    Param("patience", "int", 2, "Epochs without validation-AUC gain before stopping.", min=1, max=200),
    Param("lr_decay", "float", 0.5, "Multiply the learning rate by this after every epoch without validation gain "
          "(before early stopping ends the run; 1 keeps it constant).", min=0.01, max=1.0),
    Param("min_count", "int", 2, "Categories rarer than this in training go to the out-of-vocabulary bucket.", min=1, max=1000),
    Param("numeric", "choice", "standardize", "How numeric columns are encoded.",
          choices=("standardize", "log_standardize", "bucketize")),
    Param("split_method", "choice", "random", "random (seeded), time (needs a timestamp column) or column (a split column).",
          choices=("random", "time", "column")),
    Param("valid_frac", "float", 0.1, "Share of rows for validation (early stopping).", min=0.01, max=0.5),
    Param("test_frac", "float", 0.1, "Share of rows held out for the reported metrics.", min=0.01, max=0.5),
    Param("seed", "int", 2024, "Random seed for the split, initialisation and shuffling.", min=0, max=2**31 - 1),
    Param("devices", "int", 1, "Devices to train on at once (GPUs on a GPU worker, processes on CPU), one process each "
          "with DistributedDataParallel; at most the installation's JOB_MAX_DEVICES.", min=1, max=64),
)
DEEP = (
    Param("embedding_dim", "int", 16, "Size of each field's embedding.", min=1, max=256),
    Param("hidden_units", "str", "400,400,400", "MLP layer widths, comma separated."),
    Param("dropout", "float", 0.0, "Dropout in the MLP.", min=0.0, max=0.9),
    Param("batch_norm", "bool", False, "BatchNorm in the MLP."),
)




def sequence_params(max_len: int = 50, monitor: str = "auc") -> tuple[Param, ...]:
    """What every behaviour-sequence model adds to COMMON."""
    return (
        Param("max_len", "int", max_len, "Most recent behaviours kept per row (older ones are dropped).", min=1, max=1000),
        Param("monitor", "choice", monitor, "Validation metric for early stopping and the kept epoch; gauc falls back "
              "to auc without a user_id column.", choices=("auc", "gauc", "logloss")),
        Param("longtail_max_behaviours", "int", 5, "Test rows with at most this many behaviours form the long-tail "
              "slice reported as auc_longtail / gauc_longtail / n_longtail.", min=0, max=1000),
        Param("embedding_dim", "int", 16, "Size of each field's embedding.", min=1, max=256),
        ITEM_TABLE_PARAM,
    )


def mlp_params(hidden_units: str, dropout: float = 0.0, batch_norm: bool = False) -> tuple[Param, ...]:
    return (
        Param("hidden_units", "str", hidden_units, "MLP layer widths, comma separated."),
        Param("dropout", "float", dropout, "Dropout in the MLP.", min=0.0, max=0.9),
        Param("batch_norm", "bool", batch_norm, "BatchNorm in the MLP."),
    )


# QIN's reference recipe (spec 1.3): the rate halves on every epoch without gain (COMMON's lr_decay, the
# default of every CTR model here), and an L2 of 2e-4 on the whole embedding tables (not only the rows
# a batch uses) every step.
QIN_TABLE_L2 = Param("embedding_table_l2", "float", 2e-4, "L2 penalty (λ/2)·‖W‖² on the whole embedding tables and "
                     "the multimodal projection, every step (the reference recipe).", min=0.0, max=0.1)
ATTENTION_UNITS = Param("attention_units", "str", "64,32", "Hidden widths of the attention (activation) unit.")


NET_FACTORIES: dict[str, NetFactory] = {
    "lr": lambda schema, p: LR(schema),
    "deepfm": lambda schema, p: DeepFM(
        schema, p["embedding_dim"], parse_hidden_units(p["hidden_units"]), p["dropout"], p["batch_norm"]),
    "dcnv2": lambda schema, p: DCNv2(
        schema, p["embedding_dim"], p["cross_layers"], parse_hidden_units(p["hidden_units"]), p["dropout"],
        p["batch_norm"], p["structure"]),
    "din": lambda schema, p: DIN(
        schema, p["embedding_dim"], parse_hidden_units(p["attention_units"]), parse_hidden_units(p["hidden_units"]),
        p["dropout"], p["batch_norm"], p["use_softmax"], p["max_len"]),
    "qin": lambda schema, p: QIN(
        schema, p["embedding_dim"], p["num_layers"], p["num_row"], p["dropout"], p["batch_norm"], p["max_len"],
        p["attention_dim"] or None, embedding_table_l2=p.get("embedding_table_l2", 2e-4)),
    "tin": lambda schema, p: TIN(
        schema, p["embedding_dim"], parse_hidden_units(p["hidden_units"]), p["dropout"], p["batch_norm"],
        p["temporal_encoding"], p["num_time_buckets"], p["max_len"], p["project_interest"]),
    "awmoe": lambda schema, p: AWMoE(
        schema, p["embedding_dim"], p["num_experts"], parse_hidden_units(p["expert_units"]),
        parse_hidden_units(p["attention_units"]), parse_hidden_units(p["gate_units"]), p["dropout"], p["batch_norm"],
        p["use_softmax"], p["mask_prob"], p["contrastive_weight"], p["temperature"], p["max_len"],
        query_field=p.get("query_field") or None),
}
"""How each CTR algorithm builds its net from the encoder's schema and its hyperparameters; training and
scoring a saved model (``registry``) both use these, so a reloaded model has exactly the trained shape."""
SEQUENCE_KEYS = ("din", "qin", "tin", "awmoe")


def _runner(key: str):
    train = train_sequence if key in SEQUENCE_KEYS else train_tabular

    def run(ctx: RunContext) -> RunResult:
        return train(ctx, NET_FACTORIES[key])
    run.__name__ = f"_run_{key}"
    return run


_run_lr, _run_deepfm, _run_dcnv2, _run_din, _run_qin, _run_tin, _run_awmoe = (
    _runner(k) for k in ("lr", "deepfm", "dcnv2", "din", "qin", "tin", "awmoe"))


CTR_ALGORITHMS = tuple(replace(a, precheck=check_ctr_request) for a in (
    Algorithm("lr", "ctr", "Logistic regression", "One weight per category and numeric field: the baseline.",
              COMMON, _run_lr, required_roles=("label",)),
    Algorithm("deepfm", "ctr", "DeepFM", "Factorisation machine plus an MLP over shared field embeddings (Guo et al., 2017).",
              COMMON + DEEP, _run_deepfm, required_roles=("label",)),
    Algorithm("dcnv2", "ctr", "DCN-V2", "Full-rank cross network beside a deep tower (Wang et al., 2021).",
              COMMON + DEEP + (Param("cross_layers", "int", 3, "Number of cross layers.", min=1, max=10),
                               Param("structure", "choice", "parallel", "Cross and deep side by side or stacked.",
                                     choices=("parallel", "stacked"))),
              _run_dcnv2, required_roles=("label",)),
    Algorithm("din", "ctr", "DIN", "Target attention over the user's past behaviours, then an MLP (Zhou et al., 2018). "
              "Needs a sequence column.",
              COMMON + sequence_params() + mlp_params("200,80") + (
                  ATTENTION_UNITS,
                  Param("use_softmax", "bool", False, "Normalise attention weights over behaviours (the paper keeps raw weights).")),
              _run_din, required_roles=("label", "sequence")),
    Algorithm("qin", "ctr", "QIN", "ReLU-sparse target attention over the last behaviours and a residual quadratic "
              "network; uses multimodal item vectors when the dataset has them (Li et al., 2025). Needs a sequence column.",
              COMMON + sequence_params(max_len=64) + (
                  QIN_TABLE_L2,
                  Param("num_layers", "int", 4, "Quadratic layers.", min=1, max=8),
                  Param("num_row", "int", 3, "Row maps summed in each quadratic layer (R; 4 can be unstable).", min=1, max=8),
                  Param("dropout", "float", 0.1, "Dropout in the quadratic layers.", min=0.0, max=0.9),
                  Param("batch_norm", "bool", True, "BatchNorm in the quadratic layers."),
                  Param("attention_dim", "int", 0, "Width of the attention projections; 0 means twice the item vector.",
                        min=0, max=2048)),
              _run_qin, required_roles=("label", "sequence")),
    Algorithm("tin", "ctr", "TIN", "Target-aware temporal encoding (recency and time gap to the target), target-aware "
              "attention and the [u; v; u*v] representation; selects the epoch on validation GAUC (Zhou et al., 2024). "
              "Needs a sequence column.",
              COMMON + sequence_params(monitor="gauc") + mlp_params("80,40") + (
                  Param("temporal_encoding", "choice", "position+time", "What the temporal embedding encodes: recency "
                        "position, log-bucketed time gap to the target (needs timestamps), both, or nothing.",
                        choices=("position+time", "position", "time", "none")),
                  Param("num_time_buckets", "int", 64, "Log buckets of the time gap (64 covers centuries in seconds).",
                        min=1, max=256),
                  Param("project_interest", "bool", False, "Linear layer on the pooled interest before the product "
                        "(the reference code's form).")),
              _run_tin, required_roles=("label", "sequence")),
    Algorithm("awmoe", "ctr", "AW-MoE", "Expert towers mixed by a gate built from attention-weighted per-behaviour "
              "expert scores, with a contrastive loss between the gates of the full and a randomly thinned history "
              "(Gong et al., 2023; reconstructed from the abstract). Reports the long-tail slice. Needs a sequence column.",
              COMMON + sequence_params() + (
                  Param("num_experts", "int", 4, "Expert towers (K).", min=1, max=32),
                  Param("expert_units", "str", "128,64", "Hidden widths of each expert tower, comma separated."),
                  ATTENTION_UNITS,
                  Param("gate_units", "str", "64", "Hidden widths of the gate unit (per-behaviour expert scores)."),
                  Param("dropout", "float", 0.0, "Dropout in the experts.", min=0.0, max=0.9),
                  Param("batch_norm", "bool", False, "BatchNorm in the experts."),
                  Param("use_softmax", "bool", True, "Normalise attention weights over behaviours."),
                  Param("mask_prob", "float", 0.3, "Share of behaviours dropped in the masked view.", min=0.0, max=0.95),
                  Param("contrastive_weight", "float", 0.05, "Weight of the InfoNCE loss between gates (0 turns it off).",
                        min=0.0, max=10.0),
                  Param("temperature", "float", 0.2, "InfoNCE temperature.", min=0.01, max=10.0),
                  Param("query_field", "str", "", "Search data: the categorical column holding the query (or its "
                        "category); its embedding joins every behaviour's expert scores in the gate. Empty for "
                        "recommendation data without a query.")),
              _run_awmoe, required_roles=("label", "sequence")),
))
