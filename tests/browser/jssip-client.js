// A real browser as a SIP client of sipedge, for tests/ws.rs: JsSIP in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// registers over WSS with digest auth, then waits for MESSAGE requests.
//
// Usage: node jssip-client.js WSS_URL SIP_URI PASSWORD
// Prints one line per event on stdout, for the Rust test to read:
//   REGISTERED                 the edge answered 200 to the REGISTER
//   MESSAGE <body>             a MESSAGE from elsewhere reached the browser
//   FAIL <why>                 then exits 1 (registration failed, timeout, ...)
// and exits 0 after the first MESSAGE. Browser console goes to stderr.
//
// The jssip npm package ships CommonJS sources only (no dist/ bundle), so
// the page gets them bundled in memory by esbuild.

'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');

const [url, uri, password] = process.argv.slice(2);
const LIMIT_MS = Number(process.env.JSSIP_TEST_TIMEOUT_MS || 60000);

function say(line) {
  process.stdout.write(line.replace(/[\r\n]+/g, ' ') + '\n');
}

async function main() {
  if (!url || !uri || !password) {
    say('FAIL usage: node jssip-client.js WSS_URL SIP_URI PASSWORD');
    return 1;
  }
  const bundle = esbuild.buildSync({
    entryPoints: [require.resolve('jssip/lib/JsSIP.js')],
    bundle: true,
    format: 'iife',
    globalName: 'JsSIP',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'error',
  }).outputFiles[0].text;

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sipedge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--ignore-certificate-errors',
    ],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`[browser error] ${e}\n`));
    let done;
    const finished = new Promise((resolve) => (done = resolve));
    await page.exposeFunction('report', (line) => {
      say(line);
      if (line.startsWith('MESSAGE ')) done(0);
      if (line.startsWith('FAIL ')) done(1);
    });
    await page.setContent('<!doctype html><title>sipedge JsSIP test</title>');
    await page.addScriptTag({ content: bundle });
    await page.evaluate(({ url, uri, password }) => {
      const ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(url)],
        uri,
        password,
        register: true,
        register_expires: 300,
        session_timers: false,
        connection_recovery_min_interval: 1,
        connection_recovery_max_interval: 2,
      });
      ua.on('registered', () => window.report('REGISTERED'));
      ua.on('registrationFailed', (e) => window.report(`FAIL registration: ${e.cause} ${e.response ? e.response.status_code : ''}`));
      ua.on('newMessage', (e) => {
        if (e.originator === 'remote') window.report(`MESSAGE ${e.request.body}`);
      });
      ua.start();
    }, { url, uri, password });
    const timeout = new Promise((resolve) => setTimeout(() => {
      say(`FAIL timeout after ${LIMIT_MS} ms`);
      resolve(1);
    }, LIMIT_MS));
    return await Promise.race([finished, timeout]);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say(`FAIL ${e && e.message ? e.message : e}`);
    process.exit(1);
  },
);
