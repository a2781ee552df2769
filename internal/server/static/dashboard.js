// The dashboard, live: when the event stream says that a task, an offer,
// an agent or a queue changed, the figures are fetched again (at most about
// once a second, however busy the stream) and put in place of the old
// ones. Waits grow with time alone, so the figures are also fetched every
// half minute. Without this file the page shows the figures of its
// loading, correct then.
(function () {
  "use strict";

  var region = document.querySelector("[data-live]");
  if (!region || !window.fetch || !window.DOMParser) return;

  var stateEl = document.querySelector("[data-live-state]");
  var statusEl = document.querySelector("[data-live-status]");
  // down starts true: what changed between the page's rendering and the
  // stream's opening is not in the stream, so the first opening looks once.
  var busy = false, again = false, timer = null, down = true, last = 0;
  var minGap = 1000;

  function setState(kind, text) {
    if (!stateEl) return;
    stateEl.hidden = false;
    stateEl.className = "live-state " + kind;
    stateEl.textContent = text;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    last = Date.now();
    fetch(region.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        // A redirect is to the sign-in page: the session ended.
        if (res.redirected || !res.ok) return null;
        return res.text();
      })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-part]");
        if (!fresh) { location.reload(); return; }
        swap(fresh);
      }, function () {
        setState("is-down", "Offline: reload for news");
      })
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }

  // swap puts the fresh figures in place, keeping the table of the last
  // 24 hours open if it was, and the keyboard focus where it was.
  function swap(fresh) {
    var old = region.querySelector("[data-live-part]");
    var openDetails = old.querySelector("details[open]") !== null;
    var focused = old.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    var before = old.getAttribute("data-summary");
    fresh = document.importNode(fresh, true);
    if (openDetails) fresh.querySelectorAll("details").forEach(function (d) { d.open = true; });
    old.replaceWith(fresh);
    if (focused) {
      var f = fresh.querySelector('a[href="' + focused.replace(/"/g, '\\"') + '"]');
      if (f) f.focus();
    }
    var summary = fresh.getAttribute("data-summary");
    if (statusEl && summary !== before) statusEl.textContent = "Updated: " + summary;
  }

  // soon refreshes within about a second, and not sooner than a second
  // after the last refresh.
  function soon() {
    if (timer) return;
    var wait = Math.max(150, minGap - (Date.now() - last));
    timer = setTimeout(function () { timer = null; refresh(); }, wait);
  }

  var live = window.switchboardLive;
  if (!live) return;
  var on = {};
  ["task.created", "task.offered", "task.assigned", "task.requeued", "task.completed", "task.escalated",
    "task.cancelled", "task.expired", "offer.rejected", "offer.timed_out", "offer.revoked",
    "agent.created", "agent.updated", "agent.status_changed", "agent.deleted", "agent.enrolled", "agent.imported",
    "agent.presence_changed", "queue.created", "queue.updated", "queue.deleted", "queue.sla_breached"].forEach(function (type) {
    on[type] = soon;
  });
  live.subscribe({
    prefixes: ["task.", "offer.", "agent.", "queue."],
    on: on,
    open: function () {
      setState("is-live", "Live");
      if (down) soon();
      down = false;
    },
    error: function (closedForGood) {
      down = true;
      setState("is-down", closedForGood ? "Not live: reload for news" : "Reconnecting…");
    },
    close: function () { down = true; }
  });
  setInterval(function () { if (!document.hidden) soon(); }, 30000);
})();
