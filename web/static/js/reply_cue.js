// "Answer this" on a comment: above the reply box, whom the reply goes to and the first words of the
// comment, with a way to cancel (the reply then goes to the thread). app.js sets the hidden field; this
// shows it, and shows it again when the reply form comes back (a refused reply keeps its target).
(function () {
  "use strict";

  var WORDS = 12;

  function firstWords(text) {
    var words = text.replace(/\s+/g, " ").trim().split(" ");
    return words.length > WORDS ? words.slice(0, WORDS).join(" ") + "…" : words.join(" ");
  }

  function show(form) {
    var cue = form.querySelector("[data-reply-cue]");
    var target = form.querySelector("[data-reply-target]");
    if (!cue || !target) { return; }
    var entry = target.value ? document.getElementById("item-" + target.value) : null;
    if (!entry) { cue.hidden = true; return; }
    var name = entry.querySelector("header strong");
    var text = entry.querySelector(".text");
    cue.querySelector("[data-reply-cue-name]").textContent = name ? name.textContent.trim() : "";
    cue.querySelector("[data-reply-cue-text]").textContent = text ? firstWords(text.textContent) : "";
    cue.hidden = false;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reply-to]");
    if (button) {
      var form = document.getElementById("reply");
      var target = form && form.querySelector("[data-reply-target]");
      if (target) {
        target.value = button.getAttribute("data-reply-to");
        show(form);
      }
      return;
    }
    var cancel = event.target.closest && event.target.closest("[data-reply-cancel]");
    if (cancel) {
      var reply = cancel.closest("form");
      reply.querySelector("[data-reply-target]").value = "";
      reply.querySelector("[data-reply-cue]").hidden = true;
      var textarea = reply.querySelector("textarea");
      if (textarea) { textarea.focus(); }
    }
  });

  document.addEventListener("htmx:afterSwap", function () {
    var form = document.getElementById("reply");
    if (form) { show(form); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("reply");
    if (form) { show(form); }
  });
})();
