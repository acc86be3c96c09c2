// hitl's service worker: shows the Web Push notifications of pauses and handles their
// Review and Approve actions. It caches nothing: the page works online only.
"use strict";

const ICON = "/assets/icons/app-192.png";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// Only pages of this site are opened, whatever a message says.
function localUrl(url) {
  try {
    const u = new URL(url, self.location.origin);
    return new URL(u.pathname + u.search, self.location.origin).href;
  } catch (e) {
    return new URL("/", self.location.origin).href;
  }
}

self.addEventListener("push", function (event) {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  const title = typeof data.title === "string" ? data.title.slice(0, 100) : "hitl";
  const approve = typeof data.approve === "string" ? data.approve : null;
  const actions = [{ action: "review", title: "Review" }];
  if (approve) actions.push({ action: "approve", title: "Approve" });
  event.waitUntil(self.registration.showNotification(title, {
    body: typeof data.body === "string" ? data.body.slice(0, 1000) : "A pause waits for you.",
    tag: typeof data.tag === "string" ? data.tag : undefined,
    renotify: typeof data.tag === "string",
    requireInteraction: data.urgent === true,
    icon: ICON,
    badge: ICON,
    actions: actions,
    data: { url: localUrl(data.url || "/"), approve: approve, tag: data.tag },
  }));
});

// Focuses a window already on the page, else opens one.
function openPage(url) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (const w of windows) {
      if (w.url === url && "focus" in w) return w.focus();
    }
    return self.clients.openWindow(url);
  });
}

function tell(title, body, data) {
  return self.registration.showNotification(title, {
    body: body, tag: data.tag, icon: ICON, badge: ICON, data: { url: data.url },
  });
}

// Approve with the reviewer's session (the cookie goes along): without one, or if
// anything goes wrong on the way, the review page opens instead.
function approve(data) {
  return fetch("/push/approve", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: data.approve }),
  }).then(function (r) {
    return r.json().catch(function () { return {}; }).then(function (body) {
      if (r.status === 401) return openPage(data.url);
      if (r.ok) return tell("Approved", body.message || "Approved.", data);
      const why = (body.error && body.error.message) || ("HTTP " + r.status);
      return tell("Not approved", why + " Tap to open the pause.", data);
    });
  }).catch(function () { return openPage(data.url); });
}

self.addEventListener("notificationclick", function (event) {
  const notification = event.notification;
  const data = notification.data || {};
  notification.close();
  if (event.action === "approve" && data.approve) {
    event.waitUntil(approve(data));
  } else {
    event.waitUntil(openPage(data.url || new URL("/", self.location.origin).href));
  }
});
