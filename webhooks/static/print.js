// "Print the slip" (walk-in desk): the browser's print dialog; visits.css prints the slip alone.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
