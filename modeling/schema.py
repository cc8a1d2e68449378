"""The shape of encoded CTR data, shared by the feature encoder and every network.

No Django, no pandas: a network reads only these dataclasses to size its embedding tables, and
the encoder produces batches that follow them.

Batch layout (a ``dict[str, torch.Tensor]``, every tensor sliced along the first axis ``B``):

- ``cat``: ``LongTensor (B, F)``, one column per :class:`CategoricalField` in schema order.
  Index 0 of every field is reserved for padding / missing, 1 for out-of-vocabulary.
- ``num``: ``FloatTensor (B, N)``, one column per numeric field, already normalised (present only
  when ``N > 0``).
- ``label``: ``FloatTensor (B,)`` with 0/1 values.
- ``user``: ``LongTensor (B,)`` user index, for GAUC (present when a user id column exists).
- Sequence part (present when ``schema.sequence`` is not ``None``):
  ``hist_<name>``: ``LongTensor (B, L)`` for every sequence in ``schema.sequence.fields``, sharing
  the vocabulary of the categorical field it names, left-padded with 0 and truncated to the most
  recent ``L = max_len`` items, and for every behaviour field in ``schema.sequence.behaviour_fields``
  (own vocabulary: 0 padding, 1 out-of-vocabulary); ``hist_mask``: ``BoolTensor (B, L)``, True where a real behaviour
  is; ``hist_time``: ``FloatTensor (B, L)`` seconds and ``target_time``: ``FloatTensor (B,)`` when
  the dataset has timestamps.
- ``item_emb`` (optional): ``FloatTensor (B, D_mm)`` multimodal embedding of the target item, and
  ``hist_item_emb``: ``FloatTensor (B, L, D_mm)`` of the behaviours.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategoricalField:
    """A categorical column after encoding; ``vocab_size`` counts the padding and OOV slots."""

    name: str
    vocab_size: int


@dataclass(frozen=True)
class SequenceSpec:
    """Behaviour sequences and how they relate to the target's categorical fields.

    ``fields`` maps a sequence name (the batch key is ``hist_<name>``) to the categorical field whose
    vocabulary and embedding table it shares, e.g. ``{"item": "item_id", "cat": "item_category"}``.
    ``item_field`` is the categorical field of the target item. ``behaviour_fields`` maps a
    per-behaviour field with no target counterpart (the user's past feedback, the action type) to
    its vocabulary size.
    """

    item_field: str
    fields: dict[str, str]
    max_len: int
    has_time: bool = False
    multimodal_dim: int = 0
    behaviour_fields: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureSchema:
    """All encoded fields of one dataset."""

    categorical: tuple[CategoricalField, ...] = ()
    numeric: tuple[str, ...] = ()
    sequence: SequenceSpec | None = None
    has_user: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def num_categorical(self) -> int:
        return len(self.categorical)

    @property
    def num_numeric(self) -> int:
        return len(self.numeric)

    def field_index(self, name: str) -> int:
        """Column of ``name`` in the ``cat`` tensor."""
        for i, f in enumerate(self.categorical):
            if f.name == name:
                return i
        raise KeyError(name)
