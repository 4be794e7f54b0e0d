"""``suanli serve`` moves the objects of its start out of the collector's view before it serves (BATCHWRITE,
docs/performance.md): a full collection then scans only what requests made since."""

from __future__ import annotations

import gc

from suanli.cli.serve import freeze_startup_objects


def test_the_objects_made_at_start_are_frozen() -> None:
    kept = [object() for _ in range(1000)]
    try:
        before = gc.get_freeze_count()
        freeze_startup_objects()
        assert gc.get_freeze_count() >= before + len(kept)
        assert gc.get_count()[0] < 100  # the young generation was emptied: nothing made before is scanned again
    finally:
        gc.unfreeze()  # the test process goes on making and dropping objects
