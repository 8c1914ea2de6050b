/**
 * The viewer page: it opens its own session (`POST /sessions`, under the `?prompt=` of its URL
 * when given), then shows that session's stream in an `<img>`, a prompt form that switches only
 * this session, and what its events stream says (frame counter, the block on screen and its
 * prompt, recent blocks). When every session is taken it says so, with the server's
 * `Retry-After`. Everything is
 * inline — no CDN, no network beyond this service — and the page's CSP allows nothing else.
 * Element ids are stable: scripts and tests read them.
 */

/** How many recent blocks `#blocks` lists. */
export const RECENT_BLOCKS = 40;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; background: #111; color: #eee; }
  main { display: grid; grid-template-columns: auto 1fr; gap: 2rem; align-items: start; }
  /* Frames are 32×32: scale them up without blurring them. */
  #video { width: 384px; height: 384px; image-rendering: pixelated; background: #000; border: 1px solid #444; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1rem; }
  dt { color: #999; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
  input { width: 20rem; padding: .3rem; }
  #error { color: #f77; min-height: 1.4em; }
  #notice { color: #fc6; min-height: 1.4em; }
  #blocks { max-height: 14rem; overflow: auto; font: 13px ui-monospace, monospace; color: #aaa; padding-left: 3rem; }
`;

// Plain browser JavaScript, kept in the module as text (the service has no build step).
const SCRIPT = `
  const $ = (id) => document.getElementById(id);
  const RECENT = ${RECENT_BLOCKS};
  let session = null;
  let id = null;
  let events = null;
  let frames = 0;
  let lastBlock = -1;
  async function openSession() {
    const wanted = new URLSearchParams(location.search).get('prompt');
    const res = await fetch('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(wanted ? { prompt: wanted } : {}),
    });
    const body = await res.json();
    if (!res.ok) {
      const retry = res.headers.get('Retry-After');
      $('state').textContent = body.error.code === 'RUNTIME_BUSY' ? 'busy: every session is taken; reload in ' + retry + ' s' : 'refused';
      $('error').textContent = body.error.message;
      return;
    }
    id = body.id;
    session = body.session;
    $('session').textContent = String(session);
    $('prompt-current').textContent = body.prompt;
    listen();
  }
  function listen() {
    events = new EventSource('/sessions/' + id + '/events');
    // The stream starts once the events stream is open, so no frame goes unannounced.
    events.addEventListener('open', () => {
      $('state').textContent = 'live';
      if (!$('video').getAttribute('src')) $('video').src = '/sessions/' + id + '/stream';
    });
    events.addEventListener('error', () => { $('state').textContent = 'disconnected, retrying'; });
    events.addEventListener('frame', onFrame);
    events.addEventListener('switch', onSwitch);
    events.addEventListener('end', onEnd);
  }
  const onFrame = (e) => {
    const f = JSON.parse(e.data);
    if (f.session !== session) return;
    $('frames').textContent = String(++frames);
    $('block').textContent = String(f.block);
    $('prompt-current').textContent = f.prompt;
    if (f.block !== lastBlock) {
      lastBlock = f.block;
      const li = document.createElement('li');
      li.value = f.block;
      li.dataset.block = String(f.block);
      li.dataset.prompt = f.prompt;
      li.textContent = f.prompt;
      $('blocks').prepend(li);
      while ($('blocks').children.length > RECENT) $('blocks').lastElementChild.remove();
    }
  };
  const onSwitch = (e) => {
    const s = JSON.parse(e.data);
    if (s.session !== session) return;
    $('from-block').textContent = String(s.fromBlock);
    $('from-block').dataset.prompt = s.prompt;
  };
  const onEnd = (e) => {
    const s = JSON.parse(e.data);
    if (s.session !== session) return;
    $('state').textContent = 'ended (' + s.reason + (s.error ? ': ' + s.error : '') + '); reload to start again';
    events.close();
  };
  openSession().catch((err) => { $('error').textContent = String(err); });
  $('switch-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('switch').disabled = true;
    $('error').textContent = '';
    $('notice').textContent = '';
    try {
      if (id === null) throw new Error('no session: reload the page');
      const res = await fetch('/sessions/' + id + '/prompt', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: $('prompt-input').value }),
      });
      const body = await res.json();
      if (!res.ok) {
        $('error').textContent = body.error.message;
        if (body.error.code === 'UNKNOWN_WORDS') $('notice').textContent = 'words it knows: ' + body.error.vocabulary.join(' ');
        return;
      }
      $('from-block').textContent = String(body.fromBlock);
      $('from-block').dataset.prompt = body.prompt;
    } catch (err) {
      $('error').textContent = String(err);
    } finally {
      $('switch').disabled = false;
    }
  });
`;

/**
 * The page's HTML. `nonce` authorises its one inline script under the page's CSP.
 *
 * @example
 * ```ts
 * res.end(renderPage(nonce, 'red ball moving left')); // the prompt its session starts with
 * ```
 */
export function renderPage(nonce: string, prompt: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>block-cascade live</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>block-cascade live</h1>
<main>
  <img id="video" alt="live video" width="32" height="32">
  <section>
    <dl>
      <dt>state</dt><dd id="state">connecting</dd>
      <dt>session</dt><dd id="session">–</dd>
      <dt>frames received</dt><dd id="frames">0</dd>
      <dt>block on screen</dt><dd id="block">–</dd>
      <dt>its prompt</dt><dd id="prompt-current">–</dd>
      <dt>last switch applies from block</dt><dd id="from-block">–</dd>
    </dl>
    <form id="switch-form">
      <input id="prompt-input" name="prompt" maxlength="200" value="${escapeHtml(prompt === 'blue square moving up' ? 'red ball moving left' : 'blue square moving up')}" aria-label="prompt">
      <button id="switch" type="submit">Switch prompt</button>
    </form>
    <p id="error" role="alert"></p>
    <p id="notice"></p>
    <h2>Recent blocks</h2>
    <ol id="blocks" reversed></ol>
  </section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
