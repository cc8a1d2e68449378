"""Gradient-boosted two-model (T-learner) uplift baseline with scikit-learn's histogram GBM.

One classifier per arm and task: P(click | x, arm) and P(click ∧ conversion | x, arm), each fitted on
that arm's rows with early stopping on that arm's validation rows. Uplift of arm k is the difference
of its predictions and control's, for every row, exactly as the deep models report it.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from mlcore.api import DataError
from mlcore.batching import TensorTable
from modeling.schema import FeatureSchema

TASKS = ("ctr", "ctcvr")


def feature_matrix(table: TensorTable) -> np.ndarray:
    """Categorical codes then numeric values as one float matrix (N, F_cat + F_num)."""
    parts = [table["cat"].numpy().astype(np.float64)]
    if "num" in table:
        parts.append(table["num"].numpy().astype(np.float64))
    return np.concatenate(parts, axis=1)


def task_target(table: TensorTable, task: str) -> np.ndarray:
    click = table["click"].numpy()
    return click if task == "ctr" else click * table["conversion"].numpy()


class GBMTwoModel:
    """Two-model (T-learner) uplift with ``HistGradientBoostingClassifier`` per arm and task
    (Radcliffe's two-model approach; Künzel et al., PNAS 2019, with GBMs as base learners).

    Categorical fields with at most 250 codes are split natively as categories, larger ones as
    ordered codes. An arm whose training rows hold only one class predicts that class's rate.
    ``n_threads`` caps OpenMP threads (0 = all cores): scikit-learn's GBM busy-waits its threads, so
    on a worker shared with other jobs more threads can be many times slower than one.
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int, max_iter: int = 200, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 31, min_samples_leaf: int = 20, l2_regularization: float = 0.0,
                 seed: int = 0, n_threads: int = 1):
        self.schema, self.n_arms = schema, n_treatments + 1
        self.categorical = np.r_[[f.vocab_size <= 250 for f in schema.categorical],
                                 np.zeros(schema.num_numeric, dtype=bool)].astype(bool)
        self.settings = dict(max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
                             min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
                             random_state=seed)
        self.n_threads = n_threads or None
        self.models: dict[tuple[str, int], HistGradientBoostingClassifier | float] = {}

    def fit(self, train: TensorTable, valid: TensorTable, check_cancelled=None, progress=None) -> "GBMTwoModel":
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._fit(train, valid, check_cancelled, progress)

    def _fit(self, train: TensorTable, valid: TensorTable, check_cancelled, progress) -> "GBMTwoModel":
        x_train, x_valid = feature_matrix(train), feature_matrix(valid)
        t_train, t_valid = train["treatment"].numpy(), valid["treatment"].numpy()
        steps, done = len(TASKS) * self.n_arms, 0
        for task in TASKS:
            y_train, y_valid = task_target(train, task), task_target(valid, task)
            for arm in range(self.n_arms):
                if check_cancelled:
                    check_cancelled()
                rows, vrows = t_train == arm, t_valid == arm
                if not rows.any():
                    raise DataError(f"Arm {arm} has no training rows.")
                y, yv = y_train[rows], y_valid[vrows]
                if len(np.unique(y)) < 2:
                    self.models[(task, arm)] = float(y.mean())
                else:
                    model = HistGradientBoostingClassifier(
                        categorical_features=self.categorical if self.categorical.any() else None,
                        early_stopping=len(np.unique(yv)) == 2, **self.settings)
                    if len(np.unique(yv)) == 2:
                        model.fit(x_train[rows], y, X_val=x_valid[vrows], y_val=yv)
                    else:
                        model.fit(x_train[rows], y)
                    self.models[(task, arm)] = model
                done += 1
                if progress:
                    progress(done / steps, f"fitting {task} model for arm {arm}")
        return self

    def _predict(self, x: np.ndarray, task: str, arm: int) -> np.ndarray:
        model = self.models[(task, arm)]
        if isinstance(model, float):
            return np.full(len(x), model)
        return model.predict_proba(x)[:, 1]

    def uplift(self, table: TensorTable) -> dict[str, np.ndarray]:
        """Per-arm p_ctr, p_ctcvr (N, K+1) and uplift against control (N, K+1), column 0 zero."""
        x = feature_matrix(table)
        out = {}
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            for task in TASKS:
                p = np.stack([self._predict(x, task, arm) for arm in range(self.n_arms)], axis=1)  # (N, K+1)
                out[f"p_{task}"], out[f"uplift_{task}"] = p, p - p[:, :1]
        return out
