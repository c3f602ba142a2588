// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
    // The header's Menu (a <details>) closes when one taps anywhere else, as a phone menu should.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });

  // A long list of sessions to book (a camp by the day): one box ticks or clears them all.
  document.querySelectorAll("fieldset[data-select-all]").forEach(function (fieldset, index) {
    var boxes = Array.prototype.slice.call(fieldset.querySelectorAll("input[type=checkbox]"));
    var row = document.createElement("div");
    row.className = "field check select-all";
    var all = document.createElement("input");
    all.type = "checkbox";
    all.id = "select-all-" + index;
    var label = document.createElement("label");
    label.htmlFor = all.id;
    label.textContent = fieldset.getAttribute("data-select-all");
    row.appendChild(all);
    row.appendChild(label);
    fieldset.querySelector("legend").insertAdjacentElement("afterend", row);
    function reflect() {
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    boxes.forEach(function (box) { box.addEventListener("change", reflect); });
    reflect();
  });

  // A programme whose registration opens soon: count down by the server's clock (the phone's may be wrong) and hold
  // the sign-up button until the moment; the server still decides, and refuses a press that comes too early.
  document.querySelectorAll("[data-opens-at]").forEach(function (box) {
    var opensAt = Number(box.getAttribute("data-opens-at"));
    var offset = Number(box.getAttribute("data-served-at")) - Date.now();
    var countdown = box.querySelector(".countdown");
    var time = box.querySelector("[data-countdown]");
    var opened = box.querySelector(".opened");
    var buttons = document.querySelectorAll("[data-waits-for-opening]");
    var DAY = 24 * 3600 * 1000;
    function two(number) {
      return (number < 10 ? "0" : "") + number;
    }
    function tick() {
      var left = opensAt - (Date.now() + offset);
      buttons.forEach(function (button) {
        button.disabled = left > 0;
      });
      if (left <= 0) {
        countdown.hidden = true;
        opened.hidden = false;
        return;
      }
      if (left < DAY) {
        var seconds = Math.ceil(left / 1000);
        var hours = Math.floor(seconds / 3600);
        time.textContent = (hours ? hours + ":" : "") + two(Math.floor(seconds % 3600 / 60)) + ":" + two(seconds % 60);
        countdown.hidden = false;
      }
      window.setTimeout(tick, Math.min(250, left));
    }
    tick();
  });
})();
