// omnix dashboard: a little JavaScript on top of pages that work without it.
// After htmx swaps a region (filters, sorting, paging), move focus to the region's heading
// so keyboard and screen-reader users land on the new content, and announce what changed.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail && event.detail.target;
    if (!region || !region.id) { return; }
    var fresh = document.getElementById(region.id) || region;
    var heading = fresh.querySelector("h2[tabindex='-1']");
    if (heading) { heading.focus(); }
    var status = document.getElementById("live-status");
    // a region that polls (an analysis run) announces only what changed
    if (status && fresh.dataset.status && status.textContent !== fresh.dataset.status) {
      status.textContent = fresh.dataset.status;
    }
  });
})();
