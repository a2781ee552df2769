// The bell keeps its unread count true while the page is open. The page
// comes with the count; events that may bring the user a notification (a
// task offered or assigned, an escalation, a breached target, an agent
// going offline) or that say notifications were read (on another page)
// make it ask for the count again, at most every two seconds. Without this
// script the count is the one of the page's loading.
(function () {
  "use strict";

  var bell = document.querySelector("[data-bell]");
  if (!bell || !window.fetch) return;
  var badge = bell.querySelector("[data-bell-count]");
  var status = document.querySelector("[data-bell-status]");
  var cap = 99;

  var shown = badge && !badge.hidden ? badge.textContent : "0";
  function show(unread) {
    var text = unread > cap ? cap + "+" : String(unread);
    var label = unread === 0 ? "Notifications, none unread"
      : unread > cap ? "Notifications, more than " + cap + " unread"
      : "Notifications, " + unread + " unread";
    bell.setAttribute("aria-label", label);
    if (badge) {
      badge.textContent = text;
      badge.hidden = unread === 0;
    }
    // Only a change is announced, not every refresh.
    if (status && text !== shown) status.textContent = label;
    shown = text;
  }

  var busy = false, again = false, timer = null, last = 0;
  var minGap = 2000;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    last = Date.now();
    fetch("/api/v1/inbox/count", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (body && typeof body.unread === "number") show(body.unread);
      }, function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }

  function soon() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, Math.max(150, minGap - (Date.now() - last)));
  }

  var live = window.switchboardLive;
  if (!live) return;
  var on = {};
  ["task.offered", "task.assigned", "task.escalated", "task.sla_breached", "queue.sla_breached",
    "agent.presence_changed", "notification.read", "notification.all_read"].forEach(function (type) { on[type] = soon; });
  // A stream that dropped, or closed while the tab was hidden, missed what
  // happened meanwhile.
  var opened = false, missed = false;
  live.subscribe({
    prefixes: ["task.", "queue.sla_breached", "agent.presence_changed", "notification."],
    on: on,
    open: function () {
      bell.setAttribute("data-live", "");
      if (opened && missed) soon();
      opened = true;
      missed = false;
    },
    error: function () { bell.removeAttribute("data-live"); missed = true; },
    close: function () { bell.removeAttribute("data-live"); missed = true; }
  });
})();
