// Flash messages about a job's state ("Job … queued.", "Stopping at the next batch…") are true when the
// page is drawn. The live part of a job page polls the job; once it reports another status, those
// messages are removed, so the page never says "queued" beside a finished job (issue 11).
(function () {
  function prune() {
    var chip = document.getElementById("job-status");
    if (!chip || !chip.dataset.job) { return; }
    document.querySelectorAll(".msg.job-state.job-" + chip.dataset.job).forEach(function (li) {
      if (!li.classList.contains("status-" + chip.dataset.status)) { li.remove(); }
    });
    document.querySelectorAll("ul.messages").forEach(function (ul) { if (!ul.children.length) { ul.remove(); } });
  }
  document.addEventListener("DOMContentLoaded", prune);
  document.addEventListener("htmx:afterSettle", prune);
  window.ctrPruneJobMessages = prune;
})();
