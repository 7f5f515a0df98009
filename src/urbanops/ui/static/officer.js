/* The grid officer's phone pages: ticking countdowns, a fresh task list, accept, handle with
   after-photos, return or ask to put on hold with a reason, report a problem, the phone's
   position while a page is open, and SOS.
   No framework; talks only to this server. */
(function () {
  "use strict";

  var body = document.body;
  var page = body.getAttribute("data-page");
  if (page === "forbidden") { return; }
  var M = JSON.parse((document.getElementById("messages") || {}).textContent || "{}");
  var offset = (parseInt(body.getAttribute("data-now"), 10) || Date.now()) - Date.now();
  var MAX_SIDE = 2048, SHRINK_ABOVE = 2 * 1024 * 1024;

  function t(key) { return key in M ? M[key] : key; }
  function byId(id) { return document.getElementById(id); }
  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }
  function attr(name, fallback) { return parseFloat(body.getAttribute(name)) || fallback; }
  function now() { return Date.now() + offset; } // the server's clock, not the phone's

  function problemText(p) {
    var code = p && p.code;
    return (code && (M["officer.js.error." + code] || M["error." + code])) || (p && p.detail) || t("error.generic");
  }

  function clockTime() { // hh:mm in the street's time zone, whatever the phone's is set to
    var at = new Date(now());
    try {
      return at.toLocaleTimeString("en-GB", { timeZone: body.getAttribute("data-zone") || undefined, hour: "2-digit", minute: "2-digit" });
    } catch (e) { return at.toTimeString().slice(0, 5); }
  }

  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* fetch, answering the JSON or throwing the problem (or {code: "network"}) */
  function send(method, url, data) {
    var json = data !== undefined && !(data instanceof FormData);
    return fetch(url, {
      method: method,
      body: json ? JSON.stringify(data) : data,
      headers: json ? { "Content-Type": "application/json" } : undefined,
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        if (!r.ok) { answer.code = answer.code || (r.status === 401 ? "unauthorized" : "generic"); answer.status = r.status; throw answer; }
        return answer;
      });
    }, function () { throw { code: "network" }; });
  }

  /* one action at a time: the button stays disabled until the answer (no double submit) */
  function busy(button, text) {
    var label = button.textContent;
    button.disabled = true;
    button.textContent = text;
    return function () { button.disabled = false; button.textContent = label; };
  }

  /* --- offline banner --------------------------------------------------------------------- */

  function online() { byId("offline").hidden = navigator.onLine !== false; }
  window.addEventListener("online", online);
  window.addEventListener("offline", online);
  online();

  /* --- countdowns -------------------------------------------------------------------------- */

  function duration(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    var parts = d ? [[d, "d"], [h, "h"]] : h ? [[h, "h"], [m, "m"]] : [[m, "m"], [s % 60, "s"]];
    return parts.map(function (p) { return p[0] + t("officer.unit." + p[1]); }).join("").trim();
  }

  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-due]"), function (el) {
      var left = Math.round((parseInt(el.getAttribute("data-due"), 10) - now()) / 1000);
      var key = left >= 0 ? "officer.countdown.left" : "officer.countdown.over";
      el.textContent = t(key).replace("{t}", duration(Math.abs(left)));
      el.classList.toggle("over", left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  /* --- photos: previews; large ones resized on the phone before a slow upload -------------- */

  function previews(input, box, max, error) {
    input.addEventListener("change", function () {
      box.textContent = "";
      Array.prototype.slice.call(input.files, 0, max).forEach(function (file) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = "";
        box.appendChild(img);
      });
      error.textContent = input.files.length > max ? t("officer.js.too_many_photos") : "";
    });
  }

  function shrink(file) {
    if (file.size <= SHRINK_ABOVE || !window.createImageBitmap || !/^image\/(jpeg|png|webp)$/.test(file.type)) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file).then(function (bitmap) {
      var k = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * k);
      canvas.height = Math.round(bitmap.height * k);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  /* upload files[i] for each i not yet in done (a retry skips what already arrived) */
  function upload(caseId, files, phase, done, status) {
    var chain = Promise.resolve();
    files.forEach(function (file, i) {
      chain = chain.then(function () {
        if (done[i]) { return; }
        status(t("officer.js.uploading").replace("{n}", i + 1).replace("{total}", files.length));
        return shrink(file).then(function (photo) {
          var data = new FormData();
          data.append("phase", phase);
          data.append("file", photo, photo.name || "photo.jpg");
          return send("POST", "/api/cases/" + caseId + "/evidence", data);
        }).then(function () { done[i] = true; });
      });
    });
    return chain;
  }

  /* --- my tasks: refreshed by a poll (304 when quiet) and at once on news -------------------- */

  function initTasks() {
    var box = byId("tasks");
    if (!box) { return; }
    var etag = box.getAttribute("data-etag"), timer = null, running = false;
    var ids = function () {
      return Array.prototype.map.call(box.querySelectorAll("[data-id]"), function (li) { return li.getAttribute("data-id"); });
    };
    var known = ids();

    function refresh() {
      if (running) { return; }
      running = true;
      fetch("/officer/tasks", { credentials: "same-origin", headers: etag ? { "If-None-Match": etag } : {} }).then(function (r) {
        if (r.status === 401) { window.location.href = "/login?next=/officer/"; return; }
        if (r.status === 304) { return; }
        if (!r.ok) { throw r; }
        etag = r.headers.get("ETag");
        return r.text().then(function (html) {
          box.innerHTML = html;
          var list = box.firstElementChild;
          if (list && list.getAttribute("data-now")) { offset = parseInt(list.getAttribute("data-now"), 10) - Date.now(); }
          var fresh = ids().filter(function (id) { return known.indexOf(id) < 0; });
          known = ids();
          if (fresh.length) {
            byId("news").hidden = false;
            fresh.forEach(function (id) { box.querySelector('[data-id="' + id + '"]').classList.add("new"); });
            if (navigator.vibrate) { navigator.vibrate([200, 100, 200]); }
          }
          tick();
        });
      }).then(function () {
        byId("refresh-error").textContent = "";
      }, function () {
        byId("refresh-error").textContent = t("officer.js.refresh_failed");
      }).then(function () { running = false; });
    }

    function soon() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
    setInterval(function () { if (!document.hidden) { refresh(); } }, attr("data-poll-s", 15) * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
    window.addEventListener("online", refresh);
    if (window.EventSource) { // news addressed to me, where the server streams it
      var events = new EventSource("/api/events");
      events.onmessage = soon;
      ["CaseDispatched", "CaseReturned", "CaseAccepted", "CaseHandled", "BusResumed"].forEach(function (name) {
        events.addEventListener(name, soon);
      });
    }
  }

  /* --- one task: accept; return or ask to put on hold, with a reason; handle with after-photos */

  function initTask() {
    var section = byId("task");
    if (!section) { return; }
    var id = section.getAttribute("data-id");
    var version = parseInt(section.getAttribute("data-version"), 10);
    var error = byId("task-error");
    var accept = byId("accept");
    if (accept) {
      accept.addEventListener("click", function () {
        var done = busy(accept, t("officer.js.accepting"));
        error.textContent = "";
        send("POST", "/api/cases/" + id + "/actions/accept", { expected_version: version }).then(function () {
          window.location.reload();
        }, function (p) { error.textContent = problemText(p); done(); });
      });
    }
    each("form.reason", function (f) {
      var opener = document.querySelector('[data-open="' + f.id + '"]'), reason = f.elements.reason;
      var submit = f.querySelector("[type=submit]"), action = f.getAttribute("data-action");
      opener.addEventListener("click", function () { // one form open at a time; a tap again closes
        each("form.reason", function (other) { other.hidden = other !== f || !f.hidden; });
        error.textContent = "";
        reason.focus();
      });
      f.addEventListener("reset", function () { f.hidden = true; error.textContent = ""; });
      f.addEventListener("submit", function (event) {
        event.preventDefault();
        var text = reason.value.trim();
        if (submit.disabled) { return; }
        error.textContent = text ? "" : section.getAttribute("data-reason-required");
        if (!text) { reason.focus(); return; }
        var done = busy(submit, t("officer.js.sending"));
        send("POST", "/api/cases/" + id + "/actions/" + action, { reason: text, expected_version: version }).then(function (answer) {
          version = answer.version;
          f.hidden = opener.hidden = true;
          byId(f.getAttribute("data-done")).hidden = false;
          if (action === "return") { setTimeout(function () { window.location.href = "/officer/"; }, 1500); }
        }, function (p) { // 409: someone changed the case meanwhile; say so and reload
          error.textContent = p.status === 409 ? section.getAttribute("data-changed") : problemText(p);
          if (p.status === 409) { setTimeout(function () { window.location.reload(); }, 2500); } else { done(); }
        });
      });
    });
    var form = byId("handle-form");
    if (!form) { return; }
    var max = parseInt(form.getAttribute("data-max-photos"), 10) || 4;
    var input = byId("after-photos");
    var uploaded = {}, chosen = null;
    previews(input, byId("previews"), max, error);
    input.addEventListener("change", function () { uploaded = {}; chosen = null; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submit = byId("handle");
      if (submit.disabled) { return; }
      error.textContent = "";
      var files = chosen || Array.prototype.slice.call(input.files);
      if (!files.length) { error.textContent = t("officer.js.photo_required"); return; }
      if (files.length > max) { error.textContent = t("officer.js.too_many_photos"); return; }
      chosen = files;
      var done = busy(submit, t("officer.js.sending"));
      upload(id, files, "after", uploaded, function (text) { submit.textContent = text; }).then(function () {
        submit.textContent = t("officer.js.sending");
        var note = form.elements.note.value.trim();
        return send("POST", "/api/cases/" + id + "/actions/handle", { note: note || null, expected_version: version });
      }).then(function () {
        window.location.reload();
      }, function (p) { error.textContent = problemText(p); done(); });
    });
  }

  /* --- report a problem (巡查上报) ------------------------------------------------------------ */

  var here = null; // the latest fix: {lon, lat, accuracy}

  function initReport() {
    var form = byId("report-form");
    if (!form) { return; }
    var max = parseInt(form.getAttribute("data-max-photos"), 10) || 4;
    var error = byId("form-error"), status = byId("here"), submit = byId("submit");
    var key = randomKey(), caseId = null, uploaded = {};
    previews(byId("report-photos"), byId("previews"), max, error);
    byId("report-photos").addEventListener("change", function () { uploaded = {}; });

    function show() {
      if (here) { status.textContent = t("officer.js.position_here") + " " + here.lat.toFixed(5) + ", " + here.lon.toFixed(5); }
    }
    function locate() {
      if (!navigator.geolocation) { status.textContent = t("officer.js.position_denied"); return; }
      status.textContent = t("officer.js.locating");
      navigator.geolocation.getCurrentPosition(function (p) { fix(p); show(); }, function () {
        status.textContent = here ? status.textContent : t("officer.js.position_denied");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
    }
    byId("locate").addEventListener("click", locate);
    locate();
    initReport.show = show;

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (submit.disabled) { return; }
      error.textContent = "";
      var description = form.elements.description.value.trim();
      if (!description) { error.textContent = t("officer.js.description_required"); return; }
      if (!here) { error.textContent = t("officer.js.position_required"); return; }
      var files = Array.prototype.slice.call(byId("report-photos").files);
      if (files.length > max) { error.textContent = t("officer.js.too_many_photos"); return; }
      var done = busy(submit, t("officer.js.sending"));
      var report = {
        channel: form.getAttribute("data-channel"), matter_code: form.elements.matter.value,
        description: description, lon: here.lon, lat: here.lat, crs: "wgs84",
        address: form.elements.address.value.trim() || null,
        is_emergency: form.elements.emergency.checked, idempotency_key: "officer:" + key
      };
      (caseId ? Promise.resolve({ id: caseId, number: byId("done-number").textContent }) : send("POST", "/api/cases", report)).then(function (answer) {
        caseId = answer.id; // the same key again gives the same case: a retry only adds what is missing
        byId("done-number").textContent = answer.number;
        return upload(answer.id, files, form.getAttribute("data-phase"), uploaded, function (text) { submit.textContent = text; });
      }).then(function () {
        form.hidden = true;
        byId("done").hidden = false;
        window.scrollTo(0, 0);
      }, function (p) { error.textContent = problemText(p); done(); });
    });
  }

  /* --- the phone's position while a page is open ------------------------------------------- */

  var sent = null, sending = false;

  function metres(a, b) {
    var k = Math.PI / 180, x = (b.lon - a.lon) * k * Math.cos((a.lat + b.lat) / 2 * k), y = (b.lat - a.lat) * k;
    return Math.sqrt(x * x + y * y) * 6371000;
  }

  function fix(p) {
    here = {
      lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, speed: p.coords.speed,
      heading: p.coords.heading, altitude: p.coords.altitude, at: p.timestamp || Date.now()
    };
    report();
  }

  /* send the latest fix unless one went less than every-s ago and it moved less than move-m */
  function report() {
    var every = attr("data-position-every-s", 10) * 1000, far = attr("data-position-move-m", 20);
    if (!here || sending || (sent && (sent.at === here.at || (Date.now() - sent.sentAt < every && metres(sent, here) < far)))) { return; }
    sending = true;
    var fixed = here, state = byId("position-status");
    send("POST", "/api/positions/me", {
      lat: fixed.lat, lon: fixed.lon, accuracy: fixed.accuracy, speed: fixed.speed,
      heading: fixed.heading, altitude: fixed.altitude, timestamp: fixed.at + offset
    }).then(function () {
      sent = { lon: fixed.lon, lat: fixed.lat, at: fixed.at, sentAt: Date.now() };
      state.textContent = t("officer.js.position_sent") + " " + clockTime();
    }, function () {
      state.textContent = t("officer.js.position_failed");
    }).then(function () { sending = false; });
  }

  function watch() {
    if (!navigator.geolocation) { byId("position-status").textContent = t("officer.js.position_denied"); return; }
    navigator.geolocation.watchPosition(function (p) {
      fix(p);
      if (initReport.show) { initReport.show(); }
    }, function () {
      byId("position-status").textContent = t("officer.js.position_denied");
    }, { enableHighAccuracy: true, maximumAge: 5000 });
    setInterval(report, attr("data-position-every-s", 10) * 1000); // a fix held back goes later
  }

  /* --- SOS (紧急求助): a tap arms it, a second within seconds sends it with the position ---- */

  function initSos() { // the button keeps its size (the header is full); the line below tells
    var button = byId("sos"), status = byId("sos-status"), armed = null;
    function say(name, colour) { status.textContent = button.getAttribute("data-" + name); status.className = colour; status.hidden = false; }
    function disarm() { clearTimeout(armed); armed = null; button.classList.remove("armed"); }
    function position() { // the latest fix, else one asked for now
      return here ? Promise.resolve(here) : new Promise(function (resolve, reject) {
        if (!navigator.geolocation) { reject(); return; }
        navigator.geolocation.getCurrentPosition(function (p) { fix(p); resolve(here); }, reject,
          { enableHighAccuracy: true, timeout: 5000, maximumAge: 60000 });
      });
    }
    status.addEventListener("click", function () { status.hidden = true; });
    button.addEventListener("click", function () {
      if (!armed) {
        button.classList.add("armed");
        say("confirm", "error");
        armed = setTimeout(function () { disarm(); status.hidden = true; }, attr("data-sos-confirm-s", 5) * 1000);
        return;
      }
      disarm();
      button.disabled = true;
      say("sending", "");
      position().then(function (at) {
        return send("POST", "/api/positions/me", {
          lat: at.lat, lon: at.lon, accuracy: at.accuracy, timestamp: at.at + offset, alarm: "sos"
        }).then(function () { say("sent", "ok"); }, function () { say("failed", "error"); });
      }, function () { // no fix: it goes anyway (the centre sees his last known place, if any)
        return send("POST", "/api/positions/me", { alarm: "sos" })
          .then(function () { say("no-position", "error"); }, function () { say("failed", "error"); });
      }).then(function () { button.disabled = false; });
    });
  }

  initTasks();
  initTask();
  initReport();
  if (byId("sos")) { initSos(); }
  watch();
})();
