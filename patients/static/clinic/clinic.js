/* Keyboard helpers of the clinical pages (no framework; htmx does the requests).
 * - ICD-10 picker: Enter or ArrowDown in the search box goes to the first suggestion; choosing a
 *   suggestion fills the main code or adds a secondary code, then returns focus to that field.
 * - Ctrl+Enter in a text area submits its section (Enter alone starts a new line there).
 * - The conclusion form shows the fields of the chosen outcome.
 * - "Thêm dòng" adds a row to a result formset.
 */
(function () {
  "use strict";

  function fieldOf(form, which) {
    return form.querySelector('[data-icd-field="' + which + '"]');
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-icd-code]");
    if (!button) return;
    event.preventDefault();
    var form = button.closest("form");
    var code = button.getAttribute("data-icd-code");
    var which = button.getAttribute("data-icd-target") || "main";
    var input = fieldOf(form, which);
    if (!input) return;
    if (which === "secondary") {
      var codes = input.value.split(/[\s,;]+/).filter(Boolean);
      if (codes.indexOf(code) < 0) codes.push(code);
      input.value = codes.join(", ");
    } else {
      input.value = code;
    }
    input.dispatchEvent(new Event("change", { bubbles: true }));
    var list = button.closest(".icd-results");
    if (list) list.innerHTML = "";
    var search = form.querySelector("[data-icd-search]");
    if (search) search.value = "";
    input.focus();
  });

  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-icd-search]")) {
      if (event.key === "Enter" || event.key === "ArrowDown") {
        event.preventDefault();
        var first = document.querySelector(el.getAttribute("data-results") + " [data-icd-code]");
        if (first) first.focus();
      }
      return;
    }
    if (el.matches && el.matches(".icd-results [data-icd-code]")) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var all = Array.prototype.slice.call(el.closest(".icd-results").querySelectorAll("[data-icd-code]"));
        var i = all.indexOf(el) + (event.key === "ArrowDown" ? 1 : -1);
        if (all[i]) all[i].focus();
      }
      return;
    }
    if (el.tagName === "TEXTAREA" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var form = el.closest("form");
      if (form) form.requestSubmit();
    }
  });

  function syncConclusion(root) {
    (root || document).querySelectorAll("[data-conclusion-form]").forEach(function (form) {
      var checked = form.querySelector('input[name$="conclusion"]:checked');
      var value = checked ? checked.value : "";
      form.querySelectorAll("[data-when]").forEach(function (box) {
        box.hidden = box.getAttribute("data-when").split(" ").indexOf(value) < 0;
      });
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.closest("[data-conclusion-form]")) syncConclusion();
  });
  document.addEventListener("DOMContentLoaded", function () { syncConclusion(); });
  document.addEventListener("htmx:load", function (event) { syncConclusion(event.target); });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (!button) return;
    event.preventDefault();
    var prefix = button.getAttribute("data-add-row");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var body = document.getElementById(prefix + "-rows");
    var last = body.querySelector("tr:last-child");
    if (!total || !last) return;
    var n = parseInt(total.value, 10);
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      ["name", "id"].forEach(function (attr) {
        var v = input.getAttribute(attr);
        if (v) input.setAttribute(attr, v.replace(/-\d+-/, "-" + n + "-"));
      });
      input.value = "";
    });
    row.querySelectorAll("label").forEach(function (label) {
      var v = label.getAttribute("for");
      if (v) label.setAttribute("for", v.replace(/-\d+-/, "-" + n + "-"));
    });
    body.appendChild(row);
    total.value = n + 1;
    var first = row.querySelector("input");
    if (first) first.focus();
  });
})();
