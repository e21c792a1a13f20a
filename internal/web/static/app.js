// qvt dashboard: small conveniences only; every page works without it.
(function () {
  "use strict";
  // Filter forms leave empty fields out of the URL, so that a shared
  // link holds only what was chosen.
  document.querySelectorAll("form.filters, form.jump").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (el) {
        var unset = el.type === "checkbox" ? !el.checked : el.value === "" || el.value === el.dataset.default;
        if (unset) el.disabled = true;
      });
    });
  });
  // A new order applies at once.
  document.querySelectorAll("form.filters select[name=sort], form.filters select[name=dir]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.requestSubmit(); });
  });
  // "Link" copies the address of the current view.
  document.querySelectorAll("a.share").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (!navigator.clipboard) return;
      ev.preventDefault();
      navigator.clipboard.writeText(a.href).then(function () {
        a.textContent = "Link copied";
        setTimeout(function () { a.textContent = "Link"; }, 2000);
      });
    });
  });
  // The overview is being recomputed: look again in a few seconds.
  if (document.getElementById("stale")) {
    setTimeout(function () { location.reload(); }, 5000);
  }
})();
