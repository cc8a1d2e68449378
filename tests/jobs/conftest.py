"""A small registered algorithm for testing the job machinery without training a network."""
import time

import pytest

from jobs import registry
from mlcore.api import Algorithm, DataError, Param, RunResult


def _run(ctx):
    frame = ctx.read_table()
    for step in range(ctx.params["steps"]):
        ctx.check_cancelled()
        ctx.progress((step + 1) / ctx.params["steps"], f"step {step + 1}")
        time.sleep(ctx.params["sleep"])
    if ctx.params["fail"] == "crash":
        raise RuntimeError("boom in step 3")
    if ctx.params["fail"] == "data":
        raise DataError("column `price` is text; numeric columns must hold numbers")
    ctx.log(f"read {len(frame)} rows")
    return RunResult(metrics={"auc": 0.75, "rows": float(len(frame))}, curves={"roc": {"fpr": [0, 1], "tpr": [0, 1]}})


ECHO = Algorithm(
    key="test_echo", kind="ctr", label="Echo (test)", description="Reads the table and reports its size.",
    params=(Param("steps", "int", 3, min=1, max=1000), Param("sleep", "float", 0.0, min=0, max=5),
            Param("fail", "choice", "no", choices=("no", "crash", "data"))),
    run=_run,
)


@pytest.fixture
def echo_algorithm():
    registry.register(ECHO)
    yield ECHO
    registry._ALGORITHMS.pop(ECHO.key, None)


@pytest.fixture
def ctr_dataset(user, tmp_path):
    from datasets.services import create_dataset

    path = tmp_path / "d.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(60)))
    return create_dataset(owner=user, source_file=path, filename="d.csv", name="tiny")
