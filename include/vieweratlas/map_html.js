// ViewerAtlas interactive map: canvas drawing, pan/zoom, search, tooltips, legend.
// Data comes from the JSON block #graph-data; every Twitch string is put on the
// page with textContent (never innerHTML) inside <bdi>, or drawn on the canvas.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("graph-data").textContent);
  const N = data.nodes;
  const n = N.x.length;
  const canvas = document.getElementById("map");
  const ctx = canvas.getContext("2d");
  const tip = document.getElementById("tip");
  const search = document.getElementById("search");
  const results = document.getElementById("results");
  const commIndex = new Map(data.communities.id.map((id, k) => [id, k]));
  const lower = (s) => (s || "").toLocaleLowerCase();
  const loginLower = N.login.map(lower);
  const nameLower = N.name.map(lower);
  const colourOf = (k) => (k < 0 ? data.other : data.palette[k]);

  // Adjacency (CSR) for highlighting a selected channel's neighbours.
  const E = data.edges;
  const start = new Int32Array(n + 1);
  for (let e = 0; e < E.length; e++) start[E[e] + 1]++;
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const adj = new Int32Array(E.length);
  const fill = start.slice(0, n);
  for (let e = 0; e < E.length; e += 2) {
    adj[fill[E[e]]++] = E[e + 1];
    adj[fill[E[e + 1]]++] = E[e];
  }
  // Edges grouped by colour: a community's own colour inside it, grey (-1) between.
  const edgesByColour = new Map();
  for (let e = 0; e < E.length; e += 2) {
    const a = E[e];
    const b = E[e + 1];
    const k = N.community[a] === N.community[b] ? N.c[a] : -1;
    if (!edgesByColour.has(k)) edgesByColour.set(k, []);
    edgesByColour.get(k).push(a, b);
  }
  // Nodes grouped by colour, biggest first, so small dots stay visible on top.
  const byColour = new Map();
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => N.size[b] - N.size[a]);
  for (const i of order) {
    if (!byColour.has(N.c[i])) byColour.set(N.c[i], []);
    byColour.get(N.c[i]).push(i);
  }

  const view = { scale: 1, cx: 0, cy: 0, w: 0, h: 0, dpr: 1, fit: 1 };
  let selected = -1;
  let focus = null; // community id shown on its own
  let pending = false;

  const sx = (x) => (x - view.cx) * view.scale + view.w / 2;
  const sy = (y) => (view.cy - y) * view.scale + view.h / 2;
  const radius = (i) => (1.5 + 8 * N.size[i]) * Math.sqrt(view.scale / view.fit);

  function resize() {
    view.dpr = window.devicePixelRatio || 1;
    view.w = canvas.clientWidth;
    view.h = canvas.clientHeight;
    canvas.width = Math.round(view.w * view.dpr);
    canvas.height = Math.round(view.h * view.dpr);
    const fit = Math.min(view.w, view.h) / 2.1;
    view.scale *= fit / view.fit;
    view.fit = fit;
    schedule();
  }

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  }

  function draw() {
    ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    ctx.clearRect(0, 0, view.w, view.h);
    ctx.lineWidth = 0.5;
    for (const [k, pairs] of edgesByColour) {
      ctx.strokeStyle = colourOf(k);
      ctx.globalAlpha = k < 0 ? 0.06 : 0.14;
      ctx.beginPath();
      for (let e = 0; e < pairs.length; e += 2) {
        ctx.moveTo(sx(N.x[pairs[e]]), sy(N.y[pairs[e]]));
        ctx.lineTo(sx(N.x[pairs[e + 1]]), sy(N.y[pairs[e + 1]]));
      }
      ctx.stroke();
    }
    for (const [k, members] of byColour) {
      ctx.fillStyle = colourOf(k);
      for (const dim of [true, false]) {
        ctx.globalAlpha = dim ? 0.12 : 0.95;
        ctx.beginPath();
        for (const i of members) {
          if ((focus !== null && N.community[i] !== focus) !== dim) continue;
          const r = radius(i);
          ctx.moveTo(sx(N.x[i]) + r, sy(N.y[i]));
          ctx.arc(sx(N.x[i]), sy(N.y[i]), r, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    if (selected >= 0) drawSelection(selected);
    drawLabels();
  }

  function drawSelection(i) {
    ctx.strokeStyle = "rgba(20,20,20,0.6)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let p = start[i]; p < start[i + 1]; p++) {
      ctx.moveTo(sx(N.x[i]), sy(N.y[i]));
      ctx.lineTo(sx(N.x[adj[p]]), sy(N.y[adj[p]]));
    }
    ctx.stroke();
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#d40000";
    ctx.beginPath();
    ctx.arc(sx(N.x[i]), sy(N.y[i]), radius(i) + 4, 0, 2 * Math.PI);
    ctx.stroke();
  }

  function text(s, x, y, font) {
    ctx.font = font;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.strokeText(s, x, y);
    ctx.fillText(s, x, y);
  }

  function drawLabels() {
    ctx.textAlign = "center";
    ctx.fillStyle = "#111";
    const L = data.labels;
    for (let k = 0; k < L.x.length; k++) {
      text(L.text[k], sx(L.x[k]), sy(L.y[k]), "bold 13px system-ui, sans-serif");
    }
    // Channel names once zoomed in: biggest visible dots first, at most 150.
    if (view.scale < view.fit * 2.5) return;
    ctx.textAlign = "left";
    let shown = 0;
    for (const i of order) {
      const x = sx(N.x[i]);
      const y = sy(N.y[i]);
      if (x < 0 || y < 0 || x > view.w || y > view.h) continue;
      text(N.name[i] || N.login[i], x + radius(i) + 2, y + 4, "11px system-ui, sans-serif");
      if (++shown >= 150) break;
    }
  }

  function nodeAt(px, py) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      const dx = sx(N.x[i]) - px;
      const dy = sy(N.y[i]) - py;
      const d = dx * dx + dy * dy;
      const r = radius(i) + 3;
      if (d < r * r && d < bestD) {
        best = i;
        bestD = d;
      }
    }
    return best;
  }

  function row(parent, label, value) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    const bdi = document.createElement("bdi");
    bdi.textContent = value === null || value === undefined ? "—" : String(value);
    dd.append(bdi);
    parent.append(dt, dd);
  }

  function showTip(i, px, py) {
    const k = commIndex.get(N.community[i]);
    const dl = document.createElement("dl");
    row(dl, "Channel", N.name[i]);
    row(dl, "Login", N.login[i]);
    row(dl, "Community", k === undefined ? N.community[i] : data.communities.label[k]);
    row(dl, "Chatters", N.chatters[i].toLocaleString());
    row(dl, "Game", N.game[i]);
    row(dl, "Language", N.language[i]);
    tip.replaceChildren(dl);
    tip.hidden = false;
    tip.style.left = `${Math.min(px + 14, view.w - tip.offsetWidth - 4)}px`;
    tip.style.top = `${Math.min(py + 14, view.h - tip.offsetHeight - 4)}px`;
  }

  function select(i) {
    selected = i;
    view.cx = N.x[i];
    view.cy = N.y[i];
    view.scale = Math.max(view.scale, view.fit * 6);
    schedule();
    showTip(i, view.w / 2, view.h / 2);
    document.body.dataset.selected = N.login[i];
  }

  function matches(q) {
    const found = [];
    for (let i = 0; i < n; i++) {
      const a = loginLower[i];
      const b = nameLower[i];
      if (!a.includes(q) && !b.includes(q)) continue;
      const rank = a === q || b === q ? 0 : a.startsWith(q) || b.startsWith(q) ? 1 : 2;
      found.push([rank, -N.chatters[i], i]);
    }
    found.sort((u, v) => u[0] - v[0] || u[1] - v[1]);
    return found.slice(0, 12).map((f) => f[2]);
  }

  function showResults() {
    const q = lower(search.value.trim());
    results.replaceChildren();
    if (!q) return [];
    const found = matches(q);
    for (const i of found) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      const name = document.createElement("bdi");
      name.textContent = N.name[i] || N.login[i];
      const login = document.createElement("small");
      login.textContent = ` ${N.login[i]}`;
      button.append(name, login);
      button.addEventListener("click", () => select(i));
      li.append(button);
      results.append(li);
    }
    return found;
  }

  function buildLegend() {
    const list = document.getElementById("legend-list");
    for (const id of data.legend) {
      const k = commIndex.get(id);
      const li = document.createElement("li");
      const button = document.createElement("button");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colourOf(data.legend.indexOf(id));
      const label = document.createElement("bdi");
      label.textContent = data.communities.label[k];
      const size = document.createElement("small");
      size.textContent = ` ${data.communities.channels[k].toLocaleString()} channels`;
      button.append(swatch, label, size);
      button.addEventListener("click", () => {
        focus = focus === id ? null : id;
        schedule();
      });
      li.append(button);
      list.append(li);
    }
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.offsetX, y: ev.offsetY, cx: view.cx, cy: view.cy, moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (drag) {
      const dx = ev.offsetX - drag.x;
      const dy = ev.offsetY - drag.y;
      drag.moved = drag.moved || Math.abs(dx) + Math.abs(dy) > 3;
      view.cx = drag.cx - dx / view.scale;
      view.cy = drag.cy + dy / view.scale;
      schedule();
      return;
    }
    const i = nodeAt(ev.offsetX, ev.offsetY);
    if (i >= 0) showTip(i, ev.offsetX, ev.offsetY);
    else if (selected < 0) tip.hidden = true;
  });
  canvas.addEventListener("pointerup", (ev) => {
    if (drag && !drag.moved) {
      const i = nodeAt(ev.offsetX, ev.offsetY);
      if (i >= 0) select(i);
      else {
        selected = -1;
        tip.hidden = true;
        schedule();
      }
    }
    drag = null;
  });
  canvas.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const factor = Math.exp(-ev.deltaY * 0.0015);
      const scale = Math.min(Math.max(view.scale * factor, view.fit * 0.5), view.fit * 80);
      const wx = view.cx + (ev.offsetX - view.w / 2) / view.scale;
      const wy = view.cy - (ev.offsetY - view.h / 2) / view.scale;
      view.cx = wx - (ev.offsetX - view.w / 2) / scale;
      view.cy = wy + (ev.offsetY - view.h / 2) / scale;
      view.scale = scale;
      schedule();
    },
    { passive: false },
  );
  search.addEventListener("input", showResults);
  search.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const found = showResults();
    if (found.length) select(found[0]);
  });
  document.getElementById("reset").addEventListener("click", () => {
    view.cx = 0;
    view.cy = 0;
    view.scale = view.fit;
    selected = -1;
    focus = null;
    tip.hidden = true;
    schedule();
  });
  window.addEventListener("resize", resize);

  buildLegend();
  resize();
  view.scale = view.fit;
  draw();
  const initial = new URLSearchParams(location.hash.slice(1)).get("q");
  if (initial) {
    search.value = initial;
    const found = showResults();
    if (found.length) select(found[0]);
  }
  document.body.dataset.ready = String(n);
})();
