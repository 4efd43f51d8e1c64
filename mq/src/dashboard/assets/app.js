// The dashboard's one script, served by the dashboard itself: it refreshes
// the live parts of a page, draws the charts from /api/history as SVG, and
// runs the live tail. Every page works without it, only without updates.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2b59c3", "#d9480f", "#1c7c4a", "#9c36b5", "#c2255c", "#0b7285", "#5c940d", "#e67700",
  "#364fc7", "#862e9c", "#087f5b", "#a61e4d"];

// Live parts: an element with data-refresh="N" is fetched again every N
// seconds and replaced by its new version (same id), unless the operator
// is typing or has ticked something in it.
function refreshLiveParts() {
  const parts = [...document.querySelectorAll("[data-refresh]")];
  if (parts.length === 0) return;
  const seconds = Math.max(1, Math.min(...parts.map((part) => Number(part.dataset.refresh) || 5)));
  setInterval(async () => {
    if (document.hidden) return;
    const busy = parts.some((part) => part.contains(document.activeElement) && document.activeElement !== document.body
      || part.querySelector("input:checked"));
    if (busy) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Refresh": "1" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const part of parts) {
        const replacement = fresh.getElementById(part.id);
        if (replacement) part.innerHTML = replacement.innerHTML;
      }
    } catch (_) {
      // The dashboard is away for a moment: try again next time.
    }
  }, seconds * 1000);
}

function svg(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

function clock(ms) {
  return new Date(ms).toTimeString().slice(0, 5);
}

function short(value) {
  if (value >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (value >= 1e4) return (value / 1e3).toFixed(0) + "k";
  if (value >= 1e3) return (value / 1e3).toFixed(1) + "k";
  return value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1);
}

// One chart: a line per series of `lines` (name -> values, one per time).
function draw(figure, times, lines) {
  const plot = figure.querySelector(".plot");
  plot.textContent = "";
  const names = Object.keys(lines);
  if (times.length < 2 || names.length === 0) {
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = times.length < 2 ? "collecting… (a point every sample)" : "nothing to show yet";
    plot.appendChild(note);
    return;
  }
  const width = 600, height = 180, left = 44, right = 8, top = 8, bottom = 20;
  const start = times[0], end = times[times.length - 1];
  const values = names.flatMap((name) => lines[name].filter((v) => v !== null));
  const max = Math.max(1, ...values) * 1.1;
  const x = (t) => left + ((t - start) / Math.max(1, end - start)) * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" }, plot);
  for (let i = 0; i <= 4; i++) {
    const value = (max / 4) * i;
    svg("line", { class: "grid", x1: left, x2: width - right, y1: y(value), y2: y(value) }, chart);
    svg("text", { x: left - 6, y: y(value) + 3, "text-anchor": "end" }, chart).textContent = short(value);
  }
  svg("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }, chart);
  for (const [t, anchor] of [[start, "start"], [(start + end) / 2, "middle"], [end, "end"]]) {
    svg("text", { x: x(t), y: height - 5, "text-anchor": anchor }, chart).textContent = clock(t);
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  names.forEach((name, index) => {
    const color = COLORS[index % COLORS.length];
    let path = "";
    lines[name].forEach((value, i) => {
      if (value === null) return;
      path += (path === "" || lines[name][i - 1] === null ? "M" : "L") + x(times[i]).toFixed(1) + "," + y(value).toFixed(1);
    });
    if (path) svg("path", { d: path, fill: "none", stroke: color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }, chart);
    const label = document.createElement("span");
    label.style.setProperty("--swatch", color);
    const last = [...lines[name]].reverse().find((v) => v !== null);
    label.textContent = `${name}: ${last === undefined ? "–" : short(last)} ${figure.dataset.unit}`;
    legend.appendChild(label);
  });
  plot.appendChild(legend);
}

function drawCharts() {
  const figures = [...document.querySelectorAll("figure.chart")];
  if (figures.length === 0) return;
  const update = async () => {
    try {
      const response = await fetch("/api/history", { credentials: "same-origin" });
      if (!response.ok) return;
      const history = await response.json();
      for (const figure of figures) draw(figure, history.times, history[figure.dataset.series] || {});
    } catch (_) {
      // Next time.
    }
  };
  update();
  setInterval(update, 5000);
}

function selectAll() {
  for (const box of document.querySelectorAll("[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const other of box.closest("table").querySelectorAll("tbody input[type=checkbox]")) other.checked = box.checked;
    });
  }
  for (const select of document.querySelectorAll("[data-submit-on-change]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

// The live tail: asks /api/tail for what came after the last event shown,
// every second unless paused; newest on top, at most 500 kept.
function tail() {
  const root = document.getElementById("tail");
  if (!root) return;
  const list = document.getElementById("tail-events");
  const state = document.getElementById("tail-state");
  const type = document.getElementById("tail-type");
  const subject = document.getElementById("tail-subject");
  const pause = document.getElementById("tail-pause");
  const reveal = document.getElementById("tail-reveal");
  let after = "$";
  let paused = false;
  let seen = 0;
  const shows = (li) => (!type.value || li.dataset.type === type.value)
    && (!subject.value || li.dataset.subject === subject.value);
  const refilter = () => { for (const li of list.children) li.classList.toggle("hidden", !shows(li)); };
  type.addEventListener("change", refilter);
  subject.addEventListener("input", refilter);
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "paused: new events wait in Redis until you resume" : "following…";
  });
  const add = (event) => {
    const li = document.createElement("li");
    li.dataset.type = event.type || "";
    li.dataset.subject = event.subject || "";
    const head = document.createElement("div");
    head.className = "head";
    const name = document.createElement("strong");
    name.textContent = event.type ? `${event.type} v${event.version}` : "not a message";
    const who = document.createElement("span");
    who.textContent = event.subject ? `subject ${event.subject}` : "";
    const where = document.createElement("code");
    where.textContent = `${event.stream} ${event.entry_id}`;
    const when = document.createElement("span");
    when.className = "muted";
    when.textContent = event.time || "";
    head.append(name, who, where, when);
    const body = document.createElement("pre");
    body.className = "payload";
    body.textContent = JSON.stringify(event.error ? { error: event.error, data: event.data ?? event.fields } : event.data, null, 2);
    li.append(head, body);
    li.classList.toggle("hidden", !shows(li));
    list.prepend(li);
    while (list.children.length > 500) list.lastElementChild.remove();
  };
  const poll = async () => {
    if (!paused && !document.hidden) {
      const query = new URLSearchParams({ category: root.dataset.category, after });
      if (reveal && reveal.checked) query.set("reveal", "1");
      try {
        const response = await fetch("/api/tail?" + query, { credentials: "same-origin" });
        const answer = await response.json();
        if (response.ok) {
          after = answer.after;
          for (const event of answer.events) add(event);
          seen += answer.events.length;
          state.textContent = seen === 0 ? "following… no event yet" : `following… ${seen} event(s) so far`;
        } else {
          state.textContent = answer.error || "the tail failed";
        }
      } catch (_) {
        state.textContent = "the dashboard does not answer; trying again…";
      }
    }
    setTimeout(poll, 1000);
  };
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  refreshLiveParts();
  drawCharts();
  selectAll();
  tail();
});
