/**
 * Browser code, sessions: concurrent generations (sessions sharing one runtime's lanes) from
 * `/sessions` — the session filter, which session the block views show (the focus), each
 * session's colour, the lane tasks and lanes of the sessions shown, and the sessions view (one
 * swimlane per session: its ticks and handed-out blocks over the timeline's time axis).
 * With one generation none of it shows and the page is as before. See client-core.ts.
 */
export const CLIENT_SESSIONS = `
// Distinct at a glance and apart from the block hues' lightness: a session is told by the
// stripe on its bars and its swimlane, not by the blocks' colours (those are per block number).
const SESSION_COLOURS = ['#1f6fd1', '#d3541f', '#2a9d4b', '#8e44ad', '#c0392b', '#138d90'];
// Left margin of the sessions view and, with several sessions, of lanes × time: the same, so
// their time axes line up.
const SESSIONS_LEFT = 82;
const isMulti = () => state.sessions !== null && state.sessions.sessions.length > 1;
function sessionColour(id) {
  const list = state.sessions ? state.sessions.sessions : [];
  const i = Math.max(0, list.findIndex((s) => s.id === id));
  return SESSION_COLOURS[i % SESSION_COLOURS.length];
}
function sessionLabel(id) {
  const s = state.sessions === null ? undefined : state.sessions.sessions.find((x) => x.id === id);
  return s === undefined ? 'session ' + id : s.label;
}
/** The sessions the filter lets through, in start order. */
function visibleSessions() {
  if (state.sessions === null) return [];
  return state.sessions.sessions.filter((s) => state.filter === 'all' || String(s.id) === state.filter);
}
/**
 * Takes a fresh /sessions answer: keeps the filter and focus while their sessions exist (a live
 * page refreshes often), and makes the focus session's model the one the block views draw, on
 * the shared clock's duration so every view's time axis is the same.
 */
function applySessions(all) {
  state.sessions = all;
  if (state.filter !== 'all' && !all.sessions.some((s) => String(s.id) === state.filter)) state.filter = 'all';
  const visible = visibleSessions();
  let focus = visible.find((s) => s.id === state.focus);
  if (focus === undefined) {
    focus = visible[0];
    state.selected = null;
  }
  state.focus = focus.id;
  state.model = Object.assign({}, focus.model, { duration: all.duration });
}
function focusSession(id) {
  if (id === state.focus || state.sessions === null) return;
  state.focus = id;
  state.selected = null;
  applySessions(state.sessions);
  render();
}

/** Lane tasks for lanes × time: every shown session's, each with its session id. */
function timelineTasks() {
  if (!isMulti()) return state.model.tasks.map((task) => ({ task: task, session: null }));
  const out = [];
  for (const s of visibleSessions()) for (const task of s.model.tasks) out.push({ task: task, session: s.id });
  return out;
}
/**
 * Rows of lanes × time. Several sessions: one row per lane and session, as sessions that share
 * a lane can hold it at once (their tasks batched or overlapping) and one row would hide a bar
 * under another.
 */
function timelineRows() {
  if (!isMulti()) return state.model.lanes.map((lane) => ({ lane: lane, session: null, label: 'lane ' + lane }));
  const lanes = new Set();
  for (const s of visibleSessions()) for (const lane of s.model.lanes) lanes.add(lane);
  const rows = [];
  for (const lane of Array.from(lanes).sort((a, b) => a - b)) {
    for (const s of visibleSessions()) rows.push({ lane: lane, session: s.id, label: 'lane ' + lane + ' · s' + s.id });
  }
  return rows;
}

function drawSessionFilter() {
  const multi = isMulti();
  document.body.classList.toggle('multi', multi);
  const select = $('session-filter');
  if (!multi) return;
  const want = ['all'].concat(state.sessions.sessions.map((s) => String(s.id)));
  const have = Array.from(select.options).map((o) => o.value);
  if (want.join(' ') !== have.join(' ')) {
    select.replaceChildren();
    el('option', { value: 'all' }, select, 'all sessions (' + state.sessions.sessions.length + ')');
    for (const s of state.sessions.sessions) el('option', { value: String(s.id) }, select, s.label);
  }
  select.value = state.filter;
  $('focus-note').textContent = 'block views: ' + state.sessions.sessions.find((s) => s.id === state.focus).label + (state.filter === 'all' ? ' (click a bar or swimlane of another session to switch)' : '');
}

// ---- sessions view: one swimlane per shown session over the timeline's time axis
function drawSwimlanes() {
  const root = $('swimlanes');
  root.replaceChildren();
  views.swimlanesX = null;
  if (!isMulti()) return;
  const shown = visibleSessions();
  const width = Math.max(500, Math.floor((widthOf('timeline-wrap', 500) - 2) * state.zoom));
  const left = SESSIONS_LEFT;
  const right = 14;
  const top = 6;
  const rowH = 34;
  const span = Math.max(state.sessions.duration, 1);
  const x = (t) => left + (t / span) * (width - left - right);
  views.swimlanesX = x;
  const height = top + shown.length * rowH + 4;
  root.setAttribute('width', width);
  root.setAttribute('height', height);
  shown.forEach((s, i) => {
    const y0 = top + i * rowH;
    const colour = sessionColour(s.id);
    const row = svg('g', { class: 'swimlane' + (s.id === state.focus ? ' focus' : ''), 'data-session': s.id }, root);
    svg('rect', { class: 'lane-row' + (i % 2 ? ' odd' : ''), x: left, y: y0, width: width - left - right, height: rowH - 2 }, row);
    svg('rect', { class: 'sl-swatch', x: 4, y: y0 + rowH / 2 - 9, width: 6, height: 14, fill: colour }, row);
    svg('text', { class: 'label', x: 14, y: y0 + rowH / 2 + 2 }, row, s.label);
    // The session's life, meta to last record: gaps in it are where it waited for the lanes.
    svg('line', { class: 'sl-life', x1: x(s.start), x2: x(s.end), y1: y0 + 6, y2: y0 + 6, stroke: colour }, row);
    for (const tick of s.swimlane.ticks) {
      const end = tick.end === null ? state.sessions.duration : tick.end;
      const r = svg('rect', { class: 'sl-tick', x: x(tick.start), y: y0 + 9, width: Math.max(1, x(end) - x(tick.start)), height: rowH - 20, fill: colour, 'data-tick': tick.tick }, row);
      svg('title', {}, r, s.label + ' · tick ' + tick.tick + ' · blocks ' + tick.blocks.join(', ') + ' · ' + ms(tick.start) + ' → ' + (tick.end === null ? 'running' : ms(tick.end)));
    }
    for (const f of s.swimlane.frames) {
      const m = svg('path', { class: 'sl-frame', d: 'M' + x(f.t).toFixed(1) + ',' + (y0 + rowH - 3) + 'l-3,-6h6z', 'data-block': f.block }, row);
      svg('title', {}, m, s.label + ' · block ' + f.block + ' handed out at ' + ms(f.t));
    }
  });
  svg('line', { id: 'swimlanes-cursor', class: 'cursor', x1: 0, x2: 0, y1: 0, y2: height }, root);
}

$('session-filter').addEventListener('change', (e) => {
  state.filter = e.target.value;
  applySessions(state.sessions);
  render();
});
$('swimlanes').addEventListener('click', (e) => {
  const row = e.target.closest('.swimlane');
  if (row) focusSession(Number(row.dataset.session));
});
`;
