// claimflow console: small progressive enhancements only; every page works without JavaScript.
(function () {
  "use strict";
  // Filters apply as soon as a select changes (the Filter button stays for keyboard and no-JS users).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  // Printing opens every "the numbers" table so the paper copy has them.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.numbers").forEach(function (d) { d.open = true; });
  });
})();
