// The one Plotly configuration every chart uses (charts.js, planner.js).
// Nothing may send a chart's data off this machine: no "Edit in Chart Studio" / "Share chart"
// (sendDataToCloud) button, no "Edit chart" link, no Plotly logo linking out.
(function () {
  window.CTR_PLOTLY_CONFIG = Object.freeze({
    responsive: true,
    displaylogo: false,
    showLink: false,
    showSendToCloud: false,
    showEditInChartStudio: false,
    modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio"],
  });
})();
