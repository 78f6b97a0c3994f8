// Herald dashboard: reloads a page that asks for it (data-refresh on the
// body, in seconds) while notifications on it are pending, unless the
// reader is busy with a form or selecting text. Pages work without it: a
// <noscript> meta refresh reloads them regardless. The test event form's
// event picker shows the chosen sample at once (without script: its
// "Show its sample" button). A portal link's page submits its form at once
// (without script: its "Open the dashboard" button), once the page is shown
// for real rather than prerendered.
(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh"));
  function busy() {
    var a = document.activeElement;
    if (a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) {
      return true;
    }
    var sel = window.getSelection && window.getSelection();
    return !!(sel && String(sel) !== "");
  }
  if (every > 0) {
    window.setInterval(function () {
      if (!busy() && !document.hidden) {
        window.location.reload();
      }
    }, every * 1000);
  }
  var open = document.querySelector("form[data-submit-on-load]");
  if (open) {
    var submit = function () {
      open.submit();
      // A click now would post the link again, and find it used.
      var button = open.querySelector("button");
      if (button) {
        button.disabled = true;
      }
    };
    if (document.prerendering) {
      document.addEventListener("prerenderingchange", submit, { once: true });
    } else {
      submit();
    }
  }
  var pick = document.querySelector("select[data-autosubmit]");
  if (pick) {
    pick.addEventListener("change", function () {
      var button = document.getElementById(pick.getAttribute("data-autosubmit"));
      if (button) {
        button.click();
      }
    });
  }
})();
