"""The OWASP CSV-injection rule in one place: text cells starting with = + - @ tab CR are prefixed
with a quote; numbers (and numeric columns) stay numbers."""
import pandas as pd

from mlcore.csvsafe import safe_cell, safe_frame, safe_row


def test_text_starting_with_a_formula_trigger_is_escaped():
    for text in ("=1+1", "+33 1 23", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("plain") == "plain" and safe_cell("a=b") == "a=b" and safe_cell("") == ""


def test_numbers_are_never_escaped():
    assert safe_cell(-0.5) == -0.5 and safe_cell(-3) == -3 and safe_cell(None) is None
    assert safe_row(["=x", -1.5, True]) == ["'=x", -1.5, True]


def test_frame_escapes_text_columns_and_keeps_numeric_columns():
    frame = pd.DataFrame({"user_id": ["=evil", "u2", "-7"], "uplift_ctr_1": [-0.01, 0.2, -1.0]})
    out = safe_frame(frame)
    assert out["user_id"].tolist() == ["'=evil", "u2", "'-7"]
    assert out["uplift_ctr_1"].tolist() == [-0.01, 0.2, -1.0] and out["uplift_ctr_1"].dtype == float
    assert frame["user_id"].tolist()[0] == "=evil"  # the caller's frame is untouched
