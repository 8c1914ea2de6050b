/**
 * Browser code, part 1: the page's state, small helpers (SVG elements, colours, formatting),
 * the state of each block at a time, loading `/model`, the live connection, the scrubber,
 * replay and selection. Plain JavaScript kept as text (the package has no browser build step);
 * it avoids template literals so it can sit inside this module's own template string.
 * The views (client-views.ts) and the details panel (client-details.ts) share its globals.
 */
export const CLIENT_CORE = `
'use strict';
const SVG_NS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const LIVE = document.body.dataset.live === 'true';
// time: the scrubbed time (ms); follow: stay at the newest record (live) or the end.
// model: the focus session's (the one the block views show); sessions: /sessions (every shown
// generation, client-sessions.ts); filter: 'all' or a session id.
const state = { model: null, sessions: null, filter: 'all', focus: null, time: 0, follow: true, selected: null, zoom: 1, playing: false };
// Scales and element handles the views leave for updateTime().
const views = { timelineX: null, swimlanesX: null, kvX: null, diagonal: null, chart: {} };

function svg(tag, attrs, parent, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function el(tag, attrs, parent, text) {
  const e = document.createElement(tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
const ms = (x) => (Math.abs(x) < 10 ? x.toFixed(2) : x.toFixed(1)) + ' ms';
const widthOf = (id, min) => Math.max(min, Math.floor($(id).clientWidth));

// Hue by block, golden angle apart so neighbouring blocks differ; lightness by stage, the
// noisiest step darkest to cache lightest whatever the step count; no stage (re-cache, queued,
// done) is greyish.
const hue = (block) => ((block * 137.508) % 360).toFixed(0);
const stageFraction = (stage) => stage / Math.max(1, (state.model ? state.model.stages.length : 5) - 1);
function colour(block, stage) {
  if (stage === null || stage === undefined || stage < 0) return 'hsl(' + hue(block) + ', 22%, 66%)';
  return 'hsl(' + hue(block) + ', 70%, ' + (30 + stageFraction(stage) * 44).toFixed(1) + '%)';
}
const inkOn = (stage) => (stage !== null && stage !== undefined && stage >= 0 && stageFraction(stage) <= 0.5 ? '#fff' : '#111');
const stageIndex = (name) => state.model.stages.indexOf(name);

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** The state a block is in at time t (the last transition at or before it), or null. */
function stateAt(timeline, t) {
  let lo = 0;
  let hi = timeline.transitions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (timeline.transitions[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? null : timeline.transitions[lo - 1].state;
}
function blocksByState(t) {
  const out = {};
  for (const s of state.model.chartStates) out[s] = [];
  for (const tl of state.model.blocks) {
    const s = stateAt(tl, t);
    if (s !== null) (out[s] = out[s] || []).push(tl.block);
  }
  return out;
}
/** The last item of a time-ordered list at or before t. */
function lastAt(list, t) {
  let found = null;
  for (const item of list) {
    if (item.t > t) break;
    found = item;
  }
  return found;
}
function taskName(task) {
  if (task.task === 'tick' || task.task === 'share') {
    return task.blocks.map((b, i) => 'B' + b + ' ' + (state.model.stages[task.stages[i]] || '?') + (task.reused && task.reused.includes(b) ? ' reused' : '')).join(' · ');
  }
  return [task.task].concat(task.blocks.map((b) => 'B' + b)).join(' ');
}
function promptOf(block) {
  let found = null;
  for (const s of state.model.switches) if (s.fromBlock <= block && (found === null || s.fromBlock >= found.fromBlock)) found = s;
  return found;
}

function showError(err) {
  $('error').textContent = 'inspector: ' + (err && err.message ? err.message : String(err));
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error('GET ' + path + ' answered ' + res.status);
  return res.json();
}
async function load() {
  const all = await getJson('/sessions');
  // A live page before the first meta: no session yet, an empty model.
  if (all.sessions.length === 0) {
    state.sessions = null;
    state.model = await getJson('/model');
  } else applySessions(all);
  $('error').textContent = '';
  render();
}

function render() {
  const m = state.model;
  if (m === null) return;
  const scrubber = $('scrubber');
  scrubber.max = String(m.duration);
  if (state.follow || state.time > m.duration) state.time = m.duration;
  scrubber.value = String(state.time);
  drawMeta();
  drawSessionFilter();
  drawSwimlanes();
  drawLegend();
  drawChart();
  drawTimeline();
  drawDiagonal();
  drawKv();
  drawBlockList();
  drawDetails();
  markSelection();
  updateTime();
}

function drawMeta() {
  const m = state.model;
  const meta = m.meta;
  $('meta').textContent = meta === null
    ? 'waiting for a generation…'
    : [meta.model, 'P' + meta.parallelism + ' (Δ = ' + m.lag + ')', (m.stages.length - 1) + ' steps', meta.exec + ' execution', meta.lanes + (meta.lanes === 1 ? ' lane' : ' lanes'),
       meta.attention, 'recache ' + meta.recache, 'seed ' + meta.seed, meta.blocks + ' blocks × ' + meta.framesPerBlock + ' frames']
      .concat(meta.featureCache ? [meta.featureCache.policy + ' δ = ' + meta.featureCache.threshold + (meta.featureCache.interval === undefined ? '' : ', R = ' + meta.featureCache.interval)] : []).join(' · ');
  const count = $('forward-count');
  if (isMulti()) {
    const shown = visibleSessions();
    const forwards = shown.reduce((sum, s) => sum + s.model.forwards, 0);
    count.dataset.count = String(forwards);
    count.textContent = shown.length + (shown.length === 1 ? ' session · ' : ' sessions · ') + forwards + ' forwards · ' + shown.map((s) => s.label + ': ' + s.model.diagonal.ticks + ' ticks' + (s.model.end ? ', ' + s.model.end.outcome : '')).join(' · ');
    return;
  }
  count.dataset.count = String(m.forwards);
  const reused = m.diagonal.cells.filter((c) => c.reused).length;
  count.textContent = m.forwards + ' forwards' + (reused > 0 ? ' (' + reused + ' block steps reused features)' : '') + ' · ' + m.diagonal.ticks + ' ticks · ' + m.records + ' records' +
    (m.end ? ' · ' + m.end.outcome + (m.end.error ? ': ' + m.end.error : '') : '') +
    (m.unmatchedEnds ? ' · ' + m.unmatchedEnds + ' unmatched lane ends' : '');
}

/** Everything that depends on the scrubbed time only: cheap, so it runs on every scrub. */
function updateTime() {
  const m = state.model;
  if (m === null) return;
  const t = state.time;
  const sup = lastAt(m.supervisor, t);
  $('time-label').textContent = 't = ' + ms(t) + ' of ' + ms(m.duration) + (sup ? ' · supervisor ' + sup.state : '');
  updateChart(t);
  if (views.timelineX) $('timeline-cursor').setAttribute('transform', 'translate(' + views.timelineX(t).toFixed(1) + ',0)');
  if (views.swimlanesX) $('swimlanes-cursor').setAttribute('transform', 'translate(' + views.swimlanesX(t).toFixed(1) + ',0)');
  if (views.kvX) $('kv-cursor').setAttribute('transform', 'translate(' + views.kvX(t).toFixed(1) + ',0)');
  updateDiagonalCursor(t);
  const kv = lastAt(m.kv.points, t);
  $('kv-readout').textContent = kv ? 'committed ' + kv.committed + ' · reserved ' + kv.reserved + ' · free ' + kv.free + ' of ' + (m.kv.capacity === null ? '?' : m.kv.capacity) + ' slots' : '';
  for (const item of document.querySelectorAll('#block-list li[data-block]')) {
    const tl = m.blocks.find((b) => b.block === Number(item.dataset.block));
    item.lastChild.textContent = (tl && stateAt(tl, t)) || '–';
  }
  for (const row of document.querySelectorAll('#block-details tr[data-state]')) {
    row.classList.toggle('now', Number(row.dataset.at) <= t && t < Number(row.dataset.until));
  }
}

function setTime(t) {
  state.time = Math.max(0, Math.min(t, state.model ? state.model.duration : 0));
  state.follow = state.model !== null && state.time >= state.model.duration;
  $('scrubber').value = String(state.time);
  updateTime();
}

function select(block) {
  state.selected = block;
  drawDetails();
  markSelection();
  updateTime();
}
function markSelection() {
  for (const id of ['timeline', 'diagonal']) $(id).classList.toggle('has-selection', state.selected !== null);
  for (const e of document.querySelectorAll('#timeline [data-block], #diagonal [data-block], #block-list [data-block], #chart [data-block]')) {
    // Block numbers repeat across sessions: a bar of another session is not the selected block.
    const other = e.dataset.session !== undefined && Number(e.dataset.session) !== state.focus;
    e.classList.toggle('selected', !other && Number(e.dataset.block) === state.selected);
  }
}

// Live: every record pushed on /live asks for a fresh model; requests are coalesced to at most
// one per animation frame, so a fast generation does not flood the page or the server.
let refreshWanted = false;
let refreshRunning = false;
function scheduleRefresh() {
  refreshWanted = true;
  if (refreshRunning) return;
  refreshRunning = true;
  requestAnimationFrame(async function pump() {
    refreshWanted = false;
    try {
      await load();
    } catch (err) {
      showError(err);
    }
    if (refreshWanted) requestAnimationFrame(pump);
    else refreshRunning = false;
  });
}
function setStatus(name, text) {
  const s = $('live-status');
  s.dataset.state = name;
  s.textContent = text;
}
function connect(delay) {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live');
  ws.addEventListener('open', () => {
    delay = 250;
    setStatus('open', 'live');
    // Records pushed before the connection opened are in the model fetched now.
    scheduleRefresh();
  });
  ws.addEventListener('message', (e) => {
    const record = JSON.parse(e.data);
    // A new generation starts over: the old selection means nothing in it. A session joining
    // running ones keeps it (applySessions drops it if the focus session went).
    if (record.kind === 'meta') {
      if (record.session === undefined) state.selected = null;
      state.follow = true;
    }
    scheduleRefresh();
  });
  ws.addEventListener('close', () => {
    setStatus('closed', 'disconnected, retrying');
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  });
}

let lastFrame = 0;
function play(now) {
  if (!state.playing) return;
  const speed = Number($('speed').value);
  if (lastFrame !== 0) setTime(state.time + (now - lastFrame) * speed);
  lastFrame = now;
  if (state.time >= state.model.duration) stopPlay();
  else requestAnimationFrame(play);
}
function stopPlay() {
  state.playing = false;
  $('play').textContent = '▶';
}

$('scrubber').addEventListener('input', (e) => {
  stopPlay();
  setTime(Number(e.target.value));
});
$('play').addEventListener('click', () => {
  if (state.model === null) return;
  if (state.playing) return stopPlay();
  if (state.time >= state.model.duration) setTime(0);
  state.playing = true;
  lastFrame = 0;
  $('play').textContent = '⏸';
  requestAnimationFrame(play);
});
$('zoom').addEventListener('change', (e) => {
  state.zoom = Number(e.target.value);
  drawTimeline();
  drawSwimlanes();
  markSelection();
  updateTime();
});
// A click on anything that names a block (a bar's segment, a diagonal cell, a chip in the
// state chart, a list item) selects that block.
document.addEventListener('click', (e) => {
  const target = e.target.closest('[data-block]');
  if (!target || !target.closest('#chart, #timeline, #diagonal, #block-list')) return;
  // A bar of another session moves the block views to that session first.
  if (target.dataset.session !== undefined) focusSession(Number(target.dataset.session));
  select(Number(target.dataset.block));
});
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(render, 100);
});
`;
