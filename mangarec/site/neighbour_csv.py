"""The neighbour lists as downloads: ``data/neighbours/<model>.csv.gz`` (the output side of the
top-k search in :mod:`mangarec.neighbours`).

One line per (item, rank): ``item_id,rank,neighbour_id,score``, items in catalog order, rank from
1, the score with 6 decimals; gzip with mtime 0 and no file name, so equal tables give equal
bytes; written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..embedding import Neighbours
from ..fsutil import atomic_write, gzip_bytes

#: gzip level of the CSV downloads: 4 measured 3x faster than 6 for a 5% larger file.
CSV_GZIP_LEVEL = 4


def _fixed6(values: np.ndarray) -> np.ndarray:
    """Scores as strings with 6 decimals (rounded half to even, never ``-0.000000``).

    Formatted from integers (millionths), each distinct value once: the grid makes many repeat.
    """
    q = np.rint(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)
    uniq, inverse = np.unique(q, return_inverse=True)
    text = np.array(
        [("-" if u < 0 else "") + f"{abs(u) // 1_000_000}.{abs(u) % 1_000_000:06d}" for u in uniq.tolist()],
        dtype=object,
    )
    return text[inverse.reshape(-1)]


def csv_bytes(nb: Neighbours) -> bytes:
    """The uncompressed CSV table: header ``item_id,rank,neighbour_id,score``, one line per
    (item, rank), items in catalog order, rank from 1, score with 6 decimals."""
    n, k = nb.indices.shape
    ids = np.asarray(nb.item_ids, dtype=object)
    items = np.repeat(ids, k).tolist()
    ranks = [str(r) for r in range(1, k + 1)] * n
    neighbours = ids[nb.indices.ravel()].tolist()
    scores = _fixed6(nb.scores.ravel()).tolist()
    body = "\n".join(map(",".join, zip(items, ranks, neighbours, scores)))
    return ("item_id,rank,neighbour_id,score\n" + body + ("\n" if body else "")).encode("utf-8")


def write_csv(nb: Neighbours, path: Path) -> None:
    """Write the neighbour table as gzip CSV with deterministic bytes, atomically.

    The gzip header has mtime 0 and no file name, so equal tables give equal files.
    """
    atomic_write(path, gzip_bytes(csv_bytes(nb), CSV_GZIP_LEVEL))


__all__ = ["CSV_GZIP_LEVEL", "csv_bytes", "write_csv"]
