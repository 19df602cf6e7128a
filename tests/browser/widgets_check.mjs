// Real-browser check of the widgets chapter: start JupyterLab headless, open nbs/10_widgets.ipynb in headless Chromium,
// run all cells, wait for the widgets, screenshot, move the τ slider of the reliability explorer with the keyboard,
// screenshot again, check that the view changed, shut everything down.
//
// Setup (once):  apt-get install -y chromium;  cd tests/browser && npm install   (playwright-core: downloads no browser)
// Run (from the repository root):  nice -n 5 node tests/browser/widgets_check.mjs [--out docs/screenshots] [--timeout 900]
// Environment: CHROMIUM (default /usr/bin/chromium), JUPYTER (default .venv/bin/jupyter), NOTEBOOK (default nbs/10_widgets.ipynb).
// The notebook is copied to a temporary folder and run there: the repository's copy is never modified.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const outDir = path.resolve(repo, arg('out', 'docs/screenshots'));
const timeoutS = Number(arg('timeout', '900'));
const notebook = path.resolve(repo, process.env.NOTEBOOK ?? 'nbs/10_widgets.ipynb');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const jupyter = path.resolve(repo, process.env.JUPYTER ?? '.venv/bin/jupyter');
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

function fail(msg) { console.error(`FAILED: ${msg}`); process.exitCode = 1; throw new Error(msg); }

for (const [what, p] of [['chromium', chromiumPath], ['jupyter', jupyter], ['notebook', notebook]])
  if (!fs.existsSync(p)) { console.error(`missing ${what}: ${p}`); process.exit(2); }

const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer(); srv.unref(); srv.on('error', reject);
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

async function waitForServer(url, proc, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) fail(`jupyter lab exited with code ${proc.exitCode}`);
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    await new Promise(r => setTimeout(r, 500));
  }
  fail(`jupyter lab did not answer at ${url} within ${ms / 1000}s`);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hlgfa-browser-'));
const nbName = path.basename(notebook);
fs.copyFileSync(notebook, path.join(work, nbName));
const token = crypto.randomBytes(16).toString('hex');
// no "get notified about Jupyter news?" toast over the screenshots
const noNews = path.join(work, 'settings', '@jupyterlab', 'apputils-extension');
fs.mkdirSync(noNews, { recursive: true });
fs.writeFileSync(path.join(noNews, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const jlog = fs.openSync(path.join(work, 'jupyter.log'), 'w');
const asRoot = process.getuid?.() === 0 ? ['--allow-root'] : [];   // containers often run as root
const lab = spawn(jupyter, ['lab', '--no-browser', ...asRoot, `--port=${port}`, '--ip=127.0.0.1', `--IdentityProvider.token=${token}`,
  '--LabApp.extension_manager=readonly',
  `--ServerApp.root_dir=${work}`, '--ServerApp.port_retries=0', `--LabApp.workspaces_dir=${work}/workspaces`,
  `--LabApp.user_settings_dir=${work}/settings`, '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
  { cwd: work, stdio: ['ignore', jlog, jlog], env: { ...process.env, JUPYTER_RUNTIME_DIR: `${work}/runtime` } });
let context;
try {
  log(`jupyter lab on ${base} (log: ${work}/jupyter.log)`);
  await waitForServer(`${base}/api/status?token=${token}`, lab, 90_000);
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: chromiumPath, headless: true, viewport: { width: 1800, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(`${base}/lab/tree/${nbName}?token=${token}`);
  await page.locator('.jp-Notebook').first().waitFor();
  await page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"], #jp-main-statusbar >> text=Idle').first()
    .waitFor({ timeout: 120_000 }).catch(() => log('kernel status not seen as idle; running anyway'));
  log('running all cells');
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
  // done when no cell shows the busy prompt [*] and at least one cell has run
  const t0 = Date.now();
  await page.waitForFunction(() => {
    const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(e => e.textContent);
    return prompts.some(p => /\[\d+\]/.test(p)) && !prompts.some(p => p.includes('*'));
  }, null, { timeout: timeoutS * 1000, polling: 1000 });
  log(`all cells ran in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  const errors = await page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] >> text=Traceback').count();
  if (errors) fail(`${errors} cell(s) raised an exception; see the notebook in ${work}`);

  // the reliability explorer: the widget box that holds a slider labelled τ
  const tau = page.locator('.widget-slider', { has: page.locator('.widget-label', { hasText: 'τ' }) }).first();
  await tau.waitFor({ timeout: 60_000 });
  const explorer = page.locator('.widget-vbox', { has: tau }).last();
  await explorer.scrollIntoViewIfNeeded();
  const view = explorer.locator('.widget-image').first();
  await view.waitFor();
  fs.mkdirSync(outDir, { recursive: true });
  const before = path.join(outDir, 'widgets_reliability_before.png'), after = path.join(outDir, 'widgets_reliability_after.png');
  const readout = async () => (await tau.locator('.widget-readout').textContent()).trim();
  const tauBefore = await readout(), srcBefore = await view.getAttribute('src');
  await explorer.screenshot({ path: before });
  log(`screenshot ${before} (τ = ${tauBefore})`);

  const handle = tau.locator('.noUi-handle').first();
  await handle.focus();
  for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight');   // 8 steps of 0.001 up from the calibrated τ
  // each key press is one kernel update: wait until the view has changed and then stayed the same for 5 s
  await page.waitForFunction(([el, src]) => el.getAttribute('src') !== src, [await view.elementHandle(), srcBefore],
                             { timeout: 60_000 });
  for (let last = null, since = Date.now(), end = Date.now() + 180_000; Date.now() < end; await page.waitForTimeout(500)) {
    const src = await view.getAttribute('src');
    if (src !== last) { last = src; since = Date.now(); } else if (Date.now() - since > 5_000) break;
  }
  const tauAfter = await readout();
  await explorer.screenshot({ path: after });
  log(`screenshot ${after} (τ = ${tauAfter})`);
  if (tauAfter === tauBefore) fail(`the τ slider did not move (still ${tauAfter})`);
  if (Buffer.compare(fs.readFileSync(before), fs.readFileSync(after)) === 0) fail('the two screenshots are identical');

  // the anomaly-map explorer, for the docs
  const thr = page.locator('.widget-slider', { has: page.locator('.widget-label', { hasText: 'threshold' }) }).first();
  const maps = page.locator('.widget-vbox', { has: thr }).last();
  await maps.scrollIntoViewIfNeeded();
  await maps.screenshot({ path: path.join(outDir, 'widgets_maps.png') });
  log(`screenshot ${path.join(outDir, 'widgets_maps.png')}`);
  log('PASSED: widgets rendered, the slider moved, the view changed');
} finally {
  if (context) await context.close().catch(() => {});
  await fetch(`${base}/api/shutdown?token=${token}`, { method: 'POST' }).catch(() => {});
  await new Promise(r => { const k = setTimeout(() => { lab.kill('SIGKILL'); r(); }, 10_000); lab.on('exit', () => { clearTimeout(k); r(); }); if (lab.exitCode !== null) { clearTimeout(k); r(); } });
  if (process.exitCode) log(`kept ${work} for inspection`); else fs.rmSync(work, { recursive: true, force: true });
}
