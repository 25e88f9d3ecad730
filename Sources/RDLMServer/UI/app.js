// rdlm's admin page: the state of every lock, kept from GET /events (a snapshot, then one
// event per change), with deletes through the lock and resource URLs. Plain JavaScript,
// no build step, nothing from another origin. Every text from the daemon goes into the
// page as text (textContent), never as markup.
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
  const list = $("resources");
  const filter = $("filter");
  const summary = $("summary");
  const empty = $("empty");
  const actionStatus = $("action-status");
  const dialog = $("confirm");

  /** name -> {holders: [lock], waiters: [lock]}; each lock as the daemon sent it. */
  let resources = new Map();
  /** Whether a snapshot has arrived: until then an empty table would claim there are no locks. */
  let haveSnapshot = false;
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
        "This rdlmd refuses admin requests (it runs with --admin-userpass-file no), and the lock list is one, " +
        "so this page cannot show it. Restart rdlmd with --admin-userpass-file yes, or with a file of admin " +
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
    // 503 (the etcd backend, for now; a daemon shutting down), 429, ...
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
    resources = new Map();
    haveSnapshot = false;
    render();
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
    resources = next;
    haveSnapshot = true;
    view.classList.remove("stale");
    render();
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
    let entry = resources.get(name);
    if (!entry) {
      entry = { holders: [], waiters: [] };
      resources.set(name, entry);
    }
    entry.holders = without(entry.holders, lock.uid);
    entry.waiters = without(entry.waiters, lock.uid);
    switch (data.event) {
      case "waiting": entry.waiters.push(lock); break;
      case "granted": entry.holders.push(lock); break;
      case "refreshed": entry.holders.push(lock); break;
      default: break; // released, expired, withdrawn, deleted: gone
    }
    if (!entry.holders.length && !entry.waiters.length) resources.delete(name);
    render();
  }

  // MARK: rendering

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function sinceText(lock) {
    const since = parseTime(lock.active ? lock.active_since : lock.wait_since);
    return Number.isNaN(since) ? "" : clockText(since);
  }

  function countdownText(expires) {
    if (Number.isNaN(expires)) return "";
    const left = (expires - serverNow()) / 1000;
    if (left <= 0) return "due now";
    if (left < 60) return left.toFixed(1) + " s";
    const minutes = Math.floor(left / 60);
    if (minutes < 60) return minutes + " min " + Math.floor(left % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // "Ends in": a holder's lease expiry, a waiter's wait deadline.
  const columns = ["State", "Title", "Mode", "Fencing token", "Since", "Ends in", "Action"];

  function resourceSection(name) {
    const section = element("section", "resource");
    section.dataset.resource = name;
    const id = "resource-" + name;
    section.setAttribute("aria-labelledby", id);
    const head = element("div", "resource-head");
    const title = element("h2");
    title.id = id;
    title.append(element("span", "name", name), element("span", "counts"));
    const remove = element("button", "danger delete-resource", "Delete resource");
    remove.type = "button";
    remove.setAttribute("aria-label", "Delete resource " + name + " and all its locks");
    remove.addEventListener("click", () => confirmDelete(
      "Delete resource " + name + "?",
      "Every lock on " + name + " is dropped: its holders lose it and its waiters get 409.",
      origin + "/resources/" + encodeURIComponent(name), remove));
    head.append(title, remove);
    const table = element("table");
    table.append(element("caption", "", "Holders first, then waiters in queue order"));
    const headRow = element("tr");
    for (const column of columns) {
      const th = element("th", "", column);
      th.scope = "col";
      headRow.append(th);
    }
    const thead = element("thead");
    thead.append(headRow);
    table.append(thead, element("tbody"));
    section.append(head, table);
    return section;
  }

  function lockRow(name, lock) {
    const row = element("tr", "lock");
    row.dataset.uid = lock.uid;
    const cells = ["state", "title", "mode", "token", "since", "countdown", "action"];
    cells.forEach((cls, index) => {
      const cell = element("td", cls);
      cell.dataset.label = columns[index];
      row.append(cell);
    });
    const remove = element("button", "danger delete-lock", "Delete");
    remove.type = "button";
    row.querySelector(".action").append(remove);
    remove.addEventListener("click", () => {
      const current = row.lock;
      const who = current.title ? "“" + current.title + "”" : "untitled lock " + current.uid;
      confirmDelete(
        "Delete lock " + who + " on " + name + "?",
        current.active
          ? "The holder loses the lock; the next waiter, if any, gets it."
          : "The waiter leaves the queue and gets 409.",
        origin + ((current._links && current._links.self && current._links.self.href) || ("/locks/" + name + "/" + current.uid)),
        remove);
    });
    return row;
  }

  function updateRow(row, name, lock, position) {
    row.lock = lock;
    row.classList.toggle("holding", !!lock.active);
    row.classList.toggle("waiting", !lock.active);
    const state = row.querySelector(".state");
    const badgeText = lock.active ? "holder" : "waiter #" + position;
    let badge = state.firstChild;
    if (!badge) {
      badge = element("span", "role");
      state.append(badge);
    }
    badge.className = "role " + (lock.active ? "holder" : "waiter");
    setText(badge, badgeText);
    setText(row.querySelector(".title"), lock.title || "(untitled)");
    setText(row.querySelector(".mode"), lock.mode || "exclusive");
    setText(row.querySelector(".token"), lock.active && lock.fencing_token !== undefined ? String(lock.fencing_token) : "—");
    const since = row.querySelector(".since");
    setText(since, (lock.active ? "held since " : "waiting since ") + sinceText(lock));
    const countdown = row.querySelector(".countdown");
    countdown.dataset.expires = String(parseTime(lock.active ? lock.active_expires : lock.wait_expires));
    countdown.dataset.kind = lock.active ? "lifetime" : "wait";
    const button = row.querySelector(".delete-lock");
    const label = "Delete lock " + (lock.title || lock.uid) + " on " + name;
    if (button.getAttribute("aria-label") !== label) button.setAttribute("aria-label", label);
  }

  // Moves `child` to position `index` of `parent` only if it is not there: moving a
  // focused button would take the keyboard focus away from it.
  function place(parent, child, index) {
    if (parent.children[index] !== child) parent.insertBefore(child, parent.children[index] || null);
  }

  function render() {
    const names = Array.from(resources.keys()).sort();
    const wanted = filter.value.trim().toLowerCase();
    const shown = names.filter((name) => name.toLowerCase().includes(wanted));
    const existing = new Map();
    for (const section of list.children) existing.set(section.dataset.resource, section);
    shown.forEach((name, index) => {
      let section = existing.get(name);
      existing.delete(name);
      if (!section) section = resourceSection(name);
      place(list, section, index);
      fillSection(section, name, resources.get(name));
    });
    for (const section of existing.values()) section.remove();
    const total = names.length;
    setText(summary, !haveSnapshot ? "Waiting for the daemon's locks…" : wanted
      ? shown.length + " of " + total + " resources match"
      : total + (total === 1 ? " resource" : " resources"));
    empty.hidden = !haveSnapshot || total !== 0;
    tick();
  }

  function fillSection(section, name, entry) {
    const body = section.querySelector("tbody");
    const rows = new Map();
    for (const row of body.children) rows.set(row.dataset.uid, row);
    const locks = entry.holders.concat(entry.waiters);
    locks.forEach((lock, index) => {
      let row = rows.get(lock.uid);
      rows.delete(lock.uid);
      if (!row) row = lockRow(name, lock);
      place(body, row, index);
      updateRow(row, name, lock, index - entry.holders.length + 1);
    });
    for (const row of rows.values()) row.remove();
    setText(section.querySelector(".counts"),
      entry.holders.length + (entry.holders.length === 1 ? " holder, " : " holders, ") +
      entry.waiters.length + (entry.waiters.length === 1 ? " waiter" : " waiters"));
  }

  // The countdowns, ten times a second.
  function tick() {
    for (const cell of list.querySelectorAll("td.countdown")) {
      const text = countdownText(Number(cell.dataset.expires));
      setText(cell, text);
      cell.classList.toggle("expired", text === "due now");
    }
  }

  // MARK: deleting

  let pending = null;

  function confirmDelete(title, text, url, opener) {
    pending = { url, opener, title };
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    dialog.showModal();
    $("confirm-cancel").focus();
  }

  function closeDialog() {
    const opener = pending && pending.opener;
    dialog.close();
    if (opener && opener.isConnected) opener.focus();
  }

  $("confirm-cancel").addEventListener("click", () => {
    closeDialog();
    pending = null;
  });

  dialog.addEventListener("cancel", () => {
    pending = null;
  });

  $("confirm-delete").addEventListener("click", async () => {
    const request = pending;
    closeDialog();
    pending = null;
    if (!request) return;
    setText(actionStatus, "Deleting…");
    try {
      const response = await fetch(request.url, { method: "DELETE", headers: { Accept: "application/json" } });
      if (response.ok) {
        setText(actionStatus, "Deleted: " + request.title.replace(/^Delete /, "").replace(/\?$/, ""));
      } else {
        let message = "";
        try {
          const body = await response.json();
          message = body && body.error ? body.error : "";
        } catch (error) {
          message = "";
        }
        setText(actionStatus, "Not deleted (" + response.status + (message ? ": " + message : "") + ").");
      }
    } catch (error) {
      setText(actionStatus, "Not deleted: rdlmd did not answer.");
    }
  });

  filter.addEventListener("input", render);

  setInterval(tick, 100);
  render();
  connect();
})();
