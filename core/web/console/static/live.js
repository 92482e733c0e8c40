/* The console's live graph: counts per second from /console/live/events (server-sent events), drawn with
   uPlot over the last few minutes, and the totals beside it. The only script of the console. */
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || typeof uPlot === "undefined" || typeof EventSource === "undefined") { return; }
  var history = parseInt(root.dataset.history, 10);
  var state = document.getElementById("state");
  var locale = root.dataset.lang === "en" ? "en-GB" : "sv-SE";
  var numbers = new Intl.NumberFormat(locale);
  var clock = new Intl.DateTimeFormat(locale, {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
  function time(seconds) { return seconds == null ? "–" : clock.format(new Date(seconds * 1000)); }
  var colours = ["#1f6fb2", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207", "#be185d"];
  var seconds = {};  // second (since the epoch) -> {metric: count}
  var latest = 0;

  function lines(tableId) {
    var table = document.getElementById(tableId);
    if (!table) { return []; }
    return Array.prototype.map.call(table.querySelectorAll("td[data-metric]"), function (cell) {
      return {metric: cell.dataset.metric, label: cell.parentNode.querySelector("th").textContent, cell: cell};
    });
  }
  var traffic = lines("totals");
  var votes = lines("votes");

  function series(list) {
    return [{label: root.dataset.timeLabel, value: function (u, v) { return time(v); }}].concat(list.map(function (line, n) {
      return {label: line.label, stroke: colours[n % colours.length], width: 2, points: {show: false}};
    }));
  }
  function data(list) {
    var xs = [], ys = list.map(function () { return []; });
    for (var t = latest - history + 1; t <= latest; t++) {
      xs.push(t);
      var counts = seconds[t] || {};
      list.forEach(function (line, n) { ys[n].push(counts[line.metric] || 0); });
    }
    return [xs].concat(ys);
  }
  function chart(id, list, title) {
    var element = document.getElementById(id);
    if (!element || !list.length) { return null; }
    var options = {
      title: title, width: Math.max(280, element.clientWidth), height: 220, series: series(list),
      scales: {x: {time: true}, y: {range: function (u, min, max) { return [0, Math.max(5, max)]; }}},
      axes: [{values: function (u, ticks) { return ticks.map(time); }, space: 70},
             {values: function (u, ticks) { return ticks.map(function (v) { return numbers.format(v); }); }}]
    };
    return {plot: new uPlot(options, data(list), element), list: list, element: element};
  }

  function take(counts) {
    Object.keys(counts.seconds).forEach(function (at) { seconds[at] = counts.seconds[at]; });
    latest = Math.max(latest, counts.now);
    Object.keys(seconds).forEach(function (at) { if (at < latest - history - 10) { delete seconds[at]; } });
    traffic.concat(votes).forEach(function (line) {
      if (line.metric in counts.totals) { line.cell.textContent = numbers.format(counts.totals[line.metric]); }
    });
    root.dataset.now = String(latest);
  }

  take(JSON.parse(root.dataset.first));
  var charts = [chart("traffic-graph", traffic, root.dataset.trafficTitle),
                chart("votes-graph", votes, root.dataset.votesTitle)].filter(Boolean);
  function draw() {
    charts.forEach(function (c) { c.plot.setData(data(c.list)); });
    var drawn = 0;  // what the graphs show now, for anyone checking they move
    charts.forEach(function (c) { c.plot.data.slice(1).forEach(function (ys) { ys.forEach(function (y) { drawn += y; }); }); });
    root.dataset.drawn = String(drawn);
  }
  draw();
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.plot.setSize({width: Math.max(280, c.element.clientWidth), height: 220}); });
  });

  state.textContent = state.dataset.waiting;
  var source = new EventSource(root.dataset.events);
  source.addEventListener("counts", function (event) {
    take(JSON.parse(event.data));
    draw();
    state.textContent = state.dataset.connected;
  });
  source.onerror = function () { state.textContent = state.dataset.lost; };  // EventSource tries again itself
})();
