"""Serve ``plotly.min.js`` from the installed ``plotly`` package as ``vendor/plotly.min.js``.

Pages never load JavaScript from a CDN; this finder exposes the one file the charts need without
copying the rest of the package's data into the static root.
"""
from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_NAME = "vendor/plotly.min.js"


def plotly_js_path() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


class PlotlyFinder(BaseFinder):
    """A static-files finder that knows exactly one file."""

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == PLOTLY_STATIC_NAME:
            found = str(plotly_js_path())
            return [found] if find_all else found
        return [] if find_all else None

    def list(self, ignore_patterns):
        source = plotly_js_path()
        storage = FileSystemStorage(location=str(source.parent))
        storage.prefix = "vendor"
        yield source.name, storage
