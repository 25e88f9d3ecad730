// rdlm's admin page: the state of every lock, kept from GET /events (a snapshot, then one
// event per change), and the connection's state. Plain JavaScript, no build step, nothing
// from another origin; table.js draws the state.
"use strict";

(function () {
  // URLs are built on the origin, never on location.href: a page opened with its URL as
  // user:pass@host/ui would otherwise hand fetch() URLs with credentials in them,
  // which it refuses. The browser sends the Basic credentials it holds by itself.
  const origin = window.location.origin;
  const eventsURL = origin + "/events";

  const $ = (id) => document.getElementById(id);
  const connection = $("connection");
  const notice = $("notice");
  const view = $("view");

  const state = {
    /** name -> {holders: [lock], waiters: [lock]}; each lock as the daemon sent it. */
    resources: new Map(),
    /** Whether a snapshot has arrived: until then an empty table would claim there are no locks. */
    haveSnapshot: false,
  };
  /** Server clock minus browser clock, in ms, from each event's `time`. */
  let skew = 0;
  let source = null;
  let lostSince = null;
  let retryTimer = null;
  let retryDelay = 1000;

  // Timestamps have microseconds; Date.parse is only specified for milliseconds.
  function parseTime(text) {
    if (typeof text !== "string") return NaN;
    return Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
  }

  // A snapshot's time is now on the server; a change's is when it happened, at most now
  // (older when it is replayed after a reconnect), so the largest offset seen since the
  // last snapshot is the best estimate.
  function noteServerTime(text, fromSnapshot) {
    const at = parseTime(text);
    if (Number.isNaN(at)) return;
    const offset = at - Date.now();
    skew = fromSnapshot ? offset : Math.max(skew, offset);
  }

  const serverNow = () => Date.now() + skew;

  // MARK: connection

  function setConnection(state, text) {
    connection.dataset.state = state;
    if (connection.textContent !== text) connection.textContent = text;
  }

  function showNotice(title, text) {
    $("notice-title").textContent = title;
    $("notice-text").textContent = text;
    notice.hidden = false;
    view.hidden = true;
  }

  function hideNotice() {
    notice.hidden = true;
    view.hidden = false;
  }

  function clockText(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (source) source.close();
    source = new EventSource(eventsURL);
    source.addEventListener("open", onOpen);
    source.addEventListener("error", onError);
    source.addEventListener("snapshot", onSnapshot);
    source.addEventListener("reset", () => {
      // The snapshot that follows replaces everything; until then the table is stale.
      view.classList.add("stale");
    });
    for (const kind of ["waiting", "granted", "released", "expired", "refreshed", "withdrawn", "deleted"]) {
      source.addEventListener(kind, onChange);
    }
  }

  function onOpen() {
    retryDelay = 1000;
    hideNotice();
    if (lostSince !== null) {
      setConnection("back", "Connection to rdlmd is back (lost at " + clockText(lostSince) + "); live.");
      lostSince = null;
    } else {
      setConnection("live", "Connected to rdlmd; live.");
    }
  }

  function markLost() {
    if (lostSince === null) lostSince = Date.now();
    view.classList.add("stale");
    setConnection("lost", "Connection to rdlmd lost at " + clockText(lostSince) + "; reconnecting…");
  }

  function onError() {
    if (source && source.readyState === EventSource.CONNECTING) {
      // EventSource reconnects by itself (with Last-Event-ID).
      markLost();
      return;
    }
    // Closed: the daemon answered something other than a stream (403, 401, 503, ...), or
    // gave up. Ask it why, then decide when to try again.
    if (source) source.close();
    source = null;
    probe();
  }

  async function probe() {
    const abort = new AbortController();
    let response;
    try {
      response = await fetch(eventsURL, { headers: { Accept: "application/json" }, signal: abort.signal, cache: "no-store" });
    } catch (error) {
      markLost();
      return retryLater();
    }
    if (response.ok) {
      abort.abort();
      return connect();
    }
    let message = "";
    try {
      const body = await response.json();
      message = body && typeof body.error === "string" ? body.error : "";
    } catch (error) {
      message = "";
    }
    if (response.status === 403) {
      setConnection("forbidden", "Admin requests are disabled on this daemon.");
      showNotice("Admin requests are disabled",
        "This rdlmd refuses every admin request (it runs with --admin-userpass-file no), and the list of locks " +
        "is one, so this page cannot show it. Restart rdlmd with --admin-userpass-file yes, or with a file of admin " +
        "users (then this page asks for one of them), to use this page." + (message ? " The daemon said: " + message + "." : ""));
      forget();
      return retryLater(30000);
    }
    if (response.status === 401) {
      setConnection("unauthorized", "Admin credentials not accepted.");
      showNotice("Admin credentials needed",
        "The daemon did not accept the admin credentials this browser sent" + (message ? " (" + message + ")" : "") +
        ". Reload the page to be asked for them again.");
      return;
    }
    // 503 (etcd unreachable; a daemon shutting down), 429, ...
    markLost();
    setConnection("unavailable", "Live updates unavailable; retrying…");
    showNotice("Live updates are unavailable",
      "The daemon answered " + response.status + (message ? " (" + message + ")" : "") +
      " to the event stream this page is fed by, so it cannot show the locks now. It tries again every few seconds.");
    forget();
    return retryLater();
  }

  function retryLater(delay) {
    clearTimeout(retryTimer);
    const wait = delay || retryDelay;
    retryDelay = Math.min(retryDelay * 2, 8000);
    retryTimer = setTimeout(connect, wait);
  }

  // MARK: state

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (error) {
      return null;
    }
  }

  function forget() {
    state.resources = new Map();
    state.haveSnapshot = false;
    table.render();
  }

  function onSnapshot(event) {
    const data = parse(event);
    if (!data || !Array.isArray(data.resources)) return;
    noteServerTime(data.time, true);
    const next = new Map();
    for (const resource of data.resources) {
      const entry = { holders: [], waiters: [] };
      for (const lock of resource.locks || []) (lock.active ? entry.holders : entry.waiters).push(lock);
      if (entry.holders.length || entry.waiters.length) next.set(resource.name, entry);
    }
    state.resources = next;
    state.haveSnapshot = true;
    view.classList.remove("stale");
    table.render();
  }

  function without(locks, uid) {
    return locks.filter((lock) => lock.uid !== uid);
  }

  function onChange(event) {
    const data = parse(event);
    if (!data || !data.lock || typeof data.resource !== "string") return;
    noteServerTime(data.time, false);
    const name = data.resource;
    const lock = data.lock;
    let entry = state.resources.get(name);
    if (!entry) {
      entry = { holders: [], waiters: [] };
      state.resources.set(name, entry);
    }
    entry.holders = without(entry.holders, lock.uid);
    entry.waiters = without(entry.waiters, lock.uid);
    switch (data.event) {
      case "waiting": entry.waiters.push(lock); break;
      case "granted": entry.holders.push(lock); break;
      case "refreshed": entry.holders.push(lock); break;
      default: break; // released, expired, withdrawn, deleted: gone
    }
    if (!entry.holders.length && !entry.waiters.length) state.resources.delete(name);
    table.render();
  }

  const table = window.RDLMTable({ origin, state, serverNow, parseTime, clockText });
  table.render();
  connect();
})();
