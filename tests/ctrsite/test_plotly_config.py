"""Every Plotly chart is drawn with the one configuration that has no send-to-cloud / share button
(issue 11: the toolbar offered "Share chart…", uploading the chart's data to a third party).
The browser side is checked in tests/browser/test_uplift_planner.py."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "static" / "js" / "plotly_config.js"


def _scripts() -> list[Path]:
    folders = [REPO / "static", REPO / "templates", *[p / "templates" for p in REPO.iterdir() if (p / "templates").is_dir()]]
    return [f for folder in folders for f in folder.rglob("*") if f.suffix in (".js", ".html")]


def test_the_shared_config_turns_off_every_off_machine_button():
    text = CONFIG.read_text()
    for key in ("showSendToCloud", "showLink", "displaylogo", "showEditInChartStudio"):
        assert re.search(rf"{key}:\s*false", text), key
    assert '"sendDataToCloud"' in text


def test_every_plotly_call_uses_the_shared_config():
    calls = []
    for path in _scripts():
        for match in re.finditer(r"Plotly\.(newPlot|react|plot)\(([^;]*)\);", path.read_text()):
            calls.append((path.name, match.group(2)))
    assert {name for name, _ in calls} >= {"charts.js", "planner.js"}
    assert all(args.rstrip().endswith("window.CTR_PLOTLY_CONFIG") for _, args in calls), calls


def test_the_base_layout_loads_the_config_before_any_chart_script():
    base = (REPO / "templates" / "base.html").read_text()
    head = base[: base.index("{% block head %}")]
    assert "js/plotly_config.js" in head and "plotly_config.js' %}\" defer" not in head
