// scaler dashboard: renders what /dashboard/events pushes. Every value is
// set as text (never as HTML): event messages and names come from spec
// files and containers.
"use strict";

const WINDOW_MS = 15 * 60 * 1000;
let points = [];
let state = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

// bar shows used against limit; without a limit it shows the number only.
function bar(used, limit, label) {
  if (used === undefined || used === null) return el("span", { class: "muted", text: "–" });
  const wrap = el("span");
  if (limit > 0) {
    const pct = Math.min(100, (100 * used) / limit);
    const fill = el("i", { class: pct > 85 ? "high" : "" });
    fill.style.width = pct.toFixed(1) + "%";
    wrap.append(el("span", { class: "bar", title: pct.toFixed(0) + "% of the limit" }, fill));
  }
  wrap.append(el("span", { class: "bar-label", text: label }));
  return wrap;
}

function replicaRow(spec, r) {
  const health = r.health || (r.state === "running" ? "running" : r.state);
  const classes = ["replica", r.health || "nohealth"];
  if (r.draining) classes.push("draining");
  if (r.state !== "running") classes.push("stopped");
  let upstream = "–";
  if (spec.loadBalancer && r.role === "app") upstream = r.draining ? "draining" : r.inUpstream ? "in" : "out";
  const cpu = r.cpuPercent === undefined ? null : r.cpuPercent;
  const cpuLimit = r.cpuLimit ? r.cpuLimit * 100 : 0;
  const cpuLabel = cpu === null ? "" : cpu.toFixed(1) + "%" + (r.cpuLimit ? " of " + r.cpuLimit + " CPU" : "");
  const mem = r.memoryBytes === undefined ? null : r.memoryBytes;
  const memLabel = mem === null ? "" : bytes(mem) + (r.memoryLimitBytes ? " of " + bytes(r.memoryLimitBytes) : "");
  let share = "–";
  if (r.share !== undefined && r.share !== null) share = (100 * r.share).toFixed(0) + "% (" + r.requests + ")";
  return el("tr", { class: classes.join(" "), "data-name": r.name, "data-role": r.role, "data-health": r.health || "", "data-state": r.state,
      "data-upstream": upstream },
    el("td", { text: r.name + (r.role === "lb" ? " (load balancer)" : "") }),
    el("td", { class: "health" }, el("span", { class: "dot" }), health + (r.state !== "running" && r.health ? " (" + r.state + ")" : "")),
    el("td", { class: "upstream", text: upstream }),
    el("td", { text: (r.revision ? "rev " + r.revision : "") + (r.outdated ? " (outdated)" : "") }),
    el("td", {}, r.statsError ? el("span", { class: "muted", title: r.statsError, text: "n/a" }) : bar(cpu, cpuLimit, cpuLabel)),
    el("td", {}, r.statsError ? null : bar(mem, r.memoryLimitBytes, memLabel)),
    el("td", { text: share }));
}

// plot draws a line over the last 15 minutes, or since the first point
// when the page has less than that.
function plot(title, series, cls, unit) {
  const now = Date.now();
  const pts = series.filter((p) => p.v !== null && p.v !== undefined);
  const maxV = Math.max(1, ...pts.map((p) => p.v));
  const from = Math.max(now - WINDOW_MS, series.length ? series[0].t : now - WINDOW_MS);
  const span = Math.max(now - from, 10000);
  const coords = pts.map((p) => {
    const x = (1000 * (p.t - from)) / span;
    const y = 100 - (95 * p.v) / maxV;
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 1000 100");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", coords.join(" "));
  if (cls) line.setAttribute("class", cls);
  svg.append(line);
  const last = pts.length ? pts[pts.length - 1].v : null;
  const lastText = last === null ? "no data" : (Number.isInteger(last) ? last : last.toFixed(1)) + unit;
  const minutes = Math.max(1, Math.round(span / 60000));
  return el("div", { class: "plot" }, el("div", { class: "label" }, el("span", { text: title + ", last " + (span < 60000 ? Math.round(span / 1000) + " s" : minutes + " min") }), el("span", { text: lastText + " · max " + (Number.isInteger(maxV) ? maxV : maxV.toFixed(1)) })), svg);
}

function specCard(s) {
  const card = el("article", { class: "spec", "data-spec": s.name, "data-desired": s.desired, "data-ready": s.ready,
    "data-replicas": s.replicas, "data-upstream": s.upstream.length });
  const counts = el("div", { class: "counts" });
  for (const [k, v] of [["desired", s.desired], ["ready", s.ready], ["updated", s.updated], ["upstream", s.upstream.length]]) {
    counts.append(el("span", { class: "count-" + k }, el("b", { text: String(v) }), " " + k));
  }
  const conds = el("div");
  for (const c of s.conditions) {
    conds.append(el("span", { class: "badge " + (c.status === "Unknown" ? "unknown" : c.good ? "good" : "bad"), "data-condition": c.type, "data-status": c.status, title: (c.reason || "") + ": " + (c.message || ""), text: c.type }));
  }
  card.append(el("div", { class: "spec-head" }, el("h2", { text: s.name }), el("code", { class: "muted", text: s.image }),
    s.loadBalancer ? el("span", { class: "muted", text: "load balancer " + s.loadBalancer }) : null,
    s.revision ? el("span", { class: "muted", text: "revision " + s.revision }) : null,
    s.autoscaling ? el("span", { class: "muted", "data-autoscaling": "", text: "autoscaling " + s.autoscaling }) : null), counts, conds);
  if (s.rollout) {
    const steps = el("ol");
    for (const st of s.rollout.steps) steps.append(el("li", { text: st }));
    const what = s.rollout.rollout ? "Rollout" : "Converging";
    card.append(el("div", { class: "rollout" + (s.rollout.stalled ? " stalled" : ""), "data-rollout": String(s.rollout.rollout) },
      el("b", { text: what + (s.rollout.stalled ? " stalled: " : " in progress: ") }),
      s.rollout.message || s.rollout.updatedReady + " of " + s.rollout.desired + " updated replicas ready", steps));
  }
  const table = el("table", { class: "replicas" },
    el("thead", {}, el("tr", {}, ...["replica", "health", "upstream", "revision", "CPU", "memory", "requests"].map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const r of s.members) body.append(replicaRow(s, r));
  table.append(body);
  const side = el("div", { class: "plots" });
  const mine = points.map((p) => ({ t: Date.parse(p.t), s: p.specs[s.name] })).filter((p) => p.s);
  side.append(plot("ready replicas", mine.map((p) => ({ t: p.t, v: p.s.ready })), "ready", ""));
  if (s.loadBalancer) {
    side.append(plot("requests/s", mine.map((p) => ({ t: p.t, v: p.s.rps === undefined ? null : p.s.rps })), "", "/s"));
  }
  const note = s.requestsUnknown ? el("p", { class: "muted", text: "requests: " + s.requestsUnknown }) : null;
  card.append(el("div", { class: "grid" }, el("div", {}, table, note), side));
  return card;
}

function render() {
  if (!state) return;
  const specs = document.getElementById("specs");
  const cards = state.specs.map(specCard);
  specs.replaceChildren(...(cards.length ? cards : [el("p", { class: "muted", text: "no specs: `scalectl apply -f FILE` adds one" })]));
  const tbody = document.querySelector("#events tbody");
  tbody.replaceChildren(...state.events.map((e) => el("tr", { class: e.type },
    el("td", { text: new Date(e.last).toLocaleTimeString() + (e.count > 1 ? " (×" + e.count + ")" : "") }),
    el("td", { text: e.type }), el("td", { text: e.reason }), el("td", { text: e.object }), el("td", { text: e.message }))));
  const banner = document.getElementById("error");
  banner.hidden = !state.error;
  banner.textContent = state.error || "";
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString() +
    (state.usageTime ? " · usage sampled " + new Date(state.usageTime).toLocaleTimeString() : "");
}

function trim() {
  const from = Date.now() - WINDOW_MS;
  while (points.length && Date.parse(points[0].t) < from) points.shift();
}

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("/dashboard/events");
  es.onopen = () => { conn.className = "conn live"; conn.textContent = "live"; };
  es.onerror = () => { conn.className = "conn lost"; conn.textContent = "reconnecting…"; };
  es.addEventListener("history", (e) => { points = JSON.parse(e.data) || []; trim(); render(); });
  es.addEventListener("state", (e) => { state = JSON.parse(e.data); render(); });
  es.addEventListener("point", (e) => { points.push(JSON.parse(e.data)); trim(); render(); });
}

connect();
