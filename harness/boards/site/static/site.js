// Sortable tables, the board's Plotly charts and the request explorer. No network:
// every script and its data are files beside the page.
"use strict";

function cellValue(cell) {
  const raw = cell.getAttribute("data-value");
  if (raw === null) return cell.textContent.trim().toLowerCase();
  if (raw === "") return null;
  const number = Number(raw);
  return Number.isNaN(number) ? raw : number;
}

function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a.cells[column]);
    const y = cellValue(b.cells[column]);
    if (x === null) return 1; // empty cells last, either way
    if (y === null) return -1;
    if (x < y) return descending ? 1 : -1;
    if (x > y) return descending ? -1 : 1;
    return 0;
  });
  rows.forEach((row) => body.appendChild(row));
  Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
    th.setAttribute("aria-sort", i === column ? (descending ? "descending" : "ascending") : "none");
  });
}

function makeSortable(table) {
  Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
    th.addEventListener("click", () => {
      // numbers sort best-first (descending) on the first click, names A-Z
      const numeric = typeof cellValue(table.tBodies[0].rows[0].cells[column]) === "number";
      const current = th.getAttribute("aria-sort");
      let descending = numeric;
      if (current === "descending") descending = false;
      if (current === "ascending") descending = true;
      sortTable(table, column, descending);
    });
  });
}

function drawCharts() {
  const charts = window.BOARD_CHARTS || [];
  document.querySelectorAll("[data-chart]").forEach((div) => {
    const figure = charts[Number(div.getAttribute("data-chart"))];
    Plotly.newPlot(div, figure.data, figure.layout, {displaylogo: false, responsive: true});
  });
}

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function showRequest(index) {
  const data = window.BOARD_REQUESTS;
  const request = data.requests[index];
  const root = document.getElementById("explorer");
  root.replaceChildren();
  root.setAttribute("data-request", request.id);
  root.appendChild(element("h2", {}, `Request ${request.id} (${index + 1} of ${data.requests.length})`));
  const history = element("ol", {id: "history"});
  request.history.forEach((item) => history.appendChild(element("li", {}, data.items[item])));

  root.appendChild(element("h3", {}, "Candidates: each row's score and rank (1 = first)"));
  const table = element("table", {id: "candidates", class: "sortable"});
  const head = element("tr");
  ["candidate", ...data.rows.map((r) => r.name)].forEach((h) => head.appendChild(element("th", {}, h)));
  table.appendChild(element("thead")).appendChild(head);
  const body = table.appendChild(element("tbody"));
  request.candidates.forEach((item, c) => {
    const isTarget = item === request.target;
    const tr = element("tr", isTarget ? {class: "target", "data-target": "true"} : {});
    tr.appendChild(element("td", {}, (isTarget ? "★ " : "") + data.items[item]));
    data.rows.forEach((row) => {
      const rank = row.ranks[index][c];
      tr.appendChild(element("td", {"data-value": String(rank), "data-row": row.name},
        `${rank} (${row.scores[index][c].toPrecision(4)})`));
    });
    body.appendChild(tr);
  });
  root.appendChild(table);
  makeSortable(table);
  root.appendChild(element("h3", {}, `History (${request.history.length} items, oldest first)`));
  root.appendChild(history);

  const ndcg = element("ul", {id: "row-ndcg"});
  data.rows.forEach((row) => ndcg.appendChild(element("li", {}, `${row.name}: NDCG@10 ${row.ndcg[index]}`)));
  root.appendChild(element("h3", {}, "This request's NDCG@10 per row"));
  root.appendChild(ndcg);

  const records = data.records.rows;
  Object.keys(records).forEach((name) => {
    const record = records[name][index];
    if (!record) return;
    const details = element("details", {class: "prompt", "data-row": name});
    details.appendChild(element("summary", {}, `${name}: what the LLM was sent`));
    let prompt = record.prompt;
    if (record.summary !== undefined && record.summary !== null) {
      const summary = data.records.summaries[record.summary];
      details.appendChild(element("h4", {}, "Preference summary"));
      details.appendChild(element("pre", {class: "summary"}, summary));
      prompt = prompt.split("{{summary}}").join(summary);
    }
    details.appendChild(element("h4", {}, "Prompt, up to the candidate"));
    details.appendChild(element("pre", {class: "prompt-text"}, prompt));
    if (record.continuations) {
      details.appendChild(element("h4", {}, "Candidate tails (one prompt each)"));
      details.appendChild(element("pre", {}, record.continuations.join("\n---\n")));
    }
    root.appendChild(details);
  });
}

function setUpExplorer() {
  const data = window.BOARD_REQUESTS;
  if (!data || !document.getElementById("explorer")) return;
  const list = document.getElementById("request-ids");
  data.requests.forEach((r) => list.appendChild(element("option", {value: r.id})));
  let current = 0;
  const fromHash = data.requests.findIndex((r) => `#${r.id}` === window.location.hash);
  if (fromHash >= 0) current = fromHash;
  const go = (i) => {
    current = (i + data.requests.length) % data.requests.length;
    showRequest(current);
  };
  document.getElementById("request-search").addEventListener("change", (event) => {
    const found = data.requests.findIndex((r) => r.id === event.target.value.trim());
    if (found >= 0) go(found);
  });
  document.getElementById("request-prev").addEventListener("click", () => go(current - 1));
  document.getElementById("request-next").addEventListener("click", () => go(current + 1));
  go(current);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  if (window.Plotly) drawCharts();
  setUpExplorer();
});
