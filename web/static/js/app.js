// Keyboard shortcuts and small helpers for the operator pages. Loaded as a file: the
// Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#conversation-list [data-row]"));
  }

  var selected = -1;

  function select(index) {
    var all = rows();
    if (!all.length) { return; }
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (link) { window.location.assign(link.getAttribute("href")); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var onInbox = document.getElementById("conversation-list") !== null;
    if (event.key === "j") {
      if (onInbox) { select(selected + 1); } else { follow("[data-shortcut=next]"); }
    } else if (event.key === "k") {
      if (onInbox) { select(selected - 1); } else { follow("[data-shortcut=inbox]"); }
    } else if (event.key === "Enter" && onInbox && selected >= 0) {
      var row = rows()[selected];
      if (row) { window.location.assign(row.getAttribute("data-href")); }
    } else if (event.key === "r") {
      var reply = document.querySelector("#reply textarea");
      if (reply) { reply.focus(); event.preventDefault(); }
    } else {
      return;
    }
  });

  // A whole queue row opens its conversation, not only the author's name.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#conversation-list [data-row]");
    if (row && !event.target.closest("a, button, input, select")) {
      window.location.assign(row.getAttribute("data-href"));
    }
  });

  // The selection survives the list being refreshed by a live update.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "conversation-list" && selected >= 0) {
      select(selected);
    }
  });

  // --- The live inbox (web/views/inbox_live.py) ---------------------------------------------------
  // The server pushes each changed row once, rendered, with its sort key and filter attributes; this
  // places it under the page's own filters and order, and ticks the wait times from their start.
  var SEGMENT_ORDER = { w: 0, a: 1, n: 2 };
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1]];
  var clockOffset = 0;  // the server's clock minus the browser's
  var recent = [];  // pushed rows, re-applied to a list rendered before they arrived
  var RECENT_KEPT = 300;
  var lastEventId = "";
  var refetching = false;

  function liveList() { return document.getElementById("conversation-list"); }
  function serverNow() { return Date.now() + clockOffset; }

  function sortKey(row) {
    return [SEGMENT_ORDER[row.getAttribute("data-segment")], Number(row.getAttribute("data-sort-at")),
      Number(row.id.split("-")[1])];
  }

  // The queue's order (proxy/inbox.py): the waiting first, longest wait first; then the others, newest first.
  function sortsBefore(a, b) {
    var ka = sortKey(a), kb = sortKey(b);
    if (ka[0] !== kb[0]) { return ka[0] < kb[0]; }
    var ascending = ka[0] === 0;
    for (var i = 1; i < 3; i++) {
      if (ka[i] !== kb[i]) { return ascending ? ka[i] < kb[i] : ka[i] > kb[i]; }
    }
    return false;
  }

  function overSla(row) {
    var since = row.getAttribute("data-waiting-since");
    return since !== "" && serverNow() - Number(since) > Number(row.getAttribute("data-sla")) * 1000;
  }

  function matches(list, row, ignoringSla) {
    var want = function (name) { return list.getAttribute("data-filter-" + name) || ""; };
    var has = function (name) { return row.getAttribute("data-" + name) || ""; };
    if (want("community") && want("community") !== has("community")) { return false; }
    if (want("channel") && want("channel") !== has("channel")) { return false; }
    if (want("network") && want("network") !== has("network")) { return false; }
    if (want("status") && want("status") !== has("status")) { return false; }
    if (want("assigned") === "me" && has("assignee") !== list.getAttribute("data-me")) { return false; }
    if (want("assigned") === "none" && has("assignee") !== "") { return false; }
    if (want("over-sla") && !ignoringSla && !overSla(row)) { return false; }
    return true;
  }

  function duration(seconds) {
    var lang = document.documentElement.lang || "ru";
    for (var i = 0; i < UNITS.length; i++) {
      var value = Math.max(0, seconds) / UNITS[i][1];
      if (value >= 1.5 || i === UNITS.length - 1) {  // as babel's format_timedelta, threshold 1.5
        return new Intl.NumberFormat(lang, { style: "unit", unit: UNITS[i][0], unitDisplay: "long" })
          .format(Math.max(1, Math.round(value)));
      }
    }
    return "";
  }

  function tick(row) {
    var badge = row.querySelector("[data-since]");
    if (!badge) { return; }
    var text = duration((serverNow() - Number(badge.getAttribute("data-since"))) / 1000);
    if (badge.textContent !== text) { badge.textContent = text; }
    var over = overSla(row);
    row.classList.toggle("over-sla", over);
    badge.classList.toggle("danger", over);
  }

  function showEmptyState(list) {
    var any = list.querySelector("tbody tr[data-row]") !== null;
    var table = list.querySelector("table.queue");
    var empty = list.querySelector("p.empty");
    if (table) { table.hidden = !any; }
    if (empty) { empty.hidden = any; }
  }

  function parseRow(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content.querySelector("tr[data-row]");
  }

  // A page keeps its size: a row pushed into a full page hands the page's last row on to the next page,
  // whose link then starts after the new last row (its data-cursor, the server's own cursor).
  function keepPageSize(list) {
    var size = Number(list.getAttribute("data-page-size"));
    var shown = list.querySelectorAll("tbody tr[data-row]");
    if (!size || shown.length <= size) { return; }
    for (var i = size; i < shown.length; i++) { shown[i].remove(); }
    list.setAttribute("data-has-next", "1");
    var cursor = shown[size - 1].getAttribute("data-cursor");
    var link = list.querySelector("[data-next-page]");
    if (!link || !cursor) { return; }
    var first = list.getAttribute("data-first-url") || "/";
    var url = first + (first.indexOf("?") >= 0 ? "&" : "?") + "after=" + encodeURIComponent(cursor);
    link.setAttribute("href", url);
    link.setAttribute("hx-get", url);
    link.hidden = false;
    if (window.htmx) { htmx.process(link); }
  }

  // A row leaving a page that has a next page (closed, filtered out, moved on) leaves it short: the list
  // is fetched again once, after a short pause, so a burst of leaving rows costs one fetch.
  var backfillTimer = null;
  var BACKFILL_MS = 300;

  function backfill(list) {
    var size = Number(list.getAttribute("data-page-size"));
    if (backfillTimer || !size || !list.getAttribute("data-has-next")) { return; }
    if (list.querySelectorAll("tbody tr[data-row]").length >= size) { return; }
    backfillTimer = setTimeout(function () { backfillTimer = null; refetch(); }, BACKFILL_MS);
  }

  // An "over SLA" list cannot see a row cross its SLA when nothing happens to that row: it re-fetches
  // itself once at the next crossing among the rows it does not show (data-next-sla-at, from the server,
  // lowered by waits pushed since).
  var slaTimer = null;
  var LONGEST_TIMEOUT = 2147483647;

  function scheduleSlaRefetch(list) {
    if (slaTimer) { clearTimeout(slaTimer); slaTimer = null; }
    var at = Number(list.getAttribute("data-next-sla-at"));
    if (!list.getAttribute("data-filter-over-sla") || !at) { return; }
    var delay = Math.min(LONGEST_TIMEOUT, Math.max(0, at - serverNow()) + 500);
    slaTimer = setTimeout(function () { slaTimer = null; refetch(); }, delay);
  }

  function noteSlaCrossing(list, row) {
    var since = row.getAttribute("data-waiting-since");
    if (!list.getAttribute("data-filter-over-sla") || since === "" || overSla(row) || !matches(list, row, true)) {
      return;
    }
    var crossing = Number(since) + Number(row.getAttribute("data-sla")) * 1000;
    var current = Number(list.getAttribute("data-next-sla-at"));
    if (!current || crossing < current) {
      list.setAttribute("data-next-sla-at", String(crossing));
      scheduleSlaRefetch(list);
    }
  }

  // Insert, move or remove one pushed row (Turbo Streams' "action + target + template").
  function placeRow(list, data) {
    var row = parseRow(data.html);
    if (!row || data.action !== "upsert") { return; }
    var old = document.getElementById(data.target);
    var wasSelected = old && old.classList.contains("selected");
    if (old) { old.remove(); }
    var body = list.querySelector("tbody");
    if (body && matches(list, row)) {
      var shown = body.querySelectorAll("tr[data-row]");
      var next = null;
      for (var i = 0; i < shown.length; i++) {
        if (sortsBefore(row, shown[i])) { next = shown[i]; break; }
      }
      var laterPage = next === null && list.getAttribute("data-has-next");
      var earlierPage = list.getAttribute("data-paged") && shown.length && next === shown[0];
      if (!laterPage && !earlierPage) {
        row.classList.toggle("selected", Boolean(wasSelected));
        body.insertBefore(row, next);
        tick(row);
        keepPageSize(list);
      }
    } else if (body) {
      noteSlaCrossing(list, row);
    }
    if (old) { backfill(list); }
    showEmptyState(list);
    var current = document.querySelector("#conversation-list [data-row].selected");
    selected = current ? rows().indexOf(current) : (selected >= 0 ? Math.min(selected, rows().length - 1) : -1);
  }

  function position(eventId) {
    var parts = (eventId || "").split(".");
    return { boot: parts[0], seq: Number(parts[1] || -1) };
  }

  // A list rendered by the server shows every change up to its data-live-since: re-apply the later ones.
  function catchUp(list) {
    var since = position(list.getAttribute("data-live-since"));
    var now = Number(list.getAttribute("data-now"));
    if (now) { clockOffset = now - Date.now(); }
    recent.forEach(function (entry) {
      var at = position(entry.id);
      if (at.boot === since.boot && at.seq > since.seq) { placeRow(list, entry.data); }
    });
    scheduleSlaRefetch(list);
  }

  function refetch() {
    var list = liveList();
    if (!list || refetching || !window.htmx) { return; }
    refetching = true;
    htmx.ajax("GET", list.getAttribute("data-list-url") || "/", { target: "#conversation-list", swap: "outerHTML" })
      .finally(function () { refetching = false; });
  }

  function connectInbox() {
    var holder = document.querySelector("[data-live-url]");
    var list = liveList();
    if (!holder || !list || !window.EventSource) { return; }
    catchUp(list);
    // The browser resends the last id itself when it reconnects; a stream it gave up on (an error
    // answer during a restart) is opened again here, from the last id seen.
    var since = lastEventId || list.getAttribute("data-live-since") || "";
    var source = new EventSource(holder.getAttribute("data-live-url") + (since ? "?since=" + encodeURIComponent(since) : ""));
    source.addEventListener("row", function (event) {
      lastEventId = event.lastEventId || lastEventId;
      var data = JSON.parse(event.data);
      recent.push({ id: event.lastEventId, data: data });
      if (recent.length > RECENT_KEPT) { recent.shift(); }
      var current = liveList();
      if (current) { placeRow(current, data); }
    });
    source.addEventListener("resync", function (event) {
      lastEventId = event.lastEventId || lastEventId;
      refetch();
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) { setTimeout(connectInbox, 3000); }
    });
  }

  document.addEventListener("DOMContentLoaded", connectInbox);
  // A list swapped in (a filter, a page, a re-fetch) was rendered at its own position.
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = liveList();
    if (list && event.detail.target && event.detail.target.id === "conversation-list") { catchUp(list); }
  });
  setInterval(function () {
    var list = liveList();
    if (list) { list.querySelectorAll("tr[data-row]").forEach(tick); }
  }, 1000);

  document.addEventListener("change", function (event) {
    var canned = event.target.closest && event.target.closest("[data-canned]");
    if (!canned || !canned.value) { return; }
    var textarea = canned.form.querySelector("textarea[name=text]");
    textarea.value = textarea.value ? textarea.value + "\n" + canned.value : canned.value;
    canned.value = "";
    textarea.focus();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reply-to]");
    if (!button) { return; }
    var target = document.querySelector("#reply [data-reply-target]");
    if (target) { target.value = button.getAttribute("data-reply-to"); }
    var reply = document.querySelector("#reply textarea");
    if (reply) { reply.focus(); }
  });

  // A refused request (403, 429, 5xx) shows its reason instead of silently doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var flash = document.getElementById("flash");
    if (!flash) { return; }
    var xhr = event.detail.xhr;
    flash.textContent = (xhr && xhr.responseText ? xhr.responseText : "Error") .slice(0, 300);
    flash.hidden = false;
  });
})();
