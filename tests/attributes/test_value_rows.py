"""The value browser's rows, formatted in Python: product lines, evidence snippet, confidence."""
from __future__ import annotations

from attributes.models import ExtractedValue
from attributes.rows import value_rows


def value(product: str, attribute: str, **fields) -> ExtractedValue:
    text = fields.pop("evidence_text", "")
    return ExtractedValue(product_id=product, title=f"{product} " + "long title " * 20, category="", attribute=attribute,
                          value="red", confidence=0.123456, evidence_text=text, split="unlabelled",
                          status=ExtractedValue.Status.PREDICTED, **fields)


def test_a_product_line_opens_each_products_values_and_evidence_is_cut_around_the_match():
    text = "x" * 100 + "red" + "y" * 100
    rows = value_rows([value("P1", "colour", evidence_text=text, evidence_field="description", evidence_start=100,
                             evidence_end=103), value("P1", "size"), value("P2", "colour")])
    assert [r.first_of_product for r in rows] == [True, False, True]
    first = rows[0]
    assert (first.evidence_before, first.evidence_match, first.stated) == ("x" * 60, "red", True)
    assert first.evidence_after == "y" * 59 + "…" and len(first.title) == 140 and first.title.endswith("…")
    assert first.confidence == "0.123" and first.category == "no category" and first.status == "Predicted"
    assert not rows[1].stated and rows[1].evidence_match == ""
