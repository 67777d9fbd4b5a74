// chime's dashboard: the live tail of a job's runs. A run table marked `data-live` (the
// newest page of an unfiltered history) listens to the job's runs as they are recorded; each
// event carries the run's row, rendered (and escaped) by the server, which replaces the row of
// the same run or goes on top. Without JavaScript the page is the same, less the live rows.
(function () {
  "use strict";
  function start() {
    var table = document.querySelector("table[data-live]");
    if (!table || !window.EventSource) return;
    var body = table.tBodies[0];
    var status = document.getElementById("live-status");
    var say = function (text) { if (status) status.textContent = text; };
    var source = new EventSource(table.getAttribute("data-live"));
    source.addEventListener("open", function () {
      say("Live: new runs appear at the top as they finish.");
      table.setAttribute("data-live-open", "1");
    });
    source.addEventListener("run", function (e) {
      var t = document.createElement("template");
      t.innerHTML = e.data.trim();
      var row = t.content.firstElementChild;
      if (!row || !row.id) return;
      var old = document.getElementById(row.id);
      if (old) {
        old.replaceWith(row);
      } else {
        body.insertBefore(row, body.firstChild);
      }
      var empty = document.getElementById("no-runs");
      if (empty) empty.remove();
    });
    source.addEventListener("lagged", function () {
      source.close();
      say("The live tail fell behind and stopped: reload the page for the newest runs.");
    });
    source.addEventListener("error", function () {
      say("The live tail is reconnecting…");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
