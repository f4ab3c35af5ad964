/* The cashier's pages (no framework; htmx does the live search).
 * A money form is sent once: after the first submit its button is disabled, so a double click
 * sends one request. The server does not rely on it: the form's idempotency key makes a resent
 * request return the first payment.
 */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = form.querySelector("[data-once]");
    if (!button) return;
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    window.setTimeout(function () {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }, 0);
  });
})();
