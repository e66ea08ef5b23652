// Rendering helpers: numbers, tables (with hover counts and drill-down), cards, charts.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "onclick") node.addEventListener("click", v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A rate with one decimal; a rate short of 100 % (or above 0) never reads as exactly
// 100.0 % (0.0 %): 2499 of 2500 (and 1999 of 2000) is ">99.9%", 1 of 2500 "<0.1%".
export function rate(value) {
  const v = Number(value);
  const text = (v * 100).toFixed(1);
  if (text === "100.0" && v < 1) return ">99.9%";
  if (text === "0.0" && v > 0) return "<0.1%";
  return text + "%";
}

export function fmt(kind, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "rate") return rate(value);
  if (kind === "seconds") return Number(value).toFixed(1);
  if (typeof value === "boolean") return value ? "是" : "否";
  return String(value);
}

// China time (Asia/Shanghai, the time of every figure and form of the dashboards) of an
// instant, "YYYY-MM-DD HH:MM:SS", whatever the browser's own time zone.
const CHINA_TIME = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Shanghai", hourCycle: "h23",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

export function chinaTime(date = new Date()) {
  const p = Object.fromEntries(CHINA_TIME.formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

// A comparison's change (B − A), signed: ints and seconds as they are ("+200", "−0.5"), rates
// in percentage points ("+2.0个百分点", "−1.5个百分点"); one that rounds to nothing has no sign.
export function change(kind, value) {
  if (value === null || value === undefined || value === "") return "—";
  const v = Number(value);
  const size = kind === "rate" ? Math.abs(v * 100).toFixed(1) : kind === "seconds" ? Math.abs(v).toFixed(1) : String(Math.abs(v));
  const unit = kind === "rate" ? "个百分点" : "";
  if (Number(size) === 0) return size + unit;
  return (v > 0 ? "+" : "−") + size + unit;
}

export function emptyNote(reason) {
  return el("p", { class: "empty", "data-testid": "empty" }, reason);
}

// A table of the API; rowHref(row) makes rows clickable (drill-down).
export function table(data, { rowHref, csv, testid, extra } = {}) {
  const wrap = el("div", { "data-testid": testid || data.name });
  if (csv) wrap.append(el("a", { class: "csv", href: csv, download: "" }, "导出 CSV"));
  if (data.empty_reason) wrap.append(emptyNote(data.empty_reason));
  if (data.note) wrap.append(el("p", { class: "note", "data-testid": "note" }, data.note));
  if (!data.rows.length) return wrap;
  const cols = data.columns.filter((c) => !c.hidden);
  const head = el("tr", {}, ...cols.map((c) => el("th", {}, c.label)));
  if (extra) head.append(el("th", {}, extra.label));
  const body = data.rows.map((row) => {
    const href = rowHref ? rowHref(row) : null;
    const tr = el("tr", {
      class: [href ? "drill" : "", row.own ? "own" : ""].join(" ").trim() || null,
      "data-row": row.code || row.center_id || row.category || row.alert_id || row.metric || row.bucket || row.agent_id || row.ticket_id,
      onclick: href ? () => window.location.assign(href) : null,
    });
    for (const c of cols) {
      const title = (row._titles || {})[c.key];
      // a comparison row: its values are of the row's metric's kind, its change signed
      const kind = row.kind && (c.key === "a" || c.key === "b" || c.key === "change") ? row.kind : c.kind;
      const text = row.kind && c.key === "change" ? change(kind, row[c.key]) : fmt(kind, row[c.key]);
      tr.append(el("td", { class: c.kind, "data-key": c.key, title }, text));
    }
    if (extra) tr.append(el("td", {}, extra.cell(row)));
    return tr;
  });
  wrap.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
  return wrap;
}

const CARDS = [
  ["offered", "呼入量", "int"],
  ["connection_rate", "接通率", "rate"],
  ["service_level", "服务水平(30秒)", "rate"],
  ["satisfaction", "满意率", "rate"],
  ["abandon_rate", "放弃率", "rate"],
  ["asa_s", "平均等待(秒)", "seconds"],
];

export function cards(row) {
  return el(
    "div",
    { class: "cards" },
    ...CARDS.map(([key, label, kind]) =>
      el(
        "div",
        { class: "card", "data-testid": `card-${key}`, title: (row._titles || {})[key] },
        el("div", {}, label),
        el("div", { class: "value", "data-key": key }, fmt(kind, row[key])),
      ),
    ),
  );
}

const charts = [];
const pending = [];

export function disposeCharts() {
  while (charts.length) charts.pop().dispose();
}

// Charts are drawn once their boxes are in the page (ECharts needs their size).
export function drawCharts() {
  while (pending.length) pending.shift()();
}

// A curve of volume (bars) and connection rate / service level (lines) per bucket. The axis
// has every bucket of the range (meta.buckets): one without a row is a gap, not left out.
export function curve(series, title) {
  const box = el("div", { class: "chart", "data-testid": "chart" });
  if (!window.echarts) {
    box.append(emptyNote(window.HOTLINE_NO_ECHARTS || "图表库未加载"));
    return box;
  }
  if (series.empty_reason) {
    box.append(emptyNote(series.empty_reason));
    return box;
  }
  pending.push(() => {
    const chart = window.echarts.init(box);
    charts.push(chart);
    const x = series.meta.buckets || series.rows.map((r) => r.bucket);
    const rows = new Map(series.rows.map((r) => [r.bucket, r]));
    const at = (key, f) => x.map((b) => { const v = rows.get(b)?.[key]; return v === null || v === undefined ? null : f(v); });
    const pct = (key) => at(key, (v) => +(v * 100).toFixed(2));
    chart.setOption({
      title: { text: title, textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { top: 0, right: 0 },
      xAxis: { type: "category", data: x },
      yAxis: [{ type: "value", name: "呼入量" }, { type: "value", name: "%", max: 100 }],
      series: [
        { name: "呼入量", type: "bar", data: at("offered", Number) },
        { name: "接通率", type: "line", yAxisIndex: 1, data: pct("connection_rate"), tooltip: percent },
        { name: "服务水平", type: "line", yAxisIndex: 1, data: pct("service_level"), tooltip: percent },
      ],
      animation: false,
    });
  });
  return box;
}

// The rates' tooltip: their values are percentages, as on the axis.
const percent = { valueFormatter: (v) => (v === null || v === undefined ? "-" : `${v}%`) };

// Colour of a value between lo and hi: red (low) → green (high), or blues for volume.
export function colour(value, lo, hi, volume) {
  if (value === null || value === undefined) return "#e4e4e4";
  const t = hi > lo ? (value - lo) / (hi - lo) : 1;
  if (volume) return `hsl(210, 70%, ${85 - 45 * t}%)`;
  return `hsl(${Math.round(120 * t)}, 65%, 60%)`;
}
