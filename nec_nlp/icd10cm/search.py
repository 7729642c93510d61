"""Fuzzy title search for candidate generation: char-3-gram TF-IDF (scispaCy's baseline) over code titles and
inclusion terms, cosine similarity, best score per code.

7th-character codes are not indexed (their titles repeat the code they extend plus the encounter); a leaf that
takes a 7th character counts as billable for ``billable_only`` (add the character with
:meth:`CodeSet.with_seventh`).
"""

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet

logger = logging.getLogger(__name__)
SEARCH_FORMAT = 1
_VEC_ARGS: dict[str, Any] = {"analyzer": "char_wb", "ngram_range": (3, 3), "min_df": 1, "sublinear_tf": True,
                             "dtype": np.float32}


class TitleSearcher:
    """A TF-IDF index over one code set's titles and inclusion terms.

    Build with :meth:`load` (served from an ``.npz`` file in the warm-load cache dir when the code set has a
    checksum, so worker processes do not refit it) or the constructor (always fits).
    """

    def __init__(self, cs: "CodeSet | None" = None, *, arrays: dict[str, Any] | None = None) -> None:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        if arrays is not None:
            self.codes = [str(c) for c in arrays["codes"]]
            self.billable = [bool(b) for b in arrays["billable"]]
            self._starts = arrays["starts"]
            vocab = {str(t): i for i, t in enumerate(arrays["terms"])}
            self._vec = TfidfVectorizer(vocabulary=vocab, **_VEC_ARGS)
            self._vec.idf_ = arrays["idf"]
            self._matrix: Any = sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                                  shape=tuple(arrays["shape"]))
            self._billable = np.asarray(self.billable)
            return
        assert cs is not None
        docs: list[str] = []
        starts: list[int] = []
        self.codes = []
        self.billable = []
        rows, children, notes = cs._rows, cs._children, cs._notes
        for code, row in rows.items():
            if row[7]:  # a 7th-character code
                continue
            kids = children.get(code, ())
            takes_seventh = bool(kids) and all(rows[k][7] for k in kids)
            self.codes.append(code)
            self.billable.append(bool(row[6]) or takes_seventh)
            starts.append(len(docs))
            docs.append(row[0].lower())
            docs.extend(t.lower() for t in notes.get(code, {}).get("inc", ()))
        # documents of one code are contiguous: the best score per code is a reduceat over these starts
        self._starts = np.asarray(starts)
        self._billable = np.asarray(self.billable)
        self._vec = TfidfVectorizer(**_VEC_ARGS)
        self._matrix = self._vec.fit_transform(docs).tocsc()

    def arrays(self) -> dict[str, Any]:
        """The fitted state as plain numpy arrays (saved with ``np.savez``, loaded without pickle)."""
        vocab = self._vec.vocabulary_
        terms = np.empty(len(vocab), dtype=object)
        for t, i in vocab.items():
            terms[i] = t
        m = self._matrix
        return {"codes": np.asarray(self.codes, dtype=str), "billable": np.asarray(self.billable, dtype=bool),
                "starts": self._starts, "terms": terms.astype(str), "idf": np.asarray(self._vec.idf_),
                "data": m.data, "indices": m.indices, "indptr": m.indptr, "shape": np.asarray(m.shape)}

    @classmethod
    def load(cls, cs: "CodeSet") -> "TitleSearcher":
        """The searcher of ``cs``: from the cache when present and sound, else fitted (and cached)."""
        checksum = getattr(cs, "checksum", None)
        if not checksum:
            return cls(cs)
        from nec_nlp.icd10cm.kinds import RULE_VERSION
        from nec_nlp.icd10cm.releases import _package_version, cache_dir

        key = hashlib.sha256(f"{checksum}|{_package_version()}|{SEARCH_FORMAT}|{RULE_VERSION}".encode()
                             ).hexdigest()[:20]
        path = Path(cache_dir()) / f"titles-{cs.release}-{key}.npz"
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    return cls(arrays={k: z[k] for k in z.files})
            except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt
                logger.info("rebuilding a corrupt title-search cache")
        searcher = cls(cs)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **searcher.arrays())
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("could not write the title-search cache: %s", exc)
        return searcher

    def search(self, text: str, limit: int = 20, *, billable_only: bool = False) -> list[tuple[str, float]]:
        """The ``limit`` best ``(code, score)`` pairs for ``text`` (score = cosine similarity, 0..1)."""
        q = self._vec.transform([text.lower()])
        if q.nnz == 0:
            return []
        cols = q.indices
        sims = (self._matrix[:, cols] @ q.data.astype(np.float32)).ravel()
        best = np.maximum.reduceat(sims, self._starts)
        if billable_only:
            best = np.where(self._billable, best, 0.0)
        k = min(limit, int((best > 0).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-best, k - 1)[:k]
        top = top[np.argsort(-best[top], kind="stable")]
        return [(self.codes[i], round(float(best[i]), 4)) for i in top]
