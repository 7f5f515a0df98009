// The case page's countdowns: each [data-due] shows the time left (or overdue) every second,
// in the browser, so no clock traffic crosses the websocket.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), r = s % 60;
    return (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(r);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = (left >= 0 ? el.dataset.left + " " : el.dataset.overdue + " ") + span(left);
      el.classList.toggle("case-overdue", left < 0);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
