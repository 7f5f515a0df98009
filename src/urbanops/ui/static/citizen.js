/* The citizen pages: send a report (photos, position, description), rate a closed case.
   No framework; talks only to this server's /api/citizen. */
(function () {
  "use strict";

  var M = JSON.parse((document.getElementById("messages") || {}).textContent || "{}");
  var STORE = "urbanops.citizen.tracking";
  var SHRINK_ABOVE = 3 * 1024 * 1024; // photos larger than this are resized before sending
  var MAX_SIDE = 2048;

  function t(key) { return M[key] || key; }

  function problemText(body) {
    return (body && body.code && M["error." + body.code]) || t("error.generic");
  }

  function byId(id) { return document.getElementById(id); }

  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function remembered() {
    try { return JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }

  function remember(id) {
    var list = remembered().filter(function (x) { return x !== id; });
    list.unshift(id);
    try { localStorage.setItem(STORE, JSON.stringify(list.slice(0, 20))); } catch (e) { /* private mode */ }
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      body: body,
      headers: typeof body === "string" ? { "Content-Type": "application/json" } : undefined,
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw data; }
        return data;
      });
    }, function () { throw { code: "network" }; });
  }

  /* --- the picking map: the street's grids drawn as SVG; a tap is the position ---------- */

  var SVG = "http://www.w3.org/2000/svg";

  function StreetMap(svg, onPick) {
    var box = null, kx = 1, scale = 1, width = 1000, marker = null, wanted = null;

    function x(lon) { return (lon - box[0]) * kx * scale; }
    function y(lat) { return (box[3] - lat) * scale; }

    function path(rings, cls) {
      var el = document.createElementNS(SVG, "path");
      el.setAttribute("d", rings.map(function (ring) {
        return ring.map(function (p, i) {
          return (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
        }).join("") + "Z";
      }).join(""));
      el.setAttribute("class", cls);
      svg.appendChild(el);
    }

    function draw(data) {
      if (!data.bbox) { svg.style.display = "none"; return; }
      box = data.bbox;
      kx = Math.cos(((box[1] + box[3]) / 2) * Math.PI / 180); // metres per degree, east vs north
      scale = width / ((box[2] - box[0]) * kx);
      svg.setAttribute("viewBox", "0 0 " + width + " " + Math.round((box[3] - box[1]) * scale));
      data.grids.forEach(function (g) { path(g.rings, "grid"); });
      data.streets.forEach(function (s) { path(s.rings, "street"); });
      if (wanted) { mark(wanted[0], wanted[1]); }
      svg.addEventListener("click", function (event) {
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var p = point.matrixTransform(svg.getScreenCTM().inverse());
        onPick(box[0] + p.x / (kx * scale), box[3] - p.y / scale);
      });
    }

    function mark(lon, lat) {
      wanted = [lon, lat];
      if (!box) { return; } // drawn once the outlines arrive
      if (!marker) {
        marker = document.createElementNS(SVG, "circle");
        marker.setAttribute("r", "16");
        marker.setAttribute("class", "marker");
        svg.appendChild(marker);
      }
      marker.setAttribute("cx", x(lon).toFixed(1));
      marker.setAttribute("cy", y(lat).toFixed(1));
    }

    send("GET", "/api/citizen/map").then(draw, function () { svg.style.display = "none"; });
    return { mark: mark };
  }

  /* --- photos: previews, and large ones resized on the phone before a slow upload ------- */

  function shrink(file, index) {
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
          resolve(blob ? new File([blob], "photo-" + (index + 1) + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  /* --- the report page ---------------------------------------------------------------- */

  function initReport() {
    var form = byId("report-form");
    if (!form) { return; }
    var maxPhotos = parseInt(form.getAttribute("data-max-photos"), 10) || 4;
    var status = byId("position-status");
    var error = byId("form-error");
    var submit = byId("submit");
    var key = randomKey();
    var map = StreetMap(byId("map"), setPosition);

    function setPosition(lon, lat) {
      byId("lon").value = lon.toFixed(6);
      byId("lat").value = lat.toFixed(6);
      status.textContent = t("citizen.report.position_set") + " " + lat.toFixed(5) + ", " + lon.toFixed(5);
      map.mark(lon, lat);
    }

    byId("locate").addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = t("citizen.report.position_denied"); return; }
      status.textContent = t("citizen.report.locating");
      navigator.geolocation.getCurrentPosition(function (p) {
        setPosition(p.coords.longitude, p.coords.latitude);
      }, function () {
        status.textContent = t("citizen.report.position_denied");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });

    byId("photos").addEventListener("change", function () {
      var previews = byId("previews");
      previews.textContent = "";
      Array.prototype.slice.call(this.files, 0, maxPhotos).forEach(function (file) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = "";
        previews.appendChild(img);
      });
      error.textContent = this.files.length > maxPhotos ? t("error.too_many_photos") : "";
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      if (!form.elements.description.value.trim()) { error.textContent = t("error.description_required"); return; }
      if (!byId("lon").value) { error.textContent = t("error.position_required"); return; }
      var files = Array.prototype.slice.call(byId("photos").files);
      if (files.length > maxPhotos) { error.textContent = t("error.too_many_photos"); return; }
      submit.disabled = true;
      submit.textContent = t("citizen.report.sending");
      Promise.all(files.map(shrink)).then(function (photos) {
        var data = new FormData();
        ["matter", "description", "lon", "lat", "address", "name", "phone"].forEach(function (name) {
          var value = form.elements[name].value.trim();
          if (value) { data.append(name, value); }
        });
        data.append("idempotency_key", key);
        photos.forEach(function (photo) { data.append("photos", photo, photo.name); });
        return send("POST", "/api/citizen/reports", data);
      }).then(function (answer) {
        remember(answer.tracking_id);
        key = randomKey();
        byId("tracking-id").textContent = answer.tracking_id;
        byId("track-link").href = answer.track_url;
        form.hidden = true;
        byId("done").hidden = false;
        window.scrollTo(0, 0);
      }, function (problem) {
        error.textContent = problemText(problem);
      }).then(function () {
        submit.disabled = false;
        submit.textContent = t("citizen.report.submit");
      });
    });
  }

  /* --- the tracking page -------------------------------------------------------------- */

  function initTrack() {
    var section = byId("case");
    if (section) {
      var id = section.getAttribute("data-tracking-id");
      remember(id);
      var form = byId("rating-form");
      if (form) {
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          var rating = event.submitter ? event.submitter.value : "satisfied";
          var buttons = form.querySelectorAll("button");
          Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
          var body = JSON.stringify({ rating: rating, comment: form.elements.comment.value.trim() || null });
          send("POST", "/api/citizen/reports/" + encodeURIComponent(id) + "/rating", body).then(function () {
            window.location.reload();
          }, function (problem) {
            byId("rating-error").textContent = problemText(problem);
            Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
          });
        });
      }
      return;
    }
    var list = byId("mine-list");
    var ids = remembered();
    if (!list || !ids.length) { return; }
    ids.forEach(function (id) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/citizen/track?id=" + encodeURIComponent(id);
      a.textContent = id;
      li.appendChild(a);
      list.appendChild(li);
    });
    byId("mine").hidden = false;
  }

  initReport();
  initTrack();
})();
