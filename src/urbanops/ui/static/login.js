// Staff sign-in: POST the credentials to /api/auth/login (the answer sets the session cookie),
// then go where the user was heading. Only a path on this server is followed.
(function () {
  "use strict";
  var form = document.getElementById("login-form");
  var error = document.getElementById("login-error");
  var button = document.getElementById("login-submit");
  var text = JSON.parse(document.getElementById("messages").textContent);

  function target() {
    var next = form.getAttribute("data-next") || "/console/";
    return next.charAt(0) === "/" && next.charAt(1) !== "/" ? next : "/console/";
  }

  function show(key) {
    error.textContent = text[key] || key;
    error.hidden = false;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    error.hidden = true;
    button.disabled = true;
    fetch("/api/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        username: form.username.value.trim(),
        password: form.password.value,
      }),
    })
      .then(function (res) {
        if (res.ok) {
          window.location.assign(target());
          return;
        }
        show(res.status === 429 ? "login.locked" : "login.failed");
        button.disabled = false;
      })
      .catch(function () {
        show("login.offline");
        button.disabled = false;
      });
  });
})();
