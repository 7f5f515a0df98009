/* The operator's home beside the map: the queue of open cases and the alerts panel.
 *
 * The server sends whole lists (cases(list), alerts(list)) when its news changes them; this
 * script draws them, counts the deadlines down every second on the page's own clock (shifted
 * to the server's), and sounds new alerts with WebAudio (no sound file). Browsers allow sound
 * only after a user gesture, hence the "enable sound" toggle; the choice is remembered.
 * Acknowledging an alert asks the server (emitEvent "home-ack"); the list changes when the
 * server's news says so.
 */
(function () {
  "use strict";

  var SOUND_KEY = "urbanops.sound";
  var SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  /* "1:02:03", "12:03", or "3天4:05:06" for long ones; `days` is the localised word. */
  function duration(ms, dayWord) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400);
    s -= d * 86400;
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var clock = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
    if (d) clock = d + dayWord + (h ? "" : "0:") + clock;
    return clock;
  }

  function Home(config) {
    this.config = config;
    this.text = config.text || {};
    this.offset = (config.server_now || Date.now()) - Date.now();
    this.items = [];
    this.alertList = [];
    this.known = null; // alert ids seen so far (null: the first list, which sounds nothing)
    this.sounds = 0; // alerts sounded (tests read it)
    this.soundOn = false;
    this.audio = null;
    var self = this;
    try {
      this.soundOn = window.localStorage.getItem(SOUND_KEY) === "on";
    } catch (e) {
      this.soundOn = false;
    }
    // A remembered "on" still needs a gesture for the AudioContext: the first click anywhere.
    document.addEventListener(
      "pointerdown",
      function () {
        if (self.soundOn) self._audio();
      },
      { once: true, capture: true }
    );
    this._ticker = setInterval(function () {
      self.tick();
    }, 1000);
  }

  Home.prototype.serverNow = function () {
    return Date.now() + this.offset;
  };

  Home.prototype.t = function (key) {
    return this.text[key] || key;
  };

  // --- sound ------------------------------------------------------------------------------

  Home.prototype._audio = function () {
    if (!this.audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.audio = new Ctx();
    }
    if (this.audio.state === "suspended") this.audio.resume();
    return this.audio;
  };

  Home.prototype.toggleSound = function () {
    this.soundOn = !this.soundOn;
    try {
      window.localStorage.setItem(SOUND_KEY, this.soundOn ? "on" : "off");
    } catch (e) {
      /* private mode: not remembered */
    }
    if (this.soundOn && this._audio()) this.beep("info");
    this._soundButton();
  };

  Home.prototype._soundButton = function () {
    var button = document.getElementById("home-sound");
    if (!button) return;
    button.setAttribute("aria-pressed", this.soundOn ? "true" : "false");
    button.textContent = this.t(this.soundOn ? "sound_on" : "sound_off");
    button.classList.toggle("on", this.soundOn);
  };

  /* Critical: three high beeps; warning: two; info: one short. */
  Home.prototype.beep = function (severity) {
    var ctx = this.audio;
    if (!ctx) return false;
    var plan = {
      critical: [1320, 3, 0.18],
      warning: [880, 2, 0.2],
      info: [660, 1, 0.12],
    }[severity] || [660, 1, 0.12];
    var start = ctx.currentTime + 0.02;
    for (var i = 0; i < plan[1]; i++) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = plan[0];
      var t0 = start + i * (plan[2] + 0.08);
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + plan[2]);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + plan[2] + 0.02);
    }
    return true;
  };

  // --- the queue --------------------------------------------------------------------------

  Home.prototype.cases = function (items) {
    this.items = items;
    var box = document.getElementById("home-queue-list");
    if (!box) return;
    var self = this;
    var t = this.serverNow();
    var html = items.map(function (c) {
      var light = window.UrbanopsMap ? window.UrbanopsMap.lightAt(c, t) : c.light;
      var flags = "";
      if (c.emergency) flags += '<span class="flag emergency">' + escapeHtml(self.t("emergency")) + "</span>";
      if (c.supervised) flags += '<span class="flag supervised">' + escapeHtml(self.t("supervised")) + "</span>";
      return (
        '<a class="queue-item light-' + light + '" href="/console/cases/' + c.id +
        '" data-case-id="' + c.id + '" data-light="' + light + '">' +
        '<span class="light-dot"></span>' +
        '<span class="queue-main"><span class="queue-number">' + escapeHtml(c.number) + flags + "</span>" +
        '<span class="queue-matter">' + escapeHtml(c.matter) + "</span>" +
        '<span class="queue-meta">' + escapeHtml(self.t("state." + c.state)) +
        (c.address ? " · " + escapeHtml(c.address) : "") + "</span></span>" +
        '<span class="queue-clock" data-due="' + (c.due == null ? "" : c.due) + '"></span></a>'
      );
    });
    box.innerHTML = html.join("") || '<div class="empty">' + escapeHtml(this.t("queue_empty")) + "</div>";
    var count = document.getElementById("home-queue-count");
    if (count) count.textContent = String(items.length);
    this.tick();
  };

  // --- alerts -----------------------------------------------------------------------------

  function alertOrder(a, b) {
    var ack = (a.acknowledged ? 1 : 0) - (b.acknowledged ? 1 : 0);
    if (ack) return ack;
    var sev = (SEVERITY_ORDER[a.severity] || 9) - (SEVERITY_ORDER[b.severity] || 9);
    if (sev) return sev;
    return b.at - a.at;
  }

  Home.prototype.alerts = function (list) {
    var self = this;
    list = list.slice().sort(alertOrder);
    var fresh = [];
    var known = {};
    list.forEach(function (a) {
      known[a.id] = true;
      if (self.known && !self.known[a.id] && !a.acknowledged) fresh.push(a);
    });
    this.known = known;
    this.alertList = list;
    var box = document.getElementById("home-alerts-list");
    if (box) {
      box.innerHTML =
        list.map(function (a) {
          var ack = a.acknowledged
            ? '<span class="acked">' + escapeHtml(self.t("acknowledged")) + "</span>"
            : self.config.may_acknowledge
              ? '<button type="button" class="ack" data-ack="' + a.id + '">' + escapeHtml(self.t("acknowledge")) + "</button>"
              : "";
          var link = a.case_id ? ' data-case-id="' + a.case_id + '"' : "";
          return (
            '<div class="alert-item severity-' + escapeHtml(a.severity) + (a.acknowledged ? " is-acked" : "") +
            (fresh.indexOf(a) >= 0 ? " is-new" : "") + '" data-alert-id="' + a.id + '" data-kind="' +
            escapeHtml(a.kind) + '"' + link + '>' +
            '<span class="alert-kind">' + escapeHtml(self.t("kind." + a.kind)) + "</span>" +
            '<span class="alert-title">' + escapeHtml(a.title) + "</span>" +
            '<span class="alert-age" data-since="' + a.at + '"></span>' + ack + "</div>"
          );
        }).join("") || '<div class="empty">' + escapeHtml(this.t("alerts_empty")) + "</div>";
    }
    var open = list.filter(function (a) {
      return !a.acknowledged;
    }).length;
    var badge = document.getElementById("home-alerts-count");
    if (badge) {
      badge.textContent = String(open);
      badge.classList.toggle("hot", open > 0);
    }
    if (fresh.length && this.soundOn) {
      var worst = fresh.slice().sort(alertOrder)[0];
      if (this.beep(worst.severity)) this.sounds += 1;
    }
    this.tick();
  };

  // --- the clock --------------------------------------------------------------------------

  Home.prototype.tick = function () {
    var t = this.serverNow();
    var dayWord = this.t("days");
    var left = this.t("left");
    var over = this.t("overdue");
    var clocks = document.querySelectorAll("#home-queue-list .queue-clock");
    for (var i = 0; i < clocks.length; i++) {
      var due = clocks[i].getAttribute("data-due");
      if (!due) {
        clocks[i].textContent = this.t("no_clock");
        continue;
      }
      var rest = Number(due) - t;
      clocks[i].textContent = (rest >= 0 ? left : over) + " " + duration(rest, dayWord);
      clocks[i].classList.toggle("overdue", rest < 0);
      var item = clocks[i].parentNode;
      var c = this.items[i];
      if (c && window.UrbanopsMap) {
        var light = window.UrbanopsMap.lightAt(c, t);
        if (item.getAttribute("data-light") !== light) {
          item.setAttribute("data-light", light);
          item.className = "queue-item light-" + light;
        }
      }
    }
    var ages = document.querySelectorAll("#home-alerts-list .alert-age");
    for (var k = 0; k < ages.length; k++) {
      ages[k].textContent = duration(t - Number(ages[k].getAttribute("data-since")), dayWord) + " " + this.t("ago");
    }
  };

  window.UrbanopsHome = {
    home: null,
    init: function (config) {
      if (this.home) clearInterval(this.home._ticker);
      var home = new Home(config);
      this.home = home;
      home._soundButton();
      var alerts = document.getElementById("home-alerts-list");
      if (alerts) {
        alerts.addEventListener("click", function (e) {
          var button = e.target.closest("[data-ack]");
          if (button) {
            button.disabled = true;
            window.emitEvent("home-ack", { id: Number(button.getAttribute("data-ack")) });
            return;
          }
          var row = e.target.closest("[data-case-id]");
          if (row) window.location.assign("/console/cases/" + row.getAttribute("data-case-id"));
        });
      }
      var sound = document.getElementById("home-sound");
      if (sound) {
        sound.addEventListener("click", function () {
          home.toggleSound();
        });
      }
      return home;
    },
  };
})();
