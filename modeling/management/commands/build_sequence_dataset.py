"""Build a behaviour-sequence CTR table from an event log, optionally registering it as a dataset.

    python manage.py build_sequence_dataset movielens --output var/seq/movielens.parquet [--register]
    python manage.py build_sequence_dataset taobao --output var/seq/taobao.csv --split time
    python manage.py build_sequence_dataset events.csv --user uid --item sku --time ts --label clicked \\
        --fields category,brand --output var/seq/mine.csv --register --owner alice

``movielens`` and ``taobao`` read the public logs from the shared data folder (``--data-dir``);
any other source is a CSV/Parquet event log whose columns are named with --user/--item/--time/
--label/--fields. See ``modeling/sequences.py`` for how histories and the split are built.
With ``--item-embeddings PATH`` the public loaders also write each item's content embedding
(MiniLM, else TF-IDF) to PATH (.parquet or .npy); with ``--register`` a .parquet one is registered
too, as an item table whose id sequence jobs take in their ``item_table`` setting.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from datasets.models import Dataset
from datasets.profiling import DatasetError
from datasets.services import create_dataset
from mlcore.api import DataError
from modeling.item_side import compute_item_embeddings, save_item_embeddings
from modeling.sequences import (EventLog, SequenceConfig, build_sequences, load_movielens, load_taobao, sequence_roles,
                                write_sequences)

DESCRIPTIONS = {
    "movielens": "Real public data (MovieLens latest-small, GroupLens terms): one row per rating, label = rating ≥ 4, "
                 "history = the user's strictly earlier ratings; split held out by time.",
    "taobao": "Real public data (Taobao UserBehavior sample, Tianchi terms, non-commercial): one row per event, "
              "label = fav/cart/buy (any action beyond a page view); split held out by time.",
}


class Command(BaseCommand):
    help = "Build a sequence CTR table (one row per event with its strictly earlier history) from an event log."

    def add_arguments(self, parser):
        parser.add_argument("source", help="movielens, taobao, or the path of a CSV/Parquet event log.")
        parser.add_argument("--output", required=True, help="Where to write the table (.csv or .parquet).")
        parser.add_argument("--max-len", type=int, default=50, help="Most recent behaviours kept per row.")
        parser.add_argument("--split", choices=("last", "time"), default="last",
                            help="last: each user's last events are held out; time: a global time cut.")
        parser.add_argument("--valid-events", type=int, default=1)
        parser.add_argument("--test-events", type=int, default=1)
        parser.add_argument("--valid-frac", type=float, default=0.1)
        parser.add_argument("--test-frac", type=float, default=0.1)
        parser.add_argument("--positive-history", action="store_true", help="Keep only positive events in histories.")
        parser.add_argument("--no-feedback", action="store_true",
                            help="Leave out hist_label (the user's feedback on each past event).")
        parser.add_argument("--data-dir", default=None, help="Shared data folder for the public logs.")
        parser.add_argument("--user", default="user_id")
        parser.add_argument("--item", default="item_id")
        parser.add_argument("--time", default="timestamp", help="Event time column (epoch seconds).")
        parser.add_argument("--label", default="label", help="0/1 label column.")
        parser.add_argument("--fields", default="", help="Comma-separated item columns to carry (e.g. category).")
        parser.add_argument("--action", default="",
                            help="A per-event column (e.g. pv/cart/buy) to carry in the histories only, as hist_action.")
        parser.add_argument("--item-embeddings", default=None, help="Also write item content embeddings here.")
        parser.add_argument("--embedding-method", default="auto", choices=("auto", "minilm", "tfidf"))
        parser.add_argument("--register", action="store_true", help="Create a CTR dataset from the output.")
        parser.add_argument("--owner", default="demo", help="Username owning the registered dataset (created if missing).")
        parser.add_argument("--name", default="", help="Dataset name when registering.")

    def handle(self, *args, **options):
        log, description = self._load(options)
        config = SequenceConfig(max_len=options["max_len"], split=options["split"], valid_events=options["valid_events"],
                                test_events=options["test_events"], valid_frac=options["valid_frac"],
                                test_frac=options["test_frac"], positive_history=options["positive_history"],
                                feedback=not options["no_feedback"])
        output = Path(options["output"])
        try:
            table = build_sequences(log.events, fields=log.fields, event_fields=log.event_fields, config=config,
                                    as_lists=output.suffix == ".parquet")
        except DataError as exc:
            raise CommandError(str(exc)) from None
        write_sequences(table, output)
        counts = table["split"].value_counts().to_dict()
        self.stdout.write(self.style.SUCCESS(
            f"wrote {len(table):,} rows to {output} (train {counts.get('train', 0):,}, valid {counts.get('valid', 0):,}, "
            f"test {counts.get('test', 0):,}; positive rate {table['label'].mean():.3f})"))
        if options["item_embeddings"]:
            if log.items is None or "text" not in log.items:
                raise CommandError("--item-embeddings needs item texts; only the movielens and taobao loaders have them.")
            embeddings = compute_item_embeddings(log.items, method=options["embedding_method"])
            path = save_item_embeddings(embeddings, Path(options["item_embeddings"]))
            self.stdout.write(f"wrote {len(embeddings.ids):,} item embeddings ({embeddings.method}, {embeddings.dim}-d) to {path}")
            if options["register"]:
                self._register_item_table(options, path, embeddings)
        if options["register"]:
            owner, _ = get_user_model().objects.get_or_create(username=options["owner"])
            name = options["name"] or f"{options['source'] if options['source'] in DESCRIPTIONS else output.stem} sequences"
            try:
                dataset = create_dataset(inline=True, owner=owner, source_file=output, filename=output.name, name=name, kind="ctr",
                                         description=description, role_overrides=sequence_roles(log.fields, feedback=config.feedback,
                                                                       event_fields=log.event_fields),
                                         source=Dataset.Source.DERIVED)
            except DatasetError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(self.style.SUCCESS(f"+ {dataset}"))

    def _register_item_table(self, options, path: Path, embeddings) -> None:
        """Register the embeddings as an item table, so sequence jobs can name it in `item_table`."""
        if path.suffix != ".parquet":
            self.stdout.write(f"- {path.name}: only a .parquet item table can be registered (an upload is one file)")
            return
        owner, _ = get_user_model().objects.get_or_create(username=options["owner"])
        base = options["name"] or f"{options['source'] if options['source'] in DESCRIPTIONS else Path(options['output']).stem} sequences"
        try:
            dataset = create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, kind="item_table",
                                     name=f"{base}: item vectors ({embeddings.method}, {embeddings.dim}-d)",
                                     description=f"Content embedding of each item's text ({embeddings.method}), built "
                                                 f"with build_sequence_dataset; set a sequence model's item_table to "
                                                 f"this dataset's id to use it.",
                                     role_overrides={"item_id": "item_id", "embedding": "embedding"},
                                     source=Dataset.Source.DERIVED)
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"+ {dataset} (item table id {dataset.pk}: use item_table={dataset.pk})"))

    def _load(self, options) -> tuple[EventLog, str]:
        source = options["source"]
        data_dir = Path(options["data_dir"] or settings.SHARED_DATA_DIR)
        if source == "movielens":
            folder = data_dir / "movielens_latest_small"
            if not (folder / "ratings.csv").exists():
                raise CommandError(f"{folder / 'ratings.csv'} is missing; pass --data-dir.")
            return load_movielens(folder), DESCRIPTIONS["movielens"]
        if source == "taobao":
            path = data_dir / "taobao_userbehavior_sample" / "UserBehavior_sample.csv"
            if not path.exists():
                raise CommandError(f"{path} is missing; pass --data-dir.")
            return load_taobao(path), DESCRIPTIONS["taobao"]
        path = Path(source)
        if not path.exists():
            raise CommandError(f"{path} does not exist; give movielens, taobao or an event log file.")
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        mapping = {options["user"]: "user_id", options["item"]: "item_id", options["time"]: "timestamp",
                   options["label"]: "label"}
        missing = [c for c in mapping if c not in frame.columns]
        if missing:
            raise CommandError(f"Column(s) {', '.join(missing)} not in {path.name}; its columns are "
                               f"{', '.join(frame.columns)}. Name them with --user/--item/--time/--label.")
        fields = tuple(f.strip() for f in options["fields"].split(",") if f.strip())
        if options["action"] and options["action"] not in frame.columns:
            raise CommandError(f"--action column `{options['action']}` not in {path.name}.")
        if options["action"]:
            mapping[options["action"]] = "action"
        events = frame.rename(columns=mapping)
        return EventLog(events, fields, None, event_fields=("action",) if options["action"] else ()), \
            f"Built from the event log {path.name}."
