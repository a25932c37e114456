// sync.test.mjs - the browser end-to-end test of tutti: two isolated pages in
// one room (alice creates it, bob follows the share link) must schedule the
// same song at the same instant. Runs headless Chromium through playwright-core
// against a stack the caller started: TUTTI_URL=http://127.0.0.1:PORT.
// Screenshots go to $TUTTI_ARTIFACTS when set. Prints TAP; exits 1 on a failure.

import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

const BASE = (process.env.TUTTI_URL || '').replace(/\/+$/, '');
const ARTIFACTS = process.env.TUTTI_ARTIFACTS || '';
const CHROMIUM = process.env.TUTTI_CHROMIUM || '/usr/bin/chromium';
const SKEW_LIMIT_US = 20000;
const EARLY_LIMIT_US = 5000;
const STEP_MS = 15000;           // the longest one step may wait
const TOTAL_MS = 120000;         // the whole run

let count = 0;
let failed = 0;

function check(ok, description, diagnostics = '') {
	count++;
	if (!ok)
		failed++;
	console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${description}`);
	if (diagnostics)
		for (const line of String(diagnostics).split('\n'))
			console.log(`  # ${line}`);
	return ok;
}

const note = (text) => console.log(`# ${text}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls fn until it returns a truthy value; returns it, or null after timeoutMs. */
async function until(fn, timeoutMs = STEP_MS, everyMs = 50) {
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

const stats = (page) => page.evaluate(() => window.tutti.syncStats());

async function launch() {
	return chromium.launch({
		executablePath: CHROMIUM,
		// The flags are given in full (new headless included); Playwright
		// adds a fresh temporary --user-data-dir of its own.
		headless: false,
		args: [
			'--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--autoplay-policy=no-user-gesture-required',
		],
		timeout: 30000,
	});
}

/** A page in its own browser context (own storage), with its errors collected. */
async function openPage(browser, who, viewport) {
	const context = await browser.newContext({viewport});
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	const errors = [];
	page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() === 'error')
			errors.push(`${who} console: ${msg.text()}`);
	});
	return {page, errors, who};
}

async function userCount(page) {
	return page.locator('#users li').count();
}

async function run(browser) {
	const alice = await openPage(browser, 'alice', {width: 1280, height: 860});
	const bob = await openPage(browser, 'bob', {width: 360, height: 780});
	const A = alice.page;
	const B = bob.page;

	// alice creates a room.
	await A.goto(`${BASE}/`);
	await A.fill('#create-name', 'alice');
	await A.click('#create-btn');
	const code = await until(async () => {
		if (await A.isVisible('#room'))
			return (await A.textContent('#room-code'))?.trim();
		const error = await A.isVisible('#error') ? await A.textContent('#error') : '';
		if (error)
			throw new Error(error);
		return null;
	});
	if (!check(/^[2-9A-HJKMNP-Z]{5}$/.test(code || ''), `alice creates a room (code ${code})`,
		code ? '' : `error shown: ${await A.textContent('#error').catch(() => '?')}`))
		return;
	check(new URL(A.url()).pathname === `/r/${code}`, 'alice is at the share link /r/CODE', A.url());

	// bob opens the share link and joins.
	await B.goto(`${BASE}/r/${code}`);
	await B.waitForSelector('#join-code');
	check(await B.inputValue('#join-code') === code, 'the share link fills in the room code for bob');
	await B.fill('#join-name', 'bob');
	await B.click('#join-btn');
	const bobIn = await until(async () => B.isVisible('#room'));
	if (!check(!!bobIn, 'bob joins through the share link',
		bobIn ? '' : `error shown: ${await B.textContent('#error').catch(() => '?')}`))
		return;

	for (const {page, who} of [alice, bob]) {
		const two = await until(async () => (await userCount(page)) === 2);
		check(!!two, `${who} sees 2 users`, two ? '' : `users listed: ${await userCount(page)}`);
	}
	for (const {page, who} of [alice, bob]) {
		const items = await until(async () => page.locator('#playlist li').count());
		check(items > 0, `${who} sees the playlist (${items ?? 0} items)`);
	}
	for (const {page, who} of [alice, bob]) {
		const s = await until(async () => {
			const st = await stats(page);
			return st.connection === 'live' && st.samples >= 8 && st.audio === 'running' ? st : null;
		});
		check(!!s, `${who} is live with a clock estimate and running audio`, s ?
			`offset ${s.offset_us} µs ± ${s.uncertainty_us} µs, rtt ${s.rtt_us} µs, ${s.samples} samples, relay ${s.relay}` :
			JSON.stringify(await stats(page)));
	}

	// alice presses play: both must schedule the same anchor at the same instant.
	await A.click('#btn-play');
	const pair = await until(async () => {
		const [a, b] = await Promise.all([stats(A), stats(B)]);
		const la = a.lastSchedule;
		const lb = b.lastSchedule;
		return la && lb && la.item_id === lb.item_id && la.at_us === lb.at_us ? [a, b] : null;
	});
	if (!check(!!pair, 'both pages schedule the same item at the same at_us',
		pair ? '' : `alice ${JSON.stringify((await stats(A)).lastSchedule)}\nbob ${JSON.stringify((await stats(B)).lastSchedule)}\n` +
			`error shown: ${await A.textContent('#error').catch(() => '')}`))
		return;
	// Compare what is actually heard: read the schedules again once at_us has
	// passed, after each page's last chance to re-place its start.
	const heardBy = pair[0].lastSchedule.at_us + 150000;
	await until(async () => (await stats(A)).server_now_us > heardBy);
	const [sa, sb] = await Promise.all([stats(A), stats(B)]);
	const la = sa.lastSchedule;
	const lb = sb.lastSchedule;
	note(`anchor: item ${la.item_id} track ${la.track_id} at ${la.at_us} µs, position ${la.position_us} µs`);
	for (const [who, st] of [['alice', sa], ['bob', sb]]) {
		const l = st.lastSchedule;
		note(`${who}: late by ${l.late_us} µs, start_server_us - at_us = ${l.start_server_us - l.at_us} µs, ` +
			`start_client_us ${l.start_client_us}, mapping ${l.mapping}; clock offset ${st.offset_us} ` +
			`± ${st.uncertainty_us} µs (rtt ${st.rtt_us} µs, ${st.samples} samples)`);
	}
	for (const [who, l] of [['alice', la], ['bob', lb]])
		check(l.received_us < l.at_us, `${who} got the anchor while at_us was still ahead`,
			`received ${((l.at_us - l.received_us) / 1000).toFixed(1)} ms before at_us (server time, by this page's clock)`);
	for (const [who, l] of [['alice', la], ['bob', lb]])
		check(l.start_server_us >= l.at_us - EARLY_LIMIT_US, `${who} does not start before at_us (by > 5 ms)`,
			`start_server_us - at_us = ${l.start_server_us - l.at_us} µs`);
	const skew = Math.abs(la.start_server_us - lb.start_server_us);
	check(skew < SKEW_LIMIT_US, `|alice.start_server_us - bob.start_server_us| < 20 ms (measured ${(skew / 1000).toFixed(3)} ms)`);
	// Both pages run on this machine, so their own clocks agree: this compares
	// the instants they will play at without going through their offset estimates.
	const localSkew = Math.abs(la.start_client_us - lb.start_client_us);
	check(localSkew < SKEW_LIMIT_US, `the same instant on the shared local clock: ${(localSkew / 1000).toFixed(3)} ms apart`);

	for (const {page, who} of [alice, bob]) {
		const ok = await until(async () => (await page.textContent('#np-state'))?.startsWith('Playing') ||
			(await page.textContent('#np-state'))?.startsWith('Starting'));
		check(!!ok, `${who} shows the room playing`);
	}

	// Let a few beacons arrive: they must not knock a source off its schedule.
	await sleep(2500);
	for (const {page, who} of [alice, bob]) {
		const s = await stats(page);
		check(s.resyncs === 0, `${who} needed no hard resync while playing`, `resyncs ${s.resyncs}`);
	}

	// alice pauses: both show paused.
	const pauseLabel = await A.getAttribute('#btn-play', 'aria-label');
	check(pauseLabel === 'Pause', 'the play button turned into Pause', `aria-label ${pauseLabel}`);
	await A.click('#btn-play');
	for (const {page, who} of [alice, bob]) {
		const ok = await until(async () => (await stats(page)).state === 'paused' &&
			(await page.textContent('#np-state')) === 'Paused');
		check(!!ok, `${who} shows paused`, ok ? '' : `state ${(await stats(page)).state}`);
	}

	if (ARTIFACTS) {
		mkdirSync(ARTIFACTS, {recursive: true});
		for (const {page, who} of [alice, bob]) {
			// The whole page, laid out at its own width (a fullPage capture
			// crops by the scrollbar's width instead).
			const {width} = page.viewportSize();
			const height = await page.evaluate(() => document.documentElement.scrollHeight);
			await page.setViewportSize({width, height});
			await page.screenshot({path: join(ARTIFACTS, `e2e-${who}.png`)});
		}
		note(`screenshots in ${ARTIFACTS}`);
	}

	const errors = [...alice.errors, ...bob.errors];
	check(errors.length === 0, 'no page errors', errors.join('\n'));
}

async function main() {
	if (!BASE) {
		console.log('Bail out! TUTTI_URL is not set (the base URL of a running stack, e.g. http://127.0.0.1:8080)');
		process.exit(2);
	}
	note(`against ${BASE}`);
	const overall = setTimeout(() => {
		console.log(`Bail out! the test took longer than ${TOTAL_MS / 1000} s`);
		process.exit(1);
	}, TOTAL_MS);
	let browser;
	try {
		browser = await launch();
		note(`chromium ${browser.version()}`);
		await run(browser);
	} catch (err) {
		check(false, 'the test ran to its end', err?.stack || String(err));
	} finally {
		await browser?.close().catch(() => {});
		clearTimeout(overall);
	}
	console.log(`1..${count}`);
	console.log(`e2e: ${count - failed} passed, ${failed} failed`);
	process.exit(failed || count === 0 ? 1 : 0);
}

main();
