// The Account page's "Notifications on this device": asks the browser for permission,
// subscribes with the server's VAPID key and hands the subscription to hitl (or
// withdraws it). The service worker itself is registered by app.js on every page.
"use strict";

(function () {
  const section = document.querySelector("[data-push]");
  if (!section) return;
  const status = section.querySelector("[data-push-status]");
  const on = section.querySelector("[data-push-on]");
  const off = section.querySelector("[data-push-off]");
  const offAll = section.querySelector("[data-push-off-all]");
  const count = section.querySelector("[data-push-devices]");
  const unsupported = section.querySelector("[data-push-unsupported]");

  function say(text, bad) {
    status.hidden = false;
    status.textContent = text;
    status.classList.toggle("error", !!bad);
  }

  function devices(n) {
    if (typeof n !== "number") return;
    count.textContent = String(n);
    const rest = count.nextSibling;
    if (rest) rest.textContent = n === 1 ? " browser." : " browsers.";
    if (offAll) offAll.hidden = n === 0;
  }

  function show(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
  }

  // The VAPID key as the bytes `applicationServerKey` wants.
  function keyBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
    return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": section.dataset.csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) throw new Error((json.error && json.error.message) || ("HTTP " + r.status));
        return json;
      });
    });
  }

  if (offAll) {
    offAll.addEventListener("click", function () {
      post("/account/push/remove", { all: true })
        .then(function (json) {
          devices(json.devices);
          say("Notifications are off in every browser.");
          return navigator.serviceWorker && navigator.serviceWorker.ready
            .then(function (reg) { return reg.pushManager.getSubscription(); })
            .then(function (sub) { show(false); return sub && sub.unsubscribe(); });
        })
        .catch(function (e) { say(e.message, true); });
    });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) return;
  unsupported.hidden = true;

  const ready = navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .then(function () { return navigator.serviceWorker.ready; });
  ready.then(function (reg) { return reg.pushManager.getSubscription(); })
    .then(function (sub) { show(!!sub); })
    .catch(function () { show(false); });

  on.addEventListener("click", function () {
    on.disabled = true;
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          throw new Error("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
        }
        return ready;
      })
      .then(function (reg) {
        const key = keyBytes(section.dataset.vapidKey);
        // A subscription made for another key (an older server) is replaced.
        return reg.pushManager.getSubscription()
          .then(function (old) { return old && old.unsubscribe(); })
          .then(function () { return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }); });
      })
      .then(function (sub) { return post("/account/push", sub.toJSON()); })
      .then(function (json) {
        devices(json.devices);
        show(true);
        say("Notifications are on in this browser.");
      })
      .catch(function (e) { say("Could not turn notifications on: " + e.message, true); })
      .finally(function () { on.disabled = false; });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    ready.then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) return { devices: undefined };
        const endpoint = sub.endpoint;
        return sub.unsubscribe().then(function () { return post("/account/push/remove", { endpoint: endpoint }); });
      })
      .then(function (json) {
        devices(json.devices);
        show(false);
        say("Notifications are off in this browser.");
      })
      .catch(function (e) { say("Could not turn notifications off: " + e.message, true); })
      .finally(function () { off.disabled = false; });
  });
})();
