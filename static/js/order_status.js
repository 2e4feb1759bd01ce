// Live order status: a websocket pushes changes; if it cannot connect, poll by reloading.
(function () {
  "use strict";
  var box = document.getElementById("order-status");
  if (!box) { return; }
  var number = box.getAttribute("data-order");
  var current = box.getAttribute("data-status");
  var currentAttempt = box.getAttribute("data-attempt");
  var polling = null;
  function poll() { if (!polling) { polling = setInterval(function () { window.location.reload(); }, 5000); } }
  try {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/orders/" + encodeURIComponent(number) + "/");
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if ((data.status && data.status !== current) || (data.attempt && data.attempt !== currentAttempt)) {
        window.location.reload();
      }
    };
    socket.onerror = poll;
    socket.onclose = poll;
  } catch (e) { poll(); }
})();
