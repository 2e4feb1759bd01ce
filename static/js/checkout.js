// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  // Move focus to an error summary or failure box so screen readers announce it first.
  var box = document.querySelector("[data-focus-on-load]");
  if (box) { box.focus(); }

  // Inline hints while typing: shown when a field is left, never blocking the submit. The server
  // checks everything again and its messages are the ones that count.
  var emailPattern = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
  function hint(input) {
    var message = "";
    var value = input.value.trim();
    if (!value && input.hasAttribute("data-msg-required")) {
      message = input.getAttribute("data-msg-required");
    } else if (value && input.type === "email" && !emailPattern.test(value)) {
      message = input.getAttribute("data-msg-invalid");
    }
    var id = input.id + "-error";
    var box = document.getElementById(id);
    if (!message) {
      if (box && box.hasAttribute("data-inline")) { box.remove(); input.removeAttribute("aria-invalid"); }
      return;
    }
    if (!box) {
      box = document.createElement("p");
      box.className = "error";
      box.id = id;
      box.setAttribute("data-inline", "");
      input.parentNode.insertBefore(box, input);
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(id) < 0) { described.unshift(id); }
      input.setAttribute("aria-describedby", described.join(" "));
    }
    box.textContent = message;
    input.setAttribute("aria-invalid", "true");
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-msg-required], input[data-msg-invalid]"), function (input) {
    input.addEventListener("blur", function () { hint(input); });
  });

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
