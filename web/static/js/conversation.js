// The live conversation page (web/views/conversation_live.py): the server pushes each changed partial
// (timeline, header, author card, presence), or one changed timeline entry, rendered once for every page
// open on the conversation; this swaps it in (an entry new to the page is put in its place by `data-at`), fills in this session's CSRF token, and hides this operator from "also here". Loaded on
// the conversation page only, as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var PARTS = { "conversation-header": "header", "presence": "presence", "timeline": "timeline", "author-card": "author" };
  var root = null;
  var lastEventId = "";
  var deferred = {};  // target id -> html waiting until the operator is done with what it replaces
  var resyncing = false;

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  function fillTokens(element) {
    var token = csrfToken();
    element.querySelectorAll("input[name=csrf_token]").forEach(function (input) { input.value = token; });
  }

  // Presence names everyone who has the page open; this page's own operator is not "also here".
  function hideSelf(element) {
    if (element.id !== "presence") { return; }
    var me = root.getAttribute("data-operator-id");
    var names = element.querySelector("[data-names]");
    var others = names ? Array.prototype.filter.call(names.children, function (name) {
      return name.getAttribute("data-operator-id") !== me;
    }) : [];
    if (names) {
      names.textContent = "";
      others.forEach(function (name, i) {
        if (i) { names.appendChild(document.createTextNode(", ")); }
        names.appendChild(name);
      });
    }
    element.hidden = others.length === 0;
  }

  // What the operator is in the middle of: a field with focus, or a form they opened and typed in.
  function busy(element) {
    var active = document.activeElement;
    if (active && element.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return true; }
    return Array.prototype.some.call(element.querySelectorAll("details[open]"), function (details) {
      return Array.prototype.some.call(details.querySelectorAll("input:not([type=hidden]), textarea"), function (field) {
        return field.value !== "";
      });
    });
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content.firstElementChild;
  }

  // Where an entry new to the page goes: before the first one later than it (at the same instant, items
  // by id, before notes and pending replies: the server's order).
  function followingEntry(timeline, fresh) {
    var at = Number(fresh.getAttribute("data-at"));
    var id = Number(fresh.id.replace("item-", ""));
    return Array.prototype.find.call(timeline.querySelectorAll(":scope > article[data-at]"), function (entry) {
      var entryAt = Number(entry.getAttribute("data-at"));
      if (entryAt !== at) { return entryAt > at; }
      return !/^item-/.test(entry.id) || Number(entry.id.replace("item-", "")) > id;
    }) || null;
  }

  // One changed entry: replaced like a partial if the page shows it, else put in its place.
  function upsert(data) {
    (data.remove || []).forEach(function (id) {
      var gone = document.getElementById(id);
      if (gone) { gone.remove(); }
    });
    if (document.getElementById(data.target)) { swap(data.target, data.html); return; }
    var timeline = document.getElementById("timeline");
    var fresh = data.html && parse(data.html);
    if (!timeline || !fresh || fresh.id !== data.target) { return; }
    // A timeline cut off at its oldest shown entry leaves out a change to an older one, as a reload would.
    var oldest = timeline.querySelector(":scope > article[data-at]");
    if (timeline.querySelector("[data-older-not-shown]") && oldest &&
        Number(fresh.getAttribute("data-at")) < Number(oldest.getAttribute("data-at"))) { return; }
    var empty = timeline.querySelector(":scope > p.empty");
    if (empty) { empty.remove(); }
    fillTokens(fresh);
    timeline.insertBefore(fresh, followingEntry(timeline, fresh));
    if (window.htmx) { htmx.process(fresh); }
  }

  function swap(target, html) {
    var old = document.getElementById(target);
    var fresh = html && parse(html);
    if (!old || !fresh || fresh.id !== target) { return; }
    if (busy(old)) { deferred[target] = html; return; }
    delete deferred[target];
    // A section the operator had opened stays open.
    var opened = Array.prototype.map.call(old.querySelectorAll("details"), function (d) { return d.open; });
    fresh.querySelectorAll("details").forEach(function (d, i) { if (opened[i]) { d.open = true; } });
    fillTokens(fresh);
    hideSelf(fresh);
    var scrolled = window.scrollY;
    old.replaceWith(fresh);
    if (window.htmx) { htmx.process(fresh); }
    if (window.scrollY !== scrolled) { window.scrollTo(0, scrolled); }
  }

  // The "reply queued" notice of the reply form goes once its reply is sent, or becomes its failure:
  // the timeline (pushed) shows the row's state as #outbox-<id>.
  function settleNotices() {
    document.querySelectorAll("#reply [data-queued-outbox]").forEach(function (notice) {
      var state = document.getElementById("outbox-" + notice.getAttribute("data-queued-outbox"));
      if (!state) { return; }
      if (state.classList.contains("sent")) { notice.remove(); return; }
      if (state.classList.contains("failed")) {
        notice.className = "error";
        notice.setAttribute("role", "alert");
        var reason = state.querySelector(".reason");
        notice.textContent = notice.getAttribute("data-failed") + (reason ? ": " + reason.textContent : "");
        notice.removeAttribute("data-queued-outbox");
      }
    });
  }

  function applyDeferred() {
    setTimeout(function () {
      Object.keys(deferred).forEach(function (target) { swap(target, deferred[target]); });
    }, 0);
  }

  // Missed more than the server kept (or another instance answers): re-fetch each partial once.
  function resync() {
    if (resyncing) { return; }
    resyncing = true;
    var base = "/conversations/" + root.getAttribute("data-conversation-id") + "/";
    Promise.all(Object.keys(PARTS).map(function (target) {
      return fetch(base + PARTS[target], { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) { swap(target, html.trim()); });
    })).catch(function () {}).then(function () { resyncing = false; });
  }

  function connect() {
    var since = lastEventId || root.getAttribute("data-live-since") || "";
    var url = root.getAttribute("data-conversation-live") + (since ? "&since=" + encodeURIComponent(since) : "");
    var source = new EventSource(url);
    source.addEventListener("part", function (event) {
      lastEventId = event.lastEventId || lastEventId;
      var data = JSON.parse(event.data);
      if (String(data.conversation_id) !== root.getAttribute("data-conversation-id")) { return; }
      if (data.action === "replace") { swap(data.target, data.html); }
      if (data.action === "upsert") { upsert(data); }
      settleNotices();
    });
    source.addEventListener("resync", function (event) {
      lastEventId = event.lastEventId || lastEventId;
      resync();
    });
    // The browser reconnects by itself, sending the last id; a stream it gave up on (an error answer
    // during a restart) is opened again here, from the last id seen.
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 3000); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.querySelector("[data-conversation-live]");
    if (!root || !window.EventSource) { return; }
    var presence = document.getElementById("presence");
    if (presence) { hideSelf(presence); }
    document.addEventListener("focusout", applyDeferred);
    document.addEventListener("toggle", applyDeferred, true);
    // An action's answer swapped in by htmx is newer than a push held back for its target.
    document.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target) { delete deferred[event.detail.target.id]; }
      settleNotices();  // the reply's outcome may have been pushed before its form's answer came back
    });
    connect();
  });
})();
