// Live weights for the leaderboard: a slider beside each weight, the Dynascores and ranks recomputed as it
// moves, and the address updated so the view can be shared. Without this script the form does the same on submit.
(function () {
  "use strict";
  var form = document.getElementById("weights");
  var table = document.getElementById("board");
  if (!form) { return; }
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-metric]"));
  inputs.forEach(function (input) {
    var slider = document.createElement("input");
    slider.type = "range"; slider.min = "0"; slider.max = "10"; slider.step = "0.5";
    slider.value = input.value;
    slider.setAttribute("aria-label", "Weight of " + input.dataset.metric);
    slider.addEventListener("input", function () { input.value = slider.value; update(); });
    input.addEventListener("input", function () { slider.value = input.value; update(); });
    var box = document.createElement("span");
    box.className = "slider";
    input.parentNode.insertBefore(box, input);
    box.appendChild(input);
    box.appendChild(slider);
  });

  function weights() {
    var result = {};
    inputs.forEach(function (input) {
      var value = parseFloat(input.value);
      result[input.dataset.metric] = isFinite(value) && value >= 0 ? value : 0;
    });
    return result;
  }

  function update() {
    var w = weights();
    var total = Object.keys(w).reduce(function (sum, name) { return sum + w[name]; }, 0);
    var text = Object.keys(w).map(function (name) { return name + ":" + w[name]; }).join(",");
    var params = new URLSearchParams(window.location.search);
    params.set("weights", text);
    history.replaceState(null, "", "?" + params.toString());
    document.querySelectorAll("a[data-sort]").forEach(function (link) {
      var url = new URL(link.href);
      url.searchParams.set("weights", text);
      link.href = url.toString();
    });
    if (!table || !total) { return; }
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    rows.forEach(function (row) {
      var cell = row.querySelector("td.dynascore");
      if (!cell) { return; }
      var terms = JSON.parse(row.dataset.terms || "{}");
      var score = Object.keys(terms).reduce(function (sum, name) { return sum + (w[name] || 0) / total * terms[name]; }, 0);
      row.dataset.score = score;
      cell.textContent = Number(score.toPrecision(4)).toString();
    });
    if (table.dataset.whole !== "yes") { return; }  // one page of many: ranks and order come from the server
    var scored = rows.filter(function (row) { return row.dataset.score !== undefined; });
    scored.sort(function (a, b) { return b.dataset.score - a.dataset.score; });
    scored.forEach(function (row, index) {
      var rank = row.querySelector("td.rank");
      if (rank) { rank.textContent = index + 1; }
    });
    var sort = new URLSearchParams(window.location.search).get("sort") || "rank";
    if (sort === "rank" || sort === "dynascore") {
      var order = new URLSearchParams(window.location.search).get("order") || (sort === "rank" ? "asc" : "desc");
      var best = (sort === "rank") === (order === "asc");
      if (!best) { scored.reverse(); }
      var body = table.tBodies[0];
      scored.forEach(function (row) { body.appendChild(row); });
      rows.filter(function (row) { return row.dataset.score === undefined; }).forEach(function (row) { body.appendChild(row); });
    }
  }
})();
