// A "Print" button for pages that print well (the subject access summary). Hidden until
// this runs, so without JavaScript the page offers only what works: the browser's own print.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
