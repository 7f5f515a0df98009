/* The console's live map on the Leaflet that NiceGUI bundles (ui.leaflet sets window.L).
 *
 * UrbanopsMap.attach(leafletMap, config) draws responsibility grids (shaded by open-case load),
 * officers (circle markers on one canvas, coloured by duty status, grey when offline), cases
 * (pins coloured by their light; a click opens the case page) and cameras. The server sends
 * batches: move(columns) moves every marker of one position flush in one call, so 1,000
 * officers reporting every 5 s cost a few calls a second, not one per fix.
 *
 * Test and benchmark hook: record(true) makes move() note, for every fix it applies,
 * [device id, fix time (ms), time the frame showing it was painted (ms since the epoch)].
 */
(function () {
  "use strict";

  var STATUS_COLOURS = {
    on_duty: "#1565c0",
    busy: "#8e24aa",
    off_duty: "#9e9e9e",
    training: "#6d4c41",
    leave: "#6d4c41",
    offline: "#bdbdbd",
  };
  var LIGHT_COLOURS = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828", none: "#757575" };
  var LOAD_COLOURS = ["#e3f2fd", "#fff3e0", "#ffe0b2", "#ffb74d", "#fb8c00", "#e65100"];

  function now() {
    return performance.timeOrigin + performance.now();
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function loadColour(count) {
    if (!count) return LOAD_COLOURS[0];
    if (count <= 1) return LOAD_COLOURS[1];
    if (count <= 3) return LOAD_COLOURS[2];
    if (count <= 6) return LOAD_COLOURS[3];
    if (count <= 10) return LOAD_COLOURS[4];
    return LOAD_COLOURS[5];
  }

  function lightAt(item, t) {
    if (item.warn == null || item.due == null) return "none";
    if (t < item.warn) return "green";
    return t < item.due ? "yellow" : "red";
  }

  function ConsoleMap(map, config) {
    var L = window.L;
    this.L = L;
    this.map = map;
    this.config = config;
    this.text = config.text || {};
    this.offset = (config.server_now || Date.now()) - Date.now(); // server clock − page clock
    this.offlineAfter = (config.offline_after_s || 300) * 1000;
    this.canvas = L.canvas({ padding: 0.3 });
    this.gridLayer = L.layerGroup().addTo(map);
    this.cameraLayer = L.layerGroup().addTo(map);
    this.officerLayer = L.layerGroup().addTo(map);
    this.caseLayer = L.layerGroup().addTo(map);
    this.grids = {}; // code → {polygon, name, load}
    this.officers = {}; // key → {marker, status, at, name}
    this.cases = {}; // id → {marker, item, light}
    this.recording = false;
    this.recorded = [];
    this._pending = [];
    this.applied = 0; // fixes applied since load (a cheap liveness figure)
    var container = map.getContainer();
    container.classList.add("urbanops-map");
    if (config.tiles) {
      L.tileLayer(config.tiles, { attribution: config.attribution || "", maxZoom: 19 }).addTo(map);
    } else {
      container.classList.add("urbanops-map-plain");
    }
    this._legend();
    var self = this;
    this._ticker = setInterval(function () {
      self.tick();
    }, 1000);
  }

  ConsoleMap.prototype.serverNow = function () {
    return Date.now() + this.offset;
  };

  ConsoleMap.prototype._legend = function () {
    var L = this.L;
    var text = this.text;
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "urbanops-legend");
      var rows = [];
      ["on_duty", "busy", "off_duty", "offline"].forEach(function (s) {
        rows.push(
          '<span class="dot" style="background:' + STATUS_COLOURS[s] + '"></span>' +
            escapeHtml(text["status." + s] || s)
        );
      });
      ["red", "yellow", "green"].forEach(function (l) {
        rows.push(
          '<span class="pin" style="background:' + LIGHT_COLOURS[l] + '"></span>' +
            escapeHtml(text["light." + l] || l)
        );
      });
      rows.push('<span class="cam"></span>' + escapeHtml(text.camera || "camera"));
      div.innerHTML = rows.join("<br>");
      div.id = "map-legend";
      return div;
    };
    legend.addTo(this.map);
  };

  // --- grids ------------------------------------------------------------------------------

  ConsoleMap.prototype.setGrids = function (grids, load) {
    var L = this.L;
    var self = this;
    this.gridLayer.clearLayers();
    this.grids = {};
    var bounds = null;
    grids.forEach(function (g) {
      var polygon = L.polygon(g.rings, {
        renderer: self.canvas,
        color: "#37474f",
        weight: 1.5,
        fillOpacity: 0.55,
        fillColor: loadColour(0),
      });
      polygon.bindTooltip("", { sticky: true });
      polygon.addTo(self.gridLayer);
      self.grids[g.code] = { polygon: polygon, name: g.name, load: 0 };
      bounds = bounds ? bounds.extend(polygon.getBounds()) : polygon.getBounds();
    });
    this.setLoad(load || {});
    if (bounds) {
      this.map.invalidateSize();
      this.map.fitBounds(bounds, { padding: [10, 10] });
    }
  };

  ConsoleMap.prototype.setLoad = function (load) {
    var text = this.text;
    for (var code in this.grids) {
      var g = this.grids[code];
      g.load = load[code] || 0;
      g.polygon.setStyle({ fillColor: loadColour(g.load) });
      g.polygon.setTooltipContent(
        escapeHtml(g.name) + " · " + escapeHtml(text.open_cases || "open") + " " + g.load
      );
    }
  };

  // --- officers ---------------------------------------------------------------------------

  function keyOf(device, user) {
    return user ? "u" + user : "d" + device;
  }

  ConsoleMap.prototype._officerStyle = function (o) {
    var offline = this.serverNow() - o.at > this.offlineAfter;
    var status = offline ? "offline" : o.status || "on_duty";
    return { status: status, colour: STATUS_COLOURS[status] || STATUS_COLOURS.on_duty };
  };

  ConsoleMap.prototype.setOfficers = function (list) {
    var L = this.L;
    var self = this;
    this.officerLayer.clearLayers();
    this.officers = {};
    list.forEach(function (o) {
      var key = keyOf(o.device, o.user);
      var known = self.officers[key];
      if (known && known.at >= o.at) return;
      if (known) self.officerLayer.removeLayer(known.marker);
      var entry = { status: o.status, at: o.at, name: o.name, shown: "" };
      entry.marker = L.circleMarker([o.lat, o.lon], {
        renderer: self.canvas,
        radius: 5,
        weight: 1,
        color: "#ffffff",
        fillOpacity: 0.95,
      });
      entry.marker.bindTooltip(escapeHtml(o.name || key));
      entry.marker.addTo(self.officerLayer);
      self.officers[key] = entry;
      self._paintOfficer(entry);
    });
  };

  ConsoleMap.prototype._paintOfficer = function (entry) {
    var style = this._officerStyle(entry);
    if (style.status !== entry.shown) {
      entry.shown = style.status;
      entry.marker.setStyle({ fillColor: style.colour });
    }
  };

  /* One flush's moves as columns: d device, u user (0 none), y lat, x lon, t fix time (ms). */
  ConsoleMap.prototype.move = function (cols) {
    var d = cols.d, u = cols.u, y = cols.y, x = cols.x, t = cols.t;
    var n = d.length;
    var noted = this.recording ? [] : null;
    for (var i = 0; i < n; i++) {
      var entry = this.officers[keyOf(d[i], u[i])];
      if (!entry) {
        entry = this._newOfficer(d[i], u[i], y[i], x[i], t[i]);
      } else if (t[i] < entry.at) {
        continue;
      } else {
        entry.at = t[i];
        entry.marker.setLatLng([y[i], x[i]]);
      }
      this._paintOfficer(entry);
      if (noted) noted.push([d[i], t[i]]);
    }
    this.applied += n;
    if (noted && noted.length) {
      var self = this;
      // Stamped when the frame that shows the new positions is painted, not when they are set.
      requestAnimationFrame(function () {
        var painted = now();
        for (var k = 0; k < noted.length; k++) {
          self.recorded.push([noted[k][0], noted[k][1], painted]);
        }
      });
    }
  };

  ConsoleMap.prototype._newOfficer = function (device, user, lat, lon, at) {
    var entry = { status: "", at: at, name: "", shown: "" };
    entry.marker = this.L.circleMarker([lat, lon], {
      renderer: this.canvas,
      radius: 5,
      weight: 1,
      color: "#ffffff",
      fillOpacity: 0.95,
    }).addTo(this.officerLayer);
    this.officers[keyOf(device, user)] = entry;
    return entry;
  };

  /* Duty statuses changed: {user id: status}. */
  ConsoleMap.prototype.setStatus = function (statuses) {
    for (var user in statuses) {
      var entry = this.officers["u" + user];
      if (entry) {
        entry.status = statuses[user];
        this._paintOfficer(entry);
      }
    }
  };

  ConsoleMap.prototype.record = function (on) {
    this.recording = !!on;
    this.recorded = [];
  };

  ConsoleMap.prototype.officerCount = function () {
    return Object.keys(this.officers).length;
  };

  ConsoleMap.prototype.officer = function (key) {
    var entry = this.officers[key];
    if (!entry) return null;
    var ll = entry.marker.getLatLng();
    return { lat: ll.lat, lon: ll.lng, at: entry.at, status: entry.shown };
  };

  // --- cases and cameras ------------------------------------------------------------------

  ConsoleMap.prototype._pin = function (light, emergency) {
    return this.L.divIcon({
      className: "urbanops-pin-wrap",
      html:
        '<div class="urbanops-pin light-' + light + (emergency ? " emergency" : "") +
        '" style="background:' + LIGHT_COLOURS[light] + '"></div>',
      iconSize: [18, 18],
      iconAnchor: [9, 18],
    });
  };

  ConsoleMap.prototype.setCases = function (items) {
    var self = this;
    var seen = {};
    var t = this.serverNow();
    items.forEach(function (item) {
      seen[item.id] = true;
      var light = lightAt(item, t);
      var known = self.cases[item.id];
      if (known) {
        known.item = item;
        known.marker.setLatLng([item.lat, item.lon]);
        if (known.light !== light) {
          known.light = light;
          known.marker.setIcon(self._pin(light, item.emergency));
        }
        return;
      }
      var marker = self.L.marker([item.lat, item.lon], {
        icon: self._pin(light, item.emergency),
        title: item.number,
        keyboard: false,
      });
      marker.bindTooltip(escapeHtml(item.number + " " + item.matter));
      marker.on("click", function () {
        window.location.assign("/console/cases/" + item.id);
      });
      marker.on("add", function () {
        var el = marker.getElement();
        if (el) el.setAttribute("data-case-id", String(item.id));
      });
      marker.addTo(self.caseLayer);
      self.cases[item.id] = { marker: marker, item: item, light: light };
    });
    for (var id in this.cases) {
      if (!seen[id]) {
        this.caseLayer.removeLayer(this.cases[id].marker);
        delete this.cases[id];
      }
    }
  };

  ConsoleMap.prototype.setCameras = function (list) {
    var L = this.L;
    var self = this;
    this.cameraLayer.clearLayers();
    list.forEach(function (c) {
      L.marker([c.lat, c.lon], {
        icon: L.divIcon({ className: "urbanops-camera", iconSize: [12, 12] }),
        keyboard: false,
      })
        .bindTooltip(escapeHtml(c.name))
        .addTo(self.cameraLayer);
    });
  };

  /* Every second: lights of case pins and offline officers follow the clock. */
  ConsoleMap.prototype.tick = function () {
    var t = this.serverNow();
    for (var id in this.cases) {
      var c = this.cases[id];
      var light = lightAt(c.item, t);
      if (light !== c.light) {
        c.light = light;
        c.marker.setIcon(this._pin(light, c.item.emergency));
        var el = c.marker.getElement();
        if (el) el.setAttribute("data-case-id", String(id));
      }
    }
    for (var key in this.officers) this._paintOfficer(this.officers[key]);
  };

  window.UrbanopsMap = {
    maps: {},
    /* Attach to the Leaflet map of a NiceGUI ui.leaflet element; `name` finds it again. */
    attach: function (name, leafletMap, config) {
      var old = this.maps[name];
      if (old) clearInterval(old._ticker);
      var m = new ConsoleMap(leafletMap, config);
      this.maps[name] = m;
      return m;
    },
    get: function (name) {
      return this.maps[name] || null;
    },
    lightAt: lightAt,
  };
})();
