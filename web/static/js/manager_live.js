// The manager pages' live refresh (web/views/manager_live.py). The server sends at most one `changed`
// notice per window to a page whose viewer may see what changed; the page then re-fetches the partial
// that holds its live marker ([data-manager-live]), with its own filters, at most one request at a time.
// A page showing the past renders no marker: it opens no stream and never refreshes.
(function () {
  "use strict";

  var source = null;
  var inFlight = false;
  var again = false;
  var wasOpen = false;

  function marker() { return document.querySelector("[data-manager-live]"); }

  function showLive(on) {
    var live = marker();
    var badge = live && live.querySelector("[data-live-on]");
    if (badge) { badge.hidden = !on; }
  }

  // The address bar holds the page's own filters: every filter, sort and page link pushes its URL.
  function here() { return window.location.pathname + window.location.search; }

  var othersInFlight = 0;  // the manager's own requests (a filter, a sort, a page)
  var requested = null;

  function isRefresh(elt) { return Boolean(elt && elt.hasAttribute && elt.hasAttribute("data-manager-live")); }

  function refresh() {
    var live = marker();
    if (!live || !window.htmx) { return; }
    // One request in flight; a notice that comes meanwhile is served once it is back. The manager's own
    // request goes first: its answer may be another report, which this refresh must not overwrite.
    if (inFlight || othersInFlight > 0) { again = true; return; }
    inFlight = true;
    requested = here();
    var target = live.getAttribute("data-live-target");
    htmx.ajax("GET", requested, { source: live, target: target, select: target, swap: "outerHTML" })
      .finally(function () {
        inFlight = false;
        if (again && othersInFlight === 0) { again = false; refresh(); }
      });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isRefresh(event.detail.elt)) { othersInFlight += 1; }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (isRefresh(event.detail.elt)) { return; }
    othersInFlight = Math.max(0, othersInFlight - 1);
    if (othersInFlight === 0 && again && !inFlight) { again = false; refresh(); }
  });
  // The filters changed while a refresh was on its way: what it brings back is the previous report.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (isRefresh(event.detail.requestConfig && event.detail.requestConfig.elt) && here() !== requested) {
      event.detail.shouldSwap = false;
    }
  });

  function disconnect() {
    if (source) { source.close(); source = null; }
    wasOpen = false;
  }

  function connect() {
    var live = marker();
    if (!live || source || !window.EventSource) { return; }
    source = new EventSource("/live/manager?page=" + encodeURIComponent(live.getAttribute("data-manager-live")));
    source.addEventListener("open", function () {
      if (wasOpen) { refresh(); }  // notices sent while it was away were lost: catch up once
      wasOpen = true;
      showLive(true);
    });
    source.addEventListener("changed", refresh);
    source.addEventListener("error", function () {
      showLive(false);
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 5000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", connect);
  // A filter change may bring the page to "now" or take it to the past.
  document.addEventListener("htmx:afterSettle", function () {
    if (!marker()) { disconnect(); return; }
    if (source) { showLive(source.readyState === EventSource.OPEN); } else { connect(); }
  });
})();
