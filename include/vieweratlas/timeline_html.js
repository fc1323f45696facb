// ViewerAtlas timeline page: channel history search (#q=<login> opens one).
// Data comes from the JSON block #timeline-data; every Twitch string goes on the
// page with textContent (never innerHTML).
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("timeline-data").textContent);
  const search = document.getElementById("search");
  const results = document.getElementById("results");
  const table = document.getElementById("history");
  const index = new Map(data.logins.map((login, i) => [login, i]));

  function cell(row, text, tag) {
    const td = document.createElement(tag || "td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function show(login) {
    table.replaceChildren();
    const i = index.get(login);
    if (i === undefined) {
      cell(table.insertRow(), "No channel " + login + " in these days.");
      return;
    }
    const head = table.insertRow();
    cell(head, "day", "th");
    cell(head, login, "th");
    for (let d = data.days.length - 1; d >= 0; d--) {
      const row = table.insertRow();
      cell(row, data.days[d]);
      const k = data.history[d][i];
      const td = cell(row, "");
      if (k < 0) {
        td.textContent = "not in the map";
        continue;
      }
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = data.colors[k];
      const name = document.createElement("bdi");
      name.textContent = data.labels[k];
      const uid = document.createElement("small");
      uid.textContent = " " + data.uids[k];
      td.append(swatch, name, uid);
    }
  }

  function fromHash() {
    const q = new URLSearchParams(location.hash.slice(1)).get("q");
    if (q) {
      search.value = q;
      show(q.toLocaleLowerCase());
    }
  }

  search.addEventListener("input", () => {
    results.replaceChildren();
    const q = search.value.trim().toLocaleLowerCase();
    if (!q) return;
    let shown = 0;
    for (const login of data.logins) {
      if (!login.includes(q)) continue;
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = login;
      button.addEventListener("click", () => {
        location.hash = "q=" + encodeURIComponent(login);
        results.replaceChildren();
      });
      li.appendChild(button);
      results.appendChild(li);
      if (++shown >= 12) break;
    }
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") location.hash = "q=" + encodeURIComponent(search.value.trim());
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
