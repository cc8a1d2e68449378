// Targeting planner: every curve is computed once on the server (JSON in #planner-data); moving the
// slider only reads the precomputed grid, rescales to the population and redraws.
(function () {
  var plan, els = {};
  var LABELS = {clicks: "Incremental clicks / visits", conversions: "Incremental conversions", revenue: "Incremental revenue"};

  function $(id) { return document.getElementById(id); }
  // Every estimate and both ends of its interval with the same precision (one decimal), so columns line up.
  function fmt(v) {
    if (v === null || v === undefined || isNaN(v)) { return "—"; }
    var r = Math.round(Number(v) * 10) / 10;
    return (r === 0 ? 0 : r).toLocaleString(undefined, {minimumFractionDigits: 1, maximumFractionDigits: 1});  // never "-0"
  }
  function count(v) { return Math.round(Number(v)).toLocaleString(); }
  function range(low, high, f) { return low === undefined ? "" : " [" + fmt(low * f) + " to " + fmt(high * f) + "]"; }
  function label(name) { return LABELS[name] + (name === "revenue" && plan.revenue_unit ? " (" + plan.revenue_unit + ")" : ""); }

  function current() {
    var p = plan.plans[els.arm.value + ":" + els.task.value];
    return {p: p, f: (parseFloat(els.population.value) || plan.population) / p.population};
  }

  function profitShare(c) {
    var cost = parseFloat(els.cost.value) || 0, value = parseFloat(els.value.value) || 0;
    var conv = c.p.outcomes.conversions, pop = c.p.population * c.f, best = 0, bestProfit = -Infinity;
    c.p.shares.forEach(function (q, i) {
      var profit = value * conv.model[i] * c.f - cost * q * pop;
      if (profit > bestProfit) { bestProfit = profit; best = i; }
    });
    var lo = value * conv.model_low[best] * c.f - cost * c.p.shares[best] * pop;
    var hi = value * conv.model_high[best] * c.f - cost * c.p.shares[best] * pop;
    els.profitResult.textContent = "Profit-maximising share: " + Math.round(c.p.shares[best] * 100) + " % of users, expected profit "
      + fmt(bestProfit) + (plan.revenue_unit ? " " + plan.revenue_unit : "") + (conv.model_low ? " [" + fmt(lo) + ", " + fmt(hi) + "]" : "") + ".";
    return best;
  }

  function update() {
    var c = current(), mode = document.querySelector("input[name=budget-mode]:checked").value;
    $("share-mode").hidden = mode !== "share";
    $("profit-mode").hidden = mode !== "profit";
    // the profit share is shown and exported in cost/value mode, but never written into the slider:
    // switching back to "share of users" returns to the share the analyst set
    var i = mode === "profit" ? profitShare(c) : Math.round(parseFloat(els.share.value));
    var q = c.p.shares[i];
    els.shareLabel.textContent = Math.round(parseFloat(els.share.value)) + " %";
    $("result-share").textContent = Math.round(q * 100) + " % of users (" + count(q * c.p.population * c.f) + ")";
    $("result-share").dataset.share = q.toFixed(2);
    var rows = "";
    plan.outcomes.forEach(function (name) {
      var o = c.p.outcomes[name];
      rows += "<tr data-outcome='" + name + "'><th>" + label(name) + "</th><td class='num model'>" + fmt(o.model[i] * c.f) + range(o.model_low && o.model_low[i], o.model_high && o.model_high[i], c.f)
        + "</td><td class='num random'>" + fmt(o.random[i] * c.f) + range(o.random_low && o.random_low[i], o.random_high && o.random_high[i], c.f)
        + "</td><td class='num gain'>" + fmt((o.model[i] - o.random[i]) * c.f) + range(o.gain_low && o.gain_low[i], o.gain_high && o.gain_high[i], c.f) + "</td></tr>";
    });
    els.numbers.innerHTML = rows;
    els.threshold.textContent = q > 0 ? "Target users whose predicted " + els.task.value.toUpperCase() + " uplift is at least " + c.p.thresholds[i].toFixed(5) + "." : "";
    var href = els.exportLink.getAttribute("href").split("?")[0];
    els.exportLink.setAttribute("href", href + "?arm=" + els.arm.value + "&task=" + els.task.value + "&share=" + q.toFixed(2));
    draw(c, i);
  }

  function band(x, low, high, f, color, name) {
    return {type: "scatter", mode: "lines", x: x.concat(x.slice().reverse()),
            y: low.map(function (v) { return v * f; }).concat(high.slice().reverse().map(function (v) { return v * f; })),
            fill: "toself", fillcolor: color, line: {width: 0}, hoverinfo: "skip", name: name};
  }

  function draw(c, i) {
    if (!window.Plotly) { return; }
    var name = els.task.value === "ctr" ? "clicks" : "conversions", o = c.p.outcomes[name];
    var x = c.p.shares.map(function (q) { return q * 100; }), scale = function (a) { return a.map(function (v) { return v * c.f; }); };
    var data = [];
    if (o.model_low) { data.push(band(x, o.model_low, o.model_high, c.f, "rgba(37,99,235,0.15)", "model 95 % interval")); }
    if (o.random_low) { data.push(band(x, o.random_low, o.random_high, c.f, "rgba(120,120,120,0.15)", "random 95 % interval")); }
    data.push({type: "scatter", mode: "lines", x: x, y: scale(o.model), name: "targeting by the model", line: {color: "#2563eb"}});
    data.push({type: "scatter", mode: "lines", x: x, y: scale(o.random), name: "random targeting", line: {color: "#777", dash: "dot"}});
    var layout = {title: {text: LABELS[name] + " by share of users targeted (held-out estimate)", font: {size: 15}}, height: 380,
                  margin: {l: 70, r: 30, t: 40, b: 80}, xaxis: {title: {text: "Users targeted (%)"}}, yaxis: {title: {text: LABELS[name]}},
                  legend: {orientation: "h", y: -0.25},
                  shapes: [{type: "line", x0: x[i], x1: x[i], yref: "paper", y0: 0, y1: 1, line: {dash: "dash", color: "#15803d"}}]};
    if (window.ctrChartTheme) { layout = window.ctrChartTheme(layout, els.chart.clientWidth); }  // light/dark colours from the stylesheet
    Plotly.react(els.chart, data, layout, window.CTR_PLOTLY_CONFIG);
  }

  document.addEventListener("DOMContentLoaded", function () {
    plan = JSON.parse($("planner-data").textContent);
    els = {arm: $("plan-arm"), task: $("plan-task"), population: $("plan-population"), share: $("plan-share"),
           shareLabel: $("plan-share-label"), cost: $("plan-cost"), value: $("plan-value"), profitResult: $("profit-result"),
           numbers: document.querySelector("#plan-numbers tbody"), threshold: $("plan-threshold"),
           exportLink: $("export-users"), chart: $("chart-planner")};
    ["arm", "task", "population", "share", "cost", "value"].forEach(function (k) { els[k].addEventListener("input", update); });
    document.querySelectorAll("input[name=budget-mode]").forEach(function (r) { r.addEventListener("change", update); });
    update();
  });
})();
