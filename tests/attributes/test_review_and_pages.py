"""Browser page, review queue, coverage, exports and the CTR bridge on a hand-made finished job."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from django.db import connection
from django.urls import reverse

from attributes.models import ExtractedValue
from attributes.selectors import ValueFilters, next_to_review, values_page
from attributes.services import ReviewError, review_value

pytestmark = pytest.mark.django_db
Status = ExtractedValue.Status


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def test_keyset_pages_follow_on_without_gaps_or_repeats(stored_values):
    filters = ValueFilters(attribute="Color")
    first, cursor = values_page(stored_values, filters, size=12)
    second, cursor2 = values_page(stored_values, filters, after=cursor, size=12)
    third, cursor3 = values_page(stored_values, filters, after=cursor2, size=12)
    ids = [v.id for v in first + second + third]
    expected = list(ExtractedValue.objects.filter(job=stored_values, attribute="Color").order_by("id")
                    .values_list("id", flat=True))
    assert ids == expected and len(third) == 6 and cursor3 is None
    assert second[0].product_id == "p12"


def test_filtered_page_query_uses_an_index(stored_values):
    qs = ValueFilters(attribute="Color", value="Red", min_confidence=0.2).apply(
        ExtractedValue.objects.filter(job=stored_values)).filter(id__gt=5).order_by("id")[:51]
    plan = qs.explain()
    if connection.vendor == "sqlite":  # an index range seek that starts at the cursor: no scan, no sort
        assert "USING INDEX xv_job_attr_value_id (job_id=? AND attribute=? AND value=? AND id>?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Index" in plan, plan


def test_browser_filters_and_highlights_evidence(client_in, stored_values):
    url = reverse("attributes:browser", args=[stored_values.pk])
    page = client_in.get(url, {"category": "Bags", "attribute": "Color", "min_confidence": "0.26"}).content.decode()
    assert "p25" in page and "p24" not in page and "p3<" not in page
    assert "<mark>red</mark>" in page and "inferred" in page
    api = client_in.get(f"/api/attributes/jobs/{stored_values.pk}/values/",
                        {"status": "from_labels", "size": "20"}).json()
    assert len(api["results"]) == 20 and {r["status"] for r in api["results"]} == {"from_labels"}
    rest = client_in.get(f"/api/attributes/jobs/{stored_values.pk}/values/",
                         {"status": "from_labels", "size": "20", "after": api["next"]}).json()
    assert len(rest["results"]) == 10 and rest["next"] is None


def test_review_queue_lowest_confidence_first_and_no_silent_overwrite(client_in, stored_values, user):
    first = next_to_review(stored_values)
    assert (first.attribute, first.value) == ("Brand", "Acme")
    with pytest.raises(ReviewError, match="already has Brand = “Brand0”"):
        review_value(first, user=user, decision="accept")
    response = client_in.post(reverse("attributes:review_value", args=[first.pk]), {"decision": "accept"},
                              HTTP_HX_REQUEST="true")
    assert "already has Brand" in response.content.decode()
    first.refresh_from_db()
    assert first.status == Status.PREDICTED
    api = client_in.post(f"/api/attributes/values/{first.pk}/review/", {"decision": "accept"}, format="json",
                         content_type="application/json")
    assert api.status_code == 409 and "already has" in api.json()["errors"][0]
    response = client_in.post(reverse("attributes:review_value", args=[first.pk]), {"decision": "reject"},
                              HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "Rejected: Brand = “Acme”" in page and 'id="review-value">Red<' in page  # the next one (p0 Color)
    second = next_to_review(stored_values)
    assert second.product_id == "p0" and second.attribute == "Color"
    client_in.post(reverse("attributes:review_value", args=[second.pk]), {"decision": "accept"},
                   HTTP_HX_REQUEST="true")
    second.refresh_from_db()
    assert second.status == Status.ACCEPTED and next_to_review(stored_values).product_id == "p1"


def test_coverage_before_and_after_and_new_values(client_in, stored_values):
    from attributes.selectors import coverage

    data = coverage(stored_values)
    assert data["n_products"] == 30
    assert data["attribute_before"] == {"Color": 0.0, "Brand": 1.0}
    assert data["attribute_after"] == {"Color": 1.0, "Brand": 1.0}
    assert data["category_before"] == {"Shoes": 0.5, "Bags": 0.5}
    assert data["category_after"] == {"Shoes": 1.0, "Bags": 1.0}
    assert {(r["attribute"], r["value"]) for r in data["emerging"]} == {("Color", "Red"), ("Brand", "Acme")}
    # a review decision shows at once: the cached coverage is keyed by the latest review
    rejected = ExtractedValue.objects.get(job=stored_values, product_id="p25", attribute="Color")
    review_value(rejected, user=stored_values.owner, decision="reject")
    assert coverage(stored_values)["attribute_after"]["Color"] == 29 / 30
    page = client_in.get(reverse("attributes:coverage", args=[stored_values.pk])).content.decode()
    assert 'data-figure="fill-attribute"' in page and "vendor/plotly.min.js" in page and "cdn" not in page.lower()


def test_csv_and_parquet_exports_hold_the_filtered_rows(client_in, stored_values):
    url = reverse("attributes:export", args=[stored_values.pk, "csv"])
    response = client_in.get(url, {"attribute": "Color"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    frame = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)), keep_default_na=False)
    assert len(frame) == 30 and set(frame["attribute"]) == {"Color"}
    assert frame.loc[frame["product_id"] == "p4", "confidence"].item() == 0.05
    response = client_in.get(reverse("attributes:export", args=[stored_values.pk, "parquet"]))
    raw = b"".join(response.streaming_content)
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert pq.read_schema(io.BytesIO(raw)).field("evidence_start").type == pa.int64()  # nullable ints, not floats
    table = pd.read_parquet(io.BytesIO(raw), dtype_backend="numpy_nullable")
    assert len(table) == 61 and table["evidence_start"].dtype == "Int64"
    assert table.loc[(table["product_id"] == "p2") & (table["attribute"] == "Color"), "evidence_end"].item() == 15


def test_parquet_export_streams_several_row_groups(stored_values):
    import pyarrow.parquet as pq

    from attributes.services import export_parquet

    chunks = list(export_parquet(ExtractedValue.objects.filter(job=stored_values), row_group=20))
    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert parquet.metadata.num_row_groups == 4 and parquet.metadata.num_rows == 61 and len(chunks) >= 4


def test_accepted_attributes_become_ctr_features(client_in, stored_values, user, tmp_path):
    from datasets.models import Dataset
    from datasets.services import create_dataset

    accepted = ExtractedValue.objects.get(job=stored_values, product_id="p2", attribute="Color")
    review_value(accepted, user=user, decision="accept")
    path = tmp_path / "clicks.csv"
    path.write_text("click,item_id,site\n" + "".join(f"{i % 2},p{i % 40},s{i % 3}\n" for i in range(200)))
    ctr = create_dataset(owner=user, source_file=path, filename="clicks.csv", name="Clicks", kind="ctr")
    response = client_in.post(reverse("attributes:to_ctr", args=[stored_values.pk]), {"dataset": ctr.pk})
    assert response.status_code == 302, response.content.decode()
    new = Dataset.objects.exclude(pk=ctr.pk).get(kind="ctr")
    assert new.source == "derived" and new.status == "ready" and new.n_rows == 200
    assert new.roles["attr_brand"] == "categorical" and new.roles["attr_color"] == "categorical"
    assert new.roles["click"] == "label" and new.roles["item_id"] == "item_id"
    frame = pd.read_parquet(new.path)
    row = frame[frame["item_id"] == "p2"].iloc[0]
    assert row["attr_brand"] == "Brand2" and row["attr_color"] == "Red"
    assert frame[frame["item_id"] == "p35"]["attr_brand"].isna().all()  # no such product: empty cell
    assert frame[frame["item_id"] == "p4"]["attr_color"].isna().all()  # predicted, not accepted


def test_ctr_bridge_explains_missing_item_column_and_unmatched_ids(stored_values, user, tmp_path):
    from datasets.profiling import DatasetError
    from datasets.services import create_dataset
    from attributes.services import add_attributes_to_ctr

    path = tmp_path / "noitem.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(50)))
    ctr = create_dataset(owner=user, source_file=path, filename="noitem.csv", kind="ctr")
    with pytest.raises(DatasetError, match="no item id column"):
        add_attributes_to_ctr(stored_values, ctr, owner=user)
    path.write_text("click,item_id\n" + "".join(f"{i % 2},x{i}\n" for i in range(50)))
    ctr = create_dataset(owner=user, source_file=path, filename="other.csv", kind="ctr")
    with pytest.raises(DatasetError, match="None of the item ids"):
        add_attributes_to_ctr(stored_values, ctr, owner=user)


def test_job_page_shows_attribute_panel_and_charts(client_in, stored_values):
    stored_values.curves = {"per_attribute": {"Color": {"f1": 0.5, "n_labels": 3, "n_predicted": 4}},
                            "per_category": {"Shoes": {"micro_f1": 0.5, "map": 0.6, "n_products": 5}}}
    stored_values.save()
    page = client_in.get(stored_values.get_absolute_url()).content.decode()
    assert 'id="attribute-panel"' in page and "0.500 ± 0.010" in page and "0.400 ± 0.020" in page
    assert 'data-figure="attr-metrics"' in page and 'data-figure="attr-per-attribute"' in page
    assert reverse("attributes:review", args=[stored_values.pk]) in page
    for chart in ("attr-metrics", "attr-hits", "attr-per-attribute"):  # charts.js finds each spec by its id
        assert page.count(f'id="{chart}"') == 1, chart


def test_admin_lists_extracted_values(client, django_user_model, stored_values):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    page = client.get("/admin/attributes/extractedvalue/", {"status__exact": "predicted"}).content.decode()
    assert "Acme" in page


def test_a_decision_without_htmx_lands_on_the_queue_saying_what_it_did(client, user, stored_values):
    """A form post that HTMX did not take over (no script yet, or a key pressed while the new card was
    being wired) must still tell the analyst what happened, as the HTMX answer does."""
    from attributes import selectors as attribute_selectors

    client.force_login(user)
    item = attribute_selectors.next_to_review(stored_values)
    response = client.post(reverse("attributes:review_value", args=[item.pk]), {"decision": "reject"}, follow=True)
    page = response.content.decode()
    assert 'id="review-done"' in page and f"for {item.product_id}" in page and "Rejected" in page


def test_a_refused_decision_without_htmx_shows_the_reason_on_the_queue(client, user, stored_values):
    client.force_login(user)
    acme = ExtractedValue.objects.get(job=stored_values, product_id="p0", attribute="Brand", value="Acme")
    page = client.post(reverse("attributes:review_value", args=[acme.pk]), {"decision": "accept"}).content.decode()
    assert 'id="review-error"' in page and "already has Brand" in page
