"""Load demo datasets: the real Criteo samples (plus MovieLens with histories, Hillstrom for uplift) from the shared data folder, or generated ones.

    python manage.py load_demo_data [--owner demo] [--data-dir PATH] [--synthetic]

Real files are read from ``CTRSTUDIO_SHARED_DATA`` (default ``../shared/data``) and stored like
an upload; they are never copied into the repository. Without that folder, a seeded generator
makes datasets whose names and descriptions say they are synthetic (a CTR table here, an uplift
table through ``make_uplift_data``).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from datasets.models import Dataset
from datasets.services import create_dataset

REAL = [
    ("criteo_attribution_small/small_train.parquet", "Criteo attribution sample (115k impressions)",
     "Real public data: 5 categorical fields and a click label from the Criteo Attribution Modeling for Bidding "
     "dataset (CC BY-NC-SA 4.0, research use). Column `c` is constant and ignored.", None),
    ("criteo_kaggle_tiny/train.tiny.csv", "Criteo Kaggle tiny (1,999 raw rows)",
     "Real public data: the first rows of the Criteo Display Advertising Challenge train.csv, 13 numeric and 26 "
     "categorical fields (Criteo's terms: non-commercial research use).", {"Label": "label"}),
]

# Optional real uplift data: loaded when the shared folder has it, skipped (with a note) when not.
UPLIFT_REAL = [
    ("hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
     "Hillstrom e-mail campaign (64k customers, uplift)",
     "Real public data: Kevin Hillstrom's MineThatData E-Mail Analytics Challenge (2008). A randomised campaign "
     "with three arms (`segment`: Mens E-Mail, Womens E-Mail, No E-Mail = control); outcomes visit, conversion and "
     "spend in the following two weeks. No formal licence; widely redistributed for research.", {"segment": "treatment"}),
]


MOVIELENS_NAME = "MovieLens ratings with histories (label = rating ≥ 4)"
MOVIELENS_DESCRIPTION = (
    "Real public data (MovieLens latest-small, GroupLens terms: research use, no redistribution): one row per rating, "
    "label = rating ≥ 4; each row carries the user's strictly earlier ratings (at most 50 movies, their primary "
    "genres, times and whether the user liked each one, `hist_label`) as behaviour sequences. Split held out by time "
    "per user: each user's last 10 ratings are test, the 5 before validation. Built with "
    "`manage.py build_sequence_dataset movielens --valid-events 5 --test-events 10`.")


def synthetic_ctr(n_rows: int, seed: int) -> pd.DataFrame:
    """A seeded CTR table whose clicks depend on its features through a known logistic model."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "site": rng.integers(0, 40, n_rows).astype(str),
        "ad": rng.integers(0, 200, n_rows).astype(str),
        "device": rng.choice(["mobile", "desktop", "tablet"], n_rows, p=[0.6, 0.3, 0.1]),
        "hour": rng.integers(0, 24, n_rows),
        "price": rng.lognormal(2.0, 0.6, n_rows).round(2),
    })
    site_effect = rng.normal(0, 0.8, 40)[frame["site"].astype(int)]
    ad_effect = rng.normal(0, 0.6, 200)[frame["ad"].astype(int)]
    interaction = np.where((frame["device"] == "mobile") & (frame["hour"] >= 18), 0.9, 0.0)
    logit = -1.6 + site_effect + ad_effect + interaction - 0.15 * np.log(frame["price"])
    frame["click"] = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


class Command(BaseCommand):
    help = "Load demo datasets (real Criteo samples when the shared data folder is present, else synthetic)."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="demo", help="Username that owns the demo datasets (created if missing).")
        parser.add_argument("--data-dir", default=None, help="Folder holding the shared public datasets.")
        parser.add_argument("--synthetic", action="store_true", help="Generate synthetic data even if real data is present.")

    def handle(self, *args, **options):
        User = get_user_model()
        owner, _ = User.objects.get_or_create(username=options["owner"])
        data_dir = Path(options["data_dir"] or settings.SHARED_DATA_DIR)
        if not options["synthetic"] and data_dir.is_dir():
            self._load_real(owner, data_dir)
            self._load_real_uplift(owner, data_dir)
        else:
            if not options["synthetic"]:
                self.stdout.write(f"No shared data folder at {data_dir}: generating synthetic demo data instead.")
            self._load_synthetic(owner)
            call_command("make_uplift_data", owner=owner.username, stdout=self.stdout)

    def _load_real(self, owner, data_dir: Path) -> None:
        for relative, name, description, roles in REAL:
            path = data_dir / relative
            if not path.exists():
                raise CommandError(f"{path} is missing; pass --data-dir or --synthetic.")
            if Dataset.objects.filter(owner=owner, name=name).exists():
                self.stdout.write(f"= {name} already loaded")
                continue
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=name, kind="ctr",
                                     description=description, role_overrides=roles, source=Dataset.Source.DEMO)
            self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))
        self._load_oa_mine(owner, data_dir)
        self._load_ae_110k(owner, data_dir)
        self._load_movielens_sequences(owner, data_dir)

    def _load_oa_mine(self, owner, data_dir: Path) -> None:
        """OA-Mine product titles as an attributes catalogue, when the shared folder has it."""
        self._load_extractgpt(
            owner, data_dir, "oa-mine", "OA-Mine product attributes (1,943 titles)",
            "Real public data: Amazon product titles from OA-Mine (Zhang et al., WWW 2022) as prepared by "
            "ExtractGPT (Apache-2.0), 10 categories. The train titles keep their attribute values; the test "
            "titles are left unlabelled for extraction.")

    def _load_ae_110k(self, owner, data_dir: Path) -> None:
        """AE-110K product titles as a second attributes catalogue, when the shared folder has it."""
        self._load_extractgpt(
            owner, data_dir, "ae-110k", "AE-110K product attributes (2,092 titles)",
            "Real public data: AliExpress product titles from AE-110K (Xu et al., ACL 2019) as prepared by "
            "ExtractGPT; see PROVENANCE.md in the shared data folder for its terms. The train titles keep "
            "their attribute values; the test titles are left unlabelled for extraction.")

    def _load_extractgpt(self, owner, data_dir: Path, slug: str, name: str, description: str) -> None:
        from attributes.io import read_extractgpt_jsonl, to_long_table

        folder = data_dir / "extractgpt_avs" / slug
        if not (folder / "train.jsonl").exists() or not (folder / "test.jsonl").exists():
            self.stdout.write(f"No {slug} files under {folder}: skipping that attributes demo.")
            return
        if Dataset.objects.filter(owner=owner, name=name).exists():
            self.stdout.write(f"= {name} already loaded")
            return
        products, labels = read_extractgpt_jsonl([folder / "train.jsonl", folder / "test.jsonl"])
        unlabelled = products.loc[products["source_split"] == "test", "product_id"]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{slug.replace('-', '_')}_attributes.csv"
            to_long_table(products, labels, unlabelled=unlabelled).to_csv(path, index=False)
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=name,
                                     kind="attributes", description=description, source=Dataset.Source.DEMO)
        self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))

    def _load_movielens_sequences(self, owner, data_dir: Path) -> None:
        """MovieLens ratings as a behaviour-sequence CTR table (for DIN, QIN, TIN, AW-MoE, SUAN), when present."""
        from modeling.sequences import SequenceConfig, build_sequences, load_movielens, sequence_roles, write_sequences

        folder = data_dir / "movielens_latest_small"
        if not (folder / "ratings.csv").exists() or not (folder / "movies.csv").exists():
            self.stdout.write(f"No MovieLens files under {folder}: skipping the sequence demo.")
            return
        if Dataset.objects.filter(owner=owner, name=MOVIELENS_NAME).exists():
            self.stdout.write(f"= {MOVIELENS_NAME} already loaded")
            return
        log = load_movielens(folder)
        table = build_sequences(log.events, fields=log.fields, config=SequenceConfig(max_len=50, split="last", valid_events=5, test_events=10), as_lists=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_sequences(table, Path(tmp) / "movielens_sequences.parquet")
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=MOVIELENS_NAME, kind="ctr",
                                     description=MOVIELENS_DESCRIPTION, role_overrides=sequence_roles(log.fields),
                                     source=Dataset.Source.DEMO)
        self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))

    def _load_real_uplift(self, owner, data_dir: Path) -> None:
        for relative, name, description, roles in UPLIFT_REAL:
            path = data_dir / relative
            if not path.exists():
                self.stdout.write(f"- {name}: {path} not found, skipped")
                continue
            if Dataset.objects.filter(owner=owner, name=name).exists():
                self.stdout.write(f"= {name} already loaded")
                continue
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=name, kind="uplift",
                                     description=description, role_overrides=roles, source=Dataset.Source.DEMO)
            self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))

    def _load_synthetic(self, owner) -> None:
        name = "Synthetic CTR sample (generated, 50k rows)"
        if Dataset.objects.filter(owner=owner, name=name).exists():
            self.stdout.write(f"= {name} already loaded")
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "synthetic_ctr.csv"
            synthetic_ctr(50_000, seed=7).to_csv(path, index=False)
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=name, kind="ctr",
                                     description="SYNTHETIC data from a seeded generator (clicks follow a known logistic model); "
                                                 "not real user behaviour.", source=Dataset.Source.SYNTHETIC)
        self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))
