"""The uplift algorithms the job system can run, with their hyperparameters and bounds.

Roles they read: features ``categorical`` / ``numeric``; ``treatment``; ``click`` (or ``visit``);
``conversion``; optional ``exposure`` and ``revenue``. The control arm is the ``control``
hyperparameter; left empty it is "0" when that value exists, else the one value with a word such
as "no" or "control" in it ("No E-Mail"), else the job stops asking for it.
"""
from __future__ import annotations

from dataclasses import replace

from mlcore.api import Algorithm, Param, RunContext, RunResult

from .pipeline import check_params, train_uplift

COMMON = (
    Param("control", "str", "", "Treatment value of the control arm; empty = \"0\", or the value that says "
                                "no/control (e.g. \"No E-Mail\")."),
    Param("valid_frac", "float", 0.1, "Share of each arm's rows for validation (early stopping).", min=0.01, max=0.5),
    Param("test_frac", "float", 0.2, "Share of each arm's rows held out for the reported metrics.", min=0.01, max=0.5),
    Param("min_count", "int", 2, "Categories rarer than this in training go to the out-of-vocabulary bucket.",
          min=1, max=1000),
    Param("numeric", "choice", "standardize", "How numeric columns are encoded.",
          choices=("standardize", "log_standardize", "bucketize")),
    Param("n_bootstrap", "int", 200, "Bootstrap resamples for the confidence intervals of AUUC and Qini.",
          min=10, max=2000),
    Param("seed", "int", 2024, "Random seed for the split, initialisation, shuffling and bootstrap.",
          min=0, max=2**31 - 1),
)
TRAINING = (
    Param("epochs", "int", 10, "Passes over the training rows (early stopping may end sooner).", min=1, max=200),
    Param("batch_size", "int", 2048, "Rows per gradient step.", min=16, max=65536),
    Param("lr", "float", 1e-3, "Adam learning rate.", min=1e-5, max=1.0, log=True),
    Param("weight_decay", "float", 1e-5, "L2 penalty on all weights.", min=0.0, max=1.0),
    Param("embedding_l2", "float", 0.0, "L2 penalty on the embedding rows a batch uses.", min=0.0, max=1.0),
    Param("patience", "int", 3, "Epochs without improvement of the monitored number before stopping.",
          min=1, max=200),
    Param("monitor", "choice", "loss",
          "Validation number for early stopping: the training loss (click + click-and-conversion log loss), the "
          "Qini coefficient of CTCVR or CTR uplift averaged over arms, or factual AUC. Qini is what the job "
          "reports but is noisy on small validation sets and can stop training too early.",
          choices=("loss", "qini_ctcvr", "qini_ctr", "auc_ctcvr", "auc_ctr")),
    Param("embedding_dim", "int", 16, "Size of each field's embedding.", min=2, max=256),
    Param("dropout", "float", 0.1, "Dropout after every hidden layer.", min=0.0, max=0.9),
)
# ECUP stops early on the validation CTCVR (conversion) Qini averaged over arms, as spec §2 recommends.
ECUP_TRAINING = tuple(replace(p, default="qini_ctcvr") if p.name == "monitor" else p for p in TRAINING)
TOWER = (Param("tower_hidden", "str", "128,128", "Widths of the hidden layers of the click and conversion towers."),)
ECUP_PARAMS = (
    Param("attention_heads", "int", 2, "Heads of the field and task attention; must divide embedding_dim.",
          min=1, max=16),
    Param("attention_dim", "int", 8, "Width of each head of the field self-attention.", min=1, max=128),
    Param("gate_hidden", "int", 64, "Hidden width of the task gate (TAEGate).", min=1, max=1024),
    Param("gate_gamma", "float", 2.0, "Task gates lie in (0, γ); with 2 a neutral gate is exactly 1.",
          min=0.1, max=10.0),
    Param("interaction", "choice", "hadamard", "Bit-level treatment interaction: elementwise product with treatment "
                                               "vectors, or projection of the concatenation.",
          choices=("hadamard", "concat")),
    Param("task_stop_gradient", "bool", False, "Stop gradients from the task attention into the shared embeddings."),
)
REPRESENTATION = (
    Param("representation_hidden", "str", "128,128", "Widths of the shared representation layers."),
    Param("head_hidden", "str", "64", "Widths of the hidden layers of each arm's click and conversion heads."),
)
GBM = (
    Param("max_iter", "int", 200, "Boosting rounds per model (early stopping on validation rows).", min=1, max=5000),
    Param("learning_rate", "float", 0.1, "Shrinkage of each tree.", min=1e-3, max=1.0, log=True),
    Param("max_leaf_nodes", "int", 31, "Leaves per tree.", min=2, max=1024),
    Param("min_samples_leaf", "int", 20, "Fewest rows in a leaf.", min=1, max=100000),
    Param("l2_regularization", "float", 0.0, "L2 penalty on leaf values.", min=0.0, max=1000.0),
    Param("n_threads", "int", 1, "CPU threads for boosting (0 = all cores); one is fastest when the worker runs "
                                 "several jobs at once, more pay off on large tables.", min=0, max=256),
)
REQUIRED = ("treatment", "conversion")


def _runner(key: str):
    def run(ctx: RunContext) -> RunResult:
        return train_uplift(ctx, key)
    run.__name__ = f"run_{key}"
    return run


def _precheck(key: str):
    """Width lists and cross-parameter rules, checked before the job exists (the pipeline checks them again)."""
    def precheck(params: dict, roles: dict) -> None:
        check_params(key, params)
    return precheck


UPLIFT_ALGORITHMS: tuple[Algorithm, ...] = (
    Algorithm("ecup", "uplift", "ECUP",
              "Entire-chain uplift with treatment-enhanced embeddings and task-gated click/conversion towers "
              "(Huang et al., WWW 2024).",
              COMMON + ECUP_TRAINING + TOWER + ECUP_PARAMS, _runner("ecup"), REQUIRED, _precheck("ecup")),
    Algorithm("s_learner", "uplift", "S-learner (deep)",
              "One network with the treatment as an input field; ECUP without its TENet and ECENet modules.",
              COMMON + TRAINING + TOWER, _runner("s_learner"), REQUIRED, _precheck("s_learner")),
    Algorithm("t_learner", "uplift", "T-learner (deep)",
              "An independent click/conversion network per arm; uplift is the difference of their predictions.",
              COMMON + TRAINING + TOWER, _runner("t_learner"), REQUIRED, _precheck("t_learner")),
    Algorithm("tarnet", "uplift", "TARNet",
              "Shared representation with one pair of click/conversion heads per arm (Shalit et al., 2017).",
              COMMON + TRAINING + REPRESENTATION, _runner("tarnet"), REQUIRED, _precheck("tarnet")),
    Algorithm("dragonnet", "uplift", "DragonNet",
              "TARNet plus a treatment-propensity head on the shared representation (Shi et al., 2019).",
              COMMON + TRAINING + REPRESENTATION + (
                  Param("propensity_weight", "float", 1.0, "Weight of the propensity cross-entropy in the loss.",
                        min=0.0, max=100.0),),
              _runner("dragonnet"), REQUIRED, _precheck("dragonnet")),
    Algorithm("gbm_two_model", "uplift", "Gradient-boosted two-model",
              "scikit-learn histogram gradient boosting per arm for click and click-and-conversion; a strong, "
              "fast tabular baseline.",
              COMMON + GBM, _runner("gbm_two_model"), REQUIRED, _precheck("gbm_two_model")),
)
