// Draw every Plotly figure whose JSON spec sits in a <script type="application/json"> beside its div.
// Colours come from the stylesheet's variables, so charts follow light and dark mode (and switch
// when the system does).
(function () {
  var AXES = ["xaxis", "yaxis", "xaxis2", "yaxis2"];

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // Merge the page's colours into a Plotly layout (transparent backgrounds, text and grid colours).
  function theme(layout) {
    var fg = cssVar("--fg", "#1d2330"), grid = cssVar("--grid", "#e5e7eb"), card = cssVar("--card", "#fff");
    layout = layout || {};
    layout.paper_bgcolor = "rgba(0,0,0,0)";
    layout.plot_bgcolor = "rgba(0,0,0,0)";
    layout.font = Object.assign({}, layout.font || {}, {color: fg});
    layout.hoverlabel = Object.assign({bgcolor: card, bordercolor: grid, font: {color: fg}}, layout.hoverlabel || {});
    layout.legend = Object.assign({}, layout.legend || {}, {bgcolor: "rgba(0,0,0,0)"});
    layout.modebar = Object.assign({bgcolor: "rgba(0,0,0,0)", color: cssVar("--muted", "#6b7280"),
                                    activecolor: fg}, layout.modebar || {});
    AXES.forEach(function (name) {
      if (name === "xaxis" || name === "yaxis" || layout[name]) {
        layout[name] = Object.assign({}, layout[name] || {}, {gridcolor: grid, zerolinecolor: grid, linecolor: grid});
      }
    });
    return layout;
  }

  function render(root) {
    if (!window.Plotly) { return; }
    (root || document).querySelectorAll("[data-figure]").forEach(function (div) {
      if (div.dataset.rendered) { return; }
      var spec = document.getElementById(div.dataset.figure);
      if (!spec) { return; }
      var fig = JSON.parse(spec.textContent);
      Plotly.newPlot(div, fig.data, theme(fig.layout), {responsive: true, displaylogo: false});
      div.dataset.rendered = "1";
    });
  }

  function retheme() {
    if (!window.Plotly) { return; }
    document.querySelectorAll(".js-plotly-plot").forEach(function (div) {
      Plotly.relayout(div, theme(Object.assign({}, div.layout)));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSettle", function (e) { render(document); });
  if (window.matchMedia) {
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme.addEventListener) { scheme.addEventListener("change", retheme); }
  }
  window.ctrRenderCharts = render;
  window.ctrChartTheme = theme;
})();
