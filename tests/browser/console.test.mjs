// The operator console in a real browser (Debian's Chromium through
// playwright-core) against a real statusgate: requests made with boto3
// appear, one request's timeline reaches SUCCESS over the live stream, the
// filters narrow the list, change tokens show by scope, the phone layout
// does not scroll sideways, and a server with --auth sigv4 makes the page
// ask for a credential that then works. Screenshots of the main views go to
// docs/ (or $SCREENSHOT_DIR).
//
//   STATUSGATE_BINARY=target/debug/statusgate STATUSGATE_TEST_PYTHON=venv/bin/python \
//     node --test tests/browser/console.test.mjs
//
// .ci/browser-test.sh sets those up. Each server gets free ports and a
// fresh SQLite file in a temporary directory; on a failure the server's log
// and a screenshot of the page are printed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.STATUSGATE_BINARY;
const python = process.env.STATUSGATE_TEST_PYTHON || 'python3';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshotDir = process.env.SCREENSHOT_DIR || path.resolve(here, '../../docs');
// Each simulated step (PENDING -> IN_PROGRESS -> SUCCESS) takes this long:
// long enough to open a request before it ends, short enough to wait for.
const step = process.env.STATUSGATE_TEST_STEP || '4s';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const LAPTOP = { width: 1366, height: 850 };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const ACCOUNT = '123456789012';
const execFileAsync = promisify(execFile);

// A request the simulation rules fail, and one they keep in progress.
const SIMULATION_RULES = {
  Rules: [
    {
      TypeName: 'AWS::S3::Bucket', Operation: 'CREATE', DesiredState: { BucketName: 'taken' },
      Fail: { ErrorCode: 'AlreadyExists', StatusMessage: 'a bucket of that name exists' },
    },
    { TypeName: 'AWS::SQS::*', ExtraDelay: '30m' },
  ],
};
const SUCCESS = 'OPERATION_STATUS_SUCCESS';
const FAILED = 'OPERATION_STATUS_FAILED';
const TERMINAL = new Set([SUCCESS, FAILED, 'OPERATION_STATUS_CANCEL_COMPLETE']);

assert.ok(binary, 'STATUSGATE_BINARY must name a statusgate binary (see .ci/browser-test.sh)');
assert.ok(existsSync(binary), `STATUSGATE_BINARY=${binary} does not exist`);
assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium)`);

// ---------------------------------------------------------------- servers

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A temporary directory, database and environment for one server. */
async function prepareServer({ credentialsKey = null } = {}) {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'statusgate-console-'));
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' };
  delete env.STATUSGATE_AUTH;
  if (credentialsKey) env.STATUSGATE_CREDENTIALS_KEY = credentialsKey;
  const rules = path.join(directory, 'simulation-rules.json');
  await writeFile(rules, JSON.stringify(SIMULATION_RULES));
  return { directory, env, rules, databaseUrl: `sqlite://${path.join(directory, 'statusgate.db')}` };
}

/** Runs `statusgate ARGS` on the prepared database; its stdout. */
async function statusgate(prepared, args) {
  try {
    const { stdout } = await execFileAsync(binary, [...args, '--database-url', prepared.databaseUrl], { env: prepared.env });
    return stdout;
  } catch (error) {
    throw new Error(`statusgate ${args.join(' ')} failed: ${error.stderr || error.message}`);
  }
}

/** Starts statusgate; resolves once /healthz answers. */
async function startServer(prepared, { auth = null } = {}) {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const args = [
    '--database-url', prepared.databaseUrl,
    '--http-listen', `127.0.0.1:${httpPort}`,
    '--grpc-listen', `127.0.0.1:${grpcPort}`,
    '--simulate-provisioning', step,
    '--simulation-rules', prepared.rules,
  ];
  if (auth) args.push('--auth', auth);
  const child = spawn(binary, args, { env: prepared.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = `$ statusgate ${args.join(' ')}\n`;
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; });
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(); }));
  const url = `http://127.0.0.1:${httpPort}`;
  const server = {
    url,
    log: () => log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exit;
        clearTimeout(killer);
      }
      await rm(prepared.directory, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`statusgate exited during start-up (${JSON.stringify(exited)})\n${log}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`statusgate did not answer on ${url} within 30 s\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** boto3 calls (aws_calls.py) against the server, signed with this credential. */
function awsClient(server, { accessKeyId, secretAccessKey }) {
  return async (calls) => {
    try {
      const { stdout } = await execFileAsync(python, [path.join(here, 'aws_calls.py'), server.url, JSON.stringify(calls)], {
        env: {
          PATH: process.env.PATH,
          HOME: os.tmpdir(),
          AWS_ACCESS_KEY_ID: accessKeyId,
          AWS_SECRET_ACCESS_KEY: secretAccessKey,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      });
      return JSON.parse(stdout);
    } catch (error) {
      throw new Error(`boto3 ${calls.map((call) => call.call).join(', ')} failed: ${error.stderr || error.message}`);
    }
  };
}

/** A REST call the test makes itself (the console only reads). */
async function rest(server, method, route, body) {
  const response = await fetch(`${server.url}${route}`, {
    method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/**
 * A TCP relay in front of the server, so the test can drop the browser's
 * watch connections as a network would (HTTP/1.1 in the clear: a request
 * line that names `:watch` marks its connection until the next request).
 */
async function relay(server) {
  const pairs = new Set();
  const listener = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    const pair = { client, upstream, watch: false };
    pairs.add(pair);
    client.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) pair.watch = /^GET \S+:watch[?\s]/.test(text);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${listener.address().port}`,
    /** Drops every watch connection; how many there were. */
    cutWatches() {
      const watches = [...pairs].filter((pair) => pair.watch);
      for (const pair of watches) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      return watches.length;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

// ---------------------------------------------------------------- browser

let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, headless: true });
  await mkdir(screenshotDir, { recursive: true });
});

after(async () => {
  await browser?.close();
});

/** A page that records what the browser requested and every script error. */
async function openPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const record = { requests: [], responses: [], errors: [] };
  page.on('request', (request) => record.requests.push({ url: request.url(), method: request.method(), headers: request.headers() }));
  page.on('response', (response) => record.responses.push({ url: response.url(), status: response.status() }));
  page.on('pageerror', (error) => record.errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser reports each 4xx answer as a console error; those are the
    // server's answers under test, not the page's faults.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      record.errors.push(`console error: ${message.text()}`);
    }
  });
  return { page, record };
}

/** Runs one scenario; on a failure prints the server log and keeps a screenshot. */
async function scenario(name, server, pages, body) {
  try {
    await body();
  } catch (error) {
    process.stderr.write(`\n--- ${name}: server log (${server.url})\n${server.log()}\n--- end of server log\n`);
    for (const [index, page] of pages().entries()) {
      const file = path.join(os.tmpdir(), `statusgate-console-failure-${Date.now()}-${index}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true });
        process.stderr.write(`--- screenshot of the page at ${page.url()}: ${file}\n`);
      } catch {
        // The page is gone.
      }
    }
    throw error;
  } finally {
    await server.stop();
  }
}

async function waitUntil(page, what, predicate, argument, timeout = 15000) {
  try {
    await page.waitForFunction(predicate, argument, { timeout, polling: 100 });
  } catch (error) {
    throw new Error(`timed out waiting for ${what}: ${error.message.split('\n')[0]}`);
  }
}

/** The request rows as [{ token, status }], in page order. */
function requestRows(page) {
  return page.$$eval('[data-testid="request-row"]', (rows) => rows.map((row) => ({ token: row.dataset.token, status: row.dataset.status })));
}

async function waitForRows(page, what, tokens) {
  await waitUntil(page, what, (wanted) => {
    const shown = [...document.querySelectorAll('[data-testid="request-row"]')].map((row) => row.dataset.token);
    return document.querySelector('main').classList.contains('loading') === false
      && shown.length === wanted.length && wanted.every((token, index) => shown[index] === token);
  }, tokens);
}

async function setChip(page, testid, checked) {
  const chip = page.getByTestId(testid);
  const input = chip.locator('input');
  if ((await input.isChecked()) !== checked) await chip.click();
  assert.equal(await input.isChecked(), checked, `${testid} is ${checked ? 'on' : 'off'}`);
}

async function assertNoSidewaysScroll(page, view) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${view} scrolls sideways at ${innerWidth} px (${scrollWidth} px wide)`);
}

/** A picture of the viewport, once the health tiles show their rates. */
async function screenshot(page, name) {
  await waitUntil(page, 'the rates before a screenshot', () => /^\d/.test(document.querySelector('[data-testid="metric-rps"]').textContent));
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: path.join(screenshotDir, name) });
}

function requestStatus(page) {
  return page.getByTestId('request-status').locator('[data-status]').getAttribute('data-status');
}

/** Opens a request from the list and follows its timeline to the end, live. */
async function watchToTheEnd(page, record, token, expected) {
  const row = page.locator(`[data-testid="request-row"][data-token="${token}"]`);
  await row.waitFor();
  await row.getByTestId('request-link').click();
  assert.equal(new URL(page.url()).hash, `#/requests/${token}`);
  await page.getByTestId('timeline-event').first().waitFor();
  const before = await requestStatus(page);
  assert.ok(!TERMINAL.has(before), `the request is still running when opened (it is ${before}); raise STATUSGATE_TEST_STEP if the machine is slow`);
  await waitUntil(page, 'the live stream', () => document.querySelector('[data-testid="stream-state"]')?.dataset.state === 'live');
  await waitUntil(page, `the request to reach ${expected}`, (status) =>
    document.querySelector('[data-testid="request-status"] [data-status]')?.dataset.status === status, expected, 30000);
  const timeline = await page.$$eval('[data-testid="timeline-event"]', (items) => items.map((item) => ({
    status: item.dataset.status, number: Number(item.dataset.eventNumber), source: item.dataset.source,
  })));
  assert.deepEqual(timeline.map((event) => event.status),
    ['OPERATION_STATUS_PENDING', 'OPERATION_STATUS_IN_PROGRESS', expected], 'the timeline, oldest first');
  assert.deepEqual(timeline.map((event) => event.number), [1, 2, 3], 'event numbers');
  assert.equal(timeline.at(-1).source, 'stream', 'the last event came over the stream, not a reload');
  await waitUntil(page, 'the stream to end', () => document.querySelector('[data-testid="stream-state"]')?.dataset.state === 'ended');
  assert.match(await page.getByTestId('request-duration').locator('dd').textContent(), /^\d+(\.\d)? s$/, 'how long the request took');
  const base = `/v1/resource-requests/${encodeURIComponent(token)}`;
  const histories = record.requests.filter((request) => new URL(request.url).pathname === `${base}/events`);
  const watches = record.requests.filter((request) => new URL(request.url).pathname === `${base}:watch`);
  assert.equal(histories.length, 1, 'the history is read once: later events come from the stream');
  assert.ok(watches.length >= 1, 'the page watched the request');
  assert.equal(new URL(watches[0].url).searchParams.get('region'), 'us-east-1', 'the watch names the region');
}

// ---------------------------------------------------------------- the scenarios

test('the console lists requests, follows one live, filters, shows change tokens, fits a phone (--auth none)', { timeout: 240000 }, async () => {
  const prepared = await prepareServer();
  const server = await startServer(prepared);
  // A non-numeric access key: in --auth none mode the default account, the
  // one the console (which names none) reads.
  const aws = awsClient(server, { accessKeyId: 'AKIDCONSOLETEST', secretAccessKey: 'anything' });
  const context = await browser.newContext({ viewport: LAPTOP });
  const phoneContext = await browser.newContext(PHONE);
  const pages = [];
  await scenario('--auth none', server, () => pages, async () => {
    const { page, record } = await openPage(context);
    pages.push(page);

    // Health: readiness and, after two scrapes, the rates.
    await page.goto(`${server.url}/console`);
    assert.match(await page.title(), /statusgate console/);
    await page.getByTestId('health-ready').filter({ hasText: 'Ready' }).waitFor();
    await waitUntil(page, 'requests/s from two scrapes of /metrics', () => /^\d/.test(document.querySelector('[data-testid="metric-rps"]').textContent));
    await waitUntil(page, 'the error rate', () => /%$/.test(document.querySelector('[data-testid="metric-error-rate"]').textContent));
    assert.match(await page.getByTestId('metric-pool').textContent(), /^\d+ \/ \d+$/, 'database pool in use / idle');
    assert.equal(new URL(page.url()).hash || '#/requests', '#/requests');
    await page.getByTestId('requests-empty').filter({ hasText: 'No resource requests in us-east-1 yet' }).waitFor();

    // A request made with boto3 appears and is followed live to SUCCESS.
    const [watched] = await aws([{ call: 'create-resource', typeName: 'AWS::Logs::LogGroup', desiredState: { LogGroupName: 'console-watched' } }]);
    const watchedToken = watched.ProgressEvent.RequestToken;
    await page.getByTestId('refresh').click();
    await watchToTheEnd(page, record, watchedToken, SUCCESS);
    assert.equal(await page.getByTestId('view').locator('h1').textContent(), 'AWS::Logs::LogGroup');
    const identifier = (await page.getByTestId('request-summary').locator('.fact', { hasText: 'Identifier' }).locator('dd').textContent()).trim();
    assert.ok(identifier && identifier !== 'not known yet', `the identifier of a created resource shows (${identifier})`);
    await page.locator('details.model summary').last().click();
    // The newest event's arrival highlight fades first.
    await page.waitForTimeout(800);
    await screenshot(page, 'console-request.png');

    // More requests: one the rules fail, one they keep running, an update.
    const [taken, slow, assets, update] = await aws([
      { call: 'create-resource', typeName: 'AWS::S3::Bucket', desiredState: { BucketName: 'taken' } },
      { call: 'create-resource', typeName: 'AWS::SQS::Queue', desiredState: { QueueName: 'orders' } },
      { call: 'create-resource', typeName: 'AWS::S3::Bucket', desiredState: { BucketName: 'console-assets' } },
      { call: 'update-resource', typeName: 'AWS::Logs::LogGroup', identifier, patch: [{ op: 'add', path: '/RetentionInDays', value: 14 }] },
    ]);
    const tokens = {
      watched: watchedToken,
      taken: taken.ProgressEvent.RequestToken,
      slow: slow.ProgressEvent.RequestToken,
      assets: assets.ProgressEvent.RequestToken,
      update: update.ProgressEvent.RequestToken,
    };
    const newestFirst = [tokens.update, tokens.assets, tokens.slow, tokens.taken, tokens.watched];
    await page.getByTestId('back-to-requests').click();
    await waitForRows(page, 'all five requests, newest first', newestFirst);
    // Refresh until the simulated ones have finished (the slow one never does).
    const deadline = Date.now() + 40000;
    for (;;) {
      const statuses = Object.fromEntries((await requestRows(page)).map((row) => [row.token, row.status]));
      if (statuses[tokens.taken] === FAILED && statuses[tokens.assets] === SUCCESS && statuses[tokens.update] === SUCCESS) {
        assert.ok(!TERMINAL.has(statuses[tokens.slow]), 'the slow request is still running');
        break;
      }
      assert.ok(Date.now() < deadline, `the simulated requests did not finish: ${JSON.stringify(statuses)}`);
      await page.waitForTimeout(1000);
      await page.getByTestId('refresh').click();
      await waitUntil(page, 'the refreshed list', () => !document.querySelector('main').classList.contains('loading'));
    }
    await waitForRows(page, 'the list after the refreshes', newestFirst);
    await page.waitForTimeout(500);
    await screenshot(page, 'console-requests.png');

    // Status and operation filters go to the server; the hash keeps them.
    const listCalls = () => record.requests.filter((request) => new URL(request.url).pathname === '/v1/resource-requests').map((request) => new URL(request.url).searchParams);
    await setChip(page, 'filter-status-SUCCESS', true);
    await waitForRows(page, 'only the successful requests', [tokens.update, tokens.assets, tokens.watched]);
    assert.deepEqual(listCalls().at(-1).getAll('resourceRequestStatusFilter.operationStatuses'), [SUCCESS]);
    assert.equal(listCalls().at(-1).get('region'), 'us-east-1');
    assert.match(new URL(page.url()).hash, /status=SUCCESS/);
    await setChip(page, 'filter-status-FAILED', true);
    await waitForRows(page, 'successful and failed requests', [tokens.update, tokens.assets, tokens.taken, tokens.watched]);
    await setChip(page, 'filter-status-SUCCESS', false);
    await setChip(page, 'filter-status-FAILED', false);
    await setChip(page, 'filter-status-PENDING', true);
    await setChip(page, 'filter-status-IN_PROGRESS', true);
    await waitForRows(page, 'only the running request', [tokens.slow]);
    await setChip(page, 'filter-status-PENDING', false);
    await setChip(page, 'filter-status-IN_PROGRESS', false);
    await waitForRows(page, 'every request again', newestFirst);
    await setChip(page, 'filter-operation-UPDATE', true);
    await waitForRows(page, 'only the update', [tokens.update]);
    assert.deepEqual(listCalls().at(-1).getAll('resourceRequestStatusFilter.operations'), ['OPERATION_UPDATE']);
    await setChip(page, 'filter-operation-UPDATE', false);
    await setChip(page, 'filter-operation-DELETE', true);
    await page.getByTestId('requests-empty').filter({ hasText: 'No requests match these filters' }).waitFor();
    await setChip(page, 'filter-operation-DELETE', false);
    await waitForRows(page, 'every request again', newestFirst);

    // Type name and age filter the loaded requests here, without a call.
    const callsBefore = listCalls().length;
    await page.getByTestId('filter-type').fill('s3::');
    await waitForRows(page, 'the S3 buckets', [tokens.assets, tokens.taken]);
    await page.getByTestId('filter-age').selectOption('300');
    await waitForRows(page, 'the S3 buckets of the last 5 minutes', [tokens.assets, tokens.taken]);
    await page.getByTestId('filter-type').fill('');
    await waitForRows(page, 'every request of the last 5 minutes', newestFirst);
    assert.match(await page.getByTestId('requests-count').textContent(), /^5 requests$/);
    assert.equal(listCalls().length, callsBefore, 'client-side filters make no call');
    await page.getByTestId('filter-age').selectOption('');

    // Pages of two, loaded one after another through nextToken.
    await page.goto(`${server.url}/console#/requests?limit=2`);
    await waitForRows(page, 'the first page of two', newestFirst.slice(0, 2));
    for (let clicks = 0; await page.getByTestId('load-more').isVisible(); clicks += 1) {
      assert.ok(clicks < 5, 'load more ends');
      await page.getByTestId('load-more').click();
      await waitUntil(page, 'the next page', () => !document.querySelector('main').classList.contains('loading'));
    }
    await waitForRows(page, 'every page, in order, once', newestFirst);
    assert.ok(listCalls().some((parameters) => parameters.get('nextToken')), 'later pages pass nextToken');
    assert.equal(listCalls().at(-1).get('maxResults'), '2');

    // A link with filters in it opens filtered.
    await page.goto(`${server.url}/console#/requests?status=FAILED`);
    await waitForRows(page, 'the failed request from a link', [tokens.taken]);
    assert.ok(await page.getByTestId('filter-status-FAILED').locator('input').isChecked());
    await page.locator(`[data-testid="request-row"][data-token="${tokens.taken}"]`).getByTestId('request-link').click();
    await page.getByTestId('stream-state').filter({ hasText: 'Finished' }).waitFor();
    assert.equal(await requestStatus(page), FAILED);
    const failedFacts = await page.getByTestId('request-summary').textContent();
    assert.match(failedFacts, /AlreadyExists/);
    assert.match(failedFacts, /a bucket of that name exists/);
    const watchesOfFinished = record.requests.filter((request) => request.url.includes(`${encodeURIComponent(tokens.taken)}:watch`));
    assert.equal(watchesOfFinished.length, 0, 'a finished request is not watched');

    // A request that does not exist says so, with the server's reason.
    await page.goto(`${server.url}/console#/requests/00000000-0000-0000-0000-000000000000`);
    const notFound = page.getByTestId('error');
    await notFound.waitFor();
    assert.match(await notFound.textContent(), /Not found\..*was not found.*RequestTokenNotFoundException/);
    assert.equal(await page.getByTestId('timeline-event').count(), 0);

    // Change tokens by scope, from WAF Regional and global WAF. A change
    // uses a token (PENDING) and propagates (INSYNC) through the worker's
    // REST calls, the way a WAF change would: the console itself only reads.
    const regionalScope = { endpoint: 'WAF_ENDPOINT_REGIONAL', region: 'us-east-1' };
    const [pendingToken] = await aws([{ call: 'get-change-token', service: 'waf-regional' }]);
    await rest(server, 'POST', `/v1/change-tokens/${pendingToken.ChangeToken}:consume`, { scope: regionalScope, changeDescription: 'UpdateIPSet ipset-office' });
    const [insyncToken] = await aws([{ call: 'get-change-token', service: 'waf-regional' }]);
    await rest(server, 'POST', `/v1/change-tokens/${insyncToken.ChangeToken}:consume`, { scope: regionalScope, changeDescription: 'UpdateWebACL acl-edge' });
    await rest(server, 'POST', `/v1/change-tokens/${insyncToken.ChangeToken}:markInSync`, { scope: regionalScope });
    const [regional, global] = await aws([
      { call: 'get-change-token', service: 'waf-regional' },
      { call: 'get-change-token', service: 'waf' },
    ]);
    const regionalTokens = [regional.ChangeToken, insyncToken.ChangeToken, pendingToken.ChangeToken];
    const tokenRows = () => page.$$eval('[data-testid="change-token-row"]', (rows) => rows.map((row) => row.dataset.token));
    const waitForTokens = (what, wanted) => waitUntil(page, what, (tokens) => {
      const shown = [...document.querySelectorAll('[data-testid="change-token-row"]')].map((row) => row.dataset.token);
      return !document.querySelector('main').classList.contains('loading')
        && shown.length === tokens.length && tokens.every((token, index) => shown[index] === token);
    }, wanted);
    await page.getByTestId('nav-change-tokens').click();
    await waitForTokens('the regional tokens, newest first', regionalTokens);
    const regionalRow = page.locator(`[data-testid="change-token-row"][data-token="${regional.ChangeToken}"]`);
    assert.equal(await regionalRow.getAttribute('data-status'), 'CHANGE_TOKEN_STATUS_PROVISIONED');
    assert.match(await regionalRow.textContent(), /us-east-1/);
    const pendingRow = page.locator(`[data-testid="change-token-row"][data-token="${pendingToken.ChangeToken}"]`);
    assert.equal(await pendingRow.getAttribute('data-status'), 'CHANGE_TOKEN_STATUS_PENDING');
    assert.match(await pendingRow.textContent(), /UpdateIPSet ipset-office/);
    assert.equal(await page.locator(`[data-testid="change-token-row"][data-token="${insyncToken.ChangeToken}"]`).getAttribute('data-status'), 'CHANGE_TOKEN_STATUS_INSYNC');
    await page.waitForTimeout(800);
    await screenshot(page, 'console-change-tokens.png');
    assert.deepEqual(await tokenRows(), regionalTokens);
    assert.equal(await page.locator(`[data-testid="change-token-row"][data-token="${global.ChangeToken}"]`).count(), 0, 'a global token is not in the regional scope');
    const tokenCalls = () => record.requests.filter((request) => new URL(request.url).pathname === '/v1/change-tokens').map((request) => new URL(request.url).searchParams);
    assert.equal(tokenCalls().at(-1).get('scope.endpoint'), 'WAF_ENDPOINT_REGIONAL');
    assert.equal(tokenCalls().at(-1).get('scope.region'), 'us-east-1');
    await setChip(page, 'filter-status-INSYNC', true);
    await waitForTokens('the token in sync', [insyncToken.ChangeToken]);
    assert.deepEqual(tokenCalls().at(-1).getAll('statuses'), ['CHANGE_TOKEN_STATUS_INSYNC']);
    await setChip(page, 'filter-status-PENDING', true);
    await waitForTokens('the tokens pending or in sync', [insyncToken.ChangeToken, pendingToken.ChangeToken]);
    await setChip(page, 'filter-status-INSYNC', false);
    await setChip(page, 'filter-status-PENDING', false);
    await setChip(page, 'filter-status-PROVISIONED', true);
    await waitForTokens('the provisioned token', [regional.ChangeToken]);
    await setChip(page, 'filter-status-PROVISIONED', false);
    await waitForTokens('every regional token again', regionalTokens);
    await page.getByTestId('filter-endpoint-GLOBAL').click();
    await page.locator(`[data-testid="change-token-row"][data-token="${global.ChangeToken}"]`).waitFor();
    assert.equal(await regionalRow.count(), 0, 'the regional token is not in the global scope');
    assert.equal(tokenCalls().at(-1).get('scope.endpoint'), 'WAF_ENDPOINT_GLOBAL');
    await page.getByTestId('filter-endpoint-BOTH').click();
    await waitForTokens('the tokens of both endpoints', [global.ChangeToken, ...regionalTokens]);
    assert.equal(tokenCalls().at(-1).get('scope.endpoint'), null, 'both endpoints: none named');
    await page.getByTestId('filter-endpoint-REGIONAL').click();
    await page.locator(`[data-testid="change-token-row"][data-token="${global.ChangeToken}"]`).waitFor({ state: 'detached' });
    await regionalRow.waitFor();
    // Another region is another scope.
    await page.getByTestId('region-select').selectOption('eu-west-1');
    await page.getByTestId('change-tokens-empty').waitFor({ state: 'visible' });
    assert.equal(tokenCalls().at(-1).get('scope.region'), 'eu-west-1');
    await page.getByTestId('region-select').selectOption('us-east-1');
    await waitForTokens('the regional tokens of us-east-1 again', regionalTokens);

    // The region selector scopes the requests too.
    await page.getByTestId('nav-requests').click();
    await waitForRows(page, 'the requests of us-east-1', newestFirst);
    await page.getByTestId('region-select').selectOption('eu-west-1');
    await page.getByTestId('requests-empty').filter({ hasText: 'No resource requests in eu-west-1 yet' }).waitFor();
    assert.equal(listCalls().at(-1).get('region'), 'eu-west-1');
    await page.getByTestId('region-select').selectOption('us-east-1');
    await waitForRows(page, 'the requests of us-east-1 again', newestFirst);

    // No button or call of the console writes.
    const writes = record.requests.filter((request) => request.method !== 'GET').map((request) => `${request.method} ${request.url}`);
    assert.deepEqual(writes, [], 'the console only reads');

    // A phone: nothing scrolls sideways, on any view.
    const phone = await openPage(phoneContext);
    pages.push(phone.page);
    await phone.page.goto(`${server.url}/console#/requests`);
    await waitForRows(phone.page, 'the requests on a phone', newestFirst);
    await phone.page.getByTestId('health-ready').filter({ hasText: 'Ready' }).waitFor();
    await assertNoSidewaysScroll(phone.page, 'the requests list');
    await screenshot(phone.page, 'console-phone.png');
    await phone.page.locator(`[data-testid="request-row"][data-token="${tokens.watched}"]`).getByTestId('request-link').click();
    await phone.page.getByTestId('stream-state').filter({ hasText: 'Finished' }).waitFor();
    const models = phone.page.locator('details.model summary');
    if (await models.count()) await models.first().click();
    await assertNoSidewaysScroll(phone.page, 'a request');
    await phone.page.getByTestId('nav-change-tokens').click();
    await phone.page.locator(`[data-testid="change-token-row"][data-token="${regional.ChangeToken}"]`).waitFor();
    await assertNoSidewaysScroll(phone.page, 'the change tokens');

    // A dropped stream: the page reconnects with Last-Event-ID and the
    // timeline neither misses nor repeats an event.
    const network = await relay(server);
    try {
      const dropped = await openPage(context);
      pages.push(dropped.page);
      const [resumed] = await aws([{ call: 'create-resource', typeName: 'AWS::Logs::LogGroup', desiredState: { LogGroupName: 'console-resumed' } }]);
      const token = resumed.ProgressEvent.RequestToken;
      await dropped.page.goto(`${network.url}/console#/requests/${encodeURIComponent(token)}`);
      await dropped.page.getByTestId('stream-state').waitFor();
      await dropped.page.evaluate(() => {
        const element = document.querySelector('[data-testid="stream-state"]');
        window.streamStates = [element.dataset.state];
        new MutationObserver(() => window.streamStates.push(element.dataset.state)).observe(element, { attributes: true });
      });
      await waitUntil(dropped.page, 'IN_PROGRESS on a live stream', () =>
        document.querySelector('[data-testid="stream-state"]').dataset.state === 'live'
        && document.querySelector('[data-testid="timeline-event"][data-status="OPERATION_STATUS_IN_PROGRESS"]') !== null);
      const watchesBefore = dropped.record.requests.filter((request) => request.url.includes(':watch')).length;
      assert.ok(network.cutWatches() >= 1, 'a watch connection to drop');
      await waitUntil(dropped.page, 'the request to reach SUCCESS after the drop', () =>
        document.querySelector('[data-testid="request-status"] [data-status]')?.dataset.status === 'OPERATION_STATUS_SUCCESS', null, 30000);
      const watches = dropped.record.requests.filter((request) => request.url.includes(':watch'));
      assert.ok(watches.length > watchesBefore, 'the page watched again after the drop');
      assert.equal(watches[watchesBefore].headers['last-event-id'], '2', 'the new watch resumes after event 2');
      const states = await dropped.page.evaluate(() => window.streamStates);
      assert.ok(states.includes('reconnecting'), `the page said it was reconnecting (${states.join(' -> ')})`);
      const numbers = await dropped.page.$$eval('[data-testid="timeline-event"]', (items) => items.map((item) => Number(item.dataset.eventNumber)));
      assert.deepEqual(numbers, [1, 2, 3], 'every event once, in order');
      await dropped.page.getByTestId('stream-state').filter({ hasText: 'Finished' }).waitFor();
      record.errors.push(...dropped.record.errors);
    } finally {
      await network.close();
    }

    assert.deepEqual([...record.errors, ...phone.record.errors], [], 'no script errors');
  });
});

test('with --auth sigv4 the console asks for a credential, then works with it', { timeout: 180000 }, async () => {
  const prepared = await prepareServer({ credentialsKey: randomBytes(32).toString('base64') });
  const credential = JSON.parse(await statusgate(prepared, ['credentials', 'create', '--account', ACCOUNT, '--role', 'client']));
  assert.match(credential.AccessKeyId, /^SGAK/);
  const server = await startServer(prepared, { auth: 'sigv4' });
  const aws = awsClient(server, { accessKeyId: credential.AccessKeyId, secretAccessKey: credential.SecretAccessKey });
  const context = await browser.newContext({ viewport: LAPTOP });
  const pages = [];
  await scenario('--auth sigv4', server, () => pages, async () => {
    const [token] = await aws([{ call: 'get-change-token', service: 'waf-regional' }]);
    const { page, record } = await openPage(context);
    pages.push(page);

    // Without a credential: the form, and no data.
    await page.goto(`${server.url}/console#/requests`);
    await page.getByTestId('login').waitFor({ state: 'visible' });
    await page.getByTestId('signin-required').waitFor();
    assert.ok(record.responses.some((response) => new URL(response.url).pathname === '/v1/resource-requests' && response.status === 401),
      'the list was answered 401');
    await page.getByTestId('health-ready').filter({ hasText: 'Ready' }).waitFor();
    assert.ok(await page.getByTestId('identity').isHidden());

    // A wrong secret is refused and the form says so.
    await page.getByTestId('login-access-key-id').fill(credential.AccessKeyId);
    await page.getByTestId('login-secret').fill(`${credential.SecretAccessKey.slice(0, -4)}AAAA`);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').filter({ hasText: 'refused' }).waitFor();
    assert.ok(await page.getByTestId('login').isVisible());
    assert.ok(await page.getByTestId('signin-required').isVisible());

    // The right one: the list, with the Bearer header on its calls.
    await page.getByTestId('login-access-key-id').fill(credential.AccessKeyId);
    await page.getByTestId('login-secret').fill(credential.SecretAccessKey);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login').waitFor({ state: 'hidden' });
    await page.getByTestId('requests-empty').filter({ hasText: 'No resource requests in us-east-1 yet' }).waitFor();
    assert.equal(await page.getByTestId('identity').locator('#identity-key').textContent(), credential.AccessKeyId);
    const bearer = `Bearer ${credential.AccessKeyId}:${credential.SecretAccessKey}`;
    const listCall = record.requests.filter((request) => new URL(request.url).pathname === '/v1/resource-requests').at(-1);
    assert.equal(listCall.headers.authorization, bearer);

    // A request of the credential's account appears.
    const [created] = await aws([{ call: 'create-resource', typeName: 'AWS::Logs::LogGroup', desiredState: { LogGroupName: 'console-signed' } }]);
    const requestToken = created.ProgressEvent.RequestToken;
    await page.getByTestId('refresh').click();

    // The stream works with the credential too.
    await watchToTheEnd(page, record, requestToken, SUCCESS);
    const watchCall = record.requests.find((request) => request.url.includes(':watch'));
    assert.equal(watchCall.headers.authorization, bearer, 'the stream carries the credential');

    await page.getByTestId('nav-change-tokens').click();
    await page.locator(`[data-testid="change-token-row"][data-token="${token.ChangeToken}"]`).waitFor();

    // Kept in memory only: nothing in storage, cookies or the address.
    const stored = await page.evaluate(() => ({
      local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, href: location.href,
    }));
    assert.deepEqual({ local: stored.local, session: stored.session, cookie: stored.cookie }, { local: 0, session: 0, cookie: '' });
    assert.ok(!stored.href.includes(credential.SecretAccessKey));
    assert.deepEqual(await context.cookies(), []);

    // A reload forgets it.
    await page.reload();
    await page.getByTestId('login').waitFor({ state: 'visible' });

    assert.deepEqual(record.errors, [], 'no script errors');
  });
});
