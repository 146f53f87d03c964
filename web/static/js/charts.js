// Charts of the statistics page: reaction time against incoming volume, drawn with uPlot
// (web/static/vendor/uPlot-*.iife.min.js) from /stats/series.json. Loaded as a file: the
// Content-Security-Policy allows no inline script.
//
// A chart container is `<div data-chart data-src="/stats/series.json?...">`; its data-label-* attributes
// carry the translated words. When drawn, the container gets data-chart-state="drawn", data-points (the
// number of buckets) and data-draw-ms (milliseconds from handing the data to uPlot to the end of its
// first draw), which the browser tests read.
(function () {
  "use strict";

  var COLORS = {
    incoming: "#5b8fd6",
    incomingFill: "#b7cff0",
    replies: "#2e7d32",
    median: "#e8590c",
    medianDense: "rgba(232, 89, 12, 0.6)",
    sla: "#c62828"
  };
  var HEIGHT = 320;
  var DAY_STEPS = [1, 2, 7, 14, 28, 56, 91, 182, 364].map(function (days) { return days * 86400; });
  var COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

  function label(container, name) {
    return container.getAttribute("data-label-" + name) || name;
  }

  function fail(container, message) {
    container.setAttribute("data-chart-state", "failed");
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = label(container, "failed") + (message ? " " + message : "");
    container.appendChild(p);
  }

  // The SLA as a dashed line on the reaction-time scale, with its name at the right end.
  function slaLine(slaMinutes, text) {
    return function (u) {
      if (!slaMinutes) { return; }
      var y = Math.round(u.valToPos(slaMinutes, "minutes", true));
      var ctx = u.ctx;
      var ratio = window.devicePixelRatio || 1;
      ctx.save();
      ctx.strokeStyle = COLORS.sla;
      ctx.fillStyle = COLORS.sla;
      ctx.lineWidth = ratio;
      ctx.setLineDash([6 * ratio, 4 * ratio]);
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = (11 * ratio) + "px sans-serif";
      ctx.textAlign = "right";
      ctx.fillText(text, u.bbox.left + u.bbox.width - 4 * ratio, y - 4 * ratio);
      ctx.restore();
    };
  }

  // Tick labels in the 24-hour clock: "09:00" within a day (the date at midnight), "04.03" for days,
  // "03.2024" for months. `t` is shown as UTC (see tzDate below).
  var formats = null;
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
  function tickLabels(u, splits, axisIdx, space, incr) {
    formats = formats || {
      hour: uPlot.fmtDate("{HH}:{mm}"),
      day: uPlot.fmtDate("{DD}.{MM}"),
      month: uPlot.fmtDate("{MM}.{YYYY}")
    };
    return splits.map(function (ts) {
      if (ts === null || ts === undefined) { return null; }
      var date = utc(ts);
      if (incr < 86400) {
        return date.getHours() === 0 && date.getMinutes() === 0 ? formats.day(date) : formats.hour(date);
      }
      return incr < 28 * 86400 ? formats.day(date) : formats.month(date);
    });
  }

  function draw(container, data, started) {
    var minutes = data.reaction_median_s.map(function (v) { return v === null ? null : v / 60; });
    var slaMinutes = data.sla_seconds ? data.sla_seconds / 60 : 0;
    var daily = data.bucket !== "hour";
    var step = data.t.length > 1 ? data.t[1] - data.t[0] : 86400;
    var handedOver = performance.now();
    var first = true;
    container.textContent = "";
    var width = Math.max(320, container.clientWidth);
    // Bars thinner than a pixel vanish: a long hourly series is drawn as a filled area instead.
    var barsFit = data.t.length <= width / 3;
    var opts = {
      width: width,
      height: HEIGHT,
      // `t` is local wall-clock time written as UTC: show it as UTC and the axis reads local time.
      tzDate: utc,
      scales: {
        // Half a bucket of room at each end, so the first and last bars are drawn whole.
        x: { time: true, range: function (u, min, max) { return [min - step / 2, max + step / 2]; } },
        count: { range: function (u, min, max) { return [0, Math.max(1, (max || 0) * 1.1)]; } },
        minutes: {
          range: function (u, min, max) { return [0, Math.max(1, (max || 0) * 1.1, slaMinutes * 1.25)]; }
        }
      },
      series: [
        {
          label: label(container, "time"),
          value: data.bucket === "month" ? "{MM}.{YYYY}" : daily ? "{DD}.{MM}.{YYYY}" : "{DD}.{MM}.{YYYY} {HH}:{mm}"
        },
        {
          label: label(container, "incoming"),
          scale: "count",
          stroke: COLORS.incoming,
          fill: COLORS.incomingFill,
          width: barsFit ? 1 : 0,
          paths: barsFit ? uPlot.paths.bars({ size: [0.8, 60], gap: 1 }) : uPlot.paths.stepped({ align: 1 }),
          points: { show: false }
        },
        {
          label: label(container, "replies"),
          scale: "count",
          stroke: COLORS.replies,
          width: 1.5,
          points: { show: false }
        },
        {
          label: label(container, "median"),
          scale: "minutes",
          // Thousands of hourly medians overlap: a lighter line lets the volume show through.
          stroke: barsFit ? COLORS.median : COLORS.medianDense,
          width: barsFit ? 2.5 : 1,
          spanGaps: true,
          value: function (u, v) { return v === null || v === undefined ? "—" : v.toFixed(1); }
        }
      ],
      axes: [
        // Days, weeks and months are never split into hours on the axis.
        { values: tickLabels, incrs: daily ? DAY_STEPS : undefined },
        { scale: "count", label: label(container, "count"), incrs: COUNT_STEPS, size: 60 },
        { scale: "minutes", side: 1, label: label(container, "minutes"), grid: { show: false }, size: 60 }
      ],
      hooks: {
        draw: [
          slaLine(slaMinutes, label(container, "sla")),
          function () {
            if (!first) { return; }
            first = false;
            var now = performance.now();
            container.setAttribute("data-draw-ms", (now - handedOver).toFixed(1));
            container.setAttribute("data-total-ms", (now - started).toFixed(1));
            container.setAttribute("data-points", String(data.t.length));
            container.setAttribute("data-chart-state", "drawn");
          }
        ]
      }
    };
    var chart = new uPlot(opts, [data.t, data.incoming, data.replies, minutes], container);

    var pending = null;
    function resize() {
      if (!document.body.contains(container)) {
        window.removeEventListener("resize", resize);
        chart.destroy();
        return;
      }
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () {
        chart.setSize({ width: Math.max(320, container.clientWidth), height: HEIGHT });
      }, 150);
    }
    window.addEventListener("resize", resize);
  }

  function load(container) {
    if (container.getAttribute("data-chart-state")) { return; }
    container.setAttribute("data-chart-state", "loading");
    if (typeof uPlot === "undefined") { fail(container, ""); return; }
    var started = performance.now();
    fetch(container.getAttribute("data-src"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body && body.error ? body.error : String(response.status)); }
        return body;
      });
    }).then(function (data) {
      draw(container, data, started);
    }).catch(function (error) {
      fail(container, error && error.message ? error.message : "");
    });
  }

  function init(root) {
    if (!root || !root.querySelectorAll) { return; }
    var found = root.matches && root.matches("[data-chart]") ? [root] : [];
    Array.prototype.forEach.call(root.querySelectorAll("[data-chart]"), function (el) { found.push(el); });
    found.forEach(load);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // Content swapped in by htmx (a new period, community or bucket) brings a new chart container.
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });

  // Selects marked data-autosubmit apply at once; date fields wait for the button.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field && field.matches && field.matches("[data-autosubmit]") && field.form) {
      field.form.requestSubmit();
    }
  });
})();
