// Threadline's pages work as plain server-rendered HTML; this script adds what needs a browser:
// relative times that stay current, the session drawer, keyboard navigation, live rows, span trees
// loaded on demand, erase confirmations and charts. Every bit of markup it inserts was rendered and
// escaped by the server; text it builds itself goes through textContent.
(function () {
  "use strict";

  // --- relative times ------------------------------------------------------------------------------

  var UNITS = [["year", 31536e6], ["month", 2592e6], ["day", 864e5], ["hour", 36e5], ["minute", 6e4], ["second", 1e3]];
  var relative = typeof Intl !== "undefined" && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;

  function ago(iso) {
    var delta = Date.parse(iso) - Date.now();
    if (isNaN(delta) || !relative) return null;
    if (Math.abs(delta) < 5000) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      if (Math.abs(delta) >= UNITS[i][1] || i === UNITS.length - 1) {
        return relative.format(Math.round(delta / UNITS[i][1]), UNITS[i][0]);
      }
    }
    return null;
  }

  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (el) {
      var text = ago(el.getAttribute("datetime"));
      if (text) el.textContent = text;
    });
  }

  // --- filters -------------------------------------------------------------------------------------

  function bindRange() {
    var range = document.getElementById("range");
    var custom = document.getElementById("custom-range");
    if (!range || !custom) return;
    range.addEventListener("change", function () {
      custom.hidden = range.value !== "custom";
    });
  }

  // --- clamped long texts --------------------------------------------------------------------------

  function bindClamps(root) {
    (root || document).querySelectorAll(".clamp").forEach(function (el) {
      if (el.dataset.bound) return;
      el.dataset.bound = "1";
      if (el.scrollHeight <= el.clientHeight + 2) return;
      var more = document.createElement("button");
      more.type = "button";
      more.className = "more";
      more.textContent = "Show all";
      more.addEventListener("click", function () {
        var open = el.classList.toggle("open");
        more.textContent = open ? "Show less" : "Show all";
      });
      el.insertAdjacentElement("afterend", more);
    });
  }

  // --- the session drawer --------------------------------------------------------------------------

  var drawer = document.getElementById("drawer");
  var drawerBody = document.getElementById("drawer-body");
  var drawerFull = document.getElementById("drawer-full");

  function sessionPath(id) {
    return "/sessions/" + encodeURIComponent(id);
  }

  function urlWithOpen(id) {
    var url = new URL(window.location.href);
    if (id) url.searchParams.set("open", id);
    else url.searchParams.delete("open");
    return url;
  }

  function openDrawer(id, push) {
    if (!drawer) {
      window.location.href = sessionPath(id);
      return;
    }
    fetch(sessionPath(id) + "?fragment=1", { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        drawerBody.innerHTML = html;
        drawerFull.href = sessionPath(id);
        drawer.hidden = false;
        enhance(drawerBody);
        if (push) history.pushState({ open: id }, "", urlWithOpen(id));
        markSelected(id);
      })
      .catch(function () {
        window.location.href = sessionPath(id);
      });
  }

  function closeDrawer(push) {
    if (!drawer || drawer.hidden) return;
    drawer.hidden = true;
    drawerBody.textContent = "";
    if (push) history.pushState({ open: null }, "", urlWithOpen(null));
    var selected = selectedRow();
    if (selected) selected.focus();
  }

  function bindDrawer() {
    if (!drawer) return;
    document.getElementById("drawer-close").addEventListener("click", function () { closeDrawer(true); });
    window.addEventListener("popstate", function () {
      var id = new URL(window.location.href).searchParams.get("open");
      if (id) openDrawer(id, false);
      else closeDrawer(false);
    });
  }

  // --- the sessions table: rows, keyboard, selection ------------------------------------------------

  function rows() {
    var body = document.getElementById("session-rows");
    return body ? Array.prototype.slice.call(body.querySelectorAll("tr[data-session]")) : [];
  }

  function rowOf(id) {
    return rows().filter(function (row) { return row.dataset.session === id; })[0] || null;
  }

  function selectedRow() {
    return rows().filter(function (row) { return row.getAttribute("aria-selected") === "true"; })[0] || null;
  }

  function markSelected(id) {
    rows().forEach(function (row) {
      row.setAttribute("aria-selected", row.dataset.session === id ? "true" : "false");
    });
  }

  function select(row) {
    markSelected(row.dataset.session);
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function bindRows() {
    var body = document.getElementById("session-rows");
    if (body) {
      rows().forEach(function (row) { row.tabIndex = -1; });
      body.addEventListener("click", function (event) {
        var row = event.target.closest("tr[data-session]");
        if (!row || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        var link = event.target.closest("a");
        if (link && !link.hasAttribute("data-open")) return; // the user link goes to the user
        event.preventDefault();
        select(row);
        openDrawer(row.dataset.session, true);
      });
    }
    document.querySelectorAll("table.list tbody tr[data-href]").forEach(function (row) {
      if (row.dataset.session) return;
      row.addEventListener("click", function (event) {
        if (event.target.closest("a")) return;
        window.location.href = row.dataset.href;
      });
    });
  }

  function bindKeys() {
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target.closest && target.closest("input, select, textarea, [contenteditable]");
      if (event.key === "Escape") {
        if (drawer && !drawer.hidden) { closeDrawer(true); event.preventDefault(); }
        else if (typing) target.blur();
        return;
      }
      if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "/") {
        var search = document.getElementById("search");
        if (search) { search.focus(); search.select(); event.preventDefault(); }
        return;
      }
      var all = rows();
      if (!all.length) return;
      var current = selectedRow();
      var index = current ? all.indexOf(current) : -1;
      if (event.key === "ArrowDown" || event.key === "j") {
        select(all[Math.min(index + 1, all.length - 1)]);
        event.preventDefault();
      } else if (event.key === "ArrowUp" || event.key === "k") {
        select(all[Math.max(index - 1, 0)]);
        event.preventDefault();
      } else if (event.key === "Enter" && current && (target === current || target === document.body)) {
        openDrawer(current.dataset.session, true);
        event.preventDefault();
      }
    });
  }

  // --- live rows -----------------------------------------------------------------------------------

  var stream = null;

  function liveState(text) {
    var state = document.getElementById("live-state");
    if (state) state.textContent = text;
  }

  function parseRow(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.querySelector("tr[data-session]");
  }

  function applyRow(html) {
    var fresh = parseRow(html);
    var body = document.getElementById("session-rows");
    if (!fresh || !body) return;
    fresh.tabIndex = -1;
    var table = document.getElementById("sessions");
    var existing = rowOf(fresh.dataset.session);
    if (existing) {
      fresh.setAttribute("aria-selected", existing.getAttribute("aria-selected"));
      existing.replaceWith(fresh);
    } else if (table.dataset.firstPage === "true" && table.dataset.ordering === "-last_activity") {
      body.insertBefore(fresh, body.firstElementChild); // newest first: a new session goes on top
    } else {
      return; // elsewhere in this ordering: it shows on the page where it belongs
    }
    fresh.classList.add("fresh");
    refreshTimes(fresh);
    var empty = document.querySelector(".empty-rows");
    if (empty) empty.hidden = true;
  }

  function removeRow(id) {
    var row = rowOf(id);
    if (row) row.remove();
  }

  function setLive(on) {
    var toggle = document.getElementById("live");
    if (!toggle) return;
    if (stream) { stream.close(); stream = null; }
    var url = new URL(window.location.href);
    if (on) url.searchParams.set("live", "1");
    else url.searchParams.delete("live");
    history.replaceState(history.state, "", url);
    if (!on) { liveState(""); return; }
    stream = new EventSource(toggle.dataset.stream);
    stream.addEventListener("open", function () { liveState("live: rows update as spans arrive"); });
    stream.addEventListener("error", function () { liveState("reconnecting…"); });
    stream.addEventListener("row", function (event) { applyRow(event.data); });
    stream.addEventListener("gone", function (event) { removeRow(event.data); });
  }

  function bindLive() {
    var toggle = document.getElementById("live");
    if (!toggle) return;
    toggle.addEventListener("change", function () { setLive(toggle.checked); });
    if (toggle.checked) setLive(true);
  }

  // --- span trees and span details -------------------------------------------------------------------

  function loadTraces(details) {
    if (details.dataset.loaded) return;
    details.dataset.loaded = "1";
    details.querySelectorAll(".trace-slot[data-trace]").forEach(function (slot) {
      fetch("/traces/" + encodeURIComponent(slot.dataset.trace) + "?fragment=1", { headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          slot.innerHTML = html;
          enhance(slot);
        })
        .catch(function () { /* the link to the trace page stays */ });
    });
  }

  function bindSpans(root) {
    (root || document).querySelectorAll("details.turn-spans").forEach(function (details) {
      if (details.dataset.bound) return;
      details.dataset.bound = "1";
      details.addEventListener("toggle", function () { if (details.open) loadTraces(details); });
      if (details.open) loadTraces(details);
    });
    (root || document).querySelectorAll("[data-trace-tree]").forEach(function (tree) {
      if (tree.dataset.bound) return;
      tree.dataset.bound = "1";
      tree.addEventListener("click", function (event) {
        var button = event.target.closest(".span-row");
        if (!button) return;
        tree.querySelectorAll(".span-row").forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
        tree.querySelectorAll(".span-detail").forEach(function (section) {
          section.hidden = section.id !== button.getAttribute("aria-controls");
        });
      });
    });
  }

  // --- erase ---------------------------------------------------------------------------------------

  function confirmErase(button) {
    var dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    var title = document.createElement("h2");
    title.id = "confirm-title";
    title.textContent = "Erase " + (button.dataset.eraseWhat || "this session and everything stored for it") + "?";
    var detail = document.createElement("p");
    detail.textContent = button.dataset.erase + " — this cannot be undone.";
    var actions = document.createElement("div");
    actions.className = "actions";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button";
    cancel.textContent = "Cancel";
    var erase = document.createElement("button");
    erase.type = "button";
    erase.className = "button danger";
    erase.textContent = "Erase";
    var status = document.createElement("p");
    status.setAttribute("role", "status");
    actions.append(cancel, erase);
    dialog.append(title, detail, actions, status);
    document.body.appendChild(dialog);
    cancel.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    erase.addEventListener("click", function () {
      erase.disabled = true;
      fetch(button.dataset.eraseUrl, { method: "DELETE", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          if (!result.ok) throw new Error((result.body.error && result.body.error.message) || "refused");
          window.location.href = button.dataset.eraseUrl.indexOf("/users/") >= 0 ? "/users" : "/";
        })
        .catch(function (error) {
          status.textContent = "Not erased: " + error.message;
          erase.disabled = false;
        });
    });
    dialog.showModal();
    cancel.focus();
  }

  function bindErase(root) {
    (root || document).querySelectorAll("[data-erase]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.hidden = false;
      button.addEventListener("click", function () { confirmErase(button); });
    });
  }

  // --- charts --------------------------------------------------------------------------------------

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function drawCharts() {
    var source = document.getElementById("chart-data");
    if (!source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = data[el.dataset.chart];
      if (!chart || !chart.x.length) {
        el.textContent = "No sessions in this window.";
        el.classList.add("muted");
        return;
      }
      var color = cssVar("--llm");
      var axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--border"), width: 1 }, ticks: { stroke: cssVar("--border") } };
      var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined;
      var options = {
        width: Math.max(el.clientWidth, 280),
        height: 220,
        scales: { x: { time: chart.time } },
        axes: [Object.assign({}, axis, chart.time ? {} : { values: function (u, ticks) { return ticks.map(function (t) { return chart.labels ? chart.labels[t] : t; }); } }), axis],
        series: [{ label: chart.x_label }, { label: chart.y_label, stroke: color, fill: color + "55", width: 1, paths: bars, points: { show: false } }],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } }
      };
      el.textContent = "";
      new uPlot(options, [chart.x, chart.y], el);
    });
  }

  // --- start ---------------------------------------------------------------------------------------

  function enhance(root) {
    refreshTimes(root);
    bindClamps(root);
    bindSpans(root);
    bindErase(root);
  }

  bindRange();
  bindDrawer();
  bindRows();
  bindKeys();
  bindLive();
  enhance(document);
  drawCharts();
  var open = new URL(window.location.href).searchParams.get("open");
  if (open) markSelected(open);
  setInterval(function () { refreshTimes(document); }, 30000);
})();
