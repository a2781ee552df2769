// Switchboard's small progressive enhancements. Every page works without
// this file; it only adds confirmations, copying and focus handling.
(function () {
  "use strict";

  // Forms with data-confirm ask before they submit (destructive actions).
  // Without this script the server asks on a page of its own; a yes here
  // says confirm=yes, so that one question suffices.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (!form.querySelector('input[name="confirm"]')) {
      var yes = document.createElement("input");
      yes.type = "hidden";
      yes.name = "confirm";
      yes.value = "yes";
      form.appendChild(yes);
    }
  });

  // A box with data-select-all="NAME" ticks or clears every checkbox of
  // that name in its form: "select all on this page".
  document.addEventListener("change", function (event) {
    var box = event.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name || !box.form) return;
    box.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });

  // Buttons with data-copy copy the value of the element they name.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    var say = function (text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    // The older way works where the clipboard API is missing or refused
    // (no secure context, no permission); failing both, the text is left
    // selected for the keyboard.
    var fallback = function () {
      source.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? "Copied" : "Press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(function () { say("Copied"); }, fallback);
    } else {
      fallback();
    }
  });

  // While a page is open, a human agent stays present: the page sends a
  // heartbeat a few times per heartbeat TTL. Without this script, the
  // agent's other clicks still count, and the sweeper takes them offline
  // after the TTL.
  var every = parseInt(document.body && document.body.getAttribute("data-heartbeat-every"), 10);
  if (every > 0 && window.fetch) {
    var beat = function () {
      fetch("/api/v1/agent/heartbeat", { method: "POST", credentials: "same-origin" }).catch(function () {});
    };
    beat();
    setInterval(beat, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Move focus to a form's error summary, so that screen readers announce
    // it and keyboard users start from it.
    var summary = document.querySelector("[data-autofocus]");
    if (summary) summary.focus();

    // On a phone, filters fold away unless one is in use: the list matters
    // more than the form. Without this script they simply stay open.
    if (window.matchMedia("(max-width: 52rem)").matches) {
      var inUse = new URLSearchParams(window.location.search);
      inUse.delete("cursor");
      inUse.delete("limit");
      document.querySelectorAll("details[data-collapse-small]").forEach(function (d) {
        var active = false;
        inUse.forEach(function (v) { if (v) active = true; });
        if (!active) d.removeAttribute("open");
      });
    }
  });
})();
