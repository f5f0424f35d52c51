"""xetrack's log() as its SQLite engine does it (the mirror in test/fixtures/xetrack_db.py):
one INSERT and one commit per row, PRAGMA table_info per key. Prints rows/s for N rows."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "fixtures"))
from xetrack_db import Tracker  # noqa: E402

db, n = sys.argv[1], int(sys.argv[2])
t = Tracker(db, params={"model": "m"}, track_id="run")
t0 = time.perf_counter()
for i in range(n):
    t.log(i=i, loss=1 / (i + 1), acc=i / n, tag="train")
print(n / (time.perf_counter() - t0))
