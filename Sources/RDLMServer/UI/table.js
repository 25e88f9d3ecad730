// rdlm's admin page: the resources and their locks as tables (a card per lock on a phone),
// their countdowns, and deleting after a confirmation. Loaded before app.js, which feeds it
// the state it keeps from GET /events. Every text from the daemon goes into the page as
// text (textContent), never as markup.
"use strict";

/**
 * The lock tables of the page. `env` gives `origin` (where the deletes go), `state`
 * ({resources: Map of name -> {holders, waiters}, haveSnapshot}), `serverNow()`,
 * `parseTime(text)` and `clockText(ms)`.
 */
window.RDLMTable = function (env) {
  const { origin, state, serverNow, parseTime, clockText } = env;
  const $ = (id) => document.getElementById(id);
  const list = $("resources");
  const filter = $("filter");
  const summary = $("summary");
  const empty = $("empty");
  const actionStatus = $("action-status");
  const dialog = $("confirm");

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

  // A keyboard user whose focus was in what goes (the lock just deleted) is not dropped at
  // the top of the page: the focus moves to the filter box.
  function removeKeepingFocus(node) {
    const hadFocus = node.contains(document.activeElement);
    node.remove();
    if (hadFocus) filter.focus();
  }

  function render() {
    const resources = state.resources;
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
    for (const section of existing.values()) removeKeepingFocus(section);
    const total = names.length;
    setText(summary, !state.haveSnapshot ? "Waiting for the daemon's locks…" : wanted
      ? shown.length + " of " + total + " resources match"
      : total + (total === 1 ? " resource" : " resources"));
    empty.hidden = !state.haveSnapshot || total !== 0;
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
    for (const row of rows.values()) removeKeepingFocus(row);
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
  return { render };
};
