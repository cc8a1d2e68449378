"""The per-dataset leaderboard: columns from what runs report, best first, lower-is-better respected."""
from __future__ import annotations

from jobs.leaderboard import leaderboard, leaderboard_columns
from jobs.models import Job


def run(status: str = "succeeded", **metrics) -> Job:
    return Job(status=status, metrics=metrics)


def test_headline_metrics_come_first_and_counts_are_not_columns():
    cols = leaderboard_columns([run(logloss=0.6, auc=0.7, n=100, zeta=1.0), run(gauc=0.6, positive_rate=0.3)])
    assert [c.key for c in cols] == ["auc", "gauc", "logloss", "zeta"]
    assert [c.lower_is_better for c in cols] == [False, False, True, False]


def test_runs_rank_by_the_first_column_and_missing_values_go_last():
    a, b, c, failed = run(auc=0.6), run(auc=0.7), run(logloss=0.5), run(status="failed", auc=0.9)
    columns, ranked = leaderboard([a, b, c, failed])
    assert columns[0].key == "auc" and ranked == [b, a, c]


def test_lower_is_better_first_column_ranks_ascending():
    a, b = run(val_logloss=0.7), run(val_logloss=0.4)
    assert leaderboard([a, b])[1] == [b, a]


def test_uplift_runs_lead_with_qini():
    cols = leaderboard_columns([run(sklift_auuc_ctr=0.1, sklift_qini_ctcvr=0.2, sklift_qini_ctcvr_low=0.1,
                                    sklift_qini_ctcvr_high=0.3, auc_ctr=0.7)])
    assert [c.key for c in cols] == ["sklift_qini_ctcvr", "sklift_auuc_ctr", "auc_ctr"]


def test_leaderboard_cells_read_as_the_template_filters_wrote_them():
    from jobs.leaderboard import Column, metric_cells, summary_cell

    columns = [Column("auc", False), Column("logloss", True), Column("gauc", False)]
    assert metric_cells({"auc": 0.712345678912, "logloss": 1}, columns) == [
        ("0.7123456789", "0.7123"), ("1", "1.0000"), ("", "—")]
    assert metric_cells(None, columns[:1]) == [("", "—")]
    assert summary_cell({"params_count": 1234567}, "params_count") == ("1234567", "1,234,567")
    assert summary_cell({}, "samples_per_s") == ("", "—") and summary_cell({"samples_per_s": 0}, "samples_per_s")[1] == "0"
