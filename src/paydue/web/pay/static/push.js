// The push subscription page (/p/{token}/notifications): registers the service worker
// (/sw.js), asks for permission, subscribes with the VAPID public key of data-key and posts
// the subscription to data-action with the CSRF field of data-csrf. The "stop" form also ends
// the browser's subscription before it is sent. Texts come translated in data-* attributes.
(function () {
  "use strict";
  var box = document.getElementById("push");
  if (!box) {
    return;
  }
  var button = document.getElementById("push-subscribe");
  var status = document.getElementById("push-status");
  var stop = document.getElementById("push-stop");

  function say(key) {
    status.textContent = box.getAttribute("data-" + key) || "";
  }

  function serverKey(base64url) {
    var padded = base64url + "=".repeat((4 - (base64url.length % 4)) % 4);
    var raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  var supported =
    "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  if (stop && supported) {
    stop.addEventListener("submit", function (event) {
      event.preventDefault();
      navigator.serviceWorker
        .getRegistration("/")
        .then(function (registration) {
          return registration ? registration.pushManager.getSubscription() : null;
        })
        .then(function (subscription) {
          return subscription ? subscription.unsubscribe() : false;
        })
        .catch(function () {
          return false;
        })
        .then(function () {
          stop.submit();
        });
    });
  }

  if (!supported) {
    say("unsupported");
    return;
  }
  if (Notification.permission === "denied") {
    say("denied");
  }
  button.hidden = false;

  button.addEventListener("click", function () {
    button.disabled = true;
    say("working");
    // Permission first, while the click still counts as the payer's gesture.
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          throw new Error("denied");
        }
        return navigator.serviceWorker.register("/sw.js", { scope: "/" });
      })
      .then(function () {
        return navigator.serviceWorker.ready;
      })
      .then(function (registration) {
        return registration.pushManager.getSubscription().then(function (existing) {
          return (
            existing ||
            registration.pushManager.subscribe({
              userVisibleOnly: true,
              applicationServerKey: serverKey(box.getAttribute("data-key")),
            })
          );
        });
      })
      .then(function (subscription) {
        return fetch(box.getAttribute("data-action"), {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "X-CSRF-Token": box.getAttribute("data-csrf"),
          },
          body: JSON.stringify(subscription),
        });
      })
      .then(function (response) {
        if (response.status !== 204) {
          throw new Error("HTTP " + response.status);
        }
        say("done");
      })
      .catch(function (error) {
        say(error && error.message === "denied" ? "denied" : "failed");
        button.disabled = false;
      });
  });
})();
