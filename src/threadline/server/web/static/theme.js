// Light, dark or the system's choice, remembered in this browser. Loaded in <head> so that a saved
// theme applies before the first paint; the toggle is bound once the page is parsed.
(function () {
  "use strict";
  var root = document.documentElement;
  var order = ["auto", "light", "dark"];
  var saved = null;
  try { saved = localStorage.getItem("threadline-theme"); } catch (e) { /* storage off */ }
  if (order.indexOf(saved) >= 0) root.setAttribute("data-theme", saved);

  function current() { return root.getAttribute("data-theme") || "auto"; }

  function describe(button) {
    button.title = "Theme: " + current();
    button.setAttribute("aria-label", "Theme: " + current() + " (click to change)");
  }

  function bind() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    describe(button);
    button.addEventListener("click", function () {
      var next = order[(order.indexOf(current()) + 1) % order.length];
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("threadline-theme", next); } catch (e) { /* storage off */ }
      describe(button);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind);
  else bind();
})();
