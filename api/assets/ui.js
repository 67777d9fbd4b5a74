// chime's dashboard: what the page does when scripts run, on top of the vendored libraries
// (htmx with its SSE extension, uPlot). Without scripts every page reads the same, less the
// live rows and the interactive chart.
//
// - The live tail: htmx's SSE extension connects the newest history page's table body to the
//   job's runs (event `run`, a row rendered and escaped by the server). A run already shown
//   (an asynchronous run, recorded again when it finishes) has its row replaced in place; a
//   new one goes on top (htmx). The status line says whether the tail is live.
// - The chart: the series of `#chart-plot`'s `data-series` drawn by uPlot (hover values, drag to zoom,
//   double-click to zoom out), in place of the server's SVG.
(function () {
  "use strict";

  function say(text) {
    var status = document.getElementById("live-status");
    if (status) status.textContent = text;
  }

  function liveTable(e) {
    return e.target.closest ? e.target.closest("table[data-live]") : null;
  }

  function onRun(e) {
    var t = document.createElement("template");
    t.innerHTML = String(e.detail.data || "").trim();
    var row = t.content.firstElementChild;
    var empty = document.getElementById("no-runs");
    if (empty) empty.remove();
    if (!row || !row.id) {
      e.preventDefault();
      return;
    }
    var old = document.getElementById(row.id);
    if (old) {
      e.preventDefault();
      old.replaceWith(row);
      window.htmx.process(row);
    }
  }

  function drawChart(root) {
    var box = root.querySelector && root.querySelector("#chart-plot[data-series]");
    if (!box || !window.uPlot) return;
    var d = JSON.parse(box.getAttribute("data-series"));
    var css = getComputedStyle(document.documentElement);
    var colour = function (name) { return css.getPropertyValue(name).trim(); };
    var bars = window.uPlot.paths.bars({ size: [0.7, 40] });
    var width = function () { return Math.max(320, box.clientWidth || 720); };
    // A span without runs has no bar (null), rather than a bar of height 0.
    var bar = function (xs) { return xs.map(function (v) { return v > 0 ? v : null; }); };
    var days = d.t.length > 1 && d.t[d.t.length - 1] - d.t[0] > 86400;
    var utc = function (u, splits) {
      return splits.map(function (v) {
        var iso = new Date(v * 1e3).toISOString();
        return days ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
      });
    };
    var counts = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6];
    var opts = {
      width: width(),
      height: 220,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, runs: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [
        { values: utc, label: "UTC" },
        { scale: "runs", label: "runs", incrs: counts },
        { scale: "ms", side: 1, label: "ms", grid: { show: false } }
      ],
      series: [
        { label: "UTC", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
        // All runs, drawn first in the failure colour: what the successes leave of it is failures.
        { label: "failed", scale: "runs", paths: bars, points: { show: false },
          fill: colour("--bad"), stroke: colour("--bad"),
          value: function (u, v, si, i) { return i == null ? "—" : d.failure[i]; } },
        { label: "succeeded", scale: "runs", paths: bars, points: { show: false },
          fill: colour("--ok"), stroke: colour("--ok"),
          value: function (u, v, si, i) { return i == null ? "—" : d.success[i]; } },
        { label: "p50 ms", scale: "ms", stroke: colour("--accent"), width: 2 },
        { label: "p90 ms", scale: "ms", stroke: colour("--muted"), dash: [4, 4] }
      ],
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
    };
    box.textContent = "";
    var plot = new window.uPlot(opts, [d.t, bar(d.total), bar(d.success), d.p50, d.p90], box);
    box.closest("section").classList.add("enhanced");
    window.addEventListener("resize", function () {
      if (document.body.contains(box)) plot.setSize({ width: width(), height: 220 });
    });
  }

  document.addEventListener("htmx:sseBeforeMessage", onRun);
  document.addEventListener("htmx:sseOpen", function (e) {
    var table = liveTable(e);
    if (table) table.setAttribute("data-live-open", "1");
    say("Live: new runs appear at the top as they finish.");
  });
  document.addEventListener("htmx:sseError", function () {
    say("The live tail is reconnecting…");
  });
  document.addEventListener("htmx:sseClose", function (e) {
    if (e.detail && e.detail.type === "message") {
      say("The live tail fell behind and stopped: reload the page for the newest runs.");
    }
  });
  if (window.htmx) {
    window.htmx.onLoad(drawChart);
  } else {
    document.addEventListener("DOMContentLoaded", function () { drawChart(document); });
  }
})();
