// Dashboard: poll the live JSON every few seconds and draw the site power chart.
"use strict";
(function () {
  var POLL_MS = 5000;
  var HISTORY_MS = 60000;
  var SVG_NS = "http://www.w3.org/2000/svg";

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = value;
    row.appendChild(td);
    return td;
  }

  function renderStations(stations) {
    var body = document.querySelector("#station-table tbody");
    if (!body) { return; }
    var rows = document.createDocumentFragment();
    stations.slice(0, 200).forEach(function (s) {
      var tr = document.createElement("tr");
      var link = document.createElement("a");
      link.href = "/stations/" + encodeURIComponent(s.id);
      link.textContent = s.id;
      cell(tr, "").appendChild(link);
      cell(tr, s.connected ? "online" : "offline");
      cell(tr, s.connectors.map(function (c) { return c.status; }).join(", "));
      cell(tr, s.current_a.map(function (a) { return fixed(a, 1); }).join(" / "));
      cell(tr, fixed(s.limit_a, 1));
      cell(tr, s.binding_constraint);
      cell(tr, s.session_energy_wh === null ? "—" : fixed(s.session_energy_wh / 1000, 2));
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
  }

  function renderLive(data) {
    text("site-power", fixed(data.power_w / 1000, 2));
    text("site-limit", fixed(data.site_limit.amps, 0));
    text("site-limit-source", data.site_limit.source);
    text("charging-count", String(data.charging_count));
    text("station-count", String(data.station_count));
    text("updated", data.time.replace("T", " ").slice(0, 19) + " UTC");
    data.phases.forEach(function (p, i) {
      text("phase-current-" + i, fixed(p.current_a, 1));
      text("phase-limit-" + i, fixed(p.limit_a, 0));
      var meter = document.getElementById("phase-meter-" + i);
      if (meter) {
        meter.max = p.limit_a;
        meter.high = p.limit_a * 0.9;
        meter.value = p.current_a;
      }
    });
    renderStations(data.stations || []);
    document.body.setAttribute("data-live-updated", data.time);
  }

  function svg(name, attrs, parent) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    parent.appendChild(el);
    return el;
  }

  function drawChart(points) {
    var chart = document.getElementById("chart");
    if (!chart) { return; }
    chart.replaceChildren();
    var W = Math.max(300, Math.round(chart.clientWidth || 800)), H = 200, PAD = 64;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    if (points.length < 2) {
      svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "chart-label" }, chart)
        .textContent = "no data yet";
      return;
    }
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var max = Math.max.apply(null, points.map(function (p) { return p[1]; })) || 1;
    var x = function (t) { return PAD + (W - PAD - 10) * (t - t0) / Math.max(1, t1 - t0); };
    var y = function (v) { return H - 20 - (H - 40) * v / max; };
    svg("line", { x1: PAD, y1: H - 20, x2: W - 10, y2: H - 20, "class": "chart-axis" }, chart);
    svg("line", { x1: PAD, y1: 20, x2: PAD, y2: H - 20, "class": "chart-axis" }, chart);
    svg("text", { x: PAD - 4, y: 24, "text-anchor": "end", "class": "chart-label" }, chart)
      .textContent = (max / 1000).toFixed(1) + " kW";
    svg("text", { x: PAD - 4, y: H - 20, "text-anchor": "end", "class": "chart-label" }, chart)
      .textContent = "0";
    var hours = ((t1 - t0) / 3600000).toFixed(1);
    svg("text", { x: PAD, y: H - 4, "class": "chart-label" }, chart).textContent = "-" + hours + " h";
    svg("text", { x: W - 10, y: H - 4, "text-anchor": "end", "class": "chart-label" }, chart)
      .textContent = "now";
    var d = points.map(function (p, i) {
      return (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
    }).join(" ");
    svg("path", { d: d, "class": "chart-line", fill: "none" }, chart);
    chart.setAttribute("data-points", String(points.length));
  }

  function getJson(url, then) {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location = "/login"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data) { then(data); } })
      .catch(function () { text("updated", "connection lost, retrying"); });
  }

  function poll() { getJson("/ui/site/live.json", renderLive); }
  function history() { getJson("/ui/site/history.json?hours=6", function (d) { drawChart(d.points); }); }

  poll();
  history();
  setInterval(poll, POLL_MS);
  setInterval(history, HISTORY_MS);
})();
