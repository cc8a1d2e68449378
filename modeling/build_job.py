"""``build_sequences`` as a job: turn an uploaded event log into a behaviour-sequence CTR table.

The analyst uploads their interaction log as a CTR dataset (one row per event: user id, item id,
timestamp, 0/1 label, optional item columns such as category, optional per-event ``action``) and
runs this "algorithm" on it. The job builds one row per event with its strictly earlier history
(:func:`modeling.sequences.build_sequences`) and writes it as Parquet in the job folder; the
Django side (:func:`modeling.build_service.with_registered_table`) registers that file as a new
CTR dataset. No Django here.
"""
from __future__ import annotations

from pathlib import Path

from mlcore.api import Algorithm, DataError, Param, RunContext, RunResult

from .features import BEHAVIOUR_STEMS
from .sequences import SequenceConfig, build_sequences, write_sequences

BUILD_PARAMS = (
    Param("max_len", "int", 50, "Most recent earlier events kept in each history.", min=1, max=1000),
    Param("split", "choice", "last", "last: each user's last events are test (and the ones before validation); "
          "time: a global time cut.", choices=("last", "time")),
    Param("test_events", "int", 1, "With split=last: events per user held out for test.", min=1, max=1000),
    Param("valid_events", "int", 1, "With split=last: events per user before those for validation.", min=0, max=1000),
    Param("test_frac", "float", 0.1, "With split=time: newest share of events for test.", min=0.01, max=0.4),
    Param("valid_frac", "float", 0.1, "With split=time: share before those for validation.", min=0.01, max=0.4),
    Param("feedback", "bool", True, "Add hist_label: the user's feedback (label) on every past event."),
    Param("positive_history", "bool", False, "Histories hold only earlier positive events."),
)
REQUIRED = ("label", "user_id", "item_id", "timestamp")


def run_build_sequences(ctx: RunContext) -> RunResult:
    """Build the table and describe it; ``summary['table_file']`` names the Parquet file in ``workdir``."""
    p = ctx.params
    column = {role: (ctx.columns_with_role(role) or [None])[0] for role in REQUIRED}
    missing = [role for role, name in column.items() if name is None]
    if missing:
        raise DataError(f"Building sequences needs columns with the roles {', '.join(missing)}: one row per event "
                        f"with who (user_id), what (item_id), when (timestamp, epoch seconds) and the 0/1 label.")
    categorical = ctx.columns_with_role("categorical")
    event_fields = [c for c in categorical if c.lower() in BEHAVIOUR_STEMS]
    fields = [c for c in categorical if c not in event_fields]
    ctx.progress(0.05, "reading the event log")
    frame = ctx.read_table([*column.values(), *fields, *event_fields])
    config = SequenceConfig(max_len=p["max_len"], split=p["split"], valid_events=p["valid_events"],
                            test_events=p["test_events"], valid_frac=p["valid_frac"], test_frac=p["test_frac"],
                            positive_history=p["positive_history"], feedback=p["feedback"])
    ctx.log(f"{len(frame):,} events; item fields {fields or 'none'}; event fields {event_fields or 'none'}")
    ctx.progress(0.2, "building histories")
    table = build_sequences(frame, user=column["user_id"], item=column["item_id"], time=column["timestamp"],
                            label=column["label"], fields=fields, event_fields=event_fields, config=config,
                            as_lists=True)
    ctx.check_cancelled()
    ctx.progress(0.8, "writing the table")
    path = write_sequences(table, Path(ctx.workdir) / "sequences.parquet")
    counts = table["split"].value_counts()
    ctx.log(f"built {len(table):,} rows: train {counts.get('train', 0):,}, valid {counts.get('valid', 0):,}, "
            f"test {counts.get('test', 0):,}")
    lengths = table["hist_len"]
    return RunResult(  # no held-out metrics: this job trains nothing
        metrics={},
        summary={"table_file": path.name, "rows": len(table), "positive_rate": round(float(table["label"].mean()), 4),
                 "mean_history": round(float(lengths.mean()), 2),
                 "empty_history_share": round(float((lengths == 0).mean()), 4), "n_train": int(counts.get("train", 0)), "n_valid": int(counts.get("valid", 0)),
                 "n_test": int(counts.get("test", 0)), "item_fields": fields, "event_fields": event_fields,
                 "feedback": p["feedback"], "users": int(table["user_id"].nunique())},
    )


BUILD_ALGORITHM = Algorithm(
    "build_sequences", "ctr", "Build behaviour sequences from an event log",
    "Not a model: turns this event log (user, item, time, label per row) into a new CTR dataset with each "
    "event's strictly earlier history, held out by time, ready for DIN, QIN, TIN, AW-MoE and SUAN.",
    BUILD_PARAMS, run_build_sequences, required_roles=REQUIRED)
