// Stripe's Payment Element for cards: the card details go from this page to Stripe, and only
// the PaymentMethod id Stripe returns is posted to our server. Runs before checkout.js's
// double-press guard sees the final submit.
(function () {
  "use strict";
  var mount = document.getElementById("payment-element");
  var form = document.getElementById("checkout-form");
  if (!mount || !form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(mount.getAttribute("data-publishable-key"));
  var elements = stripe.elements({
    mode: "payment",
    amount: parseInt(mount.getAttribute("data-amount"), 10),
    currency: mount.getAttribute("data-currency"),
    paymentMethodCreation: "manual",
    paymentMethodTypes: ["card"],
    locale: document.documentElement.lang === "zh-hans" ? "zh" : "en"
  });
  elements.create("payment").mount(mount);
  var errors = document.getElementById("card-errors");
  var tokenInput = document.getElementById("id_payment_method");
  var ready = false;
  form.addEventListener("submit", function (event) {
    var chosen = form.querySelector("input[name=method]:checked");
    if (ready || !chosen || chosen.value !== "card") { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    elements.submit().then(function (result) {
      if (result.error) { throw result.error; }
      return stripe.createPaymentMethod({ elements: elements });
    }).then(function (result) {
      if (result.error) { throw result.error; }
      tokenInput.value = result.paymentMethod.id;
      ready = true;
      form.requestSubmit();
    }).catch(function (error) {
      errors.textContent = error.message || "";
    });
  }, true);
})();
