"""Where the shared (read-only) data folder lives."""
from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """The shared data folder: ``$CTRSTUDIO_SHARED_DATA``, else ``<repo root>/../shared/data``."""
    configured = os.environ.get("CTRSTUDIO_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"
