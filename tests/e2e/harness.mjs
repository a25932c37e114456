// harness.mjs - what every browser test of tests/e2e shares: the TAP
// reporter (check, note), polling (until), launching Debian's Chromium
// through playwright-core (never a downloaded browser) and the main wrapper
// that bails out past a time limit and ends with the summary line that
// scripts/test.sh counts. Each *.test.mjs imports it; run.sh runs one.

import {chromium} from 'playwright-core';

export const BASE = (process.env.TUTTI_URL || '').replace(/\/+$/, '');
export const ARTIFACTS = process.env.TUTTI_ARTIFACTS || '';
const CHROMIUM = process.env.TUTTI_CHROMIUM || '/usr/bin/chromium';

let count = 0;
let failed = 0;

/** Prints one TAP line (and diagnostics as comments); returns ok as a boolean. */
export function check(ok, description, diagnostics = '') {
	count++;
	if (!ok)
		failed++;
	console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${description}`);
	if (diagnostics)
		for (const line of String(diagnostics).split('\n'))
			console.log(`  # ${line}`);
	return !!ok;
}

export const note = (text) => console.log(`# ${text}`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile (0..1) of values by the nearest-rank rule; NaN when there are none. */
export function quantile(values, q) {
	if (!values.length)
		return NaN;
	const v = [...values].sort((a, b) => a - b);
	return v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)];
}

/** This process's clock in µs (monotonic, one timeline for every page). */
export const nodeNowUs = () => (performance.timeOrigin + performance.now()) * 1000;

/**
 * The offset of a page's own clock (window.tutti.clientNowUs, the clock of
 * the first_sample_client_us it reports) to nodeNowUs: the median offset of
 * the three probes with the lowest round trips among `probes` page.evaluate
 * calls ({offset_us, rtt_us: the lowest round trip}).
 */
export async function pageClockOffset(page, probes = 20) {
	const all = [];
	for (let i = 0; i < probes; i++) {
		const a = nodeNowUs();
		const v = await page.evaluate(() => window.tutti.clientNowUs());
		const b = nodeNowUs();
		all.push({rtt_us: b - a, offset_us: v - (a + b) / 2});
	}
	all.sort((x, y) => x.rtt_us - y.rtt_us);
	return {offset_us: quantile(all.slice(0, 3).map((x) => x.offset_us), 0.5), rtt_us: all[0].rtt_us};
}

/**
 * One REST call from a page in room `code` (api.js request with the room's
 * token from the page's store); path is relative to the room's ("" for the
 * room itself). Resolves with the body; rejects with the page's ApiError.
 */
export function roomRequest(page, code, method, path, {body, headers} = {}) {
	return page.evaluate(async ({c, m, p, b, h}) => {
		const api = await import('/js/api.js');
		const store = await import('/js/store.js');
		return api.request(m, `${api.roomPath(c)}${p}`, {body: b, headers: h, token: store.getToken(c)});
	}, {c: code, m: method, p: path, b: body, h: headers});
}

/**
 * Polls fn (async) until it returns a truthy value; returns that value, or
 * null after timeoutMs. A rejection counts as "not yet".
 */
export async function until(fn, timeoutMs, everyMs = 50) {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const value = await fn().catch(() => null);
		if (value)
			return value;
		if (Date.now() > end)
			return null;
		await sleep(everyMs);
	}
}

/**
 * Launches /usr/bin/chromium (TUTTI_CHROMIUM overrides) headless, with
 * audio allowed without a gesture and background timers not throttled.
 * The flags are given in full (new headless included); Playwright adds a
 * fresh temporary --user-data-dir of its own. The caller closes it.
 */
export function launch() {
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: false,
		args: [
			'--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--autoplay-policy=no-user-gesture-required',
			'--disable-background-timer-throttling', '--disable-renderer-backgrounding',
		],
		timeout: 30000,
	});
}

/**
 * Runs a test: body(browser) with a fresh browser, closed afterwards; an
 * exception is one failing check. Bails out past totalMs. Prints the plan
 * and "e2e: N passed, M failed", then exits 1 on any failure (or no check).
 */
export async function runTest(totalMs, body) {
	if (!BASE) {
		console.log('Bail out! TUTTI_URL is not set (the base URL of a running stack, e.g. http://127.0.0.1:8080)');
		process.exit(2);
	}
	const overall = setTimeout(() => {
		console.log(`Bail out! the test took longer than ${totalMs / 1000} s`);
		process.exit(1);
	}, totalMs);
	const started = Date.now();
	let browser;
	try {
		browser = await launch();
		note(`chromium ${browser.version()} against ${BASE}`);
		await body(browser);
	} catch (err) {
		check(false, 'the test ran to its end', err?.stack || String(err));
	} finally {
		await browser?.close().catch(() => {});
		clearTimeout(overall);
	}
	note(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
	console.log(`1..${count}`);
	console.log(`e2e: ${count - failed} passed, ${failed} failed`);
	process.exit(failed || count === 0 ? 1 : 0);
}
