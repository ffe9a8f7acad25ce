// The search page of `zhsearch serve`: a client of the JSON API on the same origin.
// Every text that comes from the API or the URL is inserted as text (textContent, text
// nodes), never parsed as markup.
'use strict';

const PAGE = 10; // hits per page
const CONTEXT = 2; // paragraphs shown before and after a hit

const $ = (id) => document.getElementById(id);
const box = $('q');
const hitsEl = $('hits');
const notice = $('notice');
const pager = $('pager');

let current = { q: '', offset: 0 };
let seq = 0; // the latest search; an older answer arriving late is dropped

/** A new element with a class and a text. */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** GET `path` with `params`: the JSON body, or an Error carrying the API's `error` text. */
async function api(path, params) {
  const url = path + '?' + new URLSearchParams(params).toString();
  let res;
  try {
    res = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new Error('无法连接服务器 Cannot reach the server');
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (!res.ok || body === null) {
    throw new Error(body && body.error ? body.error : 'HTTP ' + res.status);
  }
  return body;
}

/** The search the address asks for (`?q=…&offset=…`). */
function fromUrl() {
  const p = new URLSearchParams(location.search);
  const offset = parseInt(p.get('offset') || '0', 10);
  return { q: p.get('q') || '', offset: offset > 0 ? offset : 0 };
}

function toUrl(s) {
  const p = new URLSearchParams();
  if (s.q) p.set('q', s.q);
  if (s.offset) p.set('offset', String(s.offset));
  const qs = p.toString();
  return qs ? '?' + qs : location.pathname;
}

/** Goes to a search: a new history entry (unless the address is the same), then runs it. */
function navigate(s) {
  const url = toUrl(s);
  if (url === location.search || (url === location.pathname && !location.search)) {
    history.replaceState(s, '', url);
  } else {
    history.pushState(s, '', url);
  }
  run(s);
}

function setNotice(kind, text) {
  notice.className = 'notice ' + kind;
  notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  notice.replaceChildren();
  if (kind === 'error') notice.append(el('strong', null, '出错了 Error: '));
  notice.append(text);
}

async function run(s) {
  current = s;
  box.value = s.q;
  document.title = s.q ? s.q + ' — zhsearch' : 'zhsearch';
  hitsEl.replaceChildren();
  pager.hidden = true;
  const mine = ++seq;
  if (!s.q.trim()) {
    setNotice('empty', '输入词句，按 Enter 搜索；简体、繁体都能找到，引文保持原文。' +
      'Type words and press Enter: either script finds both, and passages are quoted as written.');
    return;
  }
  setNotice('busy', '正在搜索… Searching…');
  let body;
  try {
    body = await api('/api/search', { q: s.q, limit: PAGE + 1, offset: s.offset });
  } catch (e) {
    if (mine === seq) setNotice('error', e.message);
    return;
  }
  if (mine === seq) render(body, s);
}

/** Shows a page of hits; one more than a page was asked for, to know whether a next exists. */
function render(body, s) {
  const hits = body.hits.slice(0, PAGE);
  hitsEl.replaceChildren(...hits.map((h, i) => hitItem(h, s.offset + i)));
  if (!hits.length) {
    setNotice('empty', s.offset
      ? '这一页没有结果。No hits on this page.'
      : '没有找到“' + s.q + '”。No passage found for “' + s.q + '”.');
  } else if (body.partial) {
    setNotice('partial', '没有段落包含全部词语，以下是部分匹配。' +
      'No passage holds every term: these are partial matches.');
  } else {
    setNotice('done', '');
  }
  const more = body.hits.length > PAGE;
  pager.hidden = !more && s.offset === 0;
  $('prev').disabled = s.offset === 0;
  $('next').disabled = !more;
  $('range').textContent = hits.length
    ? '第 ' + (s.offset + 1) + '–' + (s.offset + hits.length) + ' 条 Hits ' +
      (s.offset + 1) + '–' + (s.offset + hits.length)
    : '';
}

/** `file:57` or `file:57-59`, as the command line cites a passage. */
function span(hit) {
  const lines = hit.line_end > hit.line_start
    ? hit.line_start + '-' + hit.line_end
    : String(hit.line_start);
  return hit.source + ':' + lines;
}

/** How the hit matched: every term, part of the query, or only in meaning (semantic tier). */
function matchLabel(hit) {
  if (hit.match === 'semantic') {
    const similarity = typeof hit.similarity === 'number' ? ' ' + hit.similarity.toFixed(2) : '';
    return el('span', 'label match-semantic', '语义相近 Similar in meaning' + similarity);
  }
  return hit.match === 'partial'
    ? el('span', 'label match-partial', '部分匹配 Partial match')
    : el('span', 'label match-all', '全部匹配 All terms');
}

/** One hit: its citation and labels, the passage with highlights, its buttons. */
function hitItem(hit, rank) {
  const li = el('li', 'hit ' + (hit.match === 'all' ? 'all' : hit.match));
  li.dataset.rank = String(rank + 1);
  const head = el('div', 'hit-head');
  head.append(el('span', 'rank', String(rank + 1)), el('span', 'citation', span(hit)));
  if (hit.paragraph > 0) head.append(el('span', 'para', '¶' + hit.paragraph));
  if (hit.title) head.append(el('span', 'title', '《' + hit.title + '》'));
  const labels = el('span', 'labels');
  labels.append(matchLabel(hit));
  if (hit.variant) {
    labels.append(el('span', 'label variant', '地区用词 Regional variant: ' + hit.variant));
  }
  head.append(labels);
  const passage = el('p', 'passage');
  highlight(passage, hit.text, hit.highlights || []);
  const body = el('div', 'hit-body');
  body.append(passage);
  li.append(head, body, actions(hit, rank, li, body));
  return li;
}

/** The UTF-16 index of each UTF-8 byte offset that starts a character (and of the end). */
function byteIndex(text) {
  const at = new Map();
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    at.set(bytes, i);
    const cp = ch.codePointAt(0);
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  at.set(bytes, i);
  return at;
}

/** Fills `node` with `text`, the byte ranges `ranges` (UTF-8, as the API gives them) marked. */
function highlight(node, text, ranges) {
  const at = byteIndex(text);
  const spans = ranges
    .map(([s, e]) => [at.get(s), at.get(e)])
    .filter(([s, e]) => s !== undefined && e !== undefined && s < e)
    .sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [s, e] of spans) {
    const start = Math.max(s, pos);
    if (start >= e) continue;
    if (start > pos) node.append(text.slice(pos, start));
    node.append(el('mark', null, text.slice(start, e)));
    pos = e;
  }
  if (pos < text.length) node.append(text.slice(pos));
}

function actions(hit, rank, li, body) {
  const bar = el('div', 'actions');
  const copy = el('button', 'copy', '复制引文 Copy citation');
  copy.type = 'button';
  const context = el('button', 'context', '上下文 Context');
  context.type = 'button';
  context.setAttribute('aria-expanded', 'false');
  const said = el('span', 'said');
  said.setAttribute('role', 'status');
  copy.addEventListener('click', () => copyCitation(hit, rank, li, said));
  context.addEventListener('click', () => toggleContext(hit, body, context, said));
  // A passage close in meaning only is copied as `zhsearch cite --semantic` quotes it:
  // labelled as such (it may not say what the query says).
  bar.append(copy, context, said);
  return bar;
}

/** Asks `/api/cite` for this hit (same query, its rank) and copies what `zhsearch cite` prints. */
async function copyCitation(hit, rank, li, said) {
  // The search of the page had semantic hits: so does the one that finds this hit's rank.
  const params = { q: current.q, limit: 1, offset: rank, format: $('format').value, semantic: 'true' };
  if (hit.match === 'partial') params.partial = 'true';
  said.className = 'said';
  said.textContent = '…';
  let text;
  try {
    const body = await api('/api/cite', params);
    const c = body.citations[0];
    if (!c || c.source !== hit.source || c.line_start !== hit.line_start) {
      throw new Error(body.not_quoted[0] || '索引已更新，请重新搜索 The index changed: search again');
    }
    text = body.text;
  } catch (e) {
    said.className = 'said error';
    said.textContent = '出错了 Error: ' + e.message;
    return;
  }
  let out = li.querySelector('textarea.copied');
  if (!out) {
    out = el('textarea', 'copied');
    out.readOnly = true;
    out.setAttribute('aria-label', '引文 Citation');
    li.append(out);
  }
  out.textContent = text; // kept in the document too, so what was copied can be read back
  out.value = text;
  out.rows = Math.min(8, text.split('\n').length);
  said.textContent = (await toClipboard(text, out))
    ? '已复制 Copied'
    : '请选中后复制 Select it and copy (Ctrl+C)';
}

/** The clipboard API where the browser allows it, else the selected text copied. */
async function toClipboard(text, out) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    out.focus();
    out.select();
    try {
      return document.execCommand('copy');
    } catch (e2) {
      return false;
    }
  }
}

/** Shows or hides the paragraphs around a hit, read with `/api/show`. */
async function toggleContext(hit, body, button, said) {
  const shown = body.querySelectorAll('.neighbour');
  if (shown.length) {
    shown.forEach((n) => n.remove());
    button.setAttribute('aria-expanded', 'false');
    button.textContent = '上下文 Context';
    return;
  }
  let ex;
  try {
    ex = await api('/api/show', { loc: span(hit), context: CONTEXT });
  } catch (e) {
    said.className = 'said error';
    said.textContent = '出错了 Error: ' + e.message;
    return;
  }
  body.prepend(...ex.context_before.map(neighbour));
  body.append(...ex.context_after.map(neighbour));
  button.setAttribute('aria-expanded', 'true');
  button.textContent = '收起上下文 Hide context';
}

function neighbour(n) {
  const p = el('p', 'neighbour');
  p.append(el('span', 'lineno', String(n.line_start)), n.text);
  return p;
}

function editable(e) {
  return e && (e.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.tagName));
}

document.addEventListener('keydown', (e) => {
  if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !editable(document.activeElement)) {
    e.preventDefault();
    box.focus();
    box.select();
  } else if (e.key === 'Escape' && document.activeElement === box) {
    box.blur();
  }
});

$('search').addEventListener('submit', (e) => {
  e.preventDefault();
  navigate({ q: box.value.trim(), offset: 0 });
});
$('prev').addEventListener('click', () => {
  navigate({ q: current.q, offset: Math.max(0, current.offset - PAGE) });
  window.scrollTo(0, 0);
});
$('next').addEventListener('click', () => {
  navigate({ q: current.q, offset: current.offset + PAGE });
  window.scrollTo(0, 0);
});
window.addEventListener('popstate', () => run(fromUrl()));

api('/api/status', {}).then((s) => {
  $('corpus').textContent = s.documents + ' 篇文档 documents';
}).catch(() => {});

const first = fromUrl();
history.replaceState(first, '', toUrl(first));
run(first);
if (!first.q) box.focus();
