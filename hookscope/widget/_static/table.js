// hookscope live table: header (capture URL, stats), the newest rows, the selected row's detail.
// The kernel is the only writer of this widget's state; the page only sends {event: "select"}.

const COLUMNS = [
  ["time", "Time"],
  ["method", "Method"],
  ["signature", "Signature"],
  ["path", "Path"],
  ["type", "Content type"],
  ["size_text", "Size"],
  ["preview", "Body"],
];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }) {
  el.classList.add("hookscope-live");

  const header = element("div", "hs-header");
  const url = element("input", "hs-url");
  url.readOnly = true;
  url.title = "Capture URL: give it to the webhook sender";
  const copy = element("button", "hs-copy", "Copy URL");
  copy.addEventListener("click", async () => {
    url.select();
    try {
      await navigator.clipboard.writeText(url.value);
    } catch {
      document.execCommand("copy");
    }
    copy.textContent = "Copied";
    setTimeout(() => (copy.textContent = "Copy URL"), 1200);
  });
  const stats = element("div", "hs-stats");
  header.append(element("span", "hs-label", "Capture URL"), url, copy, stats);

  const scroll = element("div", "hs-scroll");
  const table = element("table", "hs-table");
  const head = element("tr");
  for (const [key, title] of COLUMNS) head.append(element("th", `hs-col-${key}`, title));
  table.append(element("thead"), element("tbody"));
  table.tHead.append(head);
  scroll.append(table);
  const note = element("div", "hs-note");
  const detail = element("div", "hs-detail");
  el.append(header, scroll, note, detail);

  // The selection is brought into view once (from a click, the keys or table.select()), by
  // scrolling the table's own box only: the notebook around it does not move.
  let revealed = "";

  function reveal(tr) {
    const box = scroll.getBoundingClientRect();
    const row = tr.getBoundingClientRect();
    const top = box.top + table.tHead.getBoundingClientRect().height;
    if (row.top < top) scroll.scrollTop -= top - row.top;
    else if (row.bottom > box.bottom) scroll.scrollTop += row.bottom - box.bottom;
  }

  function highlight() {
    const selected = model.get("selected");
    for (const tr of table.tBodies[0].rows) {
      const on = tr.dataset.id === selected;
      tr.classList.toggle("hs-selected", on);
      if (on && revealed !== selected) reveal(tr);
    }
    if (!selected || table.tBodies[0].querySelector("tr.hs-selected")) revealed = selected;
  }

  function renderRows() {
    const body = element("tbody");
    const rows = model.get("rows");
    // The Signature column shows only when a row shown has a verdict (table.css).
    table.classList.toggle("hs-signed", rows.some((row) => row.signature));
    for (const row of rows) {
      // Cells are text (textContent), never markup; the method names a class only when it is a word.
      const method = /^[A-Za-z]+$/.test(row.method) ? row.method.toLowerCase() : "other";
      const tr = element("tr", `hs-row hs-method-${method}`);
      tr.dataset.id = row.id;
      for (const [key] of COLUMNS) {
        const cell = element("td", `hs-col-${key}`, String(row[key] ?? ""));
        if (key === "path" || key === "preview" || key === "signature" || key === "type") {
          cell.title = cell.textContent;
        }
        // The signature's colour: a class from a fixed set only, never from the row's text.
        if (key === "signature" && ["valid", "invalid"].includes(row.signature_state)) {
          cell.classList.add(`hs-sig-${row.signature_state}`);
        }
        tr.append(cell);
      }
      body.append(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
    highlight();
  }

  function renderStats() {
    const s = model.get("stats");
    stats.textContent = s.text || "";
    stats.dataset.count = s.count ?? 0;
    stats.classList.toggle("hs-paused", Boolean(s.paused));
    note.textContent = s.note || "";
  }

  table.addEventListener("click", (event) => {
    const tr = event.target.closest("tr.hs-row");
    if (!tr) return;
    const id = tr.dataset.id === model.get("selected") ? "" : tr.dataset.id;
    model.send({ event: "select", id });
    scroll.focus();
  });

  // Arrow keys move the selection through the rows shown; Escape hides the detail.
  scroll.tabIndex = 0;
  scroll.dataset.lmSuppressShortcuts = "true"; // JupyterLab: the arrows are ours, not the notebook's
  scroll.addEventListener("keydown", (event) => {
    const rows = [...table.tBodies[0].rows];
    if (event.key === "Escape") {
      model.send({ event: "select", id: "" });
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const at = rows.findIndex((tr) => tr.dataset.id === model.get("selected"));
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = rows[at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + step))];
      if (next) model.send({ event: "select", id: next.dataset.id });
    } else {
      return;
    }
    event.preventDefault();
  });

  url.value = model.get("url");
  renderStats();
  renderRows();
  // The detail pane is HTML built by the kernel, every captured value escaped (_render.py):
  // the only innerHTML here.
  detail.innerHTML = model.get("detail");

  model.on("change:url", () => (url.value = model.get("url")));
  model.on("change:stats", renderStats);
  model.on("change:rows", renderRows);
  model.on("change:selected", highlight);
  model.on("change:detail", () => (detail.innerHTML = model.get("detail")));
}

export default { render };
