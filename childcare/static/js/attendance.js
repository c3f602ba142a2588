// The roster without page reloads: each row's forms are sent with fetch and the row is replaced in place.
// Without this file (or when fetch fails) the same forms post normally and the server redirects back.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function showMessage(row, text, isError) {
    var box = row && row.querySelector("[data-testid=row-message]");
    if (!box) { return; }
    box.textContent = text || "";
    box.classList.toggle("error", !!isError);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-roster-action]") || !window.fetch || !window.FormData) {
      return;
    }
    var row = form.closest("[data-roster-row]");
    if (!row) { return; }
    event.preventDefault();
    if (row.classList.contains("busy")) { return; }
    row.classList.add("busy");
    var body = new FormData(form);
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: {"X-Requested-With": "fetch", "X-CSRFToken": csrfToken(form), "Accept": "application/json"}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("json") === -1) { throw new Error("not json"); }
      return response.json().then(function (data) { return {status: response.status, data: data}; });
    }).then(function (answer) {
      row.classList.remove("busy");
      var data = answer.data;
      if (data.ok && data.html) {
        var holder = document.createElement("ul");
        holder.innerHTML = data.html.trim();
        var fresh = holder.firstElementChild;
        row.replaceWith(fresh);
        showMessage(fresh, data.message, false);
        var counts = document.querySelector("[data-testid=counts]");
        if (counts && data.counts_html) { counts.outerHTML = data.counts_html.trim(); }
        var focus = fresh.querySelector("button, summary");
        if (focus) { focus.focus({preventScroll: true}); }
      } else {
        showMessage(row, data.detail || data.title || "", true);
      }
    }).catch(function () {
      // Anything unexpected: let the browser send the form the ordinary way.
      row.classList.remove("busy");
      form.submit();
    });
  });
})();
