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
  Array.prototype.forEach.call(document.querySelectorAll("input[data-msg-required], input[data-msg-invalid], input[data-card-methods]"), function (input) {
    input.addEventListener("blur", function () { hint(input); });
  });

  // The card number is required for card methods only: the label's "(optional)" and the
  // required state follow the chosen method, as the server decides it on submit.
  var card = document.querySelector("input[data-card-methods]");
  if (card) {
    var cardMethods = card.getAttribute("data-card-methods").split(" ");
    var label = document.querySelector('label[for="' + card.id + '"]');
    var follow = function () {
      var chosen = document.querySelector('input[name="method"]:checked');
      var needed = !!chosen && cardMethods.indexOf(chosen.value) >= 0;
      var optional = label ? label.querySelector(".optional") : null;
      if (needed) {
        card.required = true;
        card.setAttribute("aria-required", "true");
        card.setAttribute("data-msg-required", card.getAttribute("data-msg-card"));
        if (optional) {
          var before = optional.previousSibling;
          optional.remove();
          if (before && before.nodeType === Node.TEXT_NODE) {
            before.textContent = before.textContent.replace(/\s+$/, "");
          }
        }
      } else {
        card.required = false;
        card.removeAttribute("aria-required");
        card.removeAttribute("data-msg-required");
        var inline = document.getElementById(card.id + "-error");
        if (inline && inline.hasAttribute("data-inline")) { inline.remove(); card.removeAttribute("aria-invalid"); }
        if (label && !optional) {
          var span = document.createElement("span");
          span.className = "optional";
          span.textContent = card.getAttribute("data-optional-text");
          label.appendChild(document.createTextNode(" "));
          label.appendChild(span);
        }
      }
    };
    Array.prototype.forEach.call(document.querySelectorAll('input[name="method"]'), function (radio) {
      radio.addEventListener("change", follow);
    });
    follow();
  }

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
