// Live progress of a running evaluation: polls the console's status endpoint (the
// API's evaluation body) and reloads the page once the evaluation has finished.
// The page works without this script; it only saves the reloads.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var url = live.getAttribute("data-status-url");
  var bar = document.getElementById("progress");
  var pct = document.getElementById("progress-pct");
  var status = document.getElementById("status");
  var hint = live.querySelector(".js-only");
  if (hint) hint.hidden = false;
  var delay = 500;
  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (body) {
        bar.value = body.progress;
        bar.textContent = pct.textContent = (body.progress * 100).toFixed(2) + "%";
        status.textContent = document.getElementById("progress-status").textContent = body.status;
        status.className = "status status-" + body.status;
        if (body.status === "completed" || body.status === "failed") { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 2000);
        setTimeout(tick, delay);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, delay);
})();
