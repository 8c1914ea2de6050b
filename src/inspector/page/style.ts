/** The page's stylesheet (served as `/inspector.css`; inline styles are refused by the page's CSP). */
export const PAGE_STYLE = `
  :root { --fg: #1d2330; --muted: #6b7385; --line: #d5d9e2; --bg: #f6f7fa; --panel: #fff; --accent: #d33f49; --cursor: #111; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: grid; grid-template-columns: auto minmax(0, 1fr) auto auto auto; gap: 1rem; align-items: baseline; padding: .6rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line); }
  h1 { font-size: 16px; margin: 0; }
  h2 { font-size: 13px; margin: 0 0 .35rem; }
  h2 small { font-weight: normal; color: var(--muted); margin-left: .5rem; }
  h3 { font-size: 12px; margin: .8rem 0 .3rem; }
  #meta, #forward-count { color: var(--muted); }
  #forward-count, #chrome-trace-link { white-space: nowrap; }
  #live-status { white-space: nowrap; padding: 0 .5rem; border-radius: 1rem; background: #e6e8ee; }
  #live-status[data-state="open"] { background: #d7f5de; color: #146c2e; }
  #live-status[data-state="closed"] { background: #fde2e2; color: #8a1c1c; }
  #controls { display: flex; gap: .6rem; align-items: center; padding: .5rem 1rem; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
  #scrubber { flex: 1; }
  #time-label { min-width: 22rem; font-variant-numeric: tabular-nums; }
  #error { color: var(--accent); padding: 0 1rem; }
  #error:empty { display: none; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 330px; gap: .8rem; padding: .8rem 1rem; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .6rem; margin-bottom: .8rem; min-width: 0; }
  .row { display: grid; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); gap: .8rem; }
  .plot { width: 100%; }
  #timeline-wrap { overflow-x: auto; }
  svg { display: block; font: 11px system-ui, sans-serif; user-select: none; }
  /* CSS outranks SVG presentation attributes: leave text drawn on a colour (fill=…) alone. */
  :where(svg text:not([fill])) { fill: var(--fg); }
  .axis line, .grid { stroke: var(--line); }
  .axis text, .label { fill: var(--muted); }
  .edge { stroke: #8a92a5; stroke-width: 1.5; fill: none; }
  .edge.to-failed { stroke: #e3b4b7; stroke-dasharray: 3 3; }
  #arrow-head { fill: #8a92a5; }
  .state-box { fill: #f2f3f7; stroke: #b9bfcc; stroke-width: 1; }
  .state-node.current .state-box { fill: #fff6d6; stroke: #e0a100; stroke-width: 2.5; }
  .state-node.holds-selected .state-box { stroke: var(--cursor); stroke-width: 3; }
  #state-failed .state-box { fill: #fbeeee; }
  .state-name { font-weight: 600; font-size: 12px; }
  .state-count { fill: var(--muted); }
  .chip { cursor: pointer; }
  .chip text { font-size: 10px; font-weight: 600; pointer-events: none; }
  .chip.selected rect { stroke: var(--cursor); stroke-width: 2; }
  .lane-row { fill: #f2f3f7; }
  .lane-row.odd { fill: #eceef3; }
  .bar { cursor: pointer; }
  .bar .seg { stroke: rgba(0,0,0,.25); stroke-width: .5; }
  .bar.recache .seg { stroke: #111; stroke-dasharray: 2 2; stroke-width: 1; }
  .bar.open .seg { opacity: .6; }
  .bar.failed .seg { stroke: var(--accent); stroke-width: 2; }
  .seg-label { font-size: 10px; pointer-events: none; }
  .bar .seg.reused, .cell.reused { fill-opacity: .35; stroke: #111; stroke-dasharray: 1 2; stroke-width: 1; }
  .reused-swatch { opacity: .35; outline: 1px dotted #111; }
  tr.reused td { color: var(--muted); font-style: italic; }
  .has-selection .seg:not(.selected), .has-selection .cell:not(.selected) { opacity: .3; }
  .seg.selected, .cell.selected { stroke: var(--cursor); stroke-width: 1.5; }
  .aux { fill: #a9afbb; cursor: pointer; }
  .aux-encode { fill: #c9cdd6; }
  .switch-marker { stroke: var(--accent); stroke-width: 2; }
  .switch-request { stroke: var(--accent); stroke-width: 1; stroke-dasharray: 4 3; }
  .switch-label { fill: var(--accent); font-weight: 600; }
  .recache-marker { stroke: #7a3db8; stroke-width: 1.5; stroke-dasharray: 2 2; }
  .cursor { stroke: var(--cursor); stroke-width: 1.5; pointer-events: none; }
  .planned { fill: none; stroke: #cfd3dc; stroke-width: .6; }
  .cell { cursor: pointer; }
  .cell.off { stroke: var(--accent); stroke-width: 2; }
  #diagonal-cursor { fill: rgba(224, 161, 0, .22); pointer-events: none; }
  .kv-committed { fill: #3f6fd3; }
  .kv-reserved { fill: #e0a100; }
  .kv-free { fill: #e3e6ed; }
  .kv-legend { color: var(--muted); margin-bottom: .3rem; }
  .swatch.kv-c { background: #3f6fd3; }
  .swatch.kv-r { background: #e0a100; margin-left: .6rem; }
  .swatch.kv-f { background: #e3e6ed; margin-left: .6rem; }
  #legend { display: flex; gap: .8rem; color: var(--muted); margin-bottom: .3rem; flex-wrap: wrap; }
  .swatch { display: inline-block; width: .9em; height: .9em; border-radius: 2px; vertical-align: -1px; margin-right: .25em; background: #ccc; }
  #block-list { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(5.6rem, 1fr)); gap: .2rem; max-height: 14rem; overflow: auto; }
  #block-list li { cursor: pointer; padding: .1rem .3rem; border-radius: 3px; border: 1px solid transparent; white-space: nowrap; }
  #block-list li:hover { background: #eef0f5; }
  #block-list li.selected { border-color: var(--cursor); background: #fff6d6; }
  #block-list .muted, .hint { color: var(--muted); }
  #block-details table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  #block-details th, #block-details td { text-align: left; padding: .1rem .3rem; border-bottom: 1px solid #eef0f5; }
  #block-details td.num, #block-details th.num { text-align: right; white-space: nowrap; }
  #block-details tr.now { background: #fff6d6; }
  #block-details p { margin: .2rem 0; }
  body:not(.multi) .multi-only { display: none; }
  #sessions-section .plot { overflow-x: auto; }
  #focus-note { margin: 0 0 .3rem; }
  .swimlane { cursor: pointer; }
  .swimlane.focus .lane-row { stroke: var(--cursor); stroke-width: 1; }
  .sl-life { stroke-width: 2; opacity: .5; }
  .sl-tick { opacity: .85; stroke: rgba(0,0,0,.3); stroke-width: .5; }
  .sl-frame { fill: var(--fg); }
`;
