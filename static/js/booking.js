/* Booking pages, made smoother when JavaScript runs. Everything works without it:
   links and forms carry the choice in the address.
   - The day strip and week buttons load the next view in place (no full reload) and
     keep the address and the back button right.
   - Submit buttons show that something is happening and cannot be pressed twice. */
(function () {
  "use strict";

  function swapTimes(url, push) {
    var region = document.getElementById("booking-times");
    if (!region) { window.location.href = url; return; }
    region.classList.add("is-loading");
    region.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("booking-times");
        if (!fresh) { throw new Error("no times"); }
        region.replaceWith(fresh);
        if (push) { history.pushState({ bookingTimes: true }, "", url); }
        var heading = document.getElementById("times-heading");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
      })
      .catch(function () { window.location.href = url; });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-swap]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    swapTimes(link.href, true);
  });

  window.addEventListener("popstate", function () {
    if (document.getElementById("booking-times")) { swapTimes(window.location.href, false); }
  });

  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("button[data-busy-label]");
    if (!button) { return; }
    if (button.dataset.busy) { event.preventDefault(); return; }
    button.dataset.busy = "1";
    button.setAttribute("aria-disabled", "true");
    button.textContent = button.dataset.busyLabel;
  });

  var errors = document.getElementById("form-errors");
  if (errors) { errors.focus(); }
})();
