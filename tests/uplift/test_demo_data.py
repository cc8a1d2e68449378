"""Demo data: the generator command and Hillstrom in load_demo_data (the CTR demo loading still works)."""
import pandas as pd
import pytest
from django.core.management import call_command

from datasets.models import Dataset
from mlcore.paths import shared_data_dir

pytestmark = pytest.mark.django_db
HILLSTROM = "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"


def test_make_uplift_data_stores_a_labelled_synthetic_uplift_dataset():
    call_command("make_uplift_data", owner="demo", rows=600, arms=2, seed=3)
    dataset = Dataset.objects.get(kind="uplift")
    assert dataset.is_synthetic and "SYNTHETIC" in dataset.description and "generated" in dataset.name
    roles = {c["name"]: c["role"] for c in dataset.columns}
    assert roles["treatment"] == "treatment" and roles["click"] == "click" and roles["conversion"] == "conversion"
    assert roles["true_uplift_click_1"] == "ignore" and roles["f0"] == "numeric"
    call_command("make_uplift_data", owner="demo", rows=600, arms=2, seed=3)  # idempotent
    assert Dataset.objects.filter(kind="uplift").count() == 1


def test_load_demo_data_adds_hillstrom_beside_the_ctr_samples(tmp_path):
    source = shared_data_dir() / HILLSTROM
    if not source.exists():
        pytest.skip(f"shared Hillstrom data not found under {shared_data_dir()}")
    # a small copy of the shared folder's layout keeps the test fast
    (tmp_path / "criteo_attribution_small").mkdir()
    pd.DataFrame({"cat1": [f"a{i % 5}" for i in range(80)], "click": [i % 2 for i in range(80)]}).to_parquet(
        tmp_path / "criteo_attribution_small" / "small_train.parquet")
    (tmp_path / "criteo_kaggle_tiny").mkdir()
    pd.DataFrame({"Label": [i % 2 for i in range(80)], "I1": range(80), "C1": [f"c{i % 3}" for i in range(80)]}).to_csv(
        tmp_path / "criteo_kaggle_tiny" / "train.tiny.csv", index=False)
    (tmp_path / "hillstrom").mkdir()
    pd.read_csv(source, nrows=1500).to_csv(tmp_path / HILLSTROM, index=False)
    call_command("load_demo_data", data_dir=str(tmp_path))
    kinds = dict(Dataset.objects.values_list("name", "kind"))
    assert sorted(kinds.values()) == ["ctr", "ctr", "uplift"]
    hillstrom = Dataset.objects.get(kind="uplift")
    assert hillstrom.source == Dataset.Source.DEMO and hillstrom.n_rows == 1500
    roles = {c["name"]: c["role"] for c in hillstrom.columns}
    assert roles["segment"] == "treatment" and roles["spend"] == "revenue"


def test_load_demo_data_without_hillstrom_still_loads_the_ctr_samples(tmp_path):
    (tmp_path / "criteo_attribution_small").mkdir()
    pd.DataFrame({"cat1": ["a", "b"] * 40, "click": [0, 1] * 40}).to_parquet(
        tmp_path / "criteo_attribution_small" / "small_train.parquet")
    (tmp_path / "criteo_kaggle_tiny").mkdir()
    pd.DataFrame({"Label": [0, 1] * 40, "C1": ["x", "y"] * 40}).to_csv(tmp_path / "criteo_kaggle_tiny" / "train.tiny.csv",
                                                                      index=False)
    call_command("load_demo_data", data_dir=str(tmp_path))
    assert set(Dataset.objects.values_list("kind", flat=True)) == {"ctr"}


def test_load_demo_data_adds_the_movielens_sequence_dataset(tmp_path):
    source = shared_data_dir() / "movielens_latest_small"
    if not (source / "ratings.csv").exists():
        pytest.skip(f"shared MovieLens data not found under {shared_data_dir()}")
    from datasets.management.commands.load_demo_data import MOVIELENS_NAME

    (tmp_path / "criteo_attribution_small").mkdir()
    pd.DataFrame({"cat1": ["a", "b"] * 40, "click": [0, 1] * 40}).to_parquet(
        tmp_path / "criteo_attribution_small" / "small_train.parquet")
    (tmp_path / "criteo_kaggle_tiny").mkdir()
    pd.DataFrame({"Label": [0, 1] * 40, "C1": ["x", "y"] * 40}).to_csv(tmp_path / "criteo_kaggle_tiny" / "train.tiny.csv",
                                                                      index=False)
    (tmp_path / "movielens_latest_small").mkdir()
    ratings = pd.read_csv(source / "ratings.csv")
    ratings = ratings[ratings.userId <= 20]  # a small copy keeps the test fast
    ratings.to_csv(tmp_path / "movielens_latest_small" / "ratings.csv", index=False)
    pd.read_csv(source / "movies.csv").to_csv(tmp_path / "movielens_latest_small" / "movies.csv", index=False)
    call_command("load_demo_data", data_dir=str(tmp_path))
    dataset = Dataset.objects.get(name=MOVIELENS_NAME)
    assert dataset.kind == "ctr" and dataset.source == Dataset.Source.DEMO and dataset.n_rows == len(ratings)
    assert "rating ≥ 4" in dataset.name and "MovieLens" in dataset.description
    roles = {c["name"]: c["role"] for c in dataset.columns}
    assert roles["hist_item_id"] == roles["hist_genre"] == roles["hist_time"] == "sequence"
    assert roles["item_id"] == "item_id" and roles["user_id"] == "user_id" and roles["label"] == "label"
    assert roles["split"] == "split" and roles["genre"] == "categorical"
    assert not dataset.errors
    call_command("load_demo_data", data_dir=str(tmp_path))  # idempotent
    assert Dataset.objects.filter(name=MOVIELENS_NAME).count() == 1
