// room.test.mjs - the browser end-to-end test of tutti's room page (issue 6):
// several isolated pages in one room. alice creates it (room name, public,
// policy admin), bob follows the share link, carol picks it from the live
// public list; playback (play, pause, ±10 s, the seek bar, next, choosing an
// item, stop), the policy's disabled controls, the admin's reorder (buttons,
// drag and drop, a stale If-Match), removal of an item, settings seen by the
// others, reconnection and a seq gap, keyboard shortcuts and the ? dialog,
// hand-over, the admin leaving and a promotion, removing a user, closing the
// room, markup payloads shown as text, the theme toggle, and screenshots of
// the room at 1280x800 and 360x740 in light and dark into $TUTTI_ARTIFACTS.
// Runs headless Debian Chromium through playwright-core against a stack the
// caller started (TUTTI_URL). Prints TAP; exits 1 on a failure.

import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {ARTIFACTS, BASE, check, note, runTest, until as waitFor} from './harness.mjs';

const STEP_MS = 15000;           // the longest one step may wait
const PROMOTION_MS = 30000;      // the worker's grace period (default 5 s) and its sweep
const TOTAL_MS = 170000;         // the whole run

/** Polls fn until it returns a truthy value (harness.mjs until) with this test's step limit. */
const until = (fn, timeoutMs = STEP_MS, everyMs = 50) => waitFor(fn, timeoutMs, everyMs);

const ROOM_PAYLOAD = '<img src=x onerror="window.__pwned=1">';
const CAROL = '<script>__pwned=2</script>';

const T0 = Date.now();
const section = (name) => note(`${name} (at ${((Date.now() - T0) / 1000).toFixed(1)} s)`);

/**
 * Runs in every page before its own scripts: keeps the page's WebSockets
 * (so the test can drop one and hold reconnection), records every text of
 * the live region, and the theme in effect when <body> first appears.
 */
function instrument() {
	const Native = window.WebSocket;
	window.__ws = [];
	window.__wsBlock = false;
	window.WebSocket = class extends Native {
		constructor(...args) {
			if (window.__wsBlock)
				throw new Error('blocked by the test');
			super(...args);
			window.__ws.push(this);
		}
	};
	window.__announced = [];
	window.__themeAtBody = null;
	new MutationObserver((records, obs) => {
		if (document.body && window.__themeAtBody === null) {
			window.__themeAtBody = document.documentElement.dataset.theme ?? '';
			obs.disconnect();
		}
	}).observe(document, {childList: true, subtree: true});
	document.addEventListener('DOMContentLoaded', () => {
		const live = document.getElementById('announcer');
		if (live)
			new MutationObserver(() => {
				if (live.textContent)
					window.__announced.push(live.textContent);
			}).observe(live, {childList: true, characterData: true, subtree: true});
	});
}

/** A page in its own browser context (own storage), with its errors collected. */
async function openPage(browser, who, viewport, colorScheme) {
	const context = await browser.newContext({viewport, colorScheme});
	await context.addInitScript(instrument);
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	const errors = [];
	const controls = [];
	page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
	page.on('dialog', (d) => {
		errors.push(`${who}: a native ${d.type()} dialog: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
	page.on('console', (msg) => {
		// Refused requests (401 after a removal, the provoked 412) are logged
		// by the browser itself; anything else is the page's fault.
		if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text()))
			errors.push(`${who} console: ${msg.text()}`);
	});
	page.on('request', (req) => {
		if (req.method() === 'POST' && /\/api\/rooms\/[^/]+\/control$/.test(new URL(req.url()).pathname))
			controls.push(req.postDataJSON());
	});
	return {page, errors, who, controls};
}

const visible = (page, sel) => page.isVisible(sel);
const text = async (page, sel) => ((await page.textContent(sel)) ?? '').trim();
const bannerText = async (page) => (await visible(page, '#error')) ? text(page, '#error-text') : '';
const state = (page) => page.evaluate(() => window.tutti.syncStats().state);
const itemIds = (page) => page.$$eval('#playlist li[data-item]', (lis) => lis.map((li) => Number(li.dataset.item)));
const currentItem = (page) => page.$eval('#playlist li.current', (li) => Number(li.dataset.item)).catch(() => null);
const seekValue = (page) => page.$eval('#seek', (s) => s.valueAsNumber);
const userId = (page, name) => page.$$eval('#users li[data-user]', (lis, n) => {
	const li = lis.find((x) => x.querySelector('.name')?.textContent === n);
	return li ? Number(li.dataset.user) : null;
}, name);
const announced = (page, re) => page.evaluate((src) => window.__announced.some((t) => new RegExp(src).test(t)), re.source);

/** Waits until the page's paused position is about want seconds (the seek bar). */
async function positionNear(page, want, tol = 0.6) {
	return until(async () => {
		const v = await seekValue(page);
		return (await state(page)) !== 'playing' && Math.abs(v - want) <= tol ? {v} : null;
	});
}

/** Whole-page screenshot at the page's own width, then the viewport as it was. */
async function screenshot(page, name) {
	if (!ARTIFACTS)
		return;
	mkdirSync(ARTIFACTS, {recursive: true});
	const size = page.viewportSize();
	const height = await page.evaluate(() => document.documentElement.scrollHeight);
	await page.setViewportSize({width: size.width, height: Math.max(size.height, height)});
	await page.screenshot({path: join(ARTIFACTS, `room-${name}.png`)});
	await page.setViewportSize(size);
}

async function run(browser) {
	const alice = await openPage(browser, 'alice', {width: 1280, height: 800}, 'light');
	const bob = await openPage(browser, 'bob', {width: 360, height: 740}, 'dark');
	const carol = await openPage(browser, 'carol', {width: 1000, height: 800}, 'light');
	const A = alice.page;
	const B = bob.page;
	const C = carol.page;
	const all = [alice, bob, carol];

	section('Landing: alice creates a named, public room with policy admin.');
	await A.goto(`${BASE}/`);
	check(await visible(A, '#public-rooms'), 'the landing shows the public rooms list');
	await A.fill('#create-name', 'alice');
	await A.fill('#create-room-name', ROOM_PAYLOAD);
	await A.check('input[name=visibility][value=public]');
	await A.check('input[name=policy][value=admin]');
	await A.click('#create-btn');
	const code = await until(async () => {
		if (await visible(A, '#room'))
			return text(A, '#room-code');
		const error = await bannerText(A);
		if (error)
			throw new Error(error);
		return null;
	});
	if (!check(/^[2-9A-HJKMNP-Z]{5}$/.test(code || ''), `alice creates a room (code ${code})`,
		`banner: ${await bannerText(A)}`))
		return;
	check(new URL(A.url()).pathname === `/r/${code}`, 'alice is at the share link /r/CODE', A.url());
	check(await A.inputValue('#share-link') === `${BASE}/r/${code}`, 'the share link shown is BASE/r/CODE');
	const titleOk = await until(async () => (await text(A, '#room-name')) === ROOM_PAYLOAD);
	check(titleOk, 'the room name with markup shows as plain text', await text(A, '#room-name'));
	check(await A.locator('#room-title img').count() === 0, 'no element was made from the room name');
	check(await until(async () => visible(A, '#admin-panel')), 'alice (admin) sees the admin panel');
	check(/public/i.test(await text(A, '#room-facts')) && /admin controls/.test(await text(A, '#room-facts')),
		'the room is shown public, with the admin controlling playback', await text(A, '#room-facts'));

	section('bob opens the share link.');
	await B.goto(`${BASE}/r/${code}`);
	await B.waitForSelector('#join-code');
	check(await B.inputValue('#join-code') === code, 'the share link fills in the room code');
	await B.fill('#join-name', 'bob');
	await B.click('#join-btn');
	if (!check(await until(async () => visible(B, '#room')), 'bob joins through the share link', await bannerText(B)))
		return;
	check(new URL(B.url()).pathname === `/r/${code}`, 'bob is at /r/CODE');
	check(await until(async () => (await text(B, '#room-name')) === ROOM_PAYLOAD), 'bob sees the room name as text');
	check(!(await visible(B, '#admin-panel')), 'bob (member) does not see the admin panel');
	const memberLocked = await until(async () => (await B.isDisabled('#btn-play')) && (await B.isDisabled('#btn-next')) &&
		(await B.isDisabled('#btn-fwd10')) && (await visible(B, '#controls-note')));
	check(memberLocked, 'under policy admin bob\'s playback buttons are disabled, with the reason shown',
		await text(B, '#controls-note').catch(() => ''));
	check(await B.isDisabled('#seek') && /admin/.test(await text(B, '#seek-help')),
		'bob\'s seek bar is disabled with an explanation', await text(B, '#seek-help'));
	await B.click('#now-title');
	await B.keyboard.press('Space');
	check(await until(async () => /Only the admin controls playback/.test(await bannerText(B))) &&
		(await B.getAttribute('#error', 'role')) === 'alert' && bob.controls.length === 0,
	'Space from bob explains the policy in an alert instead of sending a command', await bannerText(B));
	await B.click('#error-close');

	section('carol: the live list of public rooms, the name prompt.');
	await C.goto(`${BASE}/`);
	const listed = await until(async () => {
		const row = C.locator(`#public-list li[data-code="${code}"]`);
		return (await row.count()) && /2 listeners/.test(await row.textContent()) ? row : null;
	});
	check(listed, 'carol\'s landing lists the public room with 2 listeners',
		await C.textContent('#public-list').catch(() => ''));
	check(listed && (await listed.locator('.room-name').textContent()) === ROOM_PAYLOAD &&
		(await C.locator('#public-list img').count()) === 0, 'the listed room name is plain text');
	// A room made meanwhile appears without reloading the page.
	const made = await fetch(`${BASE}/api/rooms`, {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({name: 'zed', room_name: 'Late night', public: true})}).then((r) => r.json());
	check(await until(async () => C.locator(`#public-list li[data-code="${made.code}"]`).count()),
		'the public list refreshes by itself: a new room appears', JSON.stringify(made));
	await listed.locator('button').click();
	check(await until(async () => C.evaluate(() => document.getElementById('name-dialog').open)),
		'joining from the list asks for a name in a dialog');
	await C.fill('#name-dialog-input', CAROL);
	await C.click('#name-dialog-ok');
	check(await until(async () => visible(C, '#room')), 'carol joins from the public list', await bannerText(C));

	for (const {page, who} of all) {
		const three = await until(async () => (await page.locator('#users li').count()) === 3);
		check(three, `${who} sees 3 people`, `listed: ${await page.locator('#users li').count()}`);
	}
	for (const {page, who} of [alice, bob]) {
		const id = await until(async () => userId(page, CAROL));
		check(id && (await page.locator('#users script').count()) === 0,
			`${who} shows carol's <script> name as text, nothing made of it`);
	}
	const adminBadge = await B.$$eval('#users li', (lis) => lis.map((li) =>
		`${li.querySelector('.name').textContent}:${li.querySelector('.badge')?.textContent ?? ''}`));
	check(adminBadge.includes('alice:admin') && adminBadge.filter((x) => x.endsWith(':admin')).length === 1,
		'exactly alice carries the admin badge', adminBadge.join(', '));
	check(await until(async () => /listening/.test(await text(A, '#listener-count'))),
		'the listener count is shown', await text(A, '#listener-count'));
	check(await until(async () => announced(A, /joined/)), 'joins are announced in the live region');

	const ids = await itemIds(A);
	if (!check(ids.length >= 3, `the playlist has the demo library's items (${ids.length})`))
		return;
	for (const {page, who} of all)
		check(await until(async () => (await state(page)) === 'stopped' && (await page.evaluate(() => window.tutti.syncStats().connection)) === 'live'),
			`${who} is live, the room stopped`);

	section('Playback: play, pause, ±10 s, the seek bar, next, choosing an item, stop.');
	await A.click('#btn-play');
	for (const {page, who} of all)
		check(await until(async () => (await state(page)) === 'playing' && /^(Playing|Starting)/.test(await text(page, '#np-state'))),
			`${who} shows the room playing`);
	check(await currentItem(B) === ids[0], 'the playing item is marked in bob\'s playlist');
	check(await A.getAttribute('#btn-play', 'aria-label') === 'Pause', 'the play button turned into Pause');
	await A.click('#btn-play');
	for (const {page, who} of all)
		check(await until(async () => (await state(page)) === 'paused' && (await text(page, '#np-state')) === 'Paused'),
			`${who} shows paused`);
	const p0 = await seekValue(B);
	await A.click('#btn-fwd10');
	check(await positionNear(B, p0 + 10), `+10 s moves bob's position from ${p0.toFixed(1)} s to ${(p0 + 10).toFixed(1)} s`,
		`seek bar at ${await seekValue(B)}`);
	await A.click('#btn-back10');
	check(await positionNear(B, p0), '−10 s moves it back', `seek bar at ${await seekValue(B)}`);
	check(alice.controls.some((c) => c.action === 'seek' && c.offset_us === 10e6) &&
		alice.controls.some((c) => c.action === 'seek' && c.offset_us === -10e6), '±10 s are relative seeks (offset_us)');
	await A.locator('#seek').fill('15');
	check(await positionNear(B, 15), 'alice\'s seek bar puts everyone at 0:15', `bob's bar at ${await seekValue(B)}`);
	check(alice.controls.some((c) => c.action === 'seek' && c.position_us === 15e6), 'the seek bar sends an absolute seek');
	await A.click('#btn-next');
	check(await until(async () => (await currentItem(B)) === ids[1]), 'next: bob\'s playlist marks the second item');
	await A.click(`#playlist li[data-item="${ids[2]}"] .item-play`);
	check(await until(async () => (await currentItem(C)) === ids[2] && (await state(C)) === 'playing'),
		'clicking the third item plays it for everyone');
	check(await until(async () => /Now playing/.test((await A.evaluate(() => window.__announced.join('|'))))),
		'the track change is announced');
	await A.focus(`#playlist li[data-item="${ids[0]}"] .item-play`);
	await A.keyboard.press('Enter');
	check(await until(async () => (await currentItem(B)) === ids[0]), 'Enter on the first item plays it');
	await A.click('#btn-stop');
	for (const {page, who} of [bob, carol])
		check(await until(async () => (await state(page)) === 'stopped'), `stop: ${who} shows stopped`);

	section('Keyboard shortcuts (alice; focus on the page itself).');
	await A.click('#now-title');
	await A.keyboard.press('Space');
	check(await until(async () => (await state(B)) === 'playing'), 'Space plays');
	await A.keyboard.press('Space');
	check(await until(async () => (await state(B)) === 'paused'), 'Space pauses');
	const k0 = await seekValue(B);
	await A.keyboard.press('ArrowRight');
	check(await positionNear(B, k0 + 5), '→ moves 5 s forward', `from ${k0} to ${await seekValue(B)}`);
	await A.keyboard.press('ArrowLeft');
	check(await positionNear(B, k0), '← moves 5 s back', `at ${await seekValue(B)}`);
	check(alice.controls.filter((c) => c.action === 'seek' && Math.abs(c.offset_us) === 5e6).length === 2,
		'the arrows send relative seeks of 5 s');
	const vol0 = Number(await A.inputValue('#volume'));
	await A.keyboard.press('ArrowDown');
	check(Number(await A.inputValue('#volume')) === vol0 - 10, `↓ lowers the volume (${vol0} → ${await A.inputValue('#volume')})`);
	await A.keyboard.press('ArrowUp');
	check(Number(await A.inputValue('#volume')) === vol0, '↑ raises it again');
	// Keys are left to fields: Space in the share link's field, arrows in the delay field.
	const sent = alice.controls.length;
	await A.focus('#share-link');
	await A.keyboard.press('Space');
	await A.focus('#delay');
	await A.keyboard.press('ArrowUp');
	check(await A.inputValue('#delay') === '1' && Number(await A.inputValue('#volume')) === vol0,
		'↑ in the delay field changes the field, not the volume');
	await A.fill('#delay', '0');
	await A.click('#now-title');
	await A.keyboard.press('Space');	// the one command that must go out
	await until(async () => alice.controls.length > sent);
	check(alice.controls.length === sent + 1 && alice.controls[sent].action === 'play',
		'Space in a text field sent no command', JSON.stringify(alice.controls.slice(sent)));
	await until(async () => (await state(B)) === 'playing');
	await A.click('#btn-play');
	await until(async () => (await state(B)) === 'paused');
	// ? opens the shortcuts dialog; Escape closes it and focus comes back.
	await A.focus('#copy-link');
	await A.keyboard.press('Shift+Slash');
	check(await until(async () => A.evaluate(() => document.getElementById('shortcuts-dialog').open)),
		'? opens the shortcuts dialog');
	check(await A.evaluate(() => document.getElementById('shortcuts-dialog').contains(document.activeElement)),
		'focus moves into the dialog');
	await A.keyboard.press('Escape');
	check(await until(async () => A.evaluate(() => !document.getElementById('shortcuts-dialog').open &&
		document.activeElement?.id === 'copy-link')), 'Escape closes it and focus returns to where it was');
	await A.click('#btn-shortcuts');
	check(await until(async () => A.evaluate(() => document.getElementById('shortcuts-dialog').open)),
		'the ? button opens it too');
	await A.click('#shortcuts-close');

	section('Calibration tick: a toggle next to the delay field.');
	await A.click('#btn-calibrate');
	check(await until(async () => (await A.getAttribute('#btn-calibrate', 'aria-pressed')) === 'true' &&
		A.evaluate(() => window.tutti.syncStats().calibrating === true)), 'the calibration tick turns on (aria-pressed, player)');
	await A.click('#btn-calibrate');
	check(await until(async () => (await A.getAttribute('#btn-calibrate', 'aria-pressed')) === 'false' &&
		A.evaluate(() => window.tutti.syncStats().calibrating === false)), 'and off again');

	section('Admin: reorder by button, by drag and drop, a stale version, removal.');
	await A.click(`#playlist li[data-item="${ids[0]}"] .move-down`);
	check(await until(async () => JSON.stringify((await itemIds(B)).slice(0, 2)) === JSON.stringify([ids[1], ids[0]])),
		'move down: bob sees the first two items swapped', JSON.stringify(await itemIds(B)));
	check(await A.evaluate(() => document.activeElement?.classList.contains('move-down') ||
		document.activeElement?.classList.contains('move-up')), 'focus stays on the moved item\'s buttons');
	const before = await itemIds(A);
	const last = before[before.length - 1];
	await A.locator(`#playlist li[data-item="${last}"]`).dragTo(A.locator(`#playlist li[data-item="${before[0]}"]`),
		{targetPosition: {x: 40, y: 3}});
	check(await until(async () => (await itemIds(B))[0] === last), 'drag and drop moves the last item to the top for bob',
		JSON.stringify(await itemIds(B)));
	await A.route('**/api/rooms/*/playlist', (route) => route.continue({headers: {...route.request().headers(), 'if-match': '"1"'}}));
	const order = await itemIds(A);
	await A.click(`#playlist li[data-item="${order[0]}"] .move-down`);
	const stale = await until(async () => /changed while you were editing/.test(await bannerText(A)) ? bannerText(A) : null);
	check(stale, 'a stale If-Match (412) is explained to the admin', await bannerText(A));
	await A.unroute('**/api/rooms/*/playlist');
	check(await until(async () => JSON.stringify(await itemIds(A)) === JSON.stringify(order)),
		'after the 412 the playlist shows the server\'s order again', JSON.stringify(await itemIds(A)));
	await A.click('#error-close');
	const victim = order[order.length - 1];
	await A.click(`#playlist li[data-item="${victim}"] .remove-item`);
	check(await until(async () => !(await itemIds(C)).includes(victim) && (await itemIds(C)).length === order.length - 1),
		'remove: the item leaves carol\'s playlist');

	section("Settings, seen by the others; the policy opens bob's controls.");
	await A.fill('#set-room-name', 'Friday');
	await A.selectOption('#set-policy', 'everyone');
	await A.selectOption('#set-repeat', 'all');
	await A.check('#set-shuffle');
	await A.click('#settings-save');
	check(await until(async () => (await text(B, '#room-name')) === 'Friday'), 'bob sees the new room name');
	check(await until(async () => /everyone controls/.test(await text(B, '#room-facts')) &&
		/Repeat all/.test(await text(B, '#playlist-modes')) && /Shuffle/.test(await text(B, '#playlist-modes'))),
		'bob sees policy, repeat and shuffle', `${await text(B, '#room-facts')} / ${await text(B, '#playlist-modes')}`);
	check(await until(async () => !(await B.isDisabled('#btn-play')) && !(await visible(B, '#controls-note'))),
		'policy everyone enables bob\'s playback buttons');
	check(await B.isDisabled('#seek'), 'the seek bar stays the admin\'s');
	check(await until(async () => announced(B, /Room settings changed/)), 'bob hears the settings change announced');
	const b0 = await seekValue(B);
	await B.click('#btn-fwd10');
	check(await positionNear(C, Math.min(b0 + 10, 1e9)), 'bob may now use +10 s');

	section('Screenshots of the full room, light and dark, desktop and phone.');
	if (ARTIFACTS) {
		for (const scheme of ['light', 'dark']) {
			await A.emulateMedia({colorScheme: scheme});
			await B.emulateMedia({colorScheme: scheme});
			await screenshot(A, `desktop-${scheme}`);
			await screenshot(B, `phone-${scheme}`);
		}
		note(`screenshots in ${ARTIFACTS}`);
	}
	check(await B.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
		'nothing sticks out sideways at 360 px', await B.evaluate(() => `${document.documentElement.scrollWidth} > ${window.innerWidth}`));

	section('Reconnection and a seq gap: the page refetches and carries on.');
	const gets = [];
	B.on('request', (req) => {
		if (req.method() === 'GET' && new URL(req.url()).pathname === `/api/rooms/${code}`)
			gets.push(Date.now());
	});
	await B.evaluate(() => {
		window.__wsBlock = true;
		window.__ws.at(-1).close();
	});
	check(await until(async () => (await text(B, '#conn')).match(/lost|retrying/i)), 'bob shows the connection lost');
	await A.fill('#set-room-name', 'Friday, later');
	await A.click('#settings-save');
	await until(async () => (await text(C, '#room-name')) === 'Friday, later');
	check((await text(B, '#room-name')) === 'Friday', 'while cut off, bob has not seen the rename');
	const got = gets.length;
	await B.evaluate(() => { window.__wsBlock = false; });
	check(await until(async () => (await text(B, '#room-name')) === 'Friday, later' &&
		(await B.evaluate(() => window.tutti.syncStats().connection)) === 'live', 20000),
	'bob reconnects, refetches the room and shows the rename');
	check(gets.length > got, 'the reconnect fetched the room again');
	const got2 = gets.length;
	await B.evaluate(() => {
		const seq = window.tutti.syncStats().seq;
		const ws = window.__ws.at(-1);
		ws.dispatchEvent(new MessageEvent('message', {data: JSON.stringify({type: 'presence', room: '', seq: seq + 1000,
			user: {id: 999999, name: 'ghost'}, online: true, listeners: 99})}));
	});
	check(await until(async () => gets.length > got2), 'a seq gap makes bob fetch the room');
	check(await until(async () => (await B.evaluate(() => window.tutti.syncStats().connection)) === 'live' &&
		!/99/.test(await text(B, '#listener-count'))), 'after the gap bob is live again, the bogus event dropped');

	section('Hand-over: alice makes bob the admin.');
	const bobId = await userId(A, 'bob');
	await A.click(`#users li[data-user="${bobId}"] .make-admin`);
	await A.click('#confirm-ok');
	check(await until(async () => visible(B, '#admin-panel')), 'after the hand-over bob sees the admin panel');
	check(await until(async () => !(await visible(A, '#admin-panel'))), 'and alice no longer does');
	check(await until(async () => announced(B, /You are now the admin/)), 'bob is told he is the admin');
	check(await until(async () => (await C.$$eval('#users li', (lis) => lis.filter((li) => li.querySelector('.badge')).map((li) =>
		li.querySelector('.name').textContent))).join() === 'bob'), 'carol sees the admin badge on bob only');

	section('The admin leaves: after the grace period the longest-present listener (alice) is promoted.');
	await B.click('#leave');
	await B.click('#confirm-ok');
	check(await until(async () => visible(B, '#landing') && /You left/.test(await bannerText(B))),
		'bob leaves the room and is told so');
	check(await until(async () => (await A.locator('#users li').count()) === 2), 'alice sees bob gone');
	check(await until(async () => visible(A, '#admin-panel'), PROMOTION_MS), 'alice is promoted and gets the admin panel');
	check(await until(async () => announced(A, /You are now the admin/)), 'alice is told she is the admin');
	// bob comes back through the share link; his name is remembered.
	await B.goto(`${BASE}/r/${code}`);
	await B.waitForSelector('#join-name');
	check(await B.inputValue('#join-name') === 'bob', 'the name prompt remembers bob\'s name');
	await B.click('#join-btn');
	check(await until(async () => visible(B, '#room') && (await B.locator('#users li').count()) === 3), 'bob is back in');

	section('alice removes carol, who is told so.');
	const carolId = await userId(A, CAROL);
	await A.click(`#users li[data-user="${carolId}"] .remove-user`);
	check(await until(async () => A.evaluate(() => document.getElementById('confirm-dialog').open)),
		'removing someone asks for confirmation');
	await A.click('#confirm-ok');
	check(await until(async () => visible(C, '#landing') && /You were removed/.test(await bannerText(C))),
		'carol sees that she was removed', await bannerText(C));
	check(await C.inputValue('#create-name') === CAROL, 'carol\'s name is remembered, as text');
	check(await until(async () => (await B.locator('#users li').count()) === 2), 'bob sees carol gone');

	section('alice closes the room; bob is told.');
	await A.click('#btn-close-room');
	await A.click('#confirm-ok');
	check(await until(async () => visible(B, '#landing') && /closed by its admin/.test(await bannerText(B))),
		'bob leaves the closed room with a clear message', await bannerText(B));
	check(await until(async () => visible(A, '#landing') && /You closed/.test(await bannerText(A))), 'alice too');

	section("Theme: auto follows the system (bob's is dark), the toggle is remembered, no flash.");
	check(await B.evaluate(() => document.documentElement.dataset.theme) === 'dark', 'auto follows the system: dark');
	await B.click('#btn-theme');
	check(await B.evaluate(() => document.documentElement.dataset.theme) === 'light' &&
		await B.evaluate(() => localStorage.getItem('tutti.theme')) === 'light', 'the toggle switches to light and remembers it');
	const bg = await B.evaluate(() => getComputedStyle(document.body).backgroundColor);
	await B.click('#btn-theme');
	check(await B.evaluate(() => document.documentElement.dataset.theme) === 'dark' &&
		await B.evaluate(() => getComputedStyle(document.body).backgroundColor) !== bg, 'then to dark, with other colours');
	await B.click('#btn-theme');
	check(await B.evaluate(() => document.documentElement.dataset.themePref) === 'auto', 'then back to auto');
	await B.click('#btn-theme');
	await B.reload();
	check(await B.evaluate(() => window.__themeAtBody) === 'light',
		'after a reload the remembered light theme is set before <body> exists (no flash)',
		await B.evaluate(() => window.__themeAtBody));

	for (const {page, who} of all)
		check(await page.evaluate(() => window.__pwned === undefined), `nothing injected ran in ${who}'s page`);
	const errors = all.flatMap((p) => p.errors);
	check(errors.length === 0, 'no page errors', errors.join('\n'));
}

runTest(TOTAL_MS, run);
