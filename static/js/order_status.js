// Live order status. Every change the server pushes over the websocket (and, when the socket is
// down or the worker that settled the payment has no channel to this page, what a light poll
// every 5 s finds) updates the status box in place: the page is fetched again and its box
// swapped in, so the words are the server's own. A full reload is only the fallback when that
// fetch fails. Without JavaScript a <noscript> meta refresh does the updating instead.
(function () {
  "use strict";
  var box = document.getElementById("order-status");
  if (!box) { return; }
  // Back from the provider's page: ask it now. A POST, because asking may settle the payment;
  // the GET that brought the customer here writes nothing. Without JavaScript: the button.
  var checkNow = document.querySelector("form[data-check-now]");
  if (checkNow) { checkNow.submit(); return; }
  var number = box.getAttribute("data-order");
  var current = box.getAttribute("data-status");
  var currentAttempt = box.getAttribute("data-attempt");
  var busy = false;
  var again = false;

  function changed(data) {
    return (data.status && data.status !== current) ||
      (data.attempt && data.attempt !== currentAttempt);
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("order-status");
    if (!fresh) { throw new Error("no status box"); }
    // The box is role=status / aria-live=polite: the new words are announced.
    box.innerHTML = fresh.innerHTML;
    box.className = fresh.className;
    current = fresh.getAttribute("data-status");
    currentAttempt = fresh.getAttribute("data-attempt");
    box.setAttribute("data-status", current);
    box.setAttribute("data-attempt", currentAttempt);
  }

  function refresh() {
    if (busy) { again = true; return; }  // one fetch at a time; a change meanwhile fetches again
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(swap)
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      })
      .catch(function () { window.location.reload(); });
  }

  function check(data) { if (changed(data)) { refresh(); } }

  var url = "/orders/" + encodeURIComponent(number) + "/status.json" + window.location.search;
  setInterval(function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(check)
      .catch(function () {});
  }, 5000);
  try {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // A page opened from an emailed link has only the link's key to show it may listen.
    var key = new URLSearchParams(window.location.search).get("key");
    var query = key ? "?key=" + encodeURIComponent(key) : "";
    var socket = new WebSocket(scheme + window.location.host + "/ws/orders/" + encodeURIComponent(number) + "/" + query);
    socket.onmessage = function (message) { check(JSON.parse(message.data)); };
  } catch (e) { /* the poll above still runs */ }
})();
