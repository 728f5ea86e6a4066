/* The schedule's Print button. A file rather than an onclick attribute, so the admin's
   Content-Security-Policy needs no inline script. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest(".schedule-print")) { window.print(); }
  });
})();
