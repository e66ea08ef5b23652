// The dashboards' single page: hash routes, one view function per page, live polling.
import { ApiError, csvUrl, get, post } from "./api.js";
import { evaluationPage, qualityPage } from "./quality.js";
import { cards, chinaTime, colour, curve, disposeCharts, drawCharts, el, emptyNote, fmt, table } from "./render.js";

const MAP_METRICS = { connection_rate: "接通率", service_level: "服务水平", satisfaction: "满意率", offered: "呼入量" };
const LIVE_MS = 4000; // live views refresh within 5 s
const state = { range: "today", from: "", to: "", metric: "connection_rate", me: null };
let generation = 0;
let timer = null;

const view = () => document.getElementById("view");
const rangeParams = () =>
  state.range === "custom" ? { range: "custom", from: state.from, to: state.to } : { range: state.range };

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

function crumbs(list) {
  return el("div", { class: "crumbs" }, ...list.map((c) => el("a", { href: c.code === "000000" ? "#/" : `#/region/${c.code}` }, c.name + " ›")));
}

// -- pages ------------------------------------------------------------------------------

async function national() {
  const p = rangeParams();
  const [summary, kids, series] = await Promise.all([
    get("/api/regions/000000/summary", p),
    get("/api/regions/000000/children", p),
    get("/api/regions/000000/series", p),
  ]);
  const metric = state.metric;
  const volume = metric === "offered";
  const values = kids.rows.filter((r) => r.has_data).map((r) => r[metric]).filter((v) => v !== null);
  const lo = Math.min(...values), hi = Math.max(...values);
  const select = el("select", { id: "metric", "aria-label": "地图指标" }, ...Object.entries(MAP_METRICS).map(([k, v]) => el("option", { value: k, ...(k === metric ? { selected: "" } : {}) }, v)));
  select.addEventListener("change", () => { state.metric = select.value; render(true); });
  const kind = volume ? "int" : "rate";
  const tiles = el("div", { class: "tiles", "data-testid": "tiles" }, ...kids.rows.map((r) =>
    el("div", {
      class: "tile" + (r.has_data ? "" : " nodata"),
      "data-code": r.code,
      style: `grid-column:${r.x + 1};grid-row:${r.y + 1};background:${colour(r.has_data ? r[metric] : null, lo, hi, volume)}`,
      title: r.has_data ? `${r.name} ${MAP_METRICS[metric]} ${fmt(kind, r[metric])}（${r._titles[metric]}）` : `${r.name}：该时段无数据`,
      onclick: () => window.location.assign(`#/region/${r.code}`),
    }, r.name.replace(/(省|市|自治区|壮族|回族|维吾尔)+$/u, ""), el("span", { class: "v", "data-key": metric }, r.has_data ? fmt(kind, r[metric]) : "—")),
  ));
  const ranked = { ...kids, rows: [...kids.rows].sort((a, b) => (b[metric] ?? -1) - (a[metric] ?? -1)) };
  return [
    el("h2", {}, "全国总览 ", el("small", {}, summary.meta.range.label)),
    cards(summary.rows[0]),
    summary.empty_reason ? emptyNote(summary.empty_reason) : null,
    el("h3", {}, "各省 ", select),
    tiles,
    curve(series, "全国走势"),
    el("h3", {}, `排名（按${MAP_METRICS[metric]}）`),
    table(ranked, { rowHref: (r) => `#/region/${r.code}`, csv: csvUrl("/api/regions/000000/children", { ...rangeParams(), sort: metric }), testid: "ranking" }),
  ];
}

async function region(code) {
  const p = rangeParams();
  const summary = await get(`/api/regions/${code}/summary`, p);
  const place = summary.meta.place;
  const parts = [
    crumbs(summary.meta.crumbs.slice(0, -1)),
    el("h2", {}, place.name, " ", el("small", {}, `${summary.meta.level_label} · ${summary.meta.range.label}`)),
    cards(summary.rows[0]),
    summary.empty_reason ? emptyNote(summary.empty_reason) : null,
    el("p", {}, el("a", { href: `#/tickets/${code}` }, "工单"), " · ", el("a", { href: `#/alerts/${code}` }, "告警"), " · ", el("a", { href: `#/compare/${code}` }, "时段对比")),
  ];
  const series = await get(`/api/regions/${code}/series`, p);
  parts.push(curve(series, `${place.name}走势`));
  if (summary.meta.has_children) {
    const kids = await get(`/api/regions/${code}/children`, p);
    // the first row is the place's own level (省本级 / 市本级: calls not attributed to a
    // child), so the rows add up to the cards; it has no page of its own (no drill-down)
    const label = place.level === "province" ? "各地市" : "各县/区";
    parts.push(el("h3", {}, label), table(kids, { rowHref: (r) => (r.own || r.level === "county" ? null : `#/region/${r.code}`), csv: csvUrl(`/api/regions/${code}/children`, p), testid: "children" }));
  }
  if (summary.meta.centers) {
    const centers = await get(`/api/regions/${code}/centers`, p);
    parts.push(el("h3", {}, "中心"), table(centers, { rowHref: (r) => `#/center/${r.center_id}`, csv: csvUrl(`/api/regions/${code}/centers`, p), testid: "centers" }));
  }
  const lines = await get(`/api/regions/${code}/lines`, p);
  parts.push(el("h3", {}, "业务线"), table(lines, { csv: csvUrl(`/api/regions/${code}/lines`, p), testid: "lines" }));
  return parts;
}

async function center(id) {
  const p = rangeParams();
  const [summary, live, today] = await Promise.all([
    get(`/api/centers/${id}/summary`, p),
    get(`/api/centers/${id}/live`),
    get(`/api/centers/${id}/series`, { range: "today" }),
  ]);
  const c = summary.meta.center;
  const a = live.meta.agents;
  const q = live.meta.queue || {};
  const liveCards = el("div", { class: "cards", "data-testid": "live" },
    ...[["staffed", "在线座席", a.staffed], ["ready", "就绪", a.ready], ["on_call", "通话中", a.on_call], ["not_ready", "置忙", a.not_ready],
      ["waiting", `排队等待${q.as_of ? "（截至" + q.as_of.slice(11) + "）" : ""}`, q.waiting ?? "—"],
      ["longest_wait_s", "最长等待(秒)", fmt("seconds", q.longest_wait_s)]]
      .map(([key, label, value]) => el("div", { class: "card", "data-testid": `live-${key}` }, el("div", {}, label), el("div", { class: "value", "data-key": key }, String(value)))));
  return [
    crumbs(summary.meta.crumbs),
    el("h2", {}, c.name, " ", el("small", {}, `${c.center_id} · ${summary.meta.range.label}`)),
    el("h3", {}, "实时状态（每4秒刷新）"),
    liveCards,
    cards(summary.rows[0]),
    summary.note ? el("p", { class: "note", "data-testid": "note" }, summary.note) : null,
    summary.empty_reason ? emptyNote(summary.empty_reason) : null,
    curve(today, "今日走势（按小时）"),
    el("h3", {}, "座席"),
    table(live, { csv: csvUrl(`/api/centers/${id}/live`), testid: "agents" }),
  ];
}

async function tickets(code, category, ticketState) {
  const p = { ...rangeParams(), region: code };
  if (category !== undefined) {
    const list = await get("/api/tickets/list", { region: code, category, state: ticketState || "open" });
    return [el("h2", {}, `工单列表 · ${list.meta.place.name}`), el("p", {}, el("a", { href: `#/tickets/${code || ""}` }, "‹ 返回分类")),
      table(list, { csv: csvUrl("/api/tickets/list", { region: code, category, state: ticketState || "open" }), testid: "ticket-list" })];
  }
  const body = await get("/api/tickets", p);
  const where = body.meta.place.code;
  return [el("h2", {}, `工单 · ${body.meta.place.name}`, " ", el("small", {}, body.meta.range.label)),
    el("p", {}, "积压与超期为当前时点；新建、办结、按时办结率为所选时段。点击一行查看该类积压工单。"),
    table(body, { rowHref: (r) => `#/tickets/${where}/list/${r.category}/open`, csv: csvUrl("/api/tickets", p), testid: "tickets" }),
    el("p", {}, el("a", { href: `#/tickets/${where}/list//overdue` }, "查看全部超期工单"))];
}

async function alerts(code) {
  const p = { ...rangeParams(), region: code };
  const body = await get("/api/alerts", p);
  const ack = (row) => {
    if (row.acked_by) return "已确认";
    // a refused or failed acknowledgement is said beside its button, which stays usable
    const note = el("span", { class: "error", role: "alert", "data-testid": "ack-error" });
    const button = el("button", { "data-alert": row.alert_id, onclick: async (e) => {
      e.stopPropagation();
      button.disabled = true;
      note.textContent = "";
      try {
        await post(`/api/alerts/${row.alert_id}/ack`);
      } catch (err) {
        button.disabled = false;
        note.textContent = `确认失败：${err.message}`;
        return;
      }
      render(true);
    } }, "确认");
    return el("span", {}, button, " ", note);
  };
  return [el("h2", {}, `告警 · ${body.meta.place.name}`, " ", el("small", {}, body.meta.range.label)),
    table(body, { csv: csvUrl("/api/alerts", p), testid: "alerts", extra: { label: "操作", cell: ack } })];
}

async function compare(code) {
  const form = el("form", { id: "compare-form" },
    "时段A ", el("input", { type: "date", name: "a_from", required: "", "aria-label": "时段A开始" }),
    " 至 ", el("input", { type: "date", name: "a_to", required: "", "aria-label": "时段A结束" }),
    "　时段B ", el("input", { type: "date", name: "b_from", required: "", "aria-label": "时段B开始" }),
    " 至 ", el("input", { type: "date", name: "b_to", required: "", "aria-label": "时段B结束" }),
    " ", el("button", { type: "submit" }, "对比"));
  const out = el("div", { id: "compare-out" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = { ...Object.fromEntries(new FormData(form)), region: code };
    try {
      const body = await get("/api/compare", params);
      out.replaceChildren(el("p", {}, body.meta.place.name), table(body, { csv: csvUrl("/api/compare", params), testid: "compare" }));
    } catch (err) {
      out.replaceChildren(el("p", { class: "error" }, err.message));
    }
  });
  return [el("h2", {}, "两个时段对比"), el("p", {}, "按日汇总；比率均由两段各自的合计计数算出。"), form, out];
}

// -- routing and refresh --------------------------------------------------------------------

function route() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/");
  const home = state.me.scope === "national" ? "000000" : state.me.scope.split(":")[1];
  switch (parts[0]) {
    case "":
      if (state.me.scope !== "national") { window.location.replace(state.me.home); return null; }
      return { page: national, args: [], live: true };
    case "region": return { page: region, args: [parts[1]], live: true };
    case "center": return { page: center, args: [parts[1]], live: true, always: true };
    case "tickets": return { page: tickets, args: [parts[1] || home, parts[2] === "list" ? parts[3] || "" : undefined, parts[4]] };
    case "alerts": return { page: alerts, args: [parts[1] || home], live: true };
    case "compare": return { page: compare, args: [parts[1] || home] };
    case "quality": return parts[1] === "entry" ? { page: evaluationPage, args: [] } : { page: qualityPage, args: [parts[1], parts[2]] };
    default: return { page: async () => [emptyNote("没有这个页面")], args: [] };
  }
}

// Draws the route's page. A new page or range (refresh false) says 加载中… at once, so the
// figures of the one before never stand under the new choice while it loads; a refresh of the
// same page (live polling, after 确认) keeps them until the new ones are there.
async function render(refresh = false) {
  const mine = ++generation;
  if (timer) { clearTimeout(timer); timer = null; }
  const r = route();
  if (!r) return;
  if (!refresh) {
    disposeCharts();
    view().replaceChildren(el("p", { "data-testid": "loading" }, "加载中…"));
  }
  try {
    const parts = await r.page(...r.args);
    if (mine !== generation) return;
    disposeCharts();
    view().replaceChildren(...parts.filter(Boolean));
    drawCharts();
    setStatus(`更新于 ${chinaTime().slice(11)}（北京时间）`);
  } catch (err) {
    if (mine !== generation) return;
    const text = err instanceof ApiError && err.status === 403 ? `无权访问：${err.message}` : `出错了：${err.message}`;
    view().replaceChildren(el("p", { class: "error", "data-testid": "error" }, text));
  }
  if (mine === generation && r.live && (state.range === "live" || r.always)) {
    timer = setTimeout(() => render(true), LIVE_MS);
  }
}

async function main() {
  state.me = await get("/api/me");
  document.getElementById("who").textContent = `${state.me.user}（${state.me.scope_label}）`;
  if (state.me.scope !== "national") document.getElementById("nav-home").setAttribute("href", state.me.home);
  const range = document.getElementById("range");
  const custom = document.getElementById("custom");
  range.addEventListener("change", () => {
    custom.hidden = range.value !== "custom";
    if (range.value !== "custom") { state.range = range.value; render(); }
  });
  document.getElementById("apply").addEventListener("click", () => {
    state.range = "custom";
    state.from = document.getElementById("from").value;
    state.to = document.getElementById("to").value;
    render();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await post("/api/logout");
    } catch (err) {
      setStatus(`退出失败：${err.message}`);
      return;
    }
    window.location.assign("/login");
  });
  window.addEventListener("hashchange", () => render());
  render();
}

main();
