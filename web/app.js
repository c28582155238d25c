// vigil web view: read-only fleet overview from the collector's /api/overview.
// The token comes from the URL fragment (#token=..., never sent to the server
// or its logs) or the login form, and is kept in this tab's sessionStorage.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KEY = "vigil.token";
  let chart = null;

  function takeTokenFromFragment() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); }

  function cell(tr, value, cls) {
    const td = document.createElement("td");
    if (cls) {
      const span = document.createElement("span");
      span.className = cls;
      text(span, value);
      td.appendChild(span);
    } else {
      text(td, value);
    }
    tr.appendChild(td);
    return td;
  }

  function fill(tableId, rows, render) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      render(tr, row);
      body.appendChild(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = cell(tr, "none in this window");
      td.colSpan = 8;
      td.className = "muted";
      body.appendChild(tr);
    }
  }

  const num = (v) => Number(v || 0);
  // An alert's workload: "namespace/pod · image" (the container's name or
  // short id outside a pod), or "host".
  function workload(ev) {
    const c = ev && ev.container;
    if (!c) return "host";
    const pod = c.pod ? (c.k8s_ns ? c.k8s_ns + "/" + c.pod : c.pod) : c.pod_uid;
    const where = pod || c.name || (c.id || "").slice(0, 12);
    return [where, c.image].filter(Boolean).join(" · ") || "container";
  }
  const fmtTime = (ns) => new Date(num(ns) / 1e6).toISOString().replace("T", " ").slice(0, 19) + "Z";

  function renderTimeline(report) {
    const bucket = num(report.bucket_s) || 300;
    const end = num(report.generated_ns) / 1e9;
    const alerts = (report.alerts_trend || []).map(num);
    const events = (report.events_trend || []).map(num);
    const n = Math.max(alerts.length, events.length);
    const xs = [];
    for (let i = 0; i < n; i++) xs.push(end - (n - i) * bucket);
    const data = [xs, alerts, events];
    const width = Math.max(400, $("timeline").clientWidth || 900);
    if (chart) chart.destroy();
    chart = new uPlot({
      width, height: 220,
      series: [
        {},
        { label: "alerts", stroke: "#f85149", width: 2, fill: "rgba(248,81,73,.15)" },
        { label: "events", stroke: "#58a6ff", width: 1, scale: "events" },
      ],
      axes: [
        { stroke: "#8a96a3", grid: { stroke: "#2a3440" } },
        { stroke: "#8a96a3", grid: { stroke: "#2a3440" }, label: "alerts / bucket" },
        { side: 1, scale: "events", stroke: "#8a96a3", grid: { show: false }, label: "events" },
      ],
    }, data, $("timeline"));
  }

  function render(o) {
    const r = o.report || {};
    const hosts = (r.hosts || []).slice().sort((a, b) => num(b.risk) - num(a.risk));
    text($("generated"), "generated " + fmtTime(r.generated_ns) + " by vigil-collector " + o.version);
    text($("n-hosts"), hosts.length);
    text($("n-alerts"), hosts.reduce((s, h) => s + num(h.alerts), 0));
    text($("n-fleet"), num(r.fleet_alerts));
    const levels = {};
    for (const h of hosts) levels[h.level || "calm"] = (levels[h.level || "calm"] || 0) + 1;
    text($("levels"), Object.entries(levels).map(([k, v]) => k + " " + v).join(" · ") || "–");

    fill("hosts", hosts, (tr, h) => {
      tr.dataset.host = h.host;
      cell(tr, h.host);
      cell(tr, h.level || "calm", "level " + (h.level || "calm"));
      cell(tr, num(h.risk));
      cell(tr, num(h.events));
      cell(tr, num(h.alerts));
      cell(tr, (h.agent && h.agent.model_version) || "–");
      cell(tr, h.agent && h.agent.connected ? "connected" : "disconnected");
    });
    fill("top-alerts", r.top_alerts || [], (tr, a) => {
      cell(tr, num(a.score));
      cell(tr, a.fleet ? "fleet: " + (a.hosts || []).join(", ") : a.host);
      cell(tr, a.fleet ? "–" : workload(a.event));
      cell(tr, a.kind);
      cell(tr, [...new Set((a.indicators || []).map((i) => i.attack).filter(Boolean))].join(" "));
      cell(tr, a.summary);
    });
    fill("top-processes", r.top_processes || [], (tr, c) => { cell(tr, c.key); cell(tr, num(c.count)); });
    fill("top-remotes", r.top_remote_addresses || [], (tr, c) => { cell(tr, c.key); cell(tr, num(c.count)); });
    const group = (tr, g) => {
      cell(tr, g.key);
      cell(tr, num(g.alerts));
      cell(tr, num(g.risk));
      cell(tr, num(g.events));
    };
    fill("top-pods", r.top_pods || [], group);
    fill("top-namespaces", r.top_k8s_namespaces || [], group);
    fill("top-images", r.top_images || [], group);

    const versions = {};
    for (const h of hosts) {
      const v = (h.agent && h.agent.model_version) || "unknown";
      versions[v] = (versions[v] || 0) + 1;
    }
    const rows = Object.entries(versions).sort((a, b) => b[1] - a[1]);
    fill("model-versions", rows, (tr, [v, count]) => {
      cell(tr, v);
      cell(tr, count);
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = Math.round((100 * count) / Math.max(1, hosts.length)) + "%";
      cell(tr, "").appendChild(bar);
    });

    const ro = o.rollout || {};
    const dl = $("rollout");
    dl.replaceChildren();
    const add = (k, v) => {
      const dt = document.createElement("dt"); text(dt, k);
      const dd = document.createElement("dd"); text(dd, v);
      dl.append(dt, dd);
    };
    add("phase", ro.phase || "idle");
    add("version", ro.version || "–");
    add("agents on it", num(ro.agents_updated) + " of " + num(ro.agents_total) + " connected");
    if (ro.previous_version) add("previous", ro.previous_version);
    if ((ro.canary_agents || []).length) add("canary agents", ro.canary_agents.join(", "));
    if (ro.reason) add("reason", ro.reason);
    add("active model", o.active_model || "–");
    renderTimeline(r);
  }

  async function load() {
    const token = sessionStorage.getItem(KEY);
    if (!token) {
      $("main").hidden = true;
      $("login").hidden = false;
      document.body.dataset.state = "login";
      return;
    }
    try {
      const res = await fetch("api/overview?window=" + $("window").value, {
        headers: { Authorization: "Bearer " + token },
        cache: "no-store",
      });
      if (res.status === 401) {
        sessionStorage.removeItem(KEY);
        text($("login-error"), "the collector refused this token");
        return load();
      }
      if (!res.ok) throw new Error("HTTP " + res.status + ": " + (await res.text()));
      render(await res.json());
      $("login").hidden = true;
      $("main").hidden = false;
      text($("error"), "");
      document.body.dataset.state = "ready";
    } catch (e) {
      text($("error"), "cannot load the overview: " + e.message);
      document.body.dataset.state = "error";
    }
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    load();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); load(); });
  $("window").addEventListener("change", load);
  takeTokenFromFragment();
  load();
  setInterval(() => { if (document.body.dataset.state === "ready") load(); }, 10000);
})();
