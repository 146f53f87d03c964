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

  // A live widget refreshes itself on every live update (hx-swap="outerHTML"). An update that comes
  // while its refresh is in flight is queued by htmx on the element, and the swap throws that queue
  // away with the element: the widget would miss the update until the next one. Such an update is
  // remembered here, and the new element refreshes once it is in place.
  var refreshing = new Set();
  var missed = new Set();
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.id) { refreshing.add(event.target.id); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target.id) { refreshing.delete(event.target.id); }
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    var widget = event.target;
    if (widget.id && refreshing.has(widget.id)) { missed.add(widget.id); }
  });
  document.addEventListener("htmx:load", function (event) {
    var widget = event.target;
    if (!widget.id || !missed.has(widget.id)) { return; }
    missed.delete(widget.id);
    var live = (widget.getAttribute("hx-trigger") || "").split(",").map(function (name) {
      return name.trim();
    }).filter(function (name) { return name.indexOf("sse:") === 0; });
    if (live.length) { htmx.trigger(widget, live[0]); }
  });

  // The selection survives the list being refreshed by a live update.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "conversation-list" && selected >= 0) {
      select(selected);
    }
  });

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
