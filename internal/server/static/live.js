// One event stream per page, shared by the scripts that follow it (the
// bell, the dashboard, My work). A browser opens only six connections to a
// server, and every open tab holds its streams: two per page would halve
// the tabs that stay live.
//
// A script subscribes with the type prefixes it needs and a handler per
// event type; the stream opens once the page's scripts have run, for all
// of their prefixes together. A hidden tab lets go of its stream and opens
// it again when shown; subscribers hear "close" and then "open", and look
// again at what they show, as events in between were missed.
(function () {
  "use strict";
  if (!window.EventSource) return;

  var subscribers = [];
  var source = null, ready = false;

  function each(kind, arg) {
    subscribers.forEach(function (s) { if (s[kind]) s[kind](arg); });
  }

  function open() {
    if (source || !ready || !subscribers.length || document.hidden) return;
    var prefixes = [], types = [];
    subscribers.forEach(function (s) {
      s.prefixes.forEach(function (p) { if (prefixes.indexOf(p) < 0) prefixes.push(p); });
      Object.keys(s.on || {}).forEach(function (t) { if (types.indexOf(t) < 0) types.push(t); });
    });
    var es = new EventSource("/api/v1/events?types=" + encodeURIComponent(prefixes.join(",")));
    types.forEach(function (type) {
      es.addEventListener(type, function (e) {
        subscribers.forEach(function (s) { if (s.on && s.on[type]) s.on[type](e); });
      });
    });
    es.addEventListener("open", function () { each("open"); });
    es.addEventListener("error", function () { each("error", es.readyState === EventSource.CLOSED); });
    source = es;
  }

  function close() {
    if (!source) return;
    source.close();
    source = null;
    each("close");
  }

  window.switchboardLive = {
    // subscribe({prefixes: ["task."], on: {"task.created": fn}, open: fn,
    // error: fn(closedForGood), close: fn})
    subscribe: function (s) {
      subscribers.push(s);
      if (source) { close(); open(); }
    },
    // stop closes the stream for good, as when the page is being left.
    stop: function () { ready = false; close(); }
  };

  document.addEventListener("DOMContentLoaded", function () { ready = true; open(); });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) close(); else open();
  });
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", function (e) { if (e.persisted) open(); });
})();
