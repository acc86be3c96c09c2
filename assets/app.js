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
      // "Approve with these changes": the JSON is checked here before it is sent (the
      // server checks it again, with the rules of a new pause's context).
      if (event.submitter && event.submitter.matches("[data-edit-submit]")) {
        const box = form.querySelector("[data-json-edit]");
        const error = form.querySelector("[data-json-error]");
        try {
          JSON.parse(box.value);
          if (error) { error.hidden = true; error.textContent = ""; }
        } catch (e) {
          event.preventDefault();
          if (error) { error.hidden = false; error.textContent = "This is not valid JSON: " + e.message; }
          box.focus();
          return;
        }
      }
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
    if (event.target.matches("[data-next-choice]")) {
      try { localStorage.setItem("hitl.next", event.target.checked ? "1" : ""); } catch (e) { /* private mode */ }
      nextLabels();
    }
    if (event.target.matches("[data-pick]")) pickCount();
  });

  // ---- the decision panel ----
  const decideForm = document.querySelector("form[data-decide]");
  const nextChoice = document.querySelector("[data-next-choice]");
  function nextLabels() {
    if (!nextChoice) return;
    document.querySelectorAll(".decide-buttons button").forEach(function (b) {
      const label = b.querySelector("[data-label]");
      if (!label) return;
      if (!label.dataset.plain) label.dataset.plain = label.textContent;
      label.textContent = label.dataset.plain + (nextChoice.checked ? " & next" : "");
    });
  }
  if (nextChoice) {
    try { nextChoice.checked = localStorage.getItem("hitl.next") === "1"; } catch (e) { /* private mode */ }
    nextLabels();
  }
  // On a phone the comment opens when wanted, so the panel leaves room to read.
  const fold = document.querySelector("[data-comment-fold]");
  if (fold && window.matchMedia("(max-width: 700px)").matches) {
    const area = fold.querySelector("textarea");
    if (area && !area.value) fold.open = false;
  }

  // ---- keyboard shortcuts on the review page ----
  const help = document.getElementById("shortcuts");
  const helpButton = document.querySelector("[data-shortcuts]");
  function showHelp() { if (help && !help.open) help.showModal(); }
  if (helpButton && help) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", showHelp);
  }
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function decideByKey(key) {
    if (!decideForm || decideForm.dataset.sent) return;
    const button = decideForm.querySelector("button[data-key='" + key + "']");
    if (!button || button.disabled) return;
    const action = (document.querySelector("h1.action") || {}).textContent || "this request";
    const verb = key === "a" ? "Approve" : "Reject";
    if (!window.confirm(verb + " \u201c" + action.trim().slice(0, 200) + "\u201d?")) return;
    if (decideForm.requestSubmit) decideForm.requestSubmit(button); else button.click();
  }
  if (document.querySelector("article.review")) {
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (typing(event.target) || (help && help.open)) return;
      let link;
      switch (event.key) {
        case "a": case "r": event.preventDefault(); decideByKey(event.key); break;
        case "j": link = document.querySelector("[data-next-pending]"); break;
        case "k": link = document.querySelector("[data-prev-pending]"); break;
        case "?": event.preventDefault(); showHelp(); break;
        default: return;
      }
      if (link) { event.preventDefault(); window.location.href = link.href; }
    });
  }

  // ---- the queue's selection ----
  function pickCount() {
    const n = document.querySelectorAll("[data-pick]:checked").length;
    document.querySelectorAll("[data-picked]").forEach(function (el) {
      el.textContent = n === 0 ? "Select pauses to decide several at once." : n + " selected";
    });
  }

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
          const picked = new Set(Array.from(queue.querySelectorAll("[data-pick]:checked")).map(function (c) { return c.value; }));
          const doc = new DOMParser().parseFromString(html, "text/html");
          const fresh = doc.getElementById("queue-list");
          if (!fresh) return;
          fresh.querySelectorAll("li.row").forEach(function (row) {
            if (!known.has(row.dataset.watchId)) row.classList.add("entering");
          });
          queue.replaceChildren.apply(queue, Array.from(fresh.childNodes));
          queue.querySelectorAll("[data-pick]").forEach(function (c) { c.checked = picked.has(c.value); });
          pickCount();
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

  // The pending count outside the queue (nav, title): asked of the queue fragment.
  let counting = false;
  function refreshCount() {
    if (counting) return;
    counting = true;
    fetch("/fragments/queue", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue-list");
        if (fresh) setPending(parseInt(fresh.dataset.pending || "0", 10));
      })
      .catch(function () { /* the next event will catch up */ })
      .finally(function () { counting = false; });
  }

  function decidedElsewhere(status) {
    const form = document.querySelector("form[data-decide]");
    if (!form || form.dataset.sent) return;
    form.querySelectorAll("button, textarea, input[type=checkbox]").forEach(function (el) { el.disabled = true; });
    // A form's fields sit above the panel and belong to it by id.
    if (form.id) {
      document.querySelectorAll("[form='" + form.id + "']").forEach(function (el) { el.disabled = true; });
    }
    // The status everywhere on the page, not only in the notice.
    const article = form.closest("article.review");
    if (article) article.dataset.status = status;
    const badge = document.querySelector("[data-status-badge] .badge");
    if (badge) {
      badge.className = "badge badge-" + status;
      badge.textContent = (statusWords[status] || status).toUpperCase();
    }
    document.querySelectorAll("details.cancel").forEach(function (d) { d.hidden = true; });
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
      if (!queue) refreshCount();
    });
    source.addEventListener("resync", function () { refreshQueue({}); });
  }

  // ---- the installed page: its service worker shows Web Push notifications ----
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* not offered here */ });
  }

  refreshTimes(document);
  setInterval(function () { refreshTimes(document); }, 30000);
})();
