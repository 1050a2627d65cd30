// The statusgate operator console: a read-only view of Cloud Control
// resource requests (a filtered list, one request's live timeline), WAF
// Classic change tokens, and the service's health, over the REST/JSON
// gateway (the proto3 JSON mapping of the gRPC API) on the same origin.
//
// Layout of this file, top to bottom:
//   constants and labels    the enum vocabularies of proto/statusgate/v1
//   dom                     h(), the only way elements are made (text is
//                           never parsed as HTML)
//   api                     fetch with the Bearer credential; google.rpc.Status
//                           errors as ApiError; 401 asks for a credential
//   sse                     a Server-Sent Events reader over fetch (EventSource
//                           cannot send Authorization), resuming by Last-Event-ID
//   health                  /readyz and two scrapes of /metrics, every few seconds
//   views                   #/requests, #/requests/<token>, #/change-tokens
//   router                  hash navigation; each view gets an AbortSignal that
//                           fires when the user leaves it
//
// The credential lives in `session` only: never in localStorage,
// sessionStorage or a cookie, so a reload forgets it.

const OPERATION_STATUSES = [
  'OPERATION_STATUS_PENDING',
  'OPERATION_STATUS_IN_PROGRESS',
  'OPERATION_STATUS_SUCCESS',
  'OPERATION_STATUS_FAILED',
  'OPERATION_STATUS_CANCEL_IN_PROGRESS',
  'OPERATION_STATUS_CANCEL_COMPLETE',
];
const TERMINAL_STATUSES = new Set([
  'OPERATION_STATUS_SUCCESS',
  'OPERATION_STATUS_FAILED',
  'OPERATION_STATUS_CANCEL_COMPLETE',
]);
const OPERATIONS = ['OPERATION_CREATE', 'OPERATION_UPDATE', 'OPERATION_DELETE'];
const CHANGE_TOKEN_STATUSES = [
  'CHANGE_TOKEN_STATUS_PROVISIONED',
  'CHANGE_TOKEN_STATUS_PENDING',
  'CHANGE_TOKEN_STATUS_INSYNC',
];
// WAF_ENDPOINT_UNSPECIFIED lists both endpoints' tokens.
const WAF_ENDPOINTS = ['WAF_ENDPOINT_REGIONAL', 'WAF_ENDPOINT_GLOBAL', 'WAF_ENDPOINT_UNSPECIFIED'];
const ENDPOINT_LABELS = {
  WAF_ENDPOINT_REGIONAL: 'WAF Regional',
  WAF_ENDPOINT_GLOBAL: 'WAF (global)',
  WAF_ENDPOINT_UNSPECIFIED: 'Both',
};
const REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-north-1',
  'eu-south-1', 'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
  'ap-southeast-1', 'ap-southeast-2', 'ap-east-1', 'me-south-1', 'af-south-1',
];
const DEFAULT_REGION = 'us-east-1';
// Seconds since the latest event; '' is any age.
const AGES = [
  ['', 'Any time'],
  ['300', 'Last 5 minutes'],
  ['3600', 'Last hour'],
  ['86400', 'Last 24 hours'],
  ['604800', 'Last 7 days'],
];
const DEFAULT_PAGE_SIZE = 25;
const HEALTH_INTERVAL_MS = 5000;

const PREFIXES = [
  'OPERATION_STATUS_', 'OPERATION_', 'CHANGE_TOKEN_STATUS_', 'WAF_ENDPOINT_', 'HANDLER_ERROR_CODE_',
];

/** The enum value without its type prefix: OPERATION_STATUS_IN_PROGRESS -> IN_PROGRESS. */
function shortName(value) {
  const prefix = PREFIXES.find((candidate) => value.startsWith(candidate));
  return prefix ? value.slice(prefix.length) : value;
}

/** A person's name for an enum value: OPERATION_STATUS_IN_PROGRESS -> "In progress". */
function label(value) {
  if (!value) return 'Unknown';
  const short = shortName(value);
  if (short === 'INSYNC') return 'In sync';
  const words = short.toLowerCase().replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The AWS name of a handler error code: HANDLER_ERROR_CODE_NOT_FOUND -> NotFound. */
function errorCodeName(value) {
  return shortName(value)
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

function isTerminal(status) {
  return TERMINAL_STATUSES.has(status);
}

// ---------------------------------------------------------------- dom

/**
 * Makes an element. Attributes named on* are listeners, `testid` is
 * data-testid, `dataset` sets data-*; children are nodes or text (never HTML).
 */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'testid') element.dataset.testid = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'checked' || name === 'value' || name === 'selected') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** "12 s ago", "in 5 s", "3 h ago", from now. */
function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  const magnitude = Math.abs(seconds);
  let text;
  if (magnitude < 5) return 'just now';
  if (magnitude < 60) text = `${magnitude} s`;
  else if (magnitude < 3600) text = `${Math.floor(magnitude / 60)} min`;
  else if (magnitude < 86400) text = `${Math.floor(magnitude / 3600)} h`;
  else text = `${Math.floor(magnitude / 86400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

const timeOfDayFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** A timeline event's time: the time of day (the full date in its title). */
function eventTimeElement(text) {
  const date = new Date(text || '');
  if (Number.isNaN(date.getTime())) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: text, title: dateFormat.format(date) }, timeOfDayFormat.format(date));
}

/** A <time> that shows its age and keeps it current (see the ticker below). */
function timeElement(text, { absolute = false } = {}) {
  if (!text) return h('span', { class: 'muted' }, '–');
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return h('span', {}, text);
  const element = h('time', { datetime: text, title: date.toISOString() });
  if (absolute) {
    element.append(
      h('span', { class: 'time-absolute' }, dateFormat.format(date)),
      ' ',
      h('span', { class: 'time-relative muted', dataset: { relative: text } }, relativeTime(date)),
    );
  } else {
    element.dataset.relative = text;
    element.textContent = relativeTime(date);
  }
  return element;
}

/** Brings every relative time on the page to now, so they agree with each other. */
function refreshRelativeTimes() {
  const now = Date.now();
  for (const element of document.querySelectorAll('[data-relative]')) {
    element.textContent = relativeTime(new Date(element.dataset.relative), now);
  }
}
setInterval(refreshRelativeTimes, 5000);

/**
 * A table cell: its label (the column's name, shown beside the value when
 * narrow screens stack rows into cards) and one wrapper around its content.
 */
function cell(labelText, attributes, ...content) {
  return h('td', { ...attributes, dataset: { label: labelText } }, h('span', { class: 'cell-value' }, ...content));
}

function badge(status, extraClass = '') {
  const kind = shortName(status || 'UNSPECIFIED').toLowerCase().replaceAll('_', '-');
  return h('span', { class: `badge badge-${kind} ${extraClass}`.trim(), dataset: { status: status || '' } }, label(status));
}

/** "6.0 s", "4 min 12 s", "2 h 5 min" between two RFC 3339 times. */
function duration(fromText, toText) {
  const seconds = (new Date(toText).getTime() - new Date(fromText).getTime()) / 1000;
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function shortToken(token) {
  return token.length > 13 ? `${token.slice(0, 8)}…${token.slice(-4)}` : token;
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------- api

const session = {
  /** { accessKeyId, secretAccessKey } once the user signed in; memory only. */
  credentials: null,
  region: DEFAULT_REGION,
};

class ApiError extends Error {
  /** httpStatus 0: the server did not answer. */
  constructor(httpStatus, message, { code = null, reason = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.httpStatus = httpStatus;
    this.code = code;
    this.reason = reason;
  }
}

function authorizationHeaders() {
  if (!session.credentials) return {};
  const { accessKeyId, secretAccessKey } = session.credentials;
  return { Authorization: `Bearer ${accessKeyId}:${secretAccessKey}` };
}

/** The google.rpc.Status of a failed answer, as an ApiError. */
async function errorOf(response) {
  const text = await response.text().catch(() => '');
  let status = null;
  try {
    status = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's page, or a route that is not there.
  }
  if (status && typeof status === 'object') {
    const info = (status.details || []).find((detail) => String(detail['@type'] || '').endsWith('google.rpc.ErrorInfo'));
    return new ApiError(response.status, status.message || `HTTP ${response.status}`, {
      code: status.code ?? null,
      reason: info?.reason ?? null,
    });
  }
  return new ApiError(response.status, text.trim().slice(0, 200) || `HTTP ${response.status} ${response.statusText}`);
}

async function send(path, query, { signal, accept = 'application/json', headers = {} } = {}) {
  const search = query && String(query) ? `?${query}` : '';
  try {
    const response = await fetch(`${path}${search}`, {
      headers: { Accept: accept, ...authorizationHeaders(), ...headers },
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
    if (!response.ok) throw await errorOf(response);
    return response;
  } catch (error) {
    if (error instanceof ApiError || error.name === 'AbortError') throw error;
    throw new ApiError(0, `The server did not answer (${error.message})`);
  }
}

async function getJson(path, query, signal) {
  const response = await send(path, query, { signal });
  return response.json();
}

function requestPath(token, suffix = '') {
  return `/v1/resource-requests/${encodeURIComponent(token)}${suffix}`;
}

// ---------------------------------------------------------------- sign-in

const login = {
  panel: () => document.getElementById('login'),
  error: () => document.getElementById('login-error'),
};

/**
 * A call answered 401: ask for a credential. A credential that was set is
 * the one refused, so it is dropped and the form says so.
 */
function requireSignIn(error) {
  if (session.credentials) {
    session.credentials = null;
    showIdentity();
    const message = login.error();
    message.textContent = `The server refused that credential: ${error.message}`;
    message.hidden = false;
  }
  const panel = login.panel();
  const wasHidden = panel.hidden;
  panel.hidden = false;
  if (wasHidden) panel.querySelector('input[name="accessKeyId"]').focus();
}

function showIdentity() {
  const identity = document.getElementById('identity');
  identity.hidden = !session.credentials;
  document.getElementById('identity-key').textContent = session.credentials?.accessKeyId ?? '';
}

function setUpSignIn() {
  const form = document.getElementById('login-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const accessKeyId = form.elements.accessKeyId.value.trim();
    const secretAccessKey = form.elements.secretAccessKey.value.trim();
    if (!accessKeyId || !secretAccessKey) return;
    session.credentials = { accessKeyId, secretAccessKey };
    form.elements.secretAccessKey.value = '';
    login.error().hidden = true;
    login.panel().hidden = true;
    showIdentity();
    router.render();
  });
  document.getElementById('sign-out').addEventListener('click', () => {
    session.credentials = null;
    showIdentity();
    router.render();
  });
}

/** What a view shows instead of its data when a call failed. */
function failure(error, retry) {
  if (error.httpStatus === 401) {
    requireSignIn(error);
    return h('div', { class: 'notice', testid: 'signin-required' },
      h('strong', {}, 'Sign in required. '), 'Enter a credential above to continue.');
  }
  const title = error.httpStatus === 403
    ? 'This credential may not read this.'
    : error.httpStatus === 404
      ? 'Not found.'
      : error.httpStatus === 0
        ? 'The server did not answer.'
        : 'The call failed.';
  return h('div', { class: 'notice notice-error', testid: 'error', role: 'alert' },
    h('strong', {}, title, ' '),
    h('span', {}, error.message),
    error.reason ? h('span', { class: 'muted' }, ` (${error.reason})`) : null,
    retry ? h('button', { type: 'button', class: 'link-button', onclick: retry }, 'Try again') : null);
}

// ---------------------------------------------------------------- sse

/**
 * Server-Sent Events from a fetch body: yields { id, event, data } per
 * dispatched event, per the WHATWG event-stream rules (CR, LF or CRLF line
 * ends; `:` comments; multi-line data; `id` kept across events).
 */
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let lastEventId = null;
  let eventType = '';
  let data = [];
  let retry = null;
  function* take(line) {
    if (line === '') {
      if (data.length) yield { id: lastEventId, event: eventType || 'message', data: data.join('\n'), retry };
      data = [];
      eventType = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') eventType = value;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // A CR at the very end may be the first half of a CRLF: wait for more.
      const lines = buffer.split(/\r\n|\n|\r(?!$)/);
      buffer = lines.pop();
      for (const line of lines) yield* take(line);
    }
    // The stream ended: an event without its blank line is not dispatched.
  } finally {
    reader.cancel().catch(() => {});
  }
}

// The HTTP status the gateway answers each gRPC code with, for an error
// that arrives inside a stream (an `error` event) rather than before it.
const HTTP_STATUS_OF_CODE = {
  1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
  9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};

/** An `error` event's google.rpc.Status as an ApiError. */
function streamError(data) {
  let status = {};
  try {
    status = JSON.parse(data);
  } catch {
    // Not JSON: keep the text as the message.
  }
  const info = (status.details || []).find((detail) => String(detail['@type'] || '').endsWith('google.rpc.ErrorInfo'));
  return new ApiError(HTTP_STATUS_OF_CODE[status.code] ?? 500, status.message || data || 'the stream reported an error', {
    code: status.code ?? null,
    reason: info?.reason ?? null,
  });
}

function sleep(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * Follows a request's :watch stream until its terminal event, reconnecting
 * with Last-Event-ID after a dropped connection. onEvent gets each
 * WatchResourceRequestResponse; onState 'connecting' | 'live' |
 * 'reconnecting' | 'ended' | 'error' (with the error).
 */
async function watchRequest({ token, afterEventNumber, signal, onEvent, onState }) {
  let lastEventId = afterEventNumber > 0 ? String(afterEventNumber) : null;
  let failures = 0;
  let retryMs = 1000;
  while (!signal.aborted) {
    onState(failures ? 'reconnecting' : 'connecting');
    try {
      const headers = lastEventId ? { 'Last-Event-ID': lastEventId } : {};
      const response = await send(requestPath(token, ':watch'), regionQuery(), {
        signal, accept: 'text/event-stream', headers,
      });
      onState('live');
      let finished = false;
      for await (const message of serverSentEvents(response.body)) {
        if (message.retry !== null) retryMs = message.retry;
        if (message.id !== null) lastEventId = message.id;
        if (message.event === 'error') throw streamError(message.data);
        if (message.event !== 'message') continue;
        failures = 0;
        const payload = JSON.parse(message.data);
        onEvent(payload);
        if (isTerminal(payload.progressEvent?.operationStatus)) finished = true;
      }
      if (finished) {
        onState('ended');
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      const permanent = error instanceof ApiError && error.httpStatus >= 400 && error.httpStatus < 500
        && error.httpStatus !== 408 && error.httpStatus !== 429;
      if (permanent) {
        onState('error', error);
        return;
      }
    }
    failures += 1;
    await sleep(Math.min(15000, retryMs * 2 ** Math.min(failures - 1, 4)), signal);
  }
}

// ---------------------------------------------------------------- health

/** Prometheus text: [{ name, labels, value }]. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function sum(samples, predicate) {
  return samples.filter(predicate).reduce((total, sample) => total + sample.value, 0);
}

/** The numbers the tiles show, from one scrape. */
function snapshot(samples) {
  const requests = (sample) => sample.name === 'statusgate_requests_total';
  const inFlight = samples.filter((sample) => /in_flight/.test(sample.name) && !sample.name.endsWith('_created'));
  const pool = (state) => samples.find((sample) => sample.name === 'statusgate_database_pool_connections' && sample.labels.state === state);
  return {
    at: performance.now(),
    total: sum(samples, requests),
    failed: sum(samples, (sample) => requests(sample) && sample.labels.outcome !== 'ok'),
    serverErrors: sum(samples, (sample) => requests(sample) && sample.labels.outcome === 'server_error'),
    inFlight: inFlight.length ? inFlight.reduce((total, sample) => total + sample.value, 0) : null,
    poolInUse: pool('in_use')?.value ?? null,
    poolIdle: pool('idle')?.value ?? null,
  };
}

function percent(fraction) {
  if (fraction === 0) return '0%';
  return fraction < 0.001 ? '<0.1%' : `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}

const health = {
  previous: null,
  timer: null,

  async poll() {
    clearTimeout(this.timer);
    await Promise.all([this.readiness(), this.metrics()]);
    // The second scrape comes soon so the rates show quickly.
    const delay = this.previous && this.rated ? HEALTH_INTERVAL_MS : 1500;
    if (!document.hidden) this.timer = setTimeout(() => this.poll(), delay);
  },

  async readiness() {
    const element = document.getElementById('health-ready');
    let state;
    try {
      const response = await fetch('/readyz', { cache: 'no-store', credentials: 'omit' });
      state = response.ok ? 'ready' : 'not-ready';
    } catch {
      state = 'unreachable';
    }
    element.dataset.state = state;
    element.textContent = { ready: 'Ready', 'not-ready': 'Not ready', unreachable: 'Unreachable' }[state];
  },

  async metrics() {
    const tiles = {
      rps: document.getElementById('metric-rps'),
      errors: document.getElementById('metric-error-rate'),
      inFlight: document.getElementById('metric-in-flight'),
      pool: document.getElementById('metric-pool'),
    };
    let current;
    try {
      const response = await fetch('/metrics', { cache: 'no-store', credentials: 'omit' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      current = snapshot(parseMetrics(await response.text()));
    } catch {
      for (const tile of Object.values(tiles)) tile.textContent = '–';
      this.previous = null;
      this.rated = false;
      return;
    }
    tiles.inFlight.textContent = current.inFlight === null ? 'n/a' : String(current.inFlight);
    tiles.inFlight.title = current.inFlight === null ? 'this server exports no in-flight gauge' : 'requests being served now';
    tiles.pool.textContent = current.poolInUse === null ? '–' : `${current.poolInUse} / ${current.poolIdle ?? '–'}`;
    const previous = this.previous;
    this.previous = current;
    // A counter that went down is a restarted server: wait for the next pair.
    if (!previous || current.total < previous.total) return;
    const seconds = (current.at - previous.at) / 1000;
    const answered = current.total - previous.total;
    const failed = current.failed - previous.failed;
    const serverErrors = current.serverErrors - previous.serverErrors;
    tiles.rps.textContent = (answered / seconds).toFixed(answered / seconds < 10 ? 1 : 0);
    tiles.rps.title = `${answered} requests in the last ${seconds.toFixed(1)} s`;
    tiles.errors.textContent = answered ? percent(failed / answered) : '0%';
    tiles.errors.title = answered
      ? `${failed} of ${answered} requests failed in the last ${seconds.toFixed(1)} s (${serverErrors} server errors)`
      : `no requests in the last ${seconds.toFixed(1)} s`;
    tiles.errors.dataset.level = answered && serverErrors / answered > 0.01 ? 'bad' : answered && failed / answered > 0.05 ? 'warn' : 'ok';
    this.rated = true;
  },
};

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) health.poll();
});

// ---------------------------------------------------------------- views

function regionQuery() {
  return new URLSearchParams({ region: session.region });
}

function listParam(params, name) {
  return (params.get(name) || '').split(',').filter(Boolean);
}

function chips(name, values, selected, onChange) {
  return h('div', { class: 'chips', role: 'group', 'aria-label': name },
    values.map((value) => {
      const short = shortName(value);
      const input = h('input', {
        type: 'checkbox', value, checked: selected.has(value),
        onchange: () => {
          if (input.checked) selected.add(value);
          else selected.delete(value);
          onChange();
        },
      });
      return h('label', { class: 'chip', testid: `filter-${name}-${short}` }, input, h('span', {}, label(value)));
    }));
}

function field(labelText, control) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, labelText), control);
}

const wideScreen = matchMedia('(min-width: 761px)');

/**
 * A filter panel: always open on a wide screen, folded behind its summary
 * ("Filters · 2 active") on a phone so the list is what shows first.
 */
function collapsible(testid, count, content, signal) {
  const panel = h('details', { class: 'panel collapsible', testid, open: wideScreen.matches },
    h('summary', {}, h('span', {}, 'Filters'), count), content);
  const unfold = () => { if (wideScreen.matches) panel.open = true; };
  wideScreen.addEventListener('change', unfold, { signal });
  return panel;
}

function viewHeader(title, ...extra) {
  return h('div', { class: 'view-header' }, h('h1', {}, title), ...extra);
}

/** #/requests: newest first, status and operation filtered by the server, type and age here. */
function requestsView(container, params, signal) {
  const statuses = new Set(listParam(params, 'status').map((short) => `OPERATION_STATUS_${short}`).filter((value) => OPERATION_STATUSES.includes(value)));
  const operations = new Set(listParam(params, 'operation').map((short) => `OPERATION_${short}`).filter((value) => OPERATIONS.includes(value)));
  const pageSize = Math.min(100, Math.max(1, Number(params.get('limit')) || DEFAULT_PAGE_SIZE));
  let loaded = [];
  let nextToken = null;
  let generation = 0;

  const typeInput = h('input', {
    type: 'search', placeholder: 'e.g. AWS::S3::Bucket', value: params.get('type') || '',
    testid: 'filter-type', spellcheck: 'false', autocapitalize: 'off', oninput: () => { syncHash(); renderRows(); },
  });
  const ageSelect = h('select', { testid: 'filter-age', onchange: () => { syncHash(); renderRows(); } },
    AGES.map(([value, text]) => h('option', { value, selected: value === (params.get('age') || '') }, text)));
  const refreshButton = h('button', { type: 'button', class: 'secondary', testid: 'refresh', onclick: () => load(true) }, 'Refresh');
  const summary = h('p', { class: 'muted summary', testid: 'requests-count', 'aria-live': 'polite' });
  const body = h('tbody', { testid: 'requests-body' });
  const table = h('table', { class: 'data requests', testid: 'requests-table' },
    h('thead', {}, h('tr', {},
      ['Status', 'Type', 'Operation', 'Identifier', 'Request token', 'Updated'].map((name) => h('th', { scope: 'col' }, name)))),
    body);
  const empty = h('div', { class: 'empty', testid: 'requests-empty', hidden: true });
  const problem = h('div', { class: 'problem' });
  const moreButton = h('button', { type: 'button', class: 'secondary', testid: 'load-more', hidden: true, onclick: () => load(false) }, 'Load more');
  const tablePanel = h('div', { class: 'panel table-panel' }, table, empty, h('div', { class: 'table-footer' }, summary, moreButton));

  const filterCount = h('span', { class: 'filter-count', testid: 'filter-count' });
  const countFilters = () => {
    const active = statuses.size + operations.size + (typeInput.value.trim() ? 1 : 0) + (ageSelect.value ? 1 : 0);
    filterCount.textContent = active ? `${active} active` : '';
  };
  const serverFilters = () => { syncHash(); load(true); };
  container.replaceChildren(
    viewHeader('Resource requests', h('span', { class: 'region-note muted' }, session.region), refreshButton),
    collapsible('request-filters', filterCount,
      h('form', { class: 'filters', onsubmit: (event) => event.preventDefault() },
        h('div', { class: 'filter-group' }, h('span', { class: 'field-label' }, 'Status'), chips('status', OPERATION_STATUSES, statuses, serverFilters)),
        h('div', { class: 'filter-group' }, h('span', { class: 'field-label' }, 'Operation'), chips('operation', OPERATIONS, operations, serverFilters)),
        h('div', { class: 'filter-row' }, field('Type name contains', typeInput), field('Updated', ageSelect))), signal),
    problem,
    tablePanel,
  );

  function syncHash() {
    countFilters();
    const query = new URLSearchParams();
    if (statuses.size) query.set('status', [...statuses].map(shortName).join(','));
    if (operations.size) query.set('operation', [...operations].map(shortName).join(','));
    if (typeInput.value.trim()) query.set('type', typeInput.value.trim());
    if (ageSelect.value) query.set('age', ageSelect.value);
    if (params.get('limit')) query.set('limit', params.get('limit'));
    const text = String(query);
    history.replaceState(null, '', `#/requests${text ? `?${text}` : ''}`);
  }

  function visible() {
    const typeText = typeInput.value.trim().toLowerCase();
    const maxAge = Number(ageSelect.value) || 0;
    const now = Date.now();
    return loaded.filter((event) => {
      if (typeText && !(event.typeName || '').toLowerCase().includes(typeText)) return false;
      if (maxAge && (!event.eventTime || now - new Date(event.eventTime).getTime() > maxAge * 1000)) return false;
      return true;
    });
  }

  function row(event) {
    const href = `#/requests/${encodeURIComponent(event.requestToken)}`;
    return h('tr', {
      testid: 'request-row',
      dataset: { token: event.requestToken, status: event.operationStatus || '' },
      onclick: (click) => {
        if (click.target.closest('a') || getSelection().toString()) return;
        location.hash = href;
      },
    },
    cell('Status', {}, badge(event.operationStatus)),
    cell('Type', { class: 'type-cell' }, h('a', { href, testid: 'request-link' }, event.typeName || '(no type)')),
    cell('Operation', {}, label(event.operation)),
    cell('Identifier', { class: 'wrap' }, event.identifier || h('span', { class: 'muted' }, '–')),
    cell('Request token', { class: 'mono', title: event.requestToken }, shortToken(event.requestToken)),
    cell('Updated', {}, timeElement(event.eventTime)));
  }

  function renderRows() {
    const shown = visible();
    body.replaceChildren(...shown.map(row));
    table.hidden = shown.length === 0;
    empty.hidden = shown.length !== 0;
    const filtered = statuses.size || operations.size || typeInput.value.trim() || ageSelect.value;
    empty.replaceChildren(
      h('p', {}, loaded.length === 0 && !filtered ? `No resource requests in ${session.region} yet.` : 'No requests match these filters.'),
      nextToken ? h('p', { class: 'muted' }, 'More requests are on the server: load more to look further.') : null);
    summary.textContent = shown.length === loaded.length
      ? `${loaded.length} request${loaded.length === 1 ? '' : 's'}${nextToken ? ' loaded' : ''}`
      : `${shown.length} of ${loaded.length} loaded requests shown`;
    moreButton.hidden = !nextToken;
  }

  async function load(reset) {
    const mine = ++generation;
    const query = regionQuery();
    query.set('maxResults', String(pageSize));
    for (const status of statuses) query.append('resourceRequestStatusFilter.operationStatuses', status);
    for (const operation of operations) query.append('resourceRequestStatusFilter.operations', operation);
    if (!reset && nextToken) query.set('nextToken', nextToken);
    container.classList.add('loading');
    refreshButton.disabled = true;
    moreButton.disabled = true;
    try {
      const page = await getJson('/v1/resource-requests', query, signal);
      if (mine !== generation) return;
      const events = page.resourceRequestStatusSummaries || [];
      if (reset) loaded = events;
      else {
        const known = new Set(loaded.map((event) => event.requestToken));
        loaded = loaded.concat(events.filter((event) => !known.has(event.requestToken)));
      }
      nextToken = page.nextToken || null;
      problem.replaceChildren();
      tablePanel.hidden = false;
      renderRows();
    } catch (error) {
      if (signal.aborted || mine !== generation) return;
      problem.replaceChildren(failure(error, () => load(reset)));
      if (reset) {
        loaded = [];
        nextToken = null;
        renderRows();
        tablePanel.hidden = true;
      }
    } finally {
      if (mine === generation) {
        container.classList.remove('loading');
        refreshButton.disabled = false;
        moreButton.disabled = false;
      }
    }
  }

  countFilters();
  renderRows();
  empty.hidden = true;
  summary.textContent = 'Loading…';
  load(true);
}

const STREAM_STATES = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Finished',
  error: 'Live updates unavailable',
  idle: 'Finished',
};

/** #/requests/<token>: the request, its hooks and its timeline, followed live until it ends. */
async function requestView(container, token, signal) {
  const streamState = h('span', { class: 'stream-state', testid: 'stream-state', dataset: { state: 'connecting' } }, STREAM_STATES.connecting);
  const summary = h('div', { class: 'panel summary-panel', testid: 'request-summary' });
  const timeline = h('ol', { class: 'timeline', testid: 'timeline' });
  const hooks = h('div', { class: 'hooks' });
  const problem = h('div', { class: 'problem' });
  const title = h('h1', { class: 'wrap' }, 'Request');
  container.replaceChildren(
    h('a', { href: '#/requests', class: 'back', testid: 'back-to-requests' }, '← Requests'),
    h('div', { class: 'view-header' }, title, streamState),
    problem,
    summary,
    hooks,
    h('section', { class: 'panel' }, h('h2', {}, 'Timeline'), timeline),
  );

  const events = [];
  let current = null;

  function setStreamState(state, error) {
    streamState.dataset.state = state;
    streamState.textContent = STREAM_STATES[state];
    streamState.title = error ? error.message : '';
    if (state === 'error' && error) {
      if (error.httpStatus === 401) problem.replaceChildren(failure(error));
      else problem.replaceChildren(h('div', { class: 'notice notice-warn', testid: 'stream-error' },
        h('strong', {}, 'Live updates stopped. '), error.message, ' ', h('button', { type: 'button', class: 'link-button', onclick: () => router.render() }, 'Reload')));
    }
  }

  function renderSummary() {
    const event = current;
    title.textContent = event.typeName || 'Request';
    const rows = [
      ['Status', badge(event.operationStatus, 'badge-large'), 'request-status'],
      ['Operation', label(event.operation)],
      ['Type', event.typeName],
      ['Identifier', event.identifier || h('span', { class: 'muted' }, 'not known yet')],
      events.length ? ['Started', timeElement(events[0].event.eventTime, { absolute: true })] : null,
      ['Last event', timeElement(event.eventTime, { absolute: true })],
      isTerminal(event.operationStatus) && events.length ? ['Took', duration(events[0].event.eventTime, event.eventTime), 'request-duration'] : null,
      event.errorCode ? ['Error code', errorCodeName(event.errorCode)] : null,
      event.statusMessage ? ['Status message', event.statusMessage] : null,
      event.retryAfter ? ['Retry after', timeElement(event.retryAfter, { absolute: true })] : null,
      ['Request token', h('span', { class: 'mono' }, event.requestToken), null, 'fact-wide'],
      event.hooksRequestToken ? ['Hooks request token', h('span', { class: 'mono' }, event.hooksRequestToken), null, 'fact-wide'] : null,
    ].filter(Boolean);
    summary.replaceChildren(h('dl', { class: 'facts' }, rows.map(([name, value, testid, extraClass]) =>
      h('div', { class: `fact ${extraClass || ''}`.trim(), testid: testid || null }, h('dt', {}, name), h('dd', { class: 'wrap' }, value)))));
    refreshRelativeTimes();
  }

  function renderHooks(hookEvents) {
    if (!hookEvents?.length) {
      hooks.replaceChildren();
      return;
    }
    hooks.replaceChildren(h('section', { class: 'panel', testid: 'hooks' }, h('h2', {}, 'Hooks'),
      h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Hook', 'Invocation point', 'Status', 'Message', 'Failure mode', 'Time'].map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', {}, hookEvents.map((hook) => h('tr', {},
          cell('Hook', { class: 'wrap' }, hook.hookTypeName || '–'),
          cell('Invocation point', {}, hook.invocationPoint || '–'),
          cell('Status', {}, h('span', { class: `badge badge-hook-${String(hook.hookStatus || '').toLowerCase()}` }, hook.hookStatus || '–')),
          cell('Message', { class: 'wrap' }, hook.hookStatusMessage || '–'),
          cell('Failure mode', {}, hook.failureMode || '–'),
          cell('Time', {}, timeElement(hook.hookEventTime))))))));
  }

  function timelineItem(event, number, source, previous) {
    const details = [];
    if (event.statusMessage) details.push(h('p', { class: 'event-message' }, event.statusMessage));
    const facts = [];
    if (event.errorCode) facts.push(['Error code', errorCodeName(event.errorCode)]);
    if (event.identifier && event.identifier !== previous?.identifier) facts.push(['Identifier', event.identifier]);
    if (event.retryAfter) facts.push(['Retry after', timeElement(event.retryAfter)]);
    if (facts.length) {
      details.push(h('dl', { class: 'event-facts' }, facts.map(([name, value]) => h('div', {}, h('dt', {}, name), h('dd', { class: 'wrap' }, value)))));
    }
    if (event.resourceModel && event.resourceModel !== previous?.resourceModel) {
      details.push(h('details', { class: 'model' }, h('summary', {}, 'Resource model'), h('pre', {}, prettyJson(event.resourceModel))));
    }
    const status = event.operationStatus || '';
    return h('li', {
      class: `timeline-item status-${shortName(status || 'UNSPECIFIED').toLowerCase().replaceAll('_', '-')}`,
      testid: 'timeline-event',
      dataset: { status, eventNumber: String(number), source },
    },
    h('span', { class: 'timeline-dot', 'aria-hidden': 'true' }),
    h('div', { class: 'timeline-body' },
      h('div', { class: 'timeline-head' },
        badge(status),
        h('span', { class: 'muted event-number' }, `#${number}`),
        eventTimeElement(event.eventTime),
        events.length && number > 1 ? h('span', { class: 'muted offset', title: 'since the first event' }, `+${duration(events[0].event.eventTime, event.eventTime)}`) : null),
      details));
  }

  function append(event, number, source) {
    const previous = events.at(-1)?.event;
    events.push({ event, number });
    timeline.append(timelineItem(event, number, source, previous));
    current = event;
  }

  let statusAnswer;
  let eventsAnswer;
  try {
    [statusAnswer, eventsAnswer] = await Promise.all([
      getJson(requestPath(token), regionQuery(), signal),
      getJson(requestPath(token, '/events'), regionQuery(), signal),
    ]);
  } catch (error) {
    if (signal.aborted) return;
    title.textContent = shortToken(token);
    summary.remove();
    streamState.remove();
    problem.replaceChildren(failure(error, () => router.render()));
    return;
  }
  (eventsAnswer.progressEvents || []).forEach((event, index) => append(event, index + 1, 'history'));
  current = statusAnswer.progressEvent || current;
  if (!current) {
    problem.replaceChildren(h('div', { class: 'notice notice-error' }, 'The server returned no progress event for this request.'));
    return;
  }
  renderSummary();
  renderHooks(statusAnswer.hooksProgressEvent);

  if (isTerminal(current.operationStatus)) {
    setStreamState('idle');
    return;
  }
  watchRequest({
    token,
    afterEventNumber: events.length,
    signal,
    onState: setStreamState,
    onEvent: (message) => {
      const number = Number(message.eventNumber);
      if (!message.progressEvent || (number && number <= events.at(-1)?.number)) return;
      append(message.progressEvent, number || events.length + 1, 'stream');
      renderSummary();
      if (isTerminal(message.progressEvent.operationStatus)) {
        // Hooks have no stream of their own: read them once more at the end.
        getJson(requestPath(token), regionQuery(), signal)
          .then((answer) => renderHooks(answer.hooksProgressEvent))
          .catch(() => {});
      }
    },
  });
}

/** #/change-tokens: a scope's tokens and their status. */
function changeTokensView(container, params, signal) {
  const endpointName = (params.get('endpoint') || 'REGIONAL').toUpperCase();
  const endpointParam = `WAF_ENDPOINT_${endpointName === 'BOTH' ? 'UNSPECIFIED' : endpointName}`;
  let endpoint = WAF_ENDPOINTS.includes(endpointParam) ? endpointParam : 'WAF_ENDPOINT_REGIONAL';
  const statuses = new Set(listParam(params, 'status').map((short) => `CHANGE_TOKEN_STATUS_${short}`).filter((value) => CHANGE_TOKEN_STATUSES.includes(value)));
  let loaded = [];
  let nextToken = null;
  let generation = 0;

  const endpointControl = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'Endpoint' },
    WAF_ENDPOINTS.map((value) => h('label', { class: 'segment', testid: `filter-endpoint-${value === 'WAF_ENDPOINT_UNSPECIFIED' ? 'BOTH' : shortName(value)}` },
      h('input', {
        type: 'radio', name: 'endpoint', value, checked: value === endpoint,
        onchange: () => { endpoint = value; scopeNote(); serverFilters(); },
      }),
      h('span', {}, ENDPOINT_LABELS[value]))));
  const scope = h('span', { class: 'muted', testid: 'change-token-scope' });
  const refreshButton = h('button', { type: 'button', class: 'secondary', testid: 'refresh', onclick: () => load(true) }, 'Refresh');
  const body = h('tbody', { testid: 'change-tokens-body' });
  const table = h('table', { class: 'data change-tokens', testid: 'change-tokens-table' },
    h('thead', {}, h('tr', {}, ['Status', 'Change token', 'Scope', 'Change', 'Created', 'Used', 'In sync'].map((name) => h('th', { scope: 'col' }, name)))),
    body);
  const empty = h('div', { class: 'empty', testid: 'change-tokens-empty', hidden: true });
  const summary = h('p', { class: 'muted summary', testid: 'change-tokens-count' });
  const moreButton = h('button', { type: 'button', class: 'secondary', testid: 'load-more', hidden: true, onclick: () => load(false) }, 'Load more');
  const problem = h('div', { class: 'problem' });
  const tablePanel = h('div', { class: 'panel table-panel' }, table, empty, h('div', { class: 'table-footer' }, summary, moreButton));

  function scopeNote() {
    scope.textContent = {
      WAF_ENDPOINT_REGIONAL: `Tokens of WAF Regional in ${session.region} (the region above).`,
      WAF_ENDPOINT_GLOBAL: 'Tokens of global WAF (CloudFront); the region does not apply.',
      WAF_ENDPOINT_UNSPECIFIED: `Tokens of WAF Regional in ${session.region} and of global WAF.`,
    }[endpoint];
  }
  function serverFilters() { syncHash(); load(true); }

  container.replaceChildren(
    viewHeader('Change tokens', refreshButton),
    h('form', { class: 'filters panel', testid: 'change-token-filters', onsubmit: (event) => event.preventDefault() },
      h('div', { class: 'filter-group' }, h('span', { class: 'field-label' }, 'Endpoint'), endpointControl, scope),
      h('div', { class: 'filter-group' }, h('span', { class: 'field-label' }, 'Status'), chips('status', CHANGE_TOKEN_STATUSES, statuses, serverFilters))),
    problem,
    tablePanel,
  );
  scopeNote();

  function syncHash() {
    const query = new URLSearchParams();
    if (endpoint !== 'WAF_ENDPOINT_REGIONAL') query.set('endpoint', endpoint === 'WAF_ENDPOINT_UNSPECIFIED' ? 'BOTH' : shortName(endpoint));
    if (statuses.size) query.set('status', [...statuses].map(shortName).join(','));
    const text = String(query);
    history.replaceState(null, '', `#/change-tokens${text ? `?${text}` : ''}`);
  }

  function row(token) {
    const status = token.changeTokenStatus || token.status || '';
    const tokenScope = token.scope || {};
    const where = (tokenScope.endpoint || endpoint) === 'WAF_ENDPOINT_GLOBAL' ? 'Global' : (tokenScope.region || session.region);
    return h('tr', { testid: 'change-token-row', dataset: { token: token.changeToken, status } },
      cell('Status', {}, badge(status)),
      cell('Change token', { class: 'mono wrap' }, token.changeToken),
      cell('Scope', {}, where, tokenScope.accountId ? h('span', { class: 'muted' }, ` · ${tokenScope.accountId}`) : null),
      cell('Change', { class: 'wrap' }, token.changeDescription || h('span', { class: 'muted' }, '–')),
      cell('Created', {}, timeElement(token.createdAt)),
      cell('Used', {}, timeElement(token.consumedAt)),
      cell('In sync', {}, timeElement(token.insyncAt)));
  }

  function renderRows() {
    body.replaceChildren(...loaded.map(row));
    table.hidden = loaded.length === 0;
    empty.hidden = loaded.length !== 0;
    empty.replaceChildren(h('p', {}, statuses.size ? 'No change tokens with these statuses in this scope.' : 'No change tokens in this scope yet.'));
    summary.textContent = `${loaded.length} change token${loaded.length === 1 ? '' : 's'}${nextToken ? ' loaded' : ''}`;
    moreButton.hidden = !nextToken;
  }

  async function load(reset) {
    const mine = ++generation;
    const query = new URLSearchParams();
    if (endpoint !== 'WAF_ENDPOINT_UNSPECIFIED') query.set('scope.endpoint', endpoint);
    if (endpoint !== 'WAF_ENDPOINT_GLOBAL') query.set('scope.region', session.region);
    for (const status of statuses) query.append('statuses', status);
    if (!reset && nextToken) query.set('nextToken', nextToken);
    container.classList.add('loading');
    refreshButton.disabled = true;
    try {
      const page = await getJson('/v1/change-tokens', query, signal);
      if (mine !== generation) return;
      const tokens = page.changeTokens || [];
      loaded = reset ? tokens : loaded.concat(tokens);
      nextToken = page.nextToken || null;
      problem.replaceChildren();
      tablePanel.hidden = false;
      renderRows();
    } catch (error) {
      if (signal.aborted || mine !== generation) return;
      problem.replaceChildren(failure(error, () => load(reset)));
      if (reset) {
        loaded = [];
        nextToken = null;
        renderRows();
        tablePanel.hidden = true;
      }
    } finally {
      if (mine === generation) {
        container.classList.remove('loading');
        refreshButton.disabled = false;
      }
    }
  }

  renderRows();
  empty.hidden = true;
  summary.textContent = 'Loading…';
  load(true);
}

function notFoundView(container) {
  container.replaceChildren(h('div', { class: 'empty panel', testid: 'not-found' },
    h('p', {}, 'There is no such page in the console.'), h('a', { href: '#/requests' }, 'Go to the requests')));
}

// ---------------------------------------------------------------- router

const router = {
  controller: null,

  render() {
    this.controller?.abort();
    this.controller = new AbortController();
    const { signal } = this.controller;
    const hash = location.hash.replace(/^#/, '') || '/requests';
    const [path, search = ''] = hash.split('?');
    const params = new URLSearchParams(search);
    const container = document.getElementById('view');
    container.classList.remove('loading');
    container.replaceChildren();
    const token = /^\/requests\/(.+)$/.exec(path);
    const section = token || path === '/requests' ? 'requests' : path === '/change-tokens' ? 'change-tokens' : '';
    for (const link of document.querySelectorAll('[data-nav]')) {
      if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    container.dataset.view = token ? 'request' : section || 'not-found';
    if (token) {
      let decoded;
      try {
        decoded = decodeURIComponent(token[1]);
      } catch {
        decoded = token[1];
      }
      document.title = `${shortToken(decoded)} · statusgate console`;
      requestView(container, decoded, signal);
    } else if (path === '/requests') {
      document.title = 'Requests · statusgate console';
      requestsView(container, params, signal);
    } else if (path === '/change-tokens') {
      document.title = 'Change tokens · statusgate console';
      changeTokensView(container, params, signal);
    } else {
      document.title = 'statusgate console';
      notFoundView(container);
    }
  },
};

function setUpRegion() {
  const select = document.getElementById('region');
  select.replaceChildren(...REGIONS.map((region) => h('option', { value: region, selected: region === session.region }, region)));
  select.addEventListener('change', () => {
    session.region = select.value;
    router.render();
  });
}

setUpRegion();
setUpSignIn();
window.addEventListener('hashchange', () => router.render());
router.render();
health.poll();
