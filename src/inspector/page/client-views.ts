/**
 * Browser code, part 2: the four views, each redrawn from the model — the block machine's
 * state chart, lanes × time, the cascade diagonal and KV-pool occupancy — plus the parts that
 * follow the scrubbed time (chips in the chart, the diagonal's current tick). See client-core.ts.
 */
export const CLIENT_VIEWS = `
function drawLegend() {
  const legend = $('legend');
  legend.replaceChildren();
  // Many-step schedules: the first two steps, the last two, and cache.
  const stages = state.model.stages;
  const shown = stages.length <= 6 ? stages.map((_, i) => i) : [0, 1, -1, stages.length - 3, stages.length - 2, stages.length - 1];
  shown.forEach((i) => {
    const item = el('span', {}, legend);
    if (i < 0) return void item.append('…');
    el('span', { class: 'swatch' }, item).style.background = colour(0, i);
    item.append(stages[i]);
  });
  const recache = el('span', {}, legend);
  el('span', { class: 'swatch' }, recache).style.background = colour(0, null);
  recache.append('re-cache (dashed)');
  if (state.model.tasks.some((t) => t.reused && t.reused.length > 0)) {
    const reused = el('span', {}, legend);
    el('span', { class: 'swatch reused-swatch' }, reused).style.background = colour(0, 2);
    reused.append('reused features (pale, dotted: no layer ran)');
  }
  const aux = el('span', {}, legend);
  el('span', { class: 'swatch' }, aux).style.background = '#a9afbb';
  aux.append('decode / encode (not forwards)');
  const sw = el('span', {}, legend);
  el('span', { class: 'swatch' }, sw).style.background = '#d33f49';
  sw.append('prompt switch');
  if (isMulti()) for (const s of visibleSessions()) {
    const item = el('span', { class: 'session-key', 'data-session': s.id }, legend);
    el('span', { class: 'swatch' }, item).style.background = sessionColour(s.id);
    item.append(s.label + ' (stripe)');
  }
}

// ---- (a) the block machine: queued → t{N−1} … t0 → cache → done, and failed from any stage;
// a many-step machine wraps over several lines of states.
function drawChart() {
  const m = state.model;
  const root = $('chart');
  root.replaceChildren();
  views.chart = {};
  const main = m.chartStates.filter((s) => s !== 'failed');
  const width = widthOf('chart-plot', 560);
  const gap = 26;
  const perLine = Math.max(2, Math.min(main.length, Math.floor((width - 8 + gap) / (96 + gap))));
  const lines = Math.ceil(main.length / perLine);
  const nodeW = Math.min(170, (width - 8 - gap * (perLine - 1)) / perLine);
  const blocks = Math.max(m.meta ? m.meta.blocks : 0, m.blocks.length, 1);
  const perRow = Math.max(1, Math.floor((nodeW - 8) / 26));
  // At most three rows of chips: a node holding more shows some and a count of the rest.
  const rows = Math.min(3, Math.ceil(blocks / perRow));
  const nodeH = 28 + rows * 19;
  const lineH = nodeH + 22;
  const failedY = 4 + lines * lineH;
  const at = (i) => ({ x: 4 + (i % perLine) * (nodeW + gap), y: 4 + Math.floor(i / perLine) * lineH });
  root.setAttribute('width', width);
  root.setAttribute('height', failedY + 28 + 19 + 4);
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('defs', {}, root));
  svg('path', { id: 'arrow-head', d: 'M 0 0 L 10 5 L 0 10 z' }, marker);
  const failedX = width / 2 - nodeW / 2;
  main.forEach((name, i) => {
    const { x, y } = at(i);
    if (i > 0 && i % perLine !== 0) svg('line', { class: 'edge', x1: x - gap + 1, y1: y + nodeH / 2, x2: x - 2, y2: y + nodeH / 2, 'marker-end': 'url(#arrow)' }, root);
    // A wrapped line starts under the previous line's last state.
    if (i > 0 && i % perLine === 0) {
      const prev = at(i - 1);
      svg('polyline', { class: 'edge', fill: 'none', points: [prev.x + nodeW / 2, prev.y + nodeH, prev.x + nodeW / 2, y - 10, x + nodeW / 2, y - 10, x + nodeW / 2, y - 2].join(' '), 'marker-end': 'url(#arrow)' }, root);
    }
    // Many stages: one arrow to failed from the last line only, so the lines stay readable.
    if (stageIndex(name) >= 0 && (lines === 1 || Math.floor(i / perLine) === lines - 1)) {
      svg('line', { class: 'edge to-failed', x1: x + nodeW / 2, y1: y + nodeH, x2: failedX + nodeW / 2, y2: failedY - 1, 'marker-end': 'url(#arrow)' }, root);
    }
  });
  main.forEach((name, i) => addStateNode(root, name, at(i).x, at(i).y, nodeW, nodeH, perRow, rows));
  addStateNode(root, 'failed', failedX, failedY, nodeW, 28 + 19, perRow, 1);
}
function addStateNode(root, name, x, y, w, h, perRow, rows) {
  const g = svg('g', { class: 'state-node', id: 'state-' + name, 'data-state': name }, root);
  svg('rect', { class: 'state-box', x: x, y: y, width: w, height: h, rx: 8 }, g);
  svg('text', { class: 'state-name', x: x + 8, y: y + 17 }, g, name);
  const count = svg('text', { class: 'state-count', x: x + w - 8, y: y + 17, 'text-anchor': 'end' }, g, '');
  const chips = svg('g', { class: 'chips' }, g);
  views.chart[name] = { g: g, chips: chips, count: count, x: x, y: y, perRow: perRow, rows: rows };
}
/**
 * The chips a node has room for, null standing for "+N more": done shows its latest blocks,
 * the others their oldest; the selected block is always among those shown.
 */
function visibleChips(name, list, capacity) {
  if (list.length <= capacity) return list;
  const room = capacity - 1;
  const shown = name === 'done' ? list.slice(list.length - room) : list.slice(0, room);
  if (list.includes(state.selected) && !shown.includes(state.selected)) shown[name === 'done' ? 0 : room - 1] = state.selected;
  return shown.concat([null]);
}
function updateChart(t) {
  const m = state.model;
  const by = blocksByState(t);
  let present = 0;
  for (const name in views.chart) {
    const n = views.chart[name];
    const list = by[name] || [];
    present += list.length;
    n.g.classList.toggle('current', list.length > 0);
    n.g.classList.toggle('holds-selected', list.includes(state.selected));
    n.count.textContent = list.length ? String(list.length) : '';
    n.chips.replaceChildren();
    const stage = stageIndex(name);
    const shown = visibleChips(name, list, n.perRow * n.rows);
    shown.forEach((b, k) => {
      const cx = n.x + 5 + (k % n.perRow) * 26;
      const cy = n.y + 25 + Math.floor(k / n.perRow) * 19;
      if (b === null) {
        svg('text', { class: 'label', x: cx + 2, y: cy + 12 }, n.chips, '+' + (list.length - shown.length + 1));
        return;
      }
      const chip = svg('g', { class: 'chip' + (b === state.selected ? ' selected' : ''), 'data-block': b }, n.chips);
      svg('rect', { x: cx, y: cy, width: 23, height: 16, rx: 3, fill: colour(b, stage) }, chip);
      svg('text', { x: cx + 11.5, y: cy + 12, 'text-anchor': 'middle', fill: inkOn(stage) }, chip, String(b));
      svg('title', {}, chip, 'block ' + b + ': ' + name);
    });
  }
  const planned = m.meta ? m.meta.blocks : present;
  $('chart-note').textContent = planned > present ? (planned - present) + ' of ' + planned + ' blocks not admitted yet' : '';
}

// ---- (b) lanes × time: one .bar per forward, split into one segment per block it carries
function drawTimeline() {
  const m = state.model;
  const root = $('timeline');
  root.replaceChildren();
  const width = Math.max(500, Math.floor((widthOf('timeline-wrap', 500) - 2) * state.zoom));
  const left = isMulti() ? SESSIONS_LEFT : 58;
  const right = 14;
  const top = 34;
  const laneH = 46;
  const span = Math.max(m.duration, 1);
  const x = (t) => left + (t / span) * (width - left - right);
  views.timelineX = x;
  const rows = timelineRows();
  const height = top + rows.length * laneH + 4;
  root.setAttribute('width', width);
  root.setAttribute('height', height);
  const axis = svg('g', { class: 'axis' }, root);
  const step = niceStep(span, (width - left - right) / 90);
  for (let v = 0; v <= span + 1e-9; v += step) {
    svg('line', { x1: x(v), x2: x(v), y1: 16, y2: height }, axis);
    svg('text', { x: x(v) + 2, y: 12 }, axis, v.toFixed(step < 1 ? 1 : 0) + ' ms');
  }
  const rowOf = new Map(rows.map((row, i) => [row.lane + ':' + row.session, i]));
  rows.forEach((row, i) => {
    svg('rect', { class: 'lane-row' + (i % 2 ? ' odd' : ''), x: left, y: top + i * laneH, width: width - left - right, height: laneH - 2 }, root);
    svg('text', { class: 'label', x: 4, y: top + i * laneH + laneH / 2 + 4 }, root, row.label);
  });
  for (const item of timelineTasks()) {
    const task = item.task;
    const session = item.session;
    const y0 = top + rowOf.get(task.lane + ':' + session) * laneH;
    const end = task.end === null ? m.duration : task.end;
    const x0 = x(task.start);
    const w = Math.max(1, x(end) - x0);
    const title = (session === null ? '' : sessionLabel(session) + ' · ') + taskName(task) + ' · lane ' + task.lane + (task.tick === null ? '' : ' · tick ' + task.tick) + ' · ' + ms(task.start) + ' → ' +
      (task.end === null ? 'running' : ms(task.end) + ' (' + ms(task.end - task.start) + ')') +
      (task.runMs === null ? '' : ' · in session.run ' + ms(task.runMs)) + (task.exchangeWaitMs === null ? '' : ' · K/V wait ' + ms(task.exchangeWaitMs)) +
      (task.layerWaitsMs === null || task.layerWaitsMs.length === 0 ? '' : ' (per layer ' + task.layerWaitsMs.map(ms).join(', ') + ')') +
      (task.error === null ? '' : ' · failed: ' + task.error);
    if (!task.forward) {
      const aux = svg('rect', { class: 'aux aux-' + task.task, x: x0, y: y0 + laneH - 10, width: w, height: 5 }, root);
      if (task.blocks.length === 1) aux.setAttribute('data-block', task.blocks[0]);
      if (session !== null) aux.setAttribute('data-session', session);
      svg('title', {}, aux, title);
      continue;
    }
    const bar = svg('g', {
      class: 'bar ' + task.task + (task.end === null ? ' open' : '') + (task.error === null ? '' : ' failed'),
      'data-index': task.index, 'data-lane': task.lane, 'data-task': task.task, 'data-tick': task.tick === null ? '' : task.tick,
      'data-blocks': task.blocks.join(' '), 'data-stages': task.stages.join(' '),
    }, root);
    svg('title', {}, bar, title);
    // Concurrent sessions: a stripe in the session's colour on top of each bar tells them apart.
    const stripe = session === null ? 0 : 4;
    if (session !== null) {
      bar.setAttribute('data-session', session);
      svg('rect', { class: 'session-stripe', x: x0, y: y0 + 1, width: w, height: stripe - 1, fill: sessionColour(session) }, bar);
    }
    const members = Math.max(1, task.blocks.length);
    const h = (laneH - 16 - stripe) / members;
    if (task.blocks.length === 0) svg('rect', { class: 'seg', x: x0, y: y0 + 3 + stripe, width: w, height: laneH - 16 - stripe, fill: '#888' }, bar);
    task.blocks.forEach((b, k) => {
      const stage = task.task === 'recache' ? null : task.stages[k];
      const y = y0 + 3 + stripe + k * h;
      const reused = task.reused !== undefined && task.reused.includes(b);
      const seg = svg('rect', { class: 'seg' + (reused ? ' reused' : ''), x: x0, y: y, width: w, height: Math.max(1, h - 1), fill: colour(b, stage), 'data-block': b, 'data-stage': stage === null ? 'recache' : m.stages[stage], 'data-reused': reused ? '1' : '0' }, bar);
      if (session !== null) seg.setAttribute('data-session', session);
      if (w > 40 && h >= 11) svg('text', { class: 'seg-label', x: x0 + 3, y: y + h / 2 + 3.5, fill: inkOn(stage) }, bar, 'B' + b + ' ' + (stage === null ? 'rc' : m.stages[stage]) + (reused ? ' ↺' : ''));
    });
  }
  for (const s of m.switches) {
    // Where the switch shows: the first block under the new prompt starts denoising.
    const at = x(s.appliedAt === null ? s.t : s.appliedAt);
    svg('line', { class: 'switch-marker', x1: at, x2: at, y1: 18, y2: height }, root);
    svg('title', {}, svg('text', { class: 'switch-label', x: at + 3, y: 29 }, root, 'switch → B' + s.fromBlock), 'prompt switch to "' + s.prompt + '" from block ' + s.fromBlock + (s.live ? ', requested live at ' + ms(s.t) : ' (scheduled)'));
    if (s.live) svg('line', { class: 'switch-request', x1: x(s.t), x2: x(s.t), y1: 18, y2: height }, root);
  }
  for (const r of m.recaches) {
    svg('title', {}, svg('line', { class: 'recache-marker', x1: x(r.t), x2: x(r.t), y1: 18, y2: height }, root), 're-cache before block ' + r.beforeBlock + ': ' + r.frames + ' frames, ' + ms(r.ms));
  }
  svg('line', { id: 'timeline-cursor', class: 'cursor', x1: 0, x2: 0, y1: 16, y2: height }, root);
}

// ---- (c) the cascade diagonal: block b runs stage s at tick b·Δ + s
function drawDiagonal() {
  const m = state.model;
  const root = $('diagonal');
  root.replaceChildren();
  const blocks = Math.max(m.meta ? m.meta.blocks : 0, ...m.blocks.map((b) => b.block + 1), 1);
  const ticks = Math.max(1, m.diagonal.ticks);
  const left = 30;
  const top = 18;
  const avail = widthOf('diagonal-plot', 240);
  const cw = Math.max(3, Math.min(22, (avail - left - 4) / ticks));
  const ch = Math.max(5, Math.min(14, 240 / blocks));
  const width = left + ticks * cw + 4;
  const height = top + blocks * ch + 4;
  root.setAttribute('width', width);
  root.setAttribute('height', height);
  views.diagonal = { left: left, top: top, cw: cw, ch: ch, height: height };
  $('diagonal-note').textContent = m.lag === null ? 'blocks × ticks' : 'blocks × ticks · block b runs stage s at tick b·' + m.lag + ' + s';
  svg('rect', { id: 'diagonal-cursor', x: 0, y: top, width: cw, height: blocks * ch, visibility: 'hidden' }, root);
  const tickEvery = Math.max(1, Math.round(niceStep(ticks, (width - left) / 28)));
  for (let k = 0; k < ticks; k += tickEvery) svg('text', { class: 'label', x: left + k * cw + 1, y: 12 }, root, String(k));
  const blockEvery = ch >= 11 ? 1 : Math.ceil(11 / ch);
  for (let b = 0; b < blocks; b += blockEvery) svg('text', { class: 'label', x: 2, y: top + b * ch + ch - 3 }, root, 'B' + b);
  if (m.lag !== null) {
    for (let b = 0; b < blocks; b++) for (let s = 0; s < m.stages.length; s++) {
      svg('rect', { class: 'planned', x: left + (b * m.lag + s) * cw + 0.5, y: top + b * ch + 0.5, width: cw - 1, height: ch - 1 }, root);
    }
  }
  for (const s of m.switches) {
    const y = top + s.fromBlock * ch;
    svg('title', {}, svg('line', { class: 'switch-marker', x1: left - 4, x2: width, y1: y, y2: y }, root), 'prompt switch to "' + s.prompt + '" from block ' + s.fromBlock);
  }
  for (const c of m.diagonal.cells) {
    const cell = svg('rect', {
      class: 'cell' + (c.onSchedule ? '' : ' off') + (c.reused ? ' reused' : ''), x: left + c.tick * cw + 0.5, y: top + c.block * ch + 0.5, width: cw - 1, height: ch - 1,
      fill: colour(c.block, c.stage), 'data-block': c.block, 'data-tick': c.tick, 'data-stage': m.stages[c.stage],
    }, root);
    svg('title', {}, cell, 'B' + c.block + ' ' + m.stages[c.stage] + ' at tick ' + c.tick + ' on lane ' + c.lanes.join(', ') + ' · ' + ms(c.start) + ' → ' + (c.end === null ? 'running' : ms(c.end)) + (c.reused ? ' · reused features' : '') + (c.onSchedule ? '' : ' · OFF SCHEDULE'));
  }
}
function updateDiagonalCursor(t) {
  const d = views.diagonal;
  const cursor = $('diagonal-cursor');
  if (!d || !cursor) return;
  // The tick running at t: the latest one started by then.
  let tick = -1;
  for (const c of state.model.diagonal.cells) if (c.start <= t && c.tick > tick) tick = c.tick;
  cursor.setAttribute('visibility', tick < 0 ? 'hidden' : 'visible');
  cursor.setAttribute('x', d.left + Math.max(0, tick) * d.cw);
}

// ---- (d) KV-pool occupancy: committed, reserved and free slots stacked, as steps over time
function drawKv() {
  const m = state.model;
  const root = $('kv');
  root.replaceChildren();
  const width = widthOf('kv-plot', 240);
  const height = 170;
  const left = 30;
  const right = 8;
  const top = 8;
  const bottom = 20;
  const points = m.kv.points;
  const capacity = m.kv.capacity || Math.max(1, ...points.map((p) => p.free + p.reserved + p.committed));
  const span = Math.max(m.duration, 1);
  const x = (t) => left + (t / span) * (width - left - right);
  const y = (v) => top + (1 - v / capacity) * (height - top - bottom);
  views.kvX = x;
  root.setAttribute('width', width);
  root.setAttribute('height', height);
  const axis = svg('g', { class: 'axis' }, root);
  for (const v of [0, Math.round(capacity / 2), capacity]) {
    svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v) }, axis);
    svg('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end' }, axis, String(v));
  }
  const step = niceStep(span, (width - left - right) / 80);
  for (let v = 0; v <= span + 1e-9; v += step) svg('text', { x: x(v), y: height - 6, 'text-anchor': 'middle' }, axis, v.toFixed(0));
  // A band between two running sums, as a step function: each point holds until the next.
  const band = (lower, upper) => {
    if (points.length === 0) return '';
    const ends = points.map((p, i) => (i + 1 < points.length ? points[i + 1].t : m.duration));
    let d = '';
    points.forEach((p, i) => { d += (i === 0 ? 'M' : 'L') + x(p.t).toFixed(1) + ',' + y(upper(p)).toFixed(1) + 'L' + x(ends[i]).toFixed(1) + ',' + y(upper(p)).toFixed(1); });
    for (let i = points.length - 1; i >= 0; i--) d += 'L' + x(ends[i]).toFixed(1) + ',' + y(lower(points[i])).toFixed(1) + 'L' + x(points[i].t).toFixed(1) + ',' + y(lower(points[i])).toFixed(1);
    return d + 'Z';
  };
  svg('path', { class: 'kv-free', d: band((p) => p.committed + p.reserved, (p) => p.committed + p.reserved + p.free) }, root);
  svg('path', { class: 'kv-reserved', d: band((p) => p.committed, (p) => p.committed + p.reserved) }, root);
  svg('path', { class: 'kv-committed', d: band(() => 0, (p) => p.committed) }, root);
  for (const s of m.switches) {
    const at = x(s.appliedAt === null ? s.t : s.appliedAt);
    svg('line', { class: 'switch-marker', x1: at, x2: at, y1: top, y2: height - bottom }, root);
  }
  svg('line', { id: 'kv-cursor', class: 'cursor', x1: 0, x2: 0, y1: top, y2: height - bottom }, root);
}
`;
