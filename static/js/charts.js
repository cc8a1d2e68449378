// Draw every Plotly figure whose JSON spec sits in a <script type="application/json"> beside its div.
// Colours come from the stylesheet's variables, so charts follow light and dark mode (and switch
// when the system does).
(function () {
  var AXES = ["xaxis", "yaxis", "xaxis2", "yaxis2"];

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // Break a title's lines at spaces so each fits `chars` characters (phones: no title runs off the
  // chart); <sup> notes are smaller, so they get more characters a line.
  function wrapLines(text, chars) {
    var out = [];
    text.split("<br>").forEach(function (line) {
      var sup = /^<sup>(.*)<\/sup>$/.exec(line), body = sup ? sup[1] : line, limit = sup ? Math.round(chars * 1.45) : chars;
      var current = "";
      body.split(" ").forEach(function (word) {
        if (current && (current + " " + word).length > limit) { out.push(sup ? "<sup>" + current + "</sup>" : current); current = word; }
        else { current = current ? current + " " + word : word; }
      });
      out.push(sup ? "<sup>" + current + "</sup>" : current);
    });
    return out;
  }

  function fitTitle(layout, width) {
    var title = layout.title;
    if (!width || !title || !title.text) { return; }
    var before = title.text.split("<br>").length;
    var lines = wrapLines(title.text, Math.max(20, Math.floor(width / 8.2)));
    var extra = (lines.length - before) * 20;
    if (extra <= 0) { return; }
    layout.title = Object.assign({}, title, {text: lines.join("<br>")});
    layout.margin = Object.assign({}, layout.margin || {}, {t: ((layout.margin || {}).t || 80) + extra});
    if (layout.height) { layout.height += extra; }
  }

  // On a narrow chart, long legend entries wrap instead of running off its right edge.
  function fitLegend(fig, width) {
    var chars = Math.floor((width - 60) / 6.5);
    if (!width || chars > 90) { return; }
    var extra = 0;
    (fig.data || []).forEach(function (trace) {
      if (trace.name && trace.showlegend !== false && trace.name.length > chars) {
        var lines = wrapLines(trace.name, chars);
        trace.name = lines.join("<br>");
        extra += 14 * (lines.length - 1);
      }
    });
    if (extra && fig.layout) {
      fig.layout.margin = Object.assign({}, fig.layout.margin || {}, {b: ((fig.layout.margin || {}).b || 80) + extra});
      if (fig.layout.height) { fig.layout.height += extra; }
    }
  }

  // Merge the page's colours into a Plotly layout (transparent backgrounds, text and grid colours);
  // with the chart's width, also wrap a title that would not fit it.
  function theme(layout, width) {
    var fg = cssVar("--fg", "#1d2330"), grid = cssVar("--grid", "#e5e7eb"), card = cssVar("--card", "#fff");
    layout = layout || {};
    fitTitle(layout, width);
    layout.paper_bgcolor = "rgba(0,0,0,0)";
    layout.plot_bgcolor = "rgba(0,0,0,0)";
    layout.font = Object.assign({}, layout.font || {}, {color: fg});
    layout.hoverlabel = Object.assign({bgcolor: card, bordercolor: grid, font: {color: fg}}, layout.hoverlabel || {});
    layout.legend = Object.assign({}, layout.legend || {}, {bgcolor: "rgba(0,0,0,0)"});
    layout.modebar = Object.assign({bgcolor: "rgba(0,0,0,0)", color: cssVar("--muted", "#6b7280"),
                                    activecolor: fg}, layout.modebar || {});
    AXES.forEach(function (name) {
      if (name === "xaxis" || name === "yaxis" || layout[name]) {
        // hover labels: at most 4 decimals and thousands separators unless the figure chose a format
        layout[name] = Object.assign({hoverformat: ",.4~f"}, layout[name] || {},
                                     {gridcolor: grid, zerolinecolor: grid, linecolor: grid});
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
      var fig = JSON.parse(spec.textContent), width = div.clientWidth;
      fitLegend(fig, width);
      Plotly.newPlot(div, fig.data, theme(fig.layout, width), window.CTR_PLOTLY_CONFIG);
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
