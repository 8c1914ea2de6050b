/**
 * The page's HTML shell. Everything it loads comes from the inspector itself (`/inspector.css`,
 * `/inspector.js`, `/model`, `/live`): no CDN, no font, no network beyond 127.0.0.1, and the
 * server's Content-Security-Policy forbids anything else. Ids and classes are stable: the
 * end-to-end test and scripts select by them.
 */

/**
 * The inspector page.
 *
 * @param live Whether the page should connect to `/live` and follow a generation as it runs.
 *
 * @example
 * ```ts
 * res.end(pageHtml({ live: false }));
 * ```
 */
export function pageHtml({ live }: { readonly live: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>block-cascade inspector</title>
<link rel="stylesheet" href="/inspector.css">
</head>
<body data-live="${live ? 'true' : 'false'}">
<header>
  <h1>block-cascade inspector</h1>
  <span id="meta">loading…</span>
  <span id="forward-count" data-count="0"></span>
  <a id="chrome-trace-link" href="/chrome-trace.json" download="chrome-trace.json" title="Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing">Chrome trace</a>
  <span id="live-status" data-state="${live ? 'connecting' : 'offline'}">${live ? 'connecting' : 'recorded trace'}</span>
</header>
<div id="controls">
  <button id="play" type="button" title="Replay the trace">▶</button>
  <select id="speed" title="Replay speed"><option value="0.1">0.1×</option><option value="0.25" selected>0.25×</option><option value="1">1×</option></select>
  <input id="scrubber" type="range" min="0" max="0" step="any" value="0" aria-label="time (ms)">
  <span id="time-label"></span>
  <label class="multi-only">session <select id="session-filter" title="Show every session, or one"><option value="all">all sessions</option></select></label>
  <label>zoom <select id="zoom"><option value="1">1×</option><option value="2">2×</option><option value="4">4×</option><option value="8">8×</option></select></label>
</div>
<div id="error" role="alert"></div>
<main>
  <div id="views">
    <section id="sessions-section" class="multi-only">
      <h2>Sessions <small>one swimlane per session over the lanes' time axis: its ticks (a bar each, all lanes together) and ▼ where a block's frames were handed out</small></h2>
      <p class="hint" id="focus-note"></p>
      <div class="plot"><svg id="swimlanes" role="img" aria-label="sessions swimlanes"></svg></div>
    </section>
    <section>
      <h2>Block machine <small id="chart-note"></small></h2>
      <div class="plot" id="chart-plot"><svg id="chart" role="img" aria-label="block state chart"></svg></div>
    </section>
    <section>
      <h2>Lanes × time <small>one bar per forward (tick, share, re-cache), split by block; hue = block, lightness = stage; grey = encode/decode</small></h2>
      <div id="legend"></div>
      <div class="plot" id="timeline-wrap"><svg id="timeline" role="img" aria-label="lane timeline"></svg></div>
    </section>
    <div class="row">
      <section>
        <h2>Cascade diagonal <small id="diagonal-note">blocks × ticks</small></h2>
        <div class="plot" id="diagonal-plot"><svg id="diagonal" role="img" aria-label="cascade diagonal"></svg></div>
      </section>
      <section>
        <h2>KV pool <small id="kv-readout"></small></h2>
        <div class="kv-legend"><span class="swatch kv-c"></span>committed <span class="swatch kv-r"></span>reserved <span class="swatch kv-f"></span>free</div>
        <div class="plot" id="kv-plot"><svg id="kv" role="img" aria-label="KV pool occupancy"></svg></div>
      </section>
    </div>
  </div>
  <aside>
    <section>
      <h2>Blocks</h2>
      <ol id="block-list"></ol>
    </section>
    <section id="block-details" aria-live="polite"></section>
  </aside>
</main>
<script type="module" src="/inspector.js"></script>
</body>
</html>
`;
}
