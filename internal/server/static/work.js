// My work, live: each offer counts down to its deadline, and the offers and
// tasks are brought up to date in place when the event stream says that
// something of this agent's changed. Without this file the page shows the
// same on every reload, and its buttons are plain forms.
(function () {
  "use strict";

  var region = document.querySelector("[data-live]");
  if (!region) return;

  // ---- Countdowns ----

  // Each timer holds the milliseconds left when the server rendered it:
  // counting from when this page saw it makes the user's clock irrelevant.
  var deadlines = new WeakMap();

  // format says a number of seconds as the server does: "1 h 5 min 3 s".
  function format(seconds) {
    var parts = [];
    [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]].forEach(function (u) {
      var n = Math.floor(seconds / u[0]);
      if (n > 0) { parts.push(n + " " + u[1]); seconds -= n * u[0]; }
    });
    return parts.join(" ");
  }

  function tick() {
    var now = Date.now();
    region.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!deadlines.has(el)) {
        var ms = parseInt(el.getAttribute("data-countdown"), 10);
        if (isNaN(ms)) return;
        deadlines.set(el, now + ms);
      }
      var left = Math.max(0, Math.ceil((deadlines.get(el) - now) / 1000));
      var text = left > 0 ? format(left) + " left" : "Expired";
      if (el.textContent !== text) el.textContent = text;
      var item = el.closest("[data-offer]");
      if (!item) return;
      item.classList.toggle("offer-urgent", left > 0 && left <= 10);
      item.classList.toggle("offer-expired", left === 0);
      if (left === 0) {
        item.querySelectorAll("button[data-accept]").forEach(function (b) { b.disabled = true; });
      }
    });
  }
  tick();
  setInterval(tick, 1000);

  // ---- Live updates ----

  if (!window.fetch || !window.DOMParser) return;

  var agent = region.getAttribute("data-agent");
  var stateEl = document.querySelector("[data-live-state]");
  var statusEl = document.querySelector("[data-live-status]");
  // down starts true: what changed between the page's rendering and the
  // stream's opening is not in the stream, so the first opening looks once.
  var leaving = false, busy = false, again = false, timer = null, down = true;

  function setState(kind, text) {
    if (!stateEl) return;
    stateEl.hidden = false;
    stateEl.className = "live-state " + kind;
    stateEl.textContent = text;
  }

  // shown reports whether the region shows this task or offer.
  function shown(id) {
    if (!id) return false;
    var found = false;
    region.querySelectorAll("[data-task], [data-offer]").forEach(function (el) {
      if (el.getAttribute("data-task") === id || el.getAttribute("data-offer") === id) found = true;
    });
    return found;
  }

  // concerns reports whether an event is about this agent's work: what
  // admins' streams carry of everybody else's is not.
  function concerns(ev) {
    var subject = ev.subject || {}, data = ev.data || {};
    if (subject.type === "agent") return subject.id === agent;
    if ((data.after && data.after.agent_id === agent) || (data.before && data.before.agent_id === agent)) return true;
    return shown(subject.id) || shown(data.task_id);
  }

  function refresh() {
    if (leaving) return;
    if (busy) { again = true; return; }
    busy = true;
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
        if (again) { again = false; refresh(); }
      });
  }

  // swap puts the fresh part in place, keeping what the user was typing
  // and where the keyboard focus was.
  function swap(fresh) {
    var old = region.querySelector("[data-live-part]");
    var typed = {};
    old.querySelectorAll("input[id], textarea[id]").forEach(function (el) {
      if (el.type !== "hidden" && el.value) typed[el.id] = el.value;
    });
    var focused = old.contains(document.activeElement) ? document.activeElement.id : "";
    var before = old.getAttribute("data-summary");
    fresh = document.importNode(fresh, true);
    old.replaceWith(fresh);
    Object.keys(typed).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && !el.value) el.value = typed[id];
    });
    if (focused) {
      var f = document.getElementById(focused);
      if (f) f.focus();
    }
    var summary = fresh.getAttribute("data-summary");
    if (statusEl && summary !== before) statusEl.textContent = "Updated: " + summary;
    tick();
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  var live = window.switchboardLive;
  if (!live) return;
  var on = {};
  ["task.created", "task.offered", "task.assigned", "task.requeued", "task.completed", "task.escalated",
    "task.cancelled", "task.expired", "offer.rejected", "offer.timed_out", "offer.revoked",
    "agent.presence_changed"].forEach(function (type) {
    on[type] = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (concerns(ev)) soon();
    };
  });
  live.subscribe({
    prefixes: ["task.", "offer.", "agent.presence_changed"],
    on: on,
    open: function () {
      setState("is-live", "Live");
      if (down) refresh();
      down = false;
    },
    error: function (closedForGood) {
      down = true;
      setState("is-down", closedForGood ? "Not live: reload for news" : "Reconnecting…");
    },
    close: function () { down = true; }
  });

  // A form sent leaves the page: stop updating what is about to go.
  document.addEventListener("submit", function (e) {
    if (!e.defaultPrevented) { leaving = true; live.stop(); }
  });
})();
