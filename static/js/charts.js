// Draw every Plotly figure whose JSON spec sits in a <script type="application/json"> beside its div.
(function () {
  function render(root) {
    if (!window.Plotly) { return; }
    (root || document).querySelectorAll("[data-figure]").forEach(function (div) {
      if (div.dataset.rendered) { return; }
      var spec = document.getElementById(div.dataset.figure);
      if (!spec) { return; }
      var fig = JSON.parse(spec.textContent);
      Plotly.newPlot(div, fig.data, fig.layout, window.CTR_PLOTLY_CONFIG);
      div.dataset.rendered = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSettle", function (e) { render(document); });
  window.ctrRenderCharts = render;
})();
