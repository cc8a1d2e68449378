"""Build a behaviour-sequence CTR table from an event log: one row per event, with its history.

Each output row is one event (the *target*); its history is the same user's events that happened
**strictly earlier** in time, oldest first, truncated to the most recent ``max_len``. Events that
share the target's timestamp are neither history nor future: they are excluded, so a bulk of
ratings written in the same second never leak into each other. Within one user, events are
ordered by (time, item, original row), which makes the output deterministic.

Everything is vectorised with NumPy and Arrow list arrays (no per-row Python): histories are
slices of the user's sorted event array, expressed as list offsets, and joined to ``a|b|c``
strings with ``pyarrow.compute.binary_join`` when writing CSV.

The output columns follow ``modeling/features.py``'s naming, so the table can be uploaded as a CTR
dataset as is: ``user_id``, ``item_id``, one column per item field (e.g. ``genre``), ``timestamp``,
``label``, ``hist_item_id``, ``hist_<field>``, ``hist_time``, ``hist_label`` (sequences; the last
is the user's feedback on each past event, known before the target happened — turn it off with
``feedback=False``), ``hist_<event field>`` for per-event columns such as Taobao's ``action``
(histories only) and ``split`` (train/valid/test, held out by time).

Splits (``split=``):

- ``last`` (default): per user, the last ``test_events`` events are test and the ``valid_events``
  before them validation ("leave last out", as in TIN/DIN's Amazon protocol).
- ``time``: a global time cut; the newest ``test_frac`` of events (by timestamp quantile) are test,
  the ``valid_frac`` before them validation. Every row with the same timestamp lands in the same part.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlcore.api import DataError

from .features import BEHAVIOUR_STEMS

SEP = "|"
MISSING = "(none)"  # item field value written for a missing one, so every behaviour keeps one token per field


@dataclass(frozen=True)
class SequenceConfig:
    """How histories and splits are built (see the module docstring)."""

    max_len: int = 50
    split: str = "last"  # last | time
    valid_events: int = 1
    test_events: int = 1
    valid_frac: float = 0.1
    test_frac: float = 0.1
    positive_history: bool = False  # keep only positive (label 1) events in histories
    feedback: bool = True  # add ``hist_label``: the label of every past event (the user's earlier feedback)

    def check(self) -> None:
        if self.max_len < 1:
            raise DataError(f"max_len must be at least 1; got {self.max_len}.")
        if self.split not in ("last", "time"):
            raise DataError(f"split must be `last` or `time`; got `{self.split}`.")
        if self.split == "time" and not (0 < self.valid_frac and 0 < self.test_frac and self.valid_frac + self.test_frac < 0.9):
            raise DataError("valid_frac and test_frac must be positive and leave at least 10% of events for training.")
        if self.split == "last" and (self.valid_events < 0 or self.test_events < 1):
            raise DataError("A `last` split needs test_events >= 1 and valid_events >= 0.")


def build_sequences(events: pd.DataFrame, *, user: str = "user_id", item: str = "item_id", time: str = "timestamp",
                    label: str = "label", fields: Sequence[str] = (), event_fields: Sequence[str] = (),
                    config: SequenceConfig | None = None, as_lists: bool = False) -> pd.DataFrame:
    """One row per event with its strictly-earlier history; see the module docstring.

    ``fields`` are per-item columns (e.g. ``genre``) carried for the target and as ``hist_<field>``.
    ``event_fields`` are per-event columns (e.g. ``action``: pv/cart/buy) carried **only** in the
    history as ``hist_<field>``, never for the target (whose action is what is predicted); their
    names must be behaviour-field names the encoder recognises (``features.BEHAVIOUR_STEMS``).
    With ``as_lists`` the sequence columns hold Python lists (for Parquet); otherwise ``|``-joined text.
    """
    config = config or SequenceConfig()
    config.check()
    bad = [f for f in event_fields if f.lower() not in BEHAVIOUR_STEMS]
    if bad:
        raise DataError(f"Event field(s) {', '.join(bad)} must be named one of {', '.join(BEHAVIOUR_STEMS)} "
                        f"so that models read them as per-behaviour fields; rename the column first.")
    missing = [c for c in (user, item, time, label, *fields, *event_fields) if c not in events.columns]
    if missing:
        raise DataError(f"Column(s) {', '.join(missing)} not in the event log; columns are {', '.join(events.columns)}.")
    if len(events) == 0:
        raise DataError("The event log is empty.")
    times = pd.to_numeric(events[time], errors="coerce")
    if times.isna().any():
        raise DataError(f"Column `{time}` has {int(times.isna().sum())} missing or non-numeric times; use epoch seconds.")
    labels = pd.to_numeric(events[label], errors="coerce")
    if not labels.isin([0, 1]).all():
        raise DataError(f"Column `{label}` must hold 0/1 labels.")
    frame = pd.DataFrame({"user_id": events[user].to_numpy(), "item_id": events[item].astype(str).to_numpy(),
                          "timestamp": times.to_numpy(dtype=np.int64), "label": labels.to_numpy(dtype=np.int64)})
    for f in (*fields, *event_fields):  # a blank token would vanish from a delimited history and shift it
        values = events[f].astype(str).str.strip()
        frame[f] = values.where(events[f].notna() & (values != ""), MISSING).to_numpy()
    for name in ("item_id", *fields, *event_fields):
        if frame[name].str.contains(SEP, regex=False).any():
            raise DataError(f"Column `{name}` has values containing `{SEP}`, the history separator; replace it first.")
    frame["_row"] = np.arange(len(frame))
    frame = frame.sort_values(["user_id", "timestamp", "item_id", "_row"], kind="mergesort").reset_index(drop=True)
    n = len(frame)
    user_codes = pd.factorize(frame["user_id"])[0]
    new_user = np.r_[True, user_codes[1:] != user_codes[:-1]]
    new_time = new_user | np.r_[True, frame["timestamp"].to_numpy()[1:] != frame["timestamp"].to_numpy()[:-1]]
    idx = np.arange(n)
    user_start = np.maximum.accumulate(np.where(new_user, idx, 0))  # first row of this user
    tie_start = np.maximum.accumulate(np.where(new_time, idx, 0))  # first row with this user and time
    # History rows come from ``source`` (all events, or positives only); ``before[k]`` counts source rows before k.
    source = frame["label"].to_numpy() == 1 if config.positive_history else np.ones(n, dtype=bool)
    before = np.cumsum(source) - source
    end = before[tie_start]  # exclusive: strictly earlier than the target's time
    start = np.maximum(before[user_start], end - config.max_len)
    lengths = end - start
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    flat = np.repeat(start - offsets[:-1], lengths) + np.arange(offsets[-1])  # index into the source rows
    src = np.flatnonzero(source)
    out = frame.drop(columns=["_row", *event_fields])
    seq_columns = {"hist_item_id": frame["item_id"], **{f"hist_{f}": frame[f] for f in (*fields, *event_fields)},
                   "hist_time": frame["timestamp"].astype(str)}
    if config.feedback:
        seq_columns["hist_label"] = frame["label"].astype(str)
    for name, column in seq_columns.items():
        values = pa.array(column.to_numpy(dtype=object)[src][flat], type=pa.string())
        lists = pa.ListArray.from_arrays(pa.array(offsets), values)
        if as_lists:
            if name == "hist_time":
                lists = pa.ListArray.from_arrays(pa.array(offsets), pc.cast(values, pa.int64()))
            out[name] = lists.to_pandas()
        else:
            out[name] = pc.binary_join(lists, SEP).to_numpy(zero_copy_only=False)
    out["split"] = _split(frame, user_codes, new_user, config)
    out["hist_len"] = lengths
    return out


def _split(frame: pd.DataFrame, user_codes: np.ndarray, new_user: np.ndarray, config: SequenceConfig) -> np.ndarray:
    """train / valid / test per row of ``frame`` (sorted by user, time)."""
    n = len(frame)
    split = np.full(n, "train", dtype=object)
    if config.split == "last":
        counts = np.bincount(user_codes)
        from_end = counts[user_codes] - (np.arange(n) - np.flatnonzero(new_user)[user_codes])  # 1 = user's last event
        split[from_end <= config.test_events + config.valid_events] = "valid"
        split[from_end <= config.test_events] = "test"
    else:
        t = frame["timestamp"].to_numpy()
        test_cut = np.quantile(t, 1 - config.test_frac)
        valid_cut = np.quantile(t, 1 - config.test_frac - config.valid_frac)
        split[t >= valid_cut] = "valid"
        split[t >= test_cut] = "test"
    return split


def write_sequences(frame: pd.DataFrame, path: Path) -> Path:
    """Write a built table as CSV (``|``-joined sequences) or Parquet (list columns), by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    else:
        frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# Public logs


@dataclass
class EventLog:
    """An event log ready for :func:`build_sequences`, plus an item table for the item side.

    ``items`` has ``item_id``, the item ``fields`` and ``text`` (for content embeddings).
    """

    events: pd.DataFrame
    fields: tuple[str, ...]
    items: pd.DataFrame | None
    event_fields: tuple[str, ...] = ()  # per-event columns carried only in histories (e.g. action)


def primary_genre(genres: pd.Series) -> pd.Series:
    """Reduce MovieLens ``A|B|C`` genre lists to one genre per movie: the *rarest* of its genres in
    the catalogue (the most specific one: Toy Story → Animation rather than Comedy); ties go to the
    alphabetically first. ``(no genres listed)`` becomes missing (empty)."""
    exploded = genres.fillna("").str.split("|").explode()
    exploded = exploded[(exploded != "") & (exploded != "(no genres listed)")]
    frequency = exploded.map(exploded.value_counts())
    ranked = pd.DataFrame({"movie": exploded.index, "genre": exploded.to_numpy(), "freq": frequency.to_numpy()})
    first = ranked.sort_values(["movie", "freq", "genre"], kind="mergesort").drop_duplicates("movie")
    return pd.Series(first["genre"].to_numpy(), index=first["movie"].to_numpy()).reindex(genres.index).fillna("")


def load_movielens(folder: Path, positive_rating: float = 4.0) -> EventLog:
    """MovieLens latest-small: label = rating ≥ ``positive_rating``; item field ``genre`` (see
    :func:`primary_genre`); item text = title, all genres and the movie's distinct tags."""
    folder = Path(folder)
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    movies["genre"] = primary_genre(movies["genres"])
    text = movies["title"].fillna("") + ". Genres: " + movies["genres"].fillna("").str.replace("|", ", ", regex=False)
    tags_path = folder / "tags.csv"
    if tags_path.exists():
        tags = pd.read_csv(tags_path)
        tags["tag"] = tags["tag"].astype(str).str.strip().str.lower()
        joined = tags.drop_duplicates(["movieId", "tag"]).groupby("movieId")["tag"].agg(", ".join)
        movie_tags = movies["movieId"].map(joined)
        text = text + np.where(movie_tags.notna(), ". Tags: " + movie_tags.fillna(""), "")
    items = pd.DataFrame({"item_id": movies["movieId"].astype(str), "genre": movies["genre"], "text": text})
    events = pd.DataFrame({"user_id": ratings["userId"].astype(str), "item_id": ratings["movieId"].astype(str),
                           "timestamp": ratings["timestamp"], "label": (ratings["rating"] >= positive_rating).astype(int)})
    events = events.merge(items[["item_id", "genre"]], on="item_id", how="left")
    events["genre"] = events["genre"].fillna("")
    return EventLog(events, ("genre",), items)


TAOBAO_COLUMNS = ["user_id", "item_id", "category", "behavior", "timestamp"]


def load_taobao(path: Path) -> EventLog:
    """Taobao UserBehavior (no header: user, item, category, pv/fav/cart/buy, unix time).

    label = 1 for any action beyond a page view (fav, cart, buy). Item field ``category``; event field
    ``action`` (pv/fav/cart/buy, histories only: the target's action is the label). The item text is
    only the category id (Taobao ships no titles), so content embeddings add little here."""
    raw = pd.read_csv(path, header=None, names=TAOBAO_COLUMNS, dtype={"user_id": str, "item_id": str, "category": str})
    events = raw.assign(label=(raw["behavior"] != "pv").astype(int)).rename(columns={"behavior": "action"})
    items = events.drop_duplicates("item_id")[["item_id", "category"]].reset_index(drop=True)
    items["text"] = "category " + items["category"]
    return EventLog(events, ("category",), items, event_fields=("action",))


def sequence_roles(fields: Sequence[str], feedback: bool = True, event_fields: Sequence[str] = ()) -> dict[str, str]:
    """Column roles of a built table for ``datasets.services.create_dataset`` and the CTR pipeline
    (``feedback``: whether the table has ``hist_label``, see :class:`SequenceConfig`)."""
    roles = {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp", "label": "label",
             "hist_item_id": "sequence", "hist_time": "sequence", "hist_label": "sequence", "split": "split",
             "hist_len": "ignore"}
    for f in fields:
        roles[f] = "categorical"
        roles[f"hist_{f}"] = "sequence"
    for f in event_fields:
        roles[f"hist_{f}"] = "sequence"
    if not feedback:
        del roles["hist_label"]
    return roles
