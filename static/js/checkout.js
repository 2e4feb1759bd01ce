// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  // Move focus to an error summary or failure box so screen readers announce it first.
  var box = document.querySelector("[data-focus-on-load]");
  if (box) { box.focus(); }

  // One press of Pay: the button says we are confirming and further presses do nothing.
  // The server is the real guard (one idempotency key per form); this only spares a wait.
  var form = document.getElementById("checkout-form");
  if (!form) { return; }
  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    var button = form.querySelector(".pay-button");
    if (button) {
      button.textContent = button.getAttribute("data-pending-text");
      button.setAttribute("aria-disabled", "true");
    }
  });
})();
