// ViewerAtlas interactive map: canvas drawing, pan/zoom/pinch, search, label grid,
// neighbour panel, legend, light/dark. Data comes from the JSON block #graph-data;
// every Twitch string is put on the page with textContent (never innerHTML) inside
// <bdi>, or drawn on the canvas.
"use strict";
(() => {
  // First-frame phases as performance marks (va:script ... va:labels), read by
  // scripts/bench_map_page.py; the marks inside draw() are set on the first frame only.
  performance.mark("va:script");
  const data = JSON.parse(document.getElementById("graph-data").textContent);
  performance.mark("va:parse");
  const N = data.nodes;
  const n = N.x.length;
  const G = data.grid;
  const X = new Float64Array(n);
  const Y = new Float64Array(n);
  const S = new Float64Array(n); // size in [0, 1] (sent as integers 0..1000)
  for (let i = 0; i < n; i++) {
    X[i] = N.x[i] / G;
    Y[i] = N.y[i] / G;
    S[i] = N.size[i] / 1000;
  }
  // Each channel's ranked neighbours (start, id, shared; CSR) come from the JSON block
  // after this script, parsed at first use (a click, a search, a deep link): the first
  // frame needs only the drawn edges, data.drawn (DRAWN ids per channel, -1 padded),
  // which are also each list's first entries.
  const DRAWN = data.drawn.per;
  let NB = null;
  function neighbours() {
    if (NB !== null) return NB;
    const block = document.getElementById("neighbor-data");
    if (block === null) return null; // not parsed yet
    const raw = JSON.parse(block.textContent);
    const id = new Int32Array(raw.shared.length);
    for (let i = 0, q = 0; i < n; i++) {
      for (let p = raw.start[i], r = 0; p < raw.start[i + 1]; p++, r++) {
        id[p] = r < DRAWN ? data.drawn.id[i * DRAWN + r] : raw.rest[q++];
      }
    }
    NB = { start: raw.start, id, shared: raw.shared };
    return NB;
  }
  const $ = (id) => document.getElementById(id);
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const tip = $("tip");
  const search = $("search");
  const results = $("results");
  const panel = $("panel");
  const commIndex = new Map(data.communities.id.map((id, k) => [id, k]));
  const colourSlot = new Map(data.legend.map((id, k) => [id, data.legend_colour[k]]));
  const lower = (s) => (s || "").toLocaleLowerCase();
  const nameOf = (i) => N.name[i] || N.login[i];
  let loginLower = null; // lower-cased logins and names, made at the first search
  let nameLower = null;
  const colourOf = (k) => (k < 0 ? data.other : data.palette[k]);
  // 1,234,567 (as the legend's audience text from Python): toLocaleString's first call
  // costs tens of milliseconds of ICU set-up on a fresh page.
  const fmt = (v) => String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  // Drawn edges: each channel's strongest few neighbours, grouped by colour
  // (a community's own colour inside it, grey between). One Path2D per colour in grid
  // units, built once from the integer positions (no boxed doubles, no per-frame path
  // building): every frame strokes it through the view's transform (see drawGraph).
  // edgePaths: [colour index (-1 grey), Path2D or null], grey first.
  const edgePaths = Array.from({ length: data.palette.length + 1 }, (_, slot) => [slot - 1, null]);
  for (let i = 0; i < n; i++) {
    for (let p = i * DRAWN; p < (i + 1) * DRAWN; p++) {
      const j = data.drawn.id[p];
      if (j < 0) break;
      const slot = N.community[i] === N.community[j] ? N.c[i] + 1 : 0;
      let path = edgePaths[slot][1];
      if (path === null) path = edgePaths[slot][1] = new Path2D();
      path.moveTo(N.x[i], N.y[i]);
      path.lineTo(N.x[j], N.y[j]);
    }
  }
  // Nodes by colour, biggest first (then by row), so small dots stay visible on top:
  // a counting sort on the integer sizes.
  const bySize = new Int32Array(1002);
  for (let i = 0; i < n; i++) bySize[1000 - N.size[i] + 1]++;
  for (let v = 1; v < 1002; v++) bySize[v] += bySize[v - 1];
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[bySize[1000 - N.size[i]]++] = i;
  // byColour: [colour index, Int32Array of its channels biggest first], colours in the
  // order of their biggest channel (a counting sort on the colour slots, grey = slot 0).
  const slots = data.palette.length + 1;
  const colourStart = new Int32Array(slots + 1);
  for (let i = 0; i < n; i++) colourStart[N.c[i] + 2]++;
  for (let c = 1; c <= slots; c++) colourStart[c] += colourStart[c - 1];
  const colourFill = colourStart.slice(0, slots);
  const byColourRows = new Int32Array(n);
  const colourOrder = [];
  for (let o = 0; o < n; o++) {
    const slot = N.c[order[o]] + 1;
    if (colourFill[slot] === colourStart[slot]) colourOrder.push(slot);
    byColourRows[colourFill[slot]++] = order[o];
  }
  const byColour = colourOrder.map((slot) => [
    slot - 1,
    byColourRows.subarray(colourStart[slot], colourStart[slot + 1]),
  ]);

  performance.mark("va:arrays");
  const quiet = new Uint8Array(n); // unconnected channels: the outer ring, unlabelled at fit
  for (const i of data.unconnected.rows) quiet[i] = 1;

  const view = { scale: 1, cx: 0, cy: 0, w: 0, h: 0, dpr: 1, fit: 1 };
  let selected = -1;
  let around = null; // Uint8Array: 1 for the selected channel and its neighbours
  let focus = null; // community id shown on its own
  let pending = false;
  let theme = {};
  // #debug=labels draws the labels alone, so a test can check their ink against their boxes;
  // #debug=edges the drawn edges alone, so a test can check where they land.
  const debug = new URLSearchParams(location.hash.slice(1)).get("debug");
  const labelsOnly = debug === "labels";
  const edgesOnly = debug === "edges";

  const sx = (x) => (x - view.cx) * view.scale + view.w / 2;
  const sy = (y) => (view.cy - y) * view.scale + view.h / 2;
  const radius = (i) => (1.5 + 8 * S[i]) * Math.sqrt(view.scale / view.fit);

  function readTheme() {
    const css = getComputedStyle(document.documentElement);
    theme = {
      fg: css.getPropertyValue("--fg").trim() || "#111",
      halo: css.getPropertyValue("--halo").trim() || "#fff",
      dark: (css.getPropertyValue("--bg").trim() || "#fff") !== "#fff",
    };
    document.body.dataset.theme = theme.dark ? "dark" : "light";
  }

  function resize() {
    view.dpr = window.devicePixelRatio || 1;
    view.w = canvas.clientWidth;
    view.h = canvas.clientHeight;
    canvas.width = Math.round(view.w * view.dpr);
    canvas.height = Math.round(view.h * view.dpr);
    ctxFont = "";
    const fit = Math.max(Math.min(view.w, view.h) / 2.1, 1);
    view.scale *= fit / view.fit;
    view.fit = fit;
    document.body.dataset.map = `${view.w}x${view.h}`;
    schedule();
  }

  // While a drag pans the map, frames blit a snapshot of the last full drawing
  // (software canvases cannot redraw thousands of dots and labels at 60 fps);
  // the full drawing comes back when the drag ends.
  // A frame redraws only if something changed since the last draw (the first frame is
  // drawn at once, not again on the next animation frame).
  let snapshot = null;
  let dirty = false;
  let frames = 0; // full drawings so far
  function schedule() {
    dirty = true;
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (snapshot && drag && drag.moved) blit();
      else if (dirty) draw();
    });
  }

  function takeSnapshot() {
    snapshot = document.createElement("canvas");
    snapshot.width = canvas.width;
    snapshot.height = canvas.height;
    snapshot.getContext("2d").drawImage(canvas, 0, 0);
    snapshot.cx = view.cx;
    snapshot.cy = view.cy;
    snapshot.scale = view.scale;
  }

  function blit() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const dx = (snapshot.cx - view.cx) * view.scale * view.dpr;
    const dy = (view.cy - snapshot.cy) * view.scale * view.dpr;
    ctx.drawImage(snapshot, Math.round(dx), Math.round(dy));
  }

  const dimmed = (i) =>
    around !== null ? around[i] === 0 : focus !== null && N.community[i] !== focus;

  function draw() {
    dirty = false;
    ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    ctx.clearRect(0, 0, view.w, view.h);
    if (!labelsOnly) drawGraph();
    if (frames === 0) performance.mark("va:graph");
    if (!edgesOnly) drawLabels();
    if (frames === 0) performance.mark("va:labels");
    frames++;
    document.body.dataset.frames = String(frames);
    document.body.dataset.zoom = (view.scale / view.fit).toFixed(3);
  }

  function drawGraph() {
    // Grid units to CSS pixels (as sx, sy), lines 0.5 px wide on screen.
    const k = view.scale / G;
    const d = view.dpr;
    ctx.setTransform(d * k, 0, 0, -d * k, d * (view.w / 2 - view.cx * view.scale),
      d * (view.h / 2 + view.cy * view.scale));
    ctx.lineWidth = 0.5 / k;
    const fade = around !== null || focus !== null ? 0.35 : 1;
    for (const [c, path] of edgePaths) {
      if (path === null) continue;
      ctx.strokeStyle = colourOf(c);
      ctx.globalAlpha = (c < 0 ? 0.07 : 0.16) * fade;
      ctx.stroke(path);
    }
    ctx.setTransform(d, 0, 0, d, 0, 0);
    if (edgesOnly) return;
    const grow = Math.sqrt(view.scale / view.fit); // as radius()
    const anyDim = around !== null || focus !== null;
    const { cx, cy, scale, w, h } = view; // x, y below are sx(X[i]), sy(Y[i])
    const hw = w / 2;
    const hh = h / 2;
    for (const [k, members] of byColour) {
      ctx.fillStyle = colourOf(k);
      for (let pass = anyDim ? 0 : 1; pass < 2; pass++) {
        const dim = pass === 0;
        ctx.globalAlpha = dim ? 0.12 : 0.95;
        ctx.beginPath();
        for (let m = 0; m < members.length; m++) {
          const i = members[m];
          if (anyDim && dimmed(i) !== dim) continue;
          const x = (X[i] - cx) * scale + hw;
          const y = (cy - Y[i]) * scale + hh;
          const r = (1.5 + 8 * S[i]) * grow;
          if (x < -r || y < -r || x > w + r || y > h + r) continue;
          ctx.moveTo(x + r, y);
          ctx.arc(x, y, r, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    if (selected >= 0) drawSelection(selected);
  }

  function drawSelection(i) {
    ctx.strokeStyle = theme.dark ? "rgba(240,240,240,0.7)" : "rgba(20,20,20,0.6)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let p = NB.start[i]; p < NB.start[i + 1]; p++) {
      ctx.moveTo(sx(X[i]), sy(Y[i]));
      ctx.lineTo(sx(X[NB.id[p]]), sy(Y[NB.id[p]]));
    }
    ctx.stroke();
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#d40000";
    ctx.beginPath();
    ctx.arc(sx(X[i]), sy(Y[i]), radius(i) + 4, 0, 2 * Math.PI);
    ctx.stroke();
  }

  // Label grid: community names first (largest first), then channel names biggest
  // first. A label's box is its measured ink (every glyph, fallback fonts included)
  // plus the halo and a gap; a label is drawn only where its box overlaps no box
  // already placed (64 px hash cells) and stays inside the map. Before a candidate is
  // measured, its core (0.45 em per character, half an em tall: inside the ink of
  // ordinary text) must be free too, which turns most channel names away without a
  // measureText call. The core only decides which candidates get measured; the drawn
  // label is always checked by its measured box.
  const HALO = 1.5; // half the halo's stroke width
  const GAP = 1; // kept free around every label's halo
  const CORE_W = 0.45; // em per character (UTF-16 unit)
  const CORE_H = 0.25; // em above and below the middle
  const metrics = new Map(); // font -> text -> [width, left, right, ascent, descent]
  let ctxFont = ""; // ctx.font as last set (the canvas resets it on resize)
  function setFont(font) {
    if (font === ctxFont) return;
    ctx.font = font;
    ctxFont = font;
  }
  // Ink metrics of s in font, left-aligned, baseline middle (set by drawLabels).
  function measure(s, font) {
    let byText = metrics.get(font);
    if (byText === undefined) metrics.set(font, (byText = new Map()));
    let m = byText.get(s);
    if (m === undefined) {
      setFont(font);
      const t = ctx.measureText(s);
      m = [
        t.width,
        t.actualBoundingBoxLeft,
        t.actualBoundingBoxRight,
        t.actualBoundingBoxAscent,
        t.actualBoundingBoxDescent,
      ];
      byText.set(s, m);
    }
    return m;
  }

  const fonts = new Map(); // one font string per size and weight
  const fontOf = (size, bold) => {
    const key = bold ? -size : size;
    let font = fonts.get(key);
    if (font === undefined) {
      font = `${bold ? "bold " : ""}${size}px system-ui, sans-serif`;
      fonts.set(key, font);
    }
    return font;
  };
  // A run of text drawn at (x, y) (baseline middle), size in px.
  const run = (s, size, bold, x, y, align) => ({ s, size, font: fontOf(size, bold), x, y, align });
  // Where a run of width w starts.
  const startX = (r, w) =>
    r.align === "left" ? r.x : r.align === "right" ? r.x - w : r.x - w / 2;

  // The candidate's core plus halo and gap, written into b (no measuring).
  function coreBox(runs, b) {
    const pad = HALO + GAP;
    b[0] = b[1] = Infinity;
    b[2] = b[3] = -Infinity;
    for (const r of runs) {
      const w = CORE_W * r.size * r.s.length;
      const x0 = startX(r, w);
      b[0] = Math.min(b[0], x0 - pad);
      b[1] = Math.min(b[1], r.y - CORE_H * r.size - pad);
      b[2] = Math.max(b[2], x0 + w + pad);
      b[3] = Math.max(b[3], r.y + CORE_H * r.size + pad);
    }
    return b;
  }

  // The candidate's measured box: ink plus halo and gap, rounded outward.
  function inkBox(runs) {
    const pad = HALO + GAP;
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const r of runs) {
      const m = measure(r.s, r.font);
      const x0 = startX(r, m[0]);
      b[0] = Math.min(b[0], Math.floor(x0 - m[1] - pad));
      b[1] = Math.min(b[1], Math.floor(r.y - m[3] - pad));
      b[2] = Math.max(b[2], Math.ceil(x0 + m[2] + pad));
      b[3] = Math.max(b[3], Math.ceil(r.y + m[4] + pad));
    }
    return b;
  }

  // Where a community label may go: on its centroid, else one label height above or below;
  // its name and top channels on two lines, else the name alone.
  function communityCandidates(k, x, y) {
    const L = data.labels;
    const big = k < 12;
    const nameSize = big ? 13 : 11;
    const topSize = big ? 12 : 10;
    const step = big ? 15 : 13;
    const out = [];
    if (L.top[k]) {
      for (const dy of [0, -2 * step, 2 * step]) {
        out.push([
          run(L.name[k], nameSize, true, x, y + dy - step / 2, "center"),
          run(L.top[k], topSize, false, x, y + dy + step / 2, "center"),
        ]);
      }
    }
    for (const dy of [0, -step, step]) {
      out.push([run(L.name[k], nameSize, true, x, y + dy, "center")]);
    }
    return out;
  }

  // A channel's name beside its dot (clear of the selection ring), right or left.
  const nameSize = (i) => Math.round(10 + 6 * S[i]);
  const nameGap = (i) => radius(i) + (i === selected ? 7 : 2); // dot centre to the name
  function nameCandidates(i) {
    const x = sx(X[i]);
    const y = sy(Y[i]);
    const size = nameSize(i);
    const s = nameOf(i);
    const r = nameGap(i);
    return [
      [run(s, size, i === selected, x + r, y, "left")],
      [run(s, size, i === selected, x - r, y, "right")],
    ];
  }

  function drawLabels() {
    const cells = new Map();
    const boxes = [];
    const drawn = [];
    const free = (b) => {
      if (b[0] < 0 || b[1] < 0 || b[2] > view.w || b[3] > view.h) return false;
      for (let gx = Math.floor(b[0] / 64); gx <= Math.floor(b[2] / 64); gx++) {
        for (let gy = Math.floor(b[1] / 64); gy <= Math.floor(b[3] / 64); gy++) {
          const cell = cells.get(gx * 100003 + gy);
          if (cell === undefined) continue;
          for (const o of cell) {
            if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) return false;
          }
        }
      }
      return true;
    };
    const core = [0, 0, 0, 0];
    // Places the first candidate (a list of runs) whose box is free; false if none is.
    const place = (candidates) => {
      for (const runs of candidates) {
        if (!free(coreBox(runs, core))) continue;
        const b = inkBox(runs);
        if (!free(b)) continue;
        for (let gx = Math.floor(b[0] / 64); gx <= Math.floor(b[2] / 64); gx++) {
          for (let gy = Math.floor(b[1] / 64); gy <= Math.floor(b[3] / 64); gy++) {
            const key = gx * 100003 + gy;
            const cell = cells.get(key);
            if (cell === undefined) cells.set(key, [b]);
            else cell.push(b);
          }
        }
        boxes.push([...b, runs.map((r) => r.s).join(" / ")]);
        drawn.push(...runs);
        return true;
      }
      return false;
    };
    ctxFont = "";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    if (selected >= 0) place(nameCandidates(selected)); // the selected channel first
    const L = data.labels;
    for (let k = 0; k < L.x.length; k++) {
      if (focus !== null && L.id[k] !== focus) continue;
      place(communityCandidates(k, sx(L.x[k] / G), sy(L.y[k] / G)));
    }
    let tried = 0;
    let shown = 0;
    const pad = HALO + GAP;
    for (let o = 0; o < n; o++) {
      const i = order[o];
      if (tried >= 1500 || shown >= 160) break;
      if (i === selected || dimmed(i) || (quiet[i] && view.scale < view.fit * 4)) continue;
      const x = sx(X[i]);
      const y = sy(Y[i]);
      if (x < 0 || y < 0 || x > view.w || y > view.h) continue;
      tried++;
      // Most names are turned away by their core on both sides: check that first (the
      // core boxes of nameCandidates' two runs, as coreBox makes them) before making them.
      const size = nameSize(i);
      const cw = CORE_W * size * nameOf(i).length;
      const r = nameGap(i);
      core[1] = y - CORE_H * size - pad;
      core[3] = y + CORE_H * size + pad;
      core[0] = x + r - pad;
      core[2] = x + r + cw + pad;
      if (!free(core)) {
        const left = x - r - cw;
        core[0] = left - pad;
        core[2] = left + cw + pad;
        if (!free(core)) continue;
      }
      if (place(nameCandidates(i))) shown++;
    }
    // Boxes never overlap, so the halos and text can be drawn font by font.
    drawn.sort((a, b) => (a.font < b.font ? -1 : a.font > b.font ? 1 : 0));
    ctx.lineWidth = 2 * HALO;
    ctx.lineJoin = "round";
    ctx.strokeStyle = theme.halo;
    ctx.fillStyle = theme.fg;
    for (const r of drawn) {
      setFont(r.font);
      ctx.textAlign = r.align;
      ctx.strokeText(r.s, r.x, r.y);
      ctx.fillText(r.s, r.x, r.y);
    }
    canvas.dataset.labels = JSON.stringify(boxes);
    canvas.dataset.tried = String(tried);
  }

  function nodeAt(px, py) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      const dx = sx(X[i]) - px;
      const dy = sy(Y[i]) - py;
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

  const communityLabel = (i) => {
    const k = commIndex.get(N.community[i]);
    return k === undefined ? "—" : data.communities.label[k];
  };

  function showTip(i, px, py) {
    const dl = document.createElement("dl");
    row(dl, "Channel", nameOf(i));
    row(dl, "Login", N.login[i]);
    row(dl, "Community", communityLabel(i));
    row(dl, "Chatters", fmt(N.chatters[i]));
    row(dl, "Game", data.games[N.game[i]]);
    row(dl, "Language", data.languages[N.language[i]]);
    tip.replaceChildren(dl);
    tip.hidden = false;
    let left = Math.min(px + 14, view.w - tip.offsetWidth - 4);
    let top = Math.min(py + 14, view.h - tip.offsetHeight - 4);
    if (around !== null) {
      // keep the tooltip off the neighbourhood: the map corner farthest from it
      let mx = 0;
      let my = 0;
      let count = 0;
      for (let j = 0; j < n; j++) {
        if (around[j]) {
          mx += sx(X[j]);
          my += sy(Y[j]);
          count++;
        }
      }
      left = mx / count > view.w / 2 ? 4 : view.w - tip.offsetWidth - 4;
      top = my / count > view.h / 2 ? 4 : view.h - tip.offsetHeight - 4;
    }
    tip.style.left = `${Math.max(left, 0)}px`;
    tip.style.top = `${Math.max(top, 0)}px`;
  }

  function swatch(k) {
    const span = document.createElement("span");
    span.className = "swatch";
    span.style.background = colourOf(k);
    return span;
  }

  function showPanel(i) {
    $("panel-title").replaceChildren(swatch(N.c[i]), bdiOf(nameOf(i)));
    $("panel-stats").textContent =
      `${fmt(N.chatters[i])} chatters · ${communityLabel(i)}`;
    const list = $("panel-list");
    list.replaceChildren();
    for (let p = NB.start[i]; p < NB.start[i + 1]; p++) {
      const j = NB.id[p];
      const shared = NB.shared[p];
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.className = "item";
      button.type = "button";
      const rank = document.createElement("small");
      rank.textContent = `${p - NB.start[i] + 1}. `;
      const share = document.createElement("small");
      const mine = (100 * shared) / Math.max(N.chatters[i], 1);
      const theirs = (100 * shared) / Math.max(N.chatters[j], 1);
      share.textContent = ` ${fmt(shared)} shared · ${mine.toFixed(1)}% of ${
        N.login[i]
      }'s · ${theirs.toFixed(1)}% of theirs`;
      button.title = communityLabel(j);
      button.append(rank, swatch(N.c[j]), bdiOf(nameOf(j)), document.createElement("br"), share);
      button.addEventListener("click", () => select(j));
      li.append(button);
      list.append(li);
    }
    panel.hidden = false;
    $("legend").hidden = true;
    document.body.classList.add("drawer");
  }

  function bdiOf(s) {
    const b = document.createElement("bdi");
    b.textContent = s;
    return b;
  }

  function select(i) {
    if (neighbours() === null) {
      // clicked before the lists after this script were parsed: select once they are
      document.addEventListener("DOMContentLoaded", () => select(i), { once: true });
      return;
    }
    selected = i;
    around = new Uint8Array(n);
    around[i] = 1;
    let x0 = X[i];
    let x1 = X[i];
    let y0 = Y[i];
    let y1 = Y[i];
    for (let p = NB.start[i]; p < NB.start[i + 1]; p++) {
      const j = NB.id[p];
      around[j] = 1;
      x0 = Math.min(x0, X[j]);
      x1 = Math.max(x1, X[j]);
      y0 = Math.min(y0, Y[j]);
      y1 = Math.max(y1, Y[j]);
    }
    view.cx = (x0 + x1) / 2;
    view.cy = (y0 + y1) / 2;
    const span = Math.max(x1 - x0, y1 - y0, 0.05);
    view.scale = Math.min((0.8 * Math.min(view.w, view.h)) / span, view.fit * 40);
    results.replaceChildren();
    search.blur();
    tip.hidden = true;
    showPanel(i);
    schedule();
    document.body.dataset.selected = N.login[i];
  }

  function unselect() {
    selected = -1;
    around = null;
    tip.hidden = true;
    panel.hidden = true;
    $("legend").hidden = false;
    delete document.body.dataset.selected;
    schedule();
  }

  function matches(q) {
    if (loginLower === null) {
      loginLower = N.login.map(lower);
      nameLower = N.name.map(lower);
    }
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
      button.className = "item";
      button.type = "button";
      const login = document.createElement("small");
      login.textContent = ` ${N.login[i]}`;
      button.append(bdiOf(nameOf(i)), login);
      button.addEventListener("click", () => select(i));
      li.append(button);
      results.append(li);
    }
    return found;
  }

  function buildLegend() {
    const list = $("legend-list");
    data.legend.forEach((id, slot) => {
      const k = commIndex.get(id);
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.className = "item";
      button.type = "button";
      const size = document.createElement("small");
      size.className = "sub";
      size.textContent = `${fmt(data.communities.channels[k])} channels · ${
        data.communities.audience[k]
      }`;
      button.append(swatch(data.legend_colour[slot]), bdiOf(data.communities.label[k]), size);
      button.title = data.communities.label[k];
      button.addEventListener("click", () => {
        focus = focus === id ? null : id;
        schedule();
      });
      li.append(button);
      list.append(li);
    });
    const lonely = data.unconnected;
    const box = $("unconnected");
    box.hidden = lonely.count === 0;
    box.querySelector("summary").textContent =
      `Unconnected channels (${fmt(lonely.count)}): outer ring`;
    // The list is built when the (closed) box is first opened, not for the first frame.
    box.addEventListener("toggle", () => {
      const ul = $("unconnected-list");
      if (!box.open || ul.childElementCount > 0) return;
      for (const i of lonely.rows.slice(0, lonely.listed)) {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.className = "item";
        button.type = "button";
        button.append(bdiOf(nameOf(i)));
        button.addEventListener("click", () => select(i));
        li.append(button);
        ul.append(li);
      }
    });
  }

  // Pointer input: drag to pan, two fingers to pinch-zoom, click to select.
  const pointers = new Map();
  let drag = null;
  let pinch = null;
  const local = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  const world = (px, py) => [
    view.cx + (px - view.w / 2) / view.scale,
    view.cy - (py - view.h / 2) / view.scale,
  ];
  function zoomAt(px, py, scale) {
    const [wx, wy] = world(px, py);
    view.scale = Math.min(Math.max(scale, view.fit * 0.5), view.fit * 80);
    view.cx = wx - (px - view.w / 2) / view.scale;
    view.cy = wy + (py - view.h / 2) / view.scale;
    schedule();
  }
  function pinchState() {
    const [a, b] = [...pointers.values()];
    return {
      d: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1,
      mx: (a[0] + b[0]) / 2,
      my: (a[1] + b[1]) / 2,
    };
  }
  canvas.addEventListener("pointerdown", (ev) => {
    const [px, py] = local(ev);
    pointers.set(ev.pointerId, [px, py]);
    canvas.setPointerCapture(ev.pointerId);
    if (pointers.size === 2) {
      const p = pinchState();
      pinch = { ...p, scale: view.scale, world: world(p.mx, p.my) };
      drag = null;
    } else if (pointers.size === 1) {
      drag = { x: px, y: py, cx: view.cx, cy: view.cy, moved: false };
    }
  });
  canvas.addEventListener("pointermove", (ev) => {
    const [px, py] = local(ev);
    if (pointers.has(ev.pointerId)) pointers.set(ev.pointerId, [px, py]);
    if (pinch && pointers.size === 2) {
      const p = pinchState();
      view.scale = Math.min(Math.max((pinch.scale * p.d) / pinch.d, view.fit * 0.5), view.fit * 80);
      view.cx = pinch.world[0] - (p.mx - view.w / 2) / view.scale;
      view.cy = pinch.world[1] + (p.my - view.h / 2) / view.scale;
      schedule();
      return;
    }
    if (drag) {
      const dx = px - drag.x;
      const dy = py - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 3) {
        drag.moved = true;
        takeSnapshot();
      }
      view.cx = drag.cx - dx / view.scale;
      view.cy = drag.cy + dy / view.scale;
      schedule();
      return;
    }
    if (ev.pointerType !== "mouse") return;
    const i = nodeAt(px, py);
    if (i >= 0) showTip(i, px, py);
    else tip.hidden = true;
  });
  const release = (ev) => {
    const [px, py] = local(ev);
    if (drag && !drag.moved && pointers.size === 1 && ev.type === "pointerup") {
      const i = nodeAt(px, py);
      if (i >= 0) select(i);
      else if (selected >= 0) unselect();
    }
    pointers.delete(ev.pointerId);
    if (pointers.size < 2) pinch = null;
    if (drag && drag.moved) schedule();
    drag = null;
    snapshot = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", () => {
    if (!drag) tip.hidden = true;
  });
  canvas.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const [px, py] = local(ev);
      zoomAt(px, py, view.scale * Math.exp(-ev.deltaY * 0.0015));
    },
    { passive: false },
  );
  search.addEventListener("input", showResults);
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") results.replaceChildren();
    if (ev.key !== "Enter") return;
    const found = showResults();
    if (found.length) select(found[0]);
  });
  $("reset").addEventListener("click", () => {
    view.cx = 0;
    view.cy = 0;
    view.scale = view.fit;
    focus = null;
    unselect();
  });
  $("panel-close").addEventListener("click", unselect);
  $("drawer-toggle").addEventListener("click", () => document.body.classList.toggle("drawer"));
  function setTheme(name) {
    document.documentElement.dataset.theme = name;
    readTheme();
    schedule();
  }
  $("theme").addEventListener("click", () => setTheme(theme.dark ? "light" : "dark"));
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    readTheme();
    schedule();
  });
  window.addEventListener("resize", resize);

  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("theme") === "dark" || params.get("theme") === "light") {
    document.documentElement.dataset.theme = params.get("theme");
  }
  readTheme();
  buildLegend();
  performance.mark("va:legend");
  resize();
  performance.mark("va:layout");
  view.scale = view.fit;
  draw();
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  function openFromHash() {
    const q = new URLSearchParams(location.hash.slice(1)).get("q");
    if (!q) return;
    search.value = q;
    const found = showResults();
    if (found.length) select(found[0]);
    draw();
  }
  // A deep link needs the neighbour lists, parsed by DOMContentLoaded.
  function start() {
    openFromHash();
    window.addEventListener("hashchange", openFromHash);
    document.body.dataset.ready = String(n);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
