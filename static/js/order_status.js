// Live order status: a websocket pushes changes at once; a light poll every 5 s catches what the
// socket cannot (it is down, or the worker that settled the payment has no channel to this page).
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
  function changed(data) {
    return (data.status && data.status !== current) ||
      (data.attempt && data.attempt !== currentAttempt);
  }
  function check(data) { if (changed(data)) { window.location.reload(); } }
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
