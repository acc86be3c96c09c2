// hitl: the one small script. Everything works without it; it adds live updates,
// copy buttons, the raw-JSON toggle, fresh relative times and confirmations.
// It never inserts text as HTML except the queue list, which the server rendered
// and escaped.
"use strict";

(function () {
  // ---- relative times, as the server words them ----
  function relative(at, now) {
    const secs = Math.round((at - now) / 1000);
    const future = secs > 0;
    const n = Math.abs(secs);
    if (n < 45) return future ? "in a few seconds" : "just now";
    let amount;
    if (n < 90 * 60) amount = Math.max(1, Math.ceil(n / 60)) + " min";
    else if (n < 36 * 3600) { const h = Math.floor((n + 1800) / 3600); amount = h + (h === 1 ? " hour" : " hours"); }
    else { const d = Math.floor((n + 43200) / 86400); amount = d + (d === 1 ? " day" : " days"); }
    return future ? "in " + amount : amount + " ago";
  }

  function refreshTimes(root) {
    const now = Date.now();
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.closest("ol.events, table.audit")) return; // exact times stay exact
      const at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      const prefix = el.dataset.prefix || "";
      el.textContent = prefix + relative(at, now);
      if (el.classList.contains("expiry")) el.classList.toggle("soon", at - now < 10 * 60 * 1000);
    });
  }

  // ---- copy ----
  function copyText(text, button) {
    function done(ok) {
      const old = button.getAttribute("aria-label");
      button.dataset.copied = ok ? "yes" : "no";
      button.setAttribute("aria-label", ok ? "Copied" : "Copy failed");
      if (!button.querySelector("svg")) {
        const label = button.textContent;
        button.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(function () { button.textContent = label; }, 1500);
      }
      setTimeout(function () { if (old) button.setAttribute("aria-label", old); }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      return;
    }
    // Plain http on a network address: the old way.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    done(ok);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (button) copyText(button.dataset.copy, button);
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-all]")) event.target.select();
  });

  // ---- raw JSON toggle: tree or raw, one at a time ----
  const toggle = document.querySelector("[data-toggle-raw]");
  const tree = document.querySelector("[data-tree]");
  const raw = document.querySelector("[data-raw]");
  if (toggle && tree && raw) {
    toggle.hidden = false;
    raw.hidden = true;
    toggle.addEventListener("click", function () {
      const showRaw = raw.hidden;
      raw.hidden = !showRaw;
      raw.open = showRaw;
      tree.hidden = showRaw;
      toggle.textContent = showRaw ? "Tree" : "Raw";
    });
  }

  // ---- forms ----
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.matches("[data-decide]")) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "yes";
      const chosen = event.submitter;
      if (chosen && chosen.name) {
        // Disabled buttons are not sent: carry the choice in a hidden field.
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = chosen.name;
        hidden.value = chosen.value;
        form.appendChild(hidden);
        chosen.textContent = chosen.dataset.busy || "Sending…";
      }
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  // ---- live updates ----
  function setPending(n) {
    document.querySelectorAll("[data-pending-count]").forEach(function (el) {
      el.textContent = String(n);
      el.classList.toggle("zero", n === 0);
    });
    document.querySelectorAll("[data-pending-label]").forEach(function (el) { el.textContent = n + " pending"; });
    const base = document.body.dataset.title;
    if (base) document.title = n > 0 ? "(" + n + ") " + base : base;
  }

  const queue = document.getElementById("queue-list");
  const review = document.querySelector("article.review[data-status='pending']");
  const statusWords = { approved: "approved", rejected: "rejected", answered: "answered", expired: "expired", cancelled: "cancelled" };

  let refreshing = false;
  let again = false;
  function refreshQueue(resolved) {
    if (!queue) return;
    if (refreshing) { again = true; return; }
    refreshing = true;
    // Show what happened to pauses that leave before they go.
    Object.keys(resolved).forEach(function (id) {
      const row = queue.querySelector("li.row[data-watch-id='" + CSS.escape(id) + "']");
      if (!row || row.classList.contains("leaving")) return;
      row.classList.add("leaving");
      const badge = document.createElement("span");
      badge.className = "badge badge-" + resolved[id] + " row-status";
      badge.textContent = statusWords[resolved[id]] || resolved[id];
      const action = row.querySelector(".row-action");
      if (action) action.appendChild(badge);
    });
    const delay = Object.keys(resolved).length ? 1800 : 0;
    fetch("/fragments/queue", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        setTimeout(function () {
          const known = new Set(Array.from(queue.querySelectorAll("li.row")).map(function (r) { return r.dataset.watchId; }));
          const doc = new DOMParser().parseFromString(html, "text/html");
          const fresh = doc.getElementById("queue-list");
          if (!fresh) return;
          fresh.querySelectorAll("li.row").forEach(function (row) {
            if (!known.has(row.dataset.watchId)) row.classList.add("entering");
          });
          queue.replaceChildren.apply(queue, Array.from(fresh.childNodes));
          setPending(parseInt(fresh.dataset.pending || "0", 10));
          refreshTimes(queue);
        }, delay);
      })
      .catch(function () { /* the next event or a reload will catch up */ })
      .finally(function () {
        setTimeout(function () {
          refreshing = false;
          if (again) { again = false; refreshQueue({}); }
        }, delay);
      });
  }

  function decidedElsewhere(status) {
    const form = document.querySelector("form[data-decide]");
    if (!form || form.dataset.sent) return;
    form.querySelectorAll("button, textarea").forEach(function (el) { el.disabled = true; });
    const note = document.createElement("div");
    note.className = "notice warn";
    note.setAttribute("role", "alert");
    note.textContent = "This pause was just " + (statusWords[status] || status) + " elsewhere. ";
    const link = document.createElement("a");
    link.href = window.location.pathname;
    link.textContent = "Show the decision";
    note.appendChild(link);
    form.parentNode.insertBefore(note, form);
  }

  if ((queue || review) && window.EventSource) {
    const live = document.querySelector("[data-live]");
    const source = new EventSource("/events");
    source.onopen = function () { if (live) live.classList.add("on"); };
    source.onerror = function () { if (live) live.classList.remove("on"); };
    source.addEventListener("pause", function (message) {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (queue) {
        const resolved = {};
        if (event.kind === "resolved") resolved[event.watchId] = event.status;
        refreshQueue(resolved);
      }
      if (review && event.kind === "resolved" && event.watchId === review.dataset.watchId) {
        decidedElsewhere(event.status);
      }
    });
    source.addEventListener("resync", function () { refreshQueue({}); });
  }

  refreshTimes(document);
  setInterval(function () { refreshTimes(document); }, 30000);
})();
