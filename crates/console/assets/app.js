// Bindery's web console. Plain JavaScript with no build step and no dependencies: every page is
// built with DOM calls (never innerHTML), so text from the registry can never become markup, and
// the content-security policy forbids inline scripts and styles anyway.
//
// Every call is POST /api/v1/<Method> on the server that served this page, carrying the token
// the user signed in with; the registry decides what the caller may see and do. The pages only
// hide buttons the registry would refuse (from /api/console/role), never grant anything.
'use strict';

const PAGE = 50;
const TOKEN_KEY = 'bindery.token';
const state = { token: sessionStorage.getItem(TOKEN_KEY) || '', me: null, roles: new Map(), timer: null };
const main = () => document.getElementById('main');

// ---- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function post(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}), credentials: 'omit' });
  } catch (e) {
    throw new ApiError('UNAVAILABLE', `the registry did not answer (${e.message})`);
  }
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON: reported below */ }
  if (!res.ok) {
    throw new ApiError((data && data.code) || 'INTERNAL', (data && data.message) || `HTTP ${res.status}`);
  }
  return data || {};
}

const api = (method, body) => post(`/api/v1/${method}`, body);

/** The caller's role on `model` (null: none), asked once per page view. */
async function roleOn(model) {
  if (!state.roles.has(model)) {
    state.roles.set(model, post('/api/console/role', { model_name: model }).then((r) => r.role).catch(() => null));
  }
  return state.roles.get(model);
}
const RANK = { VIEWER: 1, CONTRIBUTOR: 2, APPROVER: 3, ADMIN: 4 };
const atLeast = (role, need) => (RANK[role] || 0) >= RANK[need];

// ---- DOM helpers ----------------------------------------------------------------------------------

/** h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child, ...): an element; text is text. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces `el`'s children (arrays flattened, null/false skipped). */
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
function render(...children) {
  return fill(main(), ...children);
}
function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; }, 6000);
}
function errorBox(e, filter) {
  const box = h('div', { class: 'error', role: 'alert' }, `${e.code || 'ERROR'}: ${e.message}`);
  // Filter errors name their position (`filter: at 15: ...`): point at it.
  const at = /\bat (\d+):/.exec(e.message || '');
  if (filter && at) {
    append(box, [h('pre', { class: 'caret mono', 'aria-hidden': 'true' }, `${filter}\n${' '.repeat(Math.max(0, Number(at[1]) - 1))}^`)]);
  }
  return box;
}
const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '');
const fmtNum = (n) => (typeof n === 'number' ? String(Number.isInteger(n) ? n : Number(n.toPrecision(6))) : n ?? '');
const modelLink = (name) => h('a', { href: `#/model/${encodeURIComponent(name)}` }, name);
const chips = (items, cls) => h('span', { class: 'chips' }, items.map((b) => h('span', { class: `chip ${cls || ''}` }, b)));
const tagChips = (tags) => chips(Object.entries(tags || {}).map(([k, v]) => (v ? `${k}=${v}` : k)));
const shortState = (s) => String(s || '').replace(/^[A-Z]+_STATE_|^VERSION_STATUS_|^BINDING_ACTION_/, '');

/** A labelled field for a bar form. */
function field(label, input, grow) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: `field ${grow ? 'grow' : ''}` }, h('label', { for: id }, label), input);
}

/** Server-side paging: a stack of page tokens, so Previous works without the server's help. */
class Pager {
  constructor(load) { this.load = load; this.tokens = ['']; this.next = ''; }
  get page() { return this.tokens.length; }
  controls() {
    const prev = h('button', { type: 'button', disabled: this.tokens.length <= 1, onclick: () => { this.tokens.pop(); this.load(); } }, '← Previous');
    const next = h('button', { type: 'button', disabled: !this.next, onclick: () => { this.tokens.push(this.next); this.load(); } }, 'Next →');
    return h('div', { class: 'pager' }, prev, h('span', { class: 'muted' }, `page ${this.page}`), next);
  }
  get token() { return this.tokens[this.tokens.length - 1]; }
  reset() { this.tokens = ['']; this.next = ''; }
}

/** A confirmation dialog with a required text; resolves to the text, or null when cancelled. */
function ask(title, detail, label, confirmText, danger) {
  return new Promise((resolve) => {
    const text = h('textarea', { id: 'ask-text', rows: 3, required: true });
    const dialog = h('dialog', { 'aria-labelledby': 'ask-title' },
      h('h2', { id: 'ask-title' }, title),
      h('p', {}, detail),
      h('label', { for: 'ask-text' }, label), text,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', id: 'ask-confirm', onclick: () => {
          if (!text.value.trim()) { text.focus(); return; }
          dialog.close('ok');
        } }, confirmText),
        h('button', { type: 'button', onclick: () => dialog.close('cancel') }, 'Cancel')));
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(ok ? text.value.trim() : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    text.focus();
  });
}

// ---- routing ------------------------------------------------------------------------------------

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(query || '') };
}
function go(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)).toString() : '';
  location.hash = `#/${path}${q ? `?${q}` : ''}`;
}

const PAGES = {
  models: pageModels,
  model: pageModel,
  compare: pageCompare,
  promotions: pagePromotions,
  lineage: pageLineage,
  audit: pageAudit,
  fleet: pageFleet,
};

async function show() {
  clearInterval(state.timer);
  state.roles.clear();
  const { parts, query } = route();
  if (!state.me) {
    await signIn();
    return;
  }
  const page = PAGES[parts[0]] ? parts[0] : 'models';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === page || (a.dataset.nav === 'models' && ['model', 'compare', 'lineage'].includes(page))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  render(h('p', { class: 'muted' }, 'Loading…'));
  try {
    await PAGES[page](parts.slice(1), query);
  } catch (e) {
    if (e.code === 'UNAUTHENTICATED') { signOut(); return; }
    render(h('h1', {}, 'Something went wrong'), errorBox(e));
  }
  main().focus();
}

// ---- sign in ------------------------------------------------------------------------------------

async function whoAmI() {
  try {
    state.me = await api('WhoAmI', {});
  } catch (e) {
    state.me = null;
    if (e.code !== 'UNAUTHENTICATED') throw e;
  }
  const who = document.getElementById('who');
  fill(who);
  if (state.me) {
    const roles = (state.me.roles || []).map((r) => `${r.role.replace('ROLE_', '')} on ${r.scope}`).join(', ');
    append(who, [
      h('span', { id: 'principal', title: roles || 'no grants' }, `${state.me.principal}`),
      state.token ? h('button', { type: 'button', id: 'signout', onclick: signOut }, 'Sign out') : null,
    ]);
  }
}

async function signIn(message) {
  const input = h('input', { type: 'password', id: 'token', class: 'mono', autocomplete: 'off', required: true });
  const out = h('div', { 'aria-live': 'assertive' }, message ? h('p', { class: 'error', role: 'alert' }, message) : null);
  const sso = await ssoConfig();
  const form = h('form', { class: 'signin panel', onsubmit: async (ev) => {
    ev.preventDefault();
    state.token = input.value.trim();
    try {
      await whoAmI();
      if (!state.me) throw new ApiError('UNAUTHENTICATED', 'the registry did not accept this token');
      sessionStorage.setItem(TOKEN_KEY, state.token);
      show();
    } catch (e) {
      state.token = '';
      fill(out, errorBox(e));
      input.focus();
    }
  } },
  h('h1', {}, 'Sign in to Bindery'),
  sso ? h('p', {}, h('button', { type: 'button', class: 'primary', id: 'sso', onclick: () => startSso(sso).catch((e) => fill(out, errorBox(e))) }, 'Sign in with single sign-on')) : null,
  h('p', { class: 'muted' }, sso
    ? 'Or paste an API token (bindery token create). Either is kept in this tab only.'
    : 'Paste an API token (bindery token create) or, with OIDC configured, a JWT from your identity provider. It is kept in this tab only.'),
  h('label', { for: 'token' }, 'Token'), input,
  h('p', {}, h('button', { type: 'submit', class: 'primary', id: 'signin' }, 'Sign in')),
  out);
  render(form);
  input.focus();
}

// ---- single sign-on: OpenID Connect authorization code with PKCE ---------------------------------
// The tab makes a verifier, state and nonce, keeps them in session storage and goes to the identity
// provider; back here with ?code=&state=, it checks state and lets the console server redeem the
// code (with the verifier) for a token the registry accepts. Nothing is stored beyond the tab.

const SSO_KEY = 'bindery.sso';
let ssoPromise = null;
function ssoConfig() {
  if (!ssoPromise) ssoPromise = post('/api/console/sso', {}).then((r) => r.sso || null).catch(() => null);
  return ssoPromise;
}

function randomText() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return base64url(bytes);
}
function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function startSso(sso) {
  if (!crypto.subtle) throw new ApiError('FAILED_PRECONDITION', 'single sign-on needs a secure page: open the console over https or on localhost');
  const flow = { state: randomText(), verifier: randomText(), nonce: randomText(), hash: location.hash };
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(flow.verifier)));
  sessionStorage.setItem(SSO_KEY, JSON.stringify(flow));
  const url = new URL(sso.authorization_endpoint);
  const params = {
    response_type: 'code', client_id: sso.client_id, redirect_uri: `${location.origin}/`, scope: sso.scope,
    state: flow.state, nonce: flow.nonce, code_challenge: challenge, code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/** Back from the identity provider: returns an error message, or '' when signed in (or no sign-in was under way). */
async function finishSso() {
  const answer = new URLSearchParams(location.search);
  if (!answer.has('code') && !answer.has('error')) return '';
  let flow = null;
  try { flow = JSON.parse(sessionStorage.getItem(SSO_KEY) || 'null'); } catch (_) { /* reported below */ }
  sessionStorage.removeItem(SSO_KEY);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', `${location.pathname}${(flow && flow.hash) || ''}`);
  if (answer.has('error')) return `The identity provider did not sign you in: ${answer.get('error')} ${answer.get('error_description') || ''}`;
  if (!flow || answer.get('state') !== flow.state) return 'This sign-in answer does not belong to a sign-in started in this tab; sign in again.';
  try {
    const r = await post('/api/console/sso/token', {
      code: answer.get('code'), code_verifier: flow.verifier, nonce: flow.nonce, redirect_uri: `${location.origin}/`,
    });
    state.token = r.token;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    return '';
  } catch (e) {
    return `Single sign-on failed: ${e.message}`;
  }
}

function signOut() {
  state.token = '';
  state.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('who').replaceChildren();
  signIn();
}

// ---- Models -------------------------------------------------------------------------------------

async function pageModels(_, query) {
  const filter = query.get('q') || '';
  const order = query.get('order') || 'name';
  const input = h('input', { id: 'model-filter', class: 'mono', value: filter, placeholder: "namespace = 'fraud' AND binding = 'production'", size: 60 });
  const orderSel = h('select', { id: 'model-order' },
    ['name', 'name DESC', 'updated_at DESC', 'created_at DESC'].map((o) => h('option', { value: o, selected: o === order }, o)));
  const results = h('div', { id: 'models-results' });
  const pager = new Pager(load);
  async function load() {
    fill(results, h('p', { class: 'muted' }, 'Searching…'));
    let res;
    try {
      res = await api('ListModels', { filter, order_by: order === 'name' ? '' : order, page_size: PAGE, page_token: pager.token });
    } catch (e) {
      fill(results, errorBox(e, filter));
      return;
    }
    pager.next = res.next_page_token || '';
    const rows = (res.models || []).map((m) => h('tr', {},
      h('td', {}, modelLink(m.name)),
      h('td', { class: 'num' }, m.latest_version || ''),
      h('td', {}, m.owner),
      h('td', {}, tagChips(m.tags)),
      h('td', {}, fmtTime(m.updated_at))));
    fill(results, 
      rows.length ? h('div', { class: 'wrap' }, h('table', { id: 'models-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', { class: 'num' }, 'Latest'), h('th', {}, 'Owner'), h('th', {}, 'Tags'), h('th', {}, 'Updated'))),
        h('tbody', {}, rows))) : h('p', { class: 'muted' }, filter ? 'No model matches this filter.' : 'No models yet.'),
      pager.controls());
  }
  render(
    h('h1', {}, 'Models'),
    h('form', { class: 'bar', role: 'search', onsubmit: (ev) => { ev.preventDefault(); go('models', { q: input.value.trim(), order: orderSel.value }); } },
      field('Filter', input, true), field('Order', orderSel),
      h('button', { type: 'submit', class: 'primary', id: 'model-search' }, 'Search')),
    h('p', { class: 'muted' }, 'Fields: name, namespace, owner, description, tags.<key>, binding, created_at, updated_at; AND, OR, NOT, =, !=, LIKE, IN.'),
    results);
  await load();
  // The first page of models is on screen (benches/console_paint.py reads this mark).
  performance.mark('bindery:models-page');
}

// ---- Model --------------------------------------------------------------------------------------

async function pageModel([name], query) {
  const [model, role] = await Promise.all([api('GetModel', { name }), roleOn(name)]);
  const bindingsBox = h('section', { class: 'panel', 'aria-labelledby': 'bindings-h' });
  const versionsBox = h('section', { 'aria-labelledby': 'versions-h' });
  const pendingBox = h('section', { 'aria-labelledby': 'pending-h', id: 'pending' });
  render(
    h('p', {}, h('a', { href: '#/models' }, '← Models')),
    h('h1', { id: 'model-name' }, model.name),
    model.description ? h('p', {}, model.description) : null,
    h('p', { class: 'muted' }, `owner ${model.owner || '—'} · latest version ${model.latest_version} · created ${fmtTime(model.created_at)} by ${model.created_by} · your role: ${role || 'none'}`),
    tagChips(model.tags),
    bindingsBox,
    pendingBox,
    versionsBox);
  await Promise.all([bindingsPanel(bindingsBox, name, role), pendingPanel(pendingBox, name, role), versionsTable(versionsBox, name, query)]);
  // The page is useful from here: bindings, pending requests and the first page of versions are
  // on screen (benches/console_paint.py reads this mark).
  performance.mark('bindery:model-page');
}

function splitBar(binding) {
  const t = binding.traffic;
  const sides = t && t.sides && t.sides.length ? t.sides : [{ version: binding.version, weight: 10000, role: '' }];
  const total = sides.reduce((a, sd) => a + (sd.weight || 0), 0) || 1;
  const bar = h('div', { class: 'split', role: 'img', 'aria-label': sides.map((sd) => `version ${sd.version} ${(100 * sd.weight / total).toFixed(1)}%`).join(', ') },
    sides.map((sd, i) => {
      const seg = h('span', { class: `s${i % 4}`, title: `v${sd.version} ${sd.role || ''}` }, `v${sd.version} ${(100 * sd.weight / total).toFixed(0)}%`);
      seg.style.width = `${(100 * sd.weight) / total}%`;
      return seg;
    }));
  const shadows = t && t.shadows && t.shadows.length
    ? h('div', { class: 'shadows' }, 'shadows: ', t.shadows.map((sh) => `v${sh.version} (mirrors ${(sh.mirror / 100).toFixed(1)}%)`).join(', '))
    : null;
  return [bar, shadows];
}

async function bindingsPanel(box, name, role) {
  const res = await api('ListBindings', { model_name: name });
  const canMove = atLeast(role, 'CONTRIBUTOR');
  const items = (res.bindings || []).map((b) => {
    const timeline = h('ol', { class: 'timeline', hidden: true, id: `history-${b.name}` });
    const toggle = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': `history-${b.name}`, onclick: async () => {
      const open = timeline.hidden;
      timeline.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open && !timeline.childElementCount) {
        try {
          const hist = await api('ListBindingHistory', { model_name: name, binding: b.name, page_size: 20 });
          append(timeline, (hist.entries || []).map((e) => h('li', {},
            h('strong', {}, shortState(e.action)), ' ',
            `${e.before_version != null ? `v${e.before_version}` : '—'} → ${e.after_version != null ? `v${e.after_version}` : '—'}`,
            h('span', { class: 'muted' }, ` · generation ${e.generation} · ${e.actor} · ${fmtTime(e.time)}`),
            e.reason ? h('div', {}, `“${e.reason}”`) : null)));
          if (!timeline.childElementCount) append(timeline, [h('li', {}, 'No history.')]);
        } catch (e) {
          append(timeline, [h('li', {}, errorBox(e))]);
        }
      }
    } }, 'History');
    const rollback = canMove ? h('button', { type: 'button', class: 'danger', 'data-rollback': b.name, onclick: async () => {
      const reason = await ask(`Roll back ${b.name}?`,
        `${name} ${b.name} goes back to what it pointed at before its last change (it is at version ${b.version}, generation ${b.generation}). Serving instances follow within seconds.`,
        'Reason (recorded in the audit log)', 'Roll back', true);
      if (reason === null) return;
      try {
        const r = await api('RollbackBinding', { model_name: name, binding: b.name, expected_generation: b.generation, reason });
        toast(`${b.name} rolled back to version ${r.binding ? r.binding.version : '?'} (revision ${r.revision}).`);
        show();
      } catch (e) {
        toast(`Rollback refused: ${e.code}: ${e.message}`);
      }
    } }, 'Roll back…') : null;
    return h('div', { class: 'binding', 'data-binding': b.name },
      h('header', {}, h('span', { class: 'name' }, b.name), h('span', {}, `version ${b.version}`),
        h('span', { class: 'muted' }, `generation ${b.generation} · ${b.updated_by} · ${fmtTime(b.updated_at)}`)),
      splitBar(b),
      h('div', { class: 'actions' }, toggle, rollback),
      timeline);
  });
  fill(box, h('h2', { id: 'bindings-h' }, 'Bindings'), items.length ? items : h('p', { class: 'muted' }, 'Nothing is bound.'));
}

async function versionsTable(box, name, query) {
  let filter = query.get('filter') || '';
  // Newest first is the registry's own order for one model: sent as no order at all, it is a
  // plain index read instead of a search (7 ms against 290 ms at 100,000 versions).
  const NEWEST_FIRST = 'version DESC';
  let order = query.get('order') || NEWEST_FIRST;
  const picked = new Set();
  const input = h('input', { id: 'version-filter', class: 'mono', value: filter, placeholder: 'metrics.auc > 0.9 AND tags.team = \'risk\'', size: 50 });
  const compare = h('button', { type: 'button', id: 'compare', disabled: true, onclick: () => go(`compare/${encodeURIComponent(name)}`, { v: [...picked].sort((a, b) => a - b).join(',') }) }, 'Compare selected');
  const results = h('div', { id: 'versions-results' });
  const pager = new Pager(load);
  const sortBy = (key) => {
    order = order === `${key} DESC` ? `${key} ASC` : `${key} DESC`;
    pager.reset();
    load();
  };
  const sortHeader = (label, key, num) => {
    const dir = order === `${key} DESC` ? 'descending' : order === `${key} ASC` ? 'ascending' : 'none';
    return h('th', { class: num ? 'num' : '', 'aria-sort': dir }, h('button', { type: 'button', class: 'sort', onclick: () => sortBy(key) }, label, dir === 'descending' ? ' ▼' : dir === 'ascending' ? ' ▲' : ''));
  };
  async function load() {
    fill(results, h('p', { class: 'muted' }, 'Loading versions…'));
    let res;
    try {
      res = await api('ListVersions', { model_name: name, filter, order_by: order === NEWEST_FIRST ? '' : order, page_size: PAGE, page_token: pager.token });
    } catch (e) {
      fill(results, errorBox(e, filter));
      return;
    }
    pager.next = res.next_page_token || '';
    const versions = res.versions || [];
    const metricKeys = [...new Set(versions.flatMap((v) => Object.keys(v.metrics || {})))].sort().slice(0, 8);
    const rows = versions.map((v) => {
      const box = h('input', { type: 'checkbox', 'aria-label': `select version ${v.version}`, 'data-version': v.version, checked: picked.has(v.version), onchange: () => {
        if (box.checked) picked.add(v.version); else picked.delete(v.version);
        compare.disabled = picked.size < 2;
      } });
      return h('tr', {},
        h('td', {}, box),
        h('td', { class: 'num' }, h('a', { href: `#/compare/${encodeURIComponent(name)}?v=${v.version}` }, v.version)),
        h('td', {}, shortState(v.status)),
        h('td', {}, chips(v.bindings || [], 'bound')),
        metricKeys.map((k) => h('td', { class: 'num' }, fmtNum((v.metrics || {})[k]))),
        h('td', {}, fmtTime(v.created_at)),
        h('td', {}, v.created_by),
        h('td', {}, h('a', { href: `#/lineage/${encodeURIComponent(name)}/${v.version}` }, 'lineage')));
    });
    fill(results, 
      rows.length ? h('div', { class: 'wrap' }, h('table', { id: 'versions-table' },
        h('thead', {}, h('tr', {}, h('th', {}, h('span', { class: 'sr-only' }, 'Select')), sortHeader('Version', 'version', true), h('th', {}, 'Status'), h('th', {}, 'Bindings'),
          metricKeys.map((k) => sortHeader(k, `metrics.${k}`, true)), sortHeader('Created', 'created_at'), h('th', {}, 'By'), h('th', {}, h('span', { class: 'sr-only' }, 'Lineage')))),
        h('tbody', {}, rows))) : h('p', { class: 'muted' }, filter ? 'No version matches this filter.' : 'No versions yet.'),
      pager.controls());
  }
  fill(box, 
    h('h2', { id: 'versions-h' }, 'Versions'),
    h('form', { class: 'bar', role: 'search', onsubmit: (ev) => { ev.preventDefault(); filter = input.value.trim(); pager.reset(); load(); } },
      field('Filter versions', input, true), h('button', { type: 'submit', class: 'primary', id: 'version-search' }, 'Filter'), compare),
    results);
  await load();
}

// ---- Compare ------------------------------------------------------------------------------------

async function pageCompare([name], query) {
  const wanted = (query.get('v') || '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).slice(0, 10);
  if (!wanted.length) throw new ApiError('INVALID_ARGUMENT', 'pick versions to compare on the model page');
  const versions = await Promise.all(wanted.map((version) => api('GetVersion', { model_name: name, version })));
  const keys = (pick) => [...new Set(versions.flatMap((v) => Object.keys(pick(v) || {})))].sort();
  const row = (label, values, mono) => {
    const differs = values.some((x) => JSON.stringify(x) !== JSON.stringify(values[0]));
    return h('tr', { class: differs ? 'diff' : '' }, h('th', { scope: 'row' }, label, differs ? h('span', { class: 'sr-only' }, ' (differs)') : null),
      values.map((x) => h('td', { class: `cmp ${typeof x === 'number' ? 'num' : ''} ${mono ? 'mono' : ''}` }, typeof x === 'number' ? fmtNum(x) : x ?? '')));
  };
  const group = (title, pick, mono) => {
    const ks = keys(pick);
    return ks.length ? [h('tr', {}, h('th', { colspan: versions.length + 1, class: 'group' }, title)), ks.map((k) => row(k, versions.map((v) => (pick(v) || {})[k]), mono))] : [];
  };
  const pretty = (json) => { try { return JSON.stringify(JSON.parse(json), null, 1); } catch (_) { return json || ''; } };
  const table = h('table', { id: 'compare-table' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), versions.map((v) => h('th', { scope: 'col' }, `version ${v.version}`)))),
    h('tbody', {},
      row('Status', versions.map((v) => shortState(v.status))),
      row('Bindings', versions.map((v) => (v.bindings || []).join(', '))),
      row('Created', versions.map((v) => `${fmtTime(v.created_at)} by ${v.created_by}`)),
      row('Description', versions.map((v) => v.description)),
      row('Artifact', versions.map((v) => (v.artifact ? `${v.artifact.uri} (${v.artifact.size_bytes} bytes)` : '')), true),
      row('SHA-256', versions.map((v) => (v.artifact ? v.artifact.sha256 : '')), true),
      group('Metrics', (v) => v.metrics),
      group('Params', (v) => v.params, true),
      group('Tags', (v) => v.tags),
      h('tr', {}, h('th', { colspan: versions.length + 1, class: 'group' }, 'Signature')),
      row('inputs', versions.map((v) => h('pre', {}, pretty(v.signature && v.signature.inputs_json)))),
      row('outputs', versions.map((v) => h('pre', {}, pretty(v.signature && v.signature.outputs_json))))));
  // A row of <pre> elements compares as objects: decide differences on the text instead.
  for (const tr of table.querySelectorAll('tbody tr')) {
    const cells = [...tr.querySelectorAll('td')];
    if (cells.length > 1 && cells.some((c) => c.textContent !== cells[0].textContent)) tr.classList.add('diff');
    else tr.classList.remove('diff');
  }
  const metrics = keys((v) => v.metrics);
  const chartBox = h('section', { 'aria-labelledby': 'chart-h' });
  render(
    h('p', {}, modelLink(name)),
    h('h1', {}, `Compare ${name}: versions ${wanted.join(', ')}`),
    h('p', { class: 'muted' }, 'Rows that differ are highlighted.'),
    h('div', { class: 'wrap' }, table),
    chartBox);
  if (metrics.length) await metricChart(chartBox, name, metrics, query.get('metric') || metrics[0], new Set(wanted));
}

/** A metric across the model's latest versions (up to 500), bound versions marked. */
async function metricChart(box, name, metrics, metric, picked) {
  const sel = h('select', { id: 'chart-metric', onchange: () => metricChart(box, name, metrics, sel.value, picked) },
    metrics.map((m) => h('option', { value: m, selected: m === metric }, m)));
  fill(box, h('h2', { id: 'chart-h' }, 'Across versions'), h('form', { class: 'bar' }, field('Metric', sel)), h('p', { class: 'muted' }, 'Loading…'));
  const res = await api('ListVersions', { model_name: name, page_size: 500 });
  const pts = (res.versions || []).filter((v) => typeof (v.metrics || {})[metric] === 'number').reverse();
  if (!pts.length) { box.lastChild.textContent = `No version has ${metric}.`; return; }
  const W = 900, H = 280, L = 60, R = 20, T = 16, B = 34;
  const xs = pts.map((v) => v.version), ys = pts.map((v) => v.metrics[metric]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const X = (x) => L + (x1 === x0 ? (W - L - R) / 2 : ((x - x0) / (x1 - x0)) * (W - L - R));
  const Y = (y) => T + (y1 === y0 ? (H - T - B) / 2 : (1 - (y - y0) / (y1 - y0)) * (H - T - B));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title' },
    s('title', { id: 'chart-title' }, `${metric} over ${pts.length} versions of ${name}`),
    s('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    s('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }),
    s('text', { x: L - 6, y: T + 4, 'text-anchor': 'end' }, fmtNum(y1)),
    s('text', { x: L - 6, y: H - B, 'text-anchor': 'end' }, fmtNum(y0)),
    s('text', { x: L, y: H - 12 }, `v${x0}`),
    s('text', { x: W - R, y: H - 12, 'text-anchor': 'end' }, `v${x1}`),
    s('polyline', { class: 'line', points: pts.map((v) => `${X(v.version)},${Y(v.metrics[metric])}`).join(' ') }),
    pts.map((v) => {
      const bound = (v.bindings || []).length > 0;
      const cls = `pt ${bound ? 'bound' : ''} ${picked.has(v.version) ? 'picked' : ''}`;
      const label = `v${v.version}: ${fmtNum(v.metrics[metric])}${bound ? ` (${v.bindings.join(', ')})` : ''}`;
      return [s('circle', { class: cls, cx: X(v.version), cy: Y(v.metrics[metric]), r: bound ? 6 : picked.has(v.version) ? 5 : 2.5 }, s('title', {}, label)),
        bound ? s('text', { x: X(v.version), y: Y(v.metrics[metric]) - 9, 'text-anchor': 'middle' }, v.bindings.join(',')) : null].filter(Boolean);
    }));
  fill(box, box.firstChild, box.children[1], svg,
    h('p', { class: 'muted' }, 'Green: bound versions (their bindings named above them); amber: the versions compared.'));
}

// ---- Promotions ---------------------------------------------------------------------------------

function gateText(g) {
  const k = g.gate || {};
  if (k.metric_threshold) return `metric ${k.metric_threshold.metric} ${k.metric_threshold.op} ${k.metric_threshold.value}`;
  if (k.beat_bound) return `beats ${k.beat_bound.reference_binding} on ${(k.beat_bound.metrics || []).map((m) => m.metric).join(', ')}`;
  if (k.approvals) return `${k.approvals.count} approval(s)`;
  if (k.soak) return `soaked ${k.soak.seconds} s in ${k.soak.binding}`;
  if (k.required_tags) return `tags ${Object.entries(k.required_tags.tags || {}).map(([a, b]) => `${a}=${b}`).join(', ')}`;
  if (k.required_lineage) return `lineage (${[k.required_lineage.datasets && 'datasets', k.required_lineage.code_ref && 'code ref'].filter(Boolean).join(', ')})`;
  return 'gate';
}

async function pagePromotions(_, query) {
  const stateName = query.get('state') || 'PROMOTION_STATE_PENDING';
  const model = query.get('model') || '';
  const modelInput = h('input', { id: 'promotion-model', value: model, placeholder: 'every model you may view', size: 36 });
  const sel = h('select', { id: 'promotion-state' },
    ['PROMOTION_STATE_PENDING', 'PROMOTION_STATE_APPLIED', 'PROMOTION_STATE_REJECTED', 'PROMOTION_STATE_EXPIRED', 'PROMOTION_STATE_CANCELLED', 'PROMOTION_STATE_UNSPECIFIED']
      .map((st) => h('option', { value: st, selected: st === stateName }, st === 'PROMOTION_STATE_UNSPECIFIED' ? 'any' : shortState(st).toLowerCase())));
  const list = h('div', { id: 'promotions' });
  const pager = new Pager(load);
  async function load() {
    let res;
    try {
      res = await api('ListPromotionRequests', { model_name: model, state: stateName, page_size: 20, page_token: pager.token });
    } catch (e) {
      fill(list, errorBox(e));
      return;
    }
    pager.next = res.next_page_token || '';
    const cards = await Promise.all((res.requests || []).map(async (r) => promotionCard(r, await roleOn(r.model_name))));
    fill(list, cards.length ? cards : h('p', { class: 'muted' }, 'No promotion requests here.'), pager.controls());
  }
  render(h('h1', {}, 'Promotions'),
    h('form', { class: 'bar', onsubmit: (ev) => { ev.preventDefault(); go('promotions', { model: modelInput.value.trim(), state: sel.value }); } },
      field('Model', modelInput), field('State', sel), h('button', { type: 'submit', class: 'primary', id: 'promotion-show' }, 'Show')),
    list);
  await load();
}

/** The model page's pending requests (a reviewer's usual way in). */
async function pendingPanel(box, name, role) {
  const res = await api('ListPromotionRequests', { model_name: name, state: 'PROMOTION_STATE_PENDING', page_size: 20 });
  const cards = (res.requests || []).map((r) => promotionCard(r, role));
  fill(box, h('h2', { id: 'pending-h' }, 'Pending promotions'), cards.length ? cards : h('p', { class: 'muted' }, 'None.'));
}

function promotionCard(r, role) {
  const pending = r.state === 'PROMOTION_STATE_PENDING';
  const gates = (r.gates || []).map((g) => h('tr', {},
    h('td', {}, gateText(g)),
    h('td', {}, g.passed ? h('span', { class: 'pass' }, '✓ pass') : g.awaits_approval ? h('span', { class: 'wait' }, '… awaiting') : h('span', { class: 'fail' }, '✗ fail')),
    h('td', {}, g.detail)));
  const comment = h('textarea', { id: `comment-${r.id}`, rows: 2 });
  const decide = async (method, verb) => {
    try {
      const res = await api(method, { id: r.id, comment: comment.value.trim() });
      toast(res.applied ? `Request ${r.id} approved and applied (revision ${res.revision}).` : `Request ${r.id} ${verb}.`);
      show();
    } catch (e) {
      toast(`${verb} refused: ${e.code}: ${e.message}`);
    }
  };
  // Shown only to APPROVERs of the model; the registry refuses anyone else regardless.
  const actions = pending && atLeast(role, 'APPROVER') ? h('div', { class: 'actions' },
    field('Comment', comment),
    h('button', { type: 'button', class: 'primary', 'data-approve': r.id, onclick: () => decide('ApprovePromotion', 'approved') }, 'Approve'),
    h('button', { type: 'button', class: 'danger', 'data-reject': r.id, onclick: () => decide('RejectPromotion', 'rejected') }, 'Reject')) : null;
  return h('article', { class: 'card', 'data-request': r.id, 'aria-labelledby': `req-${r.id}` },
    h('h3', { id: `req-${r.id}` }, `#${r.id}: `, modelLink(r.model_name), ` ${r.binding} → version ${r.version}`),
    h('p', { class: 'muted' }, `${shortState(r.state).toLowerCase()} · requested by ${r.requested_by} ${fmtTime(r.created_at)}${pending ? ` · expires ${fmtTime(r.expires_at)}` : ` · decided by ${r.decided_by || '—'}`}`),
    r.reason ? h('p', {}, `“${r.reason}”`) : null,
    gates.length ? h('table', { class: 'gates' }, h('thead', {}, h('tr', {}, h('th', {}, 'Gate'), h('th', {}, 'Result'), h('th', {}, 'Values compared'))), h('tbody', {}, gates)) : h('p', { class: 'muted' }, 'No gates.'),
    (r.approvals || []).length ? h('p', {}, 'Approvals: ', r.approvals.map((a) => `${a.principal}${a.comment ? ` (“${a.comment}”)` : ''}`).join(', ')) : null,
    actions,
    pending && !actions ? h('p', { class: 'muted' }, `Your role on ${r.model_name} (${role || 'none'}) cannot approve.`) : null);
}

// ---- Lineage ------------------------------------------------------------------------------------

async function pageLineage([name, version]) {
  const res = await api('GetLineage', { model_name: name, version: Number(version), direction: 'LINEAGE_DIRECTION_BOTH', depth: 5 });
  const nodes = res.nodes || [];
  const byDistance = new Map();
  for (const n of nodes) {
    if (!byDistance.has(n.distance)) byDistance.set(n.distance, []);
    byDistance.get(n.distance).push(n);
  }
  const datasets = res.datasets || [];
  const cols = [...byDistance.keys()].sort((a, b) => a - b);
  const colW = 220, rowH = 56, boxW = 180, boxH = 38;
  const offset = datasets.length ? 1 : 0;
  const height = Math.max(120, 30 + rowH * Math.max(datasets.length, ...[...byDistance.values()].map((c) => c.length)));
  const pos = new Map();
  cols.forEach((d, ci) => byDistance.get(d).forEach((n, ri) => pos.set(`${n.model_name}@${n.version}`, { x: 20 + (ci + offset) * colW, y: 20 + ri * rowH })));
  const key = (ref) => `${ref.model_name}@${ref.version}`;
  const edge = (a, b) => s('path', { d: `M${a.x + boxW},${a.y + boxH / 2} C${a.x + boxW + 30},${a.y + boxH / 2} ${b.x - 30},${b.y + boxH / 2} ${b.x},${b.y + boxH / 2}` });
  const self = pos.get(`${name}@${version}`);
  const svg = s('svg', { class: 'graph', viewBox: `0 0 ${40 + (cols.length + offset) * colW} ${height}`, role: 'img', 'aria-labelledby': 'graph-title' },
    s('title', { id: 'graph-title' }, `Lineage of ${name} version ${version}`),
    (res.edges || []).map((e) => (pos.has(key(e.parent)) && pos.has(key(e.child)) ? edge(pos.get(key(e.parent)), pos.get(key(e.child))) : null)).filter(Boolean),
    datasets.map((d, i) => {
      const p = { x: 20, y: 20 + i * rowH };
      return [s('rect', { class: 'dataset', x: p.x, y: p.y, width: boxW, height: boxH, rx: 6 }),
        s('text', { x: p.x + 8, y: p.y + 16 }, d.uri.length > 26 ? `…${d.uri.slice(-25)}` : d.uri),
        s('text', { x: p.x + 8, y: p.y + 31 }, d.version ? `@${d.version}` : 'dataset'),
        self ? edge(p, self) : null].filter(Boolean);
    }),
    nodes.map((n) => {
      const p = pos.get(`${n.model_name}@${n.version}`);
      const isSelf = n.model_name === name && String(n.version) === String(version);
      const link = s('a', { href: `#/lineage/${encodeURIComponent(n.model_name)}/${n.version}` },
        s('rect', { class: `node ${isSelf ? 'self' : ''}`, x: p.x, y: p.y, width: boxW, height: boxH, rx: 6 }),
        s('text', { x: p.x + 8, y: p.y + 16 }, `${n.model_name.length > 20 ? `…${n.model_name.slice(-19)}` : n.model_name} v${n.version}`),
        s('text', { x: p.x + 8, y: p.y + 31 }, (n.bindings || []).join(', ') || shortState(n.status).toLowerCase()));
      return link;
    }));
  render(
    h('p', {}, modelLink(name)),
    h('h1', {}, `Lineage of ${name} version ${version}`),
    h('p', { class: 'muted' }, 'Datasets on the left, parents before children; click a version to walk from it.', res.truncated ? ' The graph was cut at its size limit.' : ''),
    h('div', { class: 'wrap' }, svg),
    h('h2', {}, 'As a list'),
    h('ul', { id: 'lineage-list' },
      datasets.map((d) => h('li', {}, `dataset ${d.uri}${d.version ? `@${d.version}` : ''}`, (d.shared_with || []).length ? ` (also trains ${(d.shared_with || []).map((r) => `${r.model_name} v${r.version}`).join(', ')})` : '')),
      (res.edges || []).map((e) => h('li', {}, `${e.parent.model_name} v${e.parent.version} → ${e.child.model_name} v${e.child.version}`))));
}

// ---- Audit --------------------------------------------------------------------------------------

async function pageAudit(_, query) {
  const q = { model: query.get('model') || '', actor: query.get('actor') || '', action: query.get('action') || '' };
  const inputs = Object.fromEntries(Object.keys(q).map((k) => [k, h('input', { id: `audit-${k}`, value: q[k], size: 22 })]));
  const table = h('div', { id: 'audit-results' });
  const verify = h('div', { id: 'audit-verify', 'aria-live': 'polite' });
  const pager = new Pager(load);
  async function load() {
    let res;
    try {
      res = await api('ListAuditEvents', { ...q, page_size: PAGE, page_token: pager.token });
    } catch (e) {
      fill(table, errorBox(e));
      return;
    }
    pager.next = res.next_page_token || '';
    const rows = (res.events || []).map((e) => h('tr', {},
      h('td', {}, fmtTime(e.time)), h('td', {}, e.actor), h('td', { class: 'mono' }, e.action), h('td', { class: 'mono' }, e.target),
      h('td', { class: 'num' }, e.revision),
      h('td', {}, e.before_json || e.after_json ? h('details', {}, h('summary', {}, 'change'),
        e.before_json ? h('pre', {}, `before ${e.before_json}`) : null, e.after_json ? h('pre', {}, `after ${e.after_json}`) : null) : '')));
    fill(table, rows.length ? h('div', { class: 'wrap' }, h('table', { id: 'audit-table' },
      h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Action', 'Target', 'Revision', 'Change'].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows))) : h('p', { class: 'muted' }, 'No events match.'), pager.controls());
  }
  render(
    h('h1', {}, 'Audit log'),
    h('form', { class: 'bar', role: 'search', onsubmit: (ev) => { ev.preventDefault(); go('audit', Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]))); } },
      field('Model', inputs.model), field('Actor', inputs.actor), field('Action', inputs.action),
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
      h('button', { type: 'button', id: 'verify', onclick: async () => {
        fill(verify, h('p', { class: 'muted' }, 'Verifying the hash chain…'));
        try {
          const v = await api('VerifyAuditLog', {});
          fill(verify, v.intact
            ? h('p', { class: 'ok-badge' }, `Chain intact: ${v.rows_checked} rows checked, head ${String(v.head_hash).slice(0, 16)}…${v.unchained_rows ? ` (${v.unchained_rows} rows from before chaining)` : ''}`)
            : h('p', { class: 'bad-badge' }, `Chain BROKEN at event ${v.first_break ? v.first_break.id : '?'}: ${v.first_break ? JSON.stringify(v.first_break) : ''}`));
        } catch (e) {
          fill(verify, errorBox(e));
        }
      } }, 'Verify chain')),
    verify, table);
  await load();
}

// ---- Fleet --------------------------------------------------------------------------------------

async function pageFleet() {
  const box = h('div', { id: 'fleet' });
  async function load() {
    const res = await post('/api/console/fleet', {});
    const rows = (res.readers || []).map((r) => {
      const st = r.status;
      if (!st) return h('tr', {}, h('td', {}, r.name), h('td', { colspan: 8, class: 'error' }, r.error));
      const stale = st.last_sync_time ? Math.max(0, (Date.now() - new Date(st.last_sync_time).getTime()) / 1000) : null;
      return h('tr', {},
        h('td', {}, r.name),
        h('td', {}, st.serving ? h('span', { class: 'ok-badge' }, 'SERVING') : h('span', { class: 'bad-badge' }, 'NOT SERVING')),
        h('td', {}, st.connected ? 'yes' : h('span', { class: 'bad-badge' }, 'no')),
        h('td', { class: 'num' }, st.applied_revision), h('td', { class: 'num' }, st.database_revision), h('td', { class: 'num' }, st.lag),
        h('td', { class: 'num' }, stale === null ? '—' : st.lag === 0 && st.connected ? 'current' : `${stale.toFixed(1)} s`),
        h('td', { class: 'num' }, st.bindings_cached), h('td', {}, st.last_error || ''));
    });
    fill(box, rows.length ? h('table', { id: 'fleet-table' },
      h('thead', {}, h('tr', {}, ['Node', 'Health', 'Feed', 'Applied', 'Database', 'Lag', 'Staleness', 'Bindings', 'Last error'].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No read nodes are configured (start the primary with --console-readers http://reader:50052,...).'),
    h('p', { class: 'muted' }, `Refreshed ${new Date().toLocaleTimeString()}; every 5 s while this page is open.`));
  }
  render(h('h1', {}, 'Fleet'), box);
  await load();
  state.timer = setInterval(() => load().catch((e) => fill(box, errorBox(e))), 5000);
}

// ---- start --------------------------------------------------------------------------------------

window.addEventListener('hashchange', show);
window.addEventListener('DOMContentLoaded', async () => {
  const ssoError = await finishSso();
  try {
    await whoAmI();
  } catch (e) {
    render(h('h1', {}, 'The registry is not answering'), errorBox(e));
    return;
  }
  if (ssoError && !state.me) { signIn(ssoError); return; }
  show();
});
