// Click a header of a <table class="sortable"> to sort its rows by that column (again: reverse).
// Cells may carry data-value (a number) so that formatted text and blanks sort correctly.
(function () {
  function key(cell) {
    if (!cell) { return null; }
    var raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (raw === "" || raw === "—") { return null; }
    var n = Number(raw);
    return isNaN(n) ? raw.toLowerCase() : n;
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var ascending = th.dataset.sorted !== "asc";
    if (th.dataset.sorted === undefined && th.dataset.lowerBetter === "0") { ascending = false; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   // blanks last either way
      if (y === null) { return -1; }
      var c = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.sorted; h.removeAttribute("aria-sort"); });
    th.dataset.sorted = ascending ? "asc" : "desc";
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  document.addEventListener("click", function (e) {
    var th = e.target.closest("table.sortable thead th");
    if (!th || th.dataset.nosort !== undefined) { return; }
    sortBy(th.closest("table"), Array.prototype.indexOf.call(th.parentNode.children, th), th);
  });
})();
