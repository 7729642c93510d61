"""Fuzzy title search for candidate generation: char-3-gram TF-IDF (scispaCy's baseline) over code titles and
inclusion terms, cosine similarity, best score per code.

7th-character codes are not indexed (their titles repeat the code they extend plus the encounter); a leaf that
takes a 7th character counts as billable for ``billable_only`` (add the character with
:meth:`CodeSet.with_seventh`).
"""

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from nec_nlp.icd10cm.tabular import CodeSet


class TitleSearcher:
    """A TF-IDF index over one code set's titles and inclusion terms (built in the constructor)."""

    def __init__(self, cs: "CodeSet") -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs: list[str] = []
        starts: list[int] = []
        self.codes: list[str] = []
        self.billable: list[bool] = []
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
        self._vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, sublinear_tf=True,
                                    dtype=np.float32)
        self._matrix: Any = self._vec.fit_transform(docs).tocsc()

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
