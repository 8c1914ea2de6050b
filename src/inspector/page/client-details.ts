/**
 * Browser code, part 3: the block list and the details of the selected block — its
 * transitions with the time spent in each state, and the lane tasks that carried it — and the
 * page's start. See client-core.ts.
 */
export const CLIENT_DETAILS = `
function drawBlockList() {
  const list = $('block-list');
  list.replaceChildren();
  for (const tl of state.model.blocks) {
    const last = tl.transitions[tl.transitions.length - 1];
    const item = el('li', { 'data-block': tl.block, title: 'block ' + tl.block + ': ' + last.state }, list);
    el('span', { class: 'swatch' }, item).style.background = colour(tl.block, 2);
    item.append('B' + tl.block + ' ');
    el('span', { class: 'muted' }, item, last.state);
  }
}

function drawDetails() {
  const m = state.model;
  const box = $('block-details');
  box.replaceChildren();
  const b = state.selected;
  const tl = b === null ? undefined : m.blocks.find((x) => x.block === b);
  if (tl === undefined) {
    delete box.dataset.block;
    el('h2', {}, box, 'Block details');
    el('p', { class: 'hint' }, box, b === null ? 'Click a bar, a diagonal cell, a chip in the state chart or a block in the list.' : 'No records for block ' + b + ' yet.');
    return;
  }
  box.dataset.block = String(b);
  el('h2', {}, box, 'Block ' + b);
  if (isMulti()) el('p', { class: 'session-of', 'data-session': state.focus }, box, sessionLabel(state.focus) + ' (block numbers are per session)');
  const sw = promptOf(b);
  el('p', {}, box, sw === null ? 'prompt: the request\\'s first prompt' : 'prompt: "' + sw.prompt + '" (switch from B' + sw.fromBlock + ')');
  const frame = m.frames.find((f) => f.block === b);
  if (frame) el('p', {}, box, 'frames ' + frame.firstFrame + '–' + (frame.firstFrame + frame.frames - 1) + ' handed out at ' + ms(frame.t));
  const first = tl.transitions[0];
  const last = tl.transitions[tl.transitions.length - 1];
  const stageMs = tl.transitions.filter((x) => m.stages.includes(x.state) && x.ms !== null).reduce((sum, x) => sum + x.ms, 0);
  el('p', {}, box, 'stages t3…cache: ' + ms(stageMs) + (last.state === 'done' ? ' · queued → done: ' + ms(last.t - first.t) : ''));

  el('h3', {}, box, 'Transitions');
  const table = el('table', { class: 'transitions' }, box);
  const head = el('tr', {}, el('thead', {}, table));
  el('th', {}, head, 'state');
  el('th', { class: 'num' }, head, 'entered');
  el('th', { class: 'num' }, head, 'time in state');
  const body = el('tbody', {}, table);
  for (const x of tl.transitions) {
    const until = x.ms === null ? (last.state === 'done' || last.state === 'failed' ? Infinity : m.duration) : x.t + x.ms;
    const row = el('tr', { 'data-state': x.state, 'data-at': x.t, 'data-until': until === Infinity ? 1e308 : until }, body);
    el('td', { class: 'state' }, row, x.state);
    el('td', { class: 'num at' }, row, ms(x.t));
    // The last state has no end: a terminal one never ends, a live one has not ended yet.
    el('td', { class: 'num dur' }, row, x.ms !== null ? ms(x.ms) : x.state === 'done' || x.state === 'failed' ? '—' : 'running ' + ms(m.duration - x.t));
  }

  const tasks = m.tasks.filter((t) => t.blocks.includes(b));
  const reusedSteps = tasks.filter((t) => t.reused && t.reused.includes(b)).length;
  el('h3', {}, box, 'Lane tasks (' + tasks.filter((t) => t.forward).length + ' forwards' + (reusedSteps > 0 ? ', ' + reusedSteps + ' reused features' : '') + ')');
  const tt = el('table', { class: 'tasks' }, box);
  const th = el('tr', {}, el('thead', {}, tt));
  for (const name of ['task', 'lane', 'tick', 'stage', 'start', 'duration']) el('th', { class: name === 'start' || name === 'duration' ? 'num' : '' }, th, name);
  const tb = el('tbody', {}, tt);
  for (const t of tasks) {
    const k = t.blocks.indexOf(b);
    const reused = t.reused !== undefined && t.reused.includes(b);
    const row = el('tr', { 'data-task': t.task, 'data-index': t.index, class: reused ? 'reused' : '' }, tb);
    el('td', {}, row, t.task);
    el('td', {}, row, String(t.lane));
    el('td', {}, row, t.tick === null ? '' : String(t.tick));
    el('td', {}, row, t.stages[k] === undefined ? '' : m.stages[t.stages[k]] + (reused ? ' (reused)' : ''));
    el('td', { class: 'num' }, row, ms(t.start));
    el('td', { class: 'num' }, row, t.end === null ? 'running' : ms(t.end - t.start));
  }
}

if (LIVE) connect(250);
load().catch(showError);
`;
