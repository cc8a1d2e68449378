"""Store generated MT-LIFT-style uplift data (clearly labelled synthetic) as an uplift dataset.

    python manage.py make_uplift_data [--owner demo] [--rows 50000] [--arms 4] [--seed 0] [--effect-scale 1.0]
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from datasets.models import Dataset
from datasets.profiling import DatasetError

from ...services import create_synthetic_uplift_dataset


class Command(BaseCommand):
    help = "Generate a seeded MT-LIFT-style uplift dataset with known true effects (synthetic)."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="demo", help="Username that owns the dataset (created if missing).")
        parser.add_argument("--rows", type=int, default=50_000)
        parser.add_argument("--arms", type=int, default=4, help="Treated arms besides control.")
        parser.add_argument("--features", type=int, default=12)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--effect-scale", type=float, default=1.0, help="0 gives data with no uplift at all.")
        parser.add_argument("--name", default="", help="Dataset name (default says it is synthetic).")

    def handle(self, *args, **options):
        owner, _ = get_user_model().objects.get_or_create(username=options["owner"])
        if options["rows"] < 100:
            raise CommandError("--rows must be at least 100.")
        name = options["name"] or (f"Synthetic uplift chain (generated, {options['rows']:,} rows, "
                                   f"{options['arms']} treated arms, seed {options['seed']})")
        if Dataset.objects.filter(owner=owner, name=name).exists():
            self.stdout.write(f"= {name} already loaded")
            return
        try:
            dataset = create_synthetic_uplift_dataset(
                owner=owner, rows=options["rows"], arms=options["arms"], features=options["features"],
                seed=options["seed"], effect_scale=options["effect_scale"], name=name)
        except (DatasetError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))
