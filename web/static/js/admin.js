// Admin pages: "Copy" buttons next to read-only values (callback settings, a new token or password).
// Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.focus();
    field.select();
    var done = function () {
      button.classList.add("copied");
      window.setTimeout(function () { button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // A refused form comes back (422) with its reason on top and the field at fault marked: bring the
  // reason into view and put the cursor in that field, wherever the page was scrolled to.
  document.addEventListener("htmx:afterSettle", function () {
    var alert = document.querySelector(".admin [role=alert]");
    if (!alert) { return; }
    alert.scrollIntoView({ block: "center" });
    var field = alert.closest("form") && alert.closest("form").querySelector("[aria-invalid=true]");
    if (field) { field.focus({ preventScroll: true }); }
  });
})();
