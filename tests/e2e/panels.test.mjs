// panels.test.mjs - browser end-to-end test of the chat, requests and upload
// panels: three pages in one room chat, ask for songs the admin approves or
// rejects, add library tracks straight to the playlist (by the room policy),
// fulfil a free-text request with a library track (Find…), and upload MP3s
// over tus (a dropped connection, a reload mid-file, refused files, a title
// with markup). Headless Chromium via playwright-core against a running
// stack: TUTTI_URL=http://127.0.0.1:PORT. Prints TAP; exits 1 on a failure.

import {execFileSync} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {ARTIFACTS, BASE, check, note, runTest, until as waitFor} from './harness.mjs';

const STEP_MS = 20000;           // the longest one step may wait
const TOTAL_MS = 150000;         // the whole run
const MARKUP = '<img src=x onerror=window.__x=1>';
const SCRIPT = '<script>window.__y=1</script><b>bold?</b>';
const TAG_TITLE = '<img src=x onerror=window.__t=1>';	// an uploaded MP3's ID3 title

/** Polls fn until it returns a truthy value (harness.mjs until) with this test's step limit. */
const until = (fn, timeoutMs = STEP_MS, everyMs = 50) => waitFor(fn, timeoutMs, everyMs);

/** A page in its own browser context (own storage), with its errors collected. */
async function openPage(browser, who, viewport) {
	const context = await browser.newContext({viewport});
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	const errors = [];
	page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
	page.on('console', (msg) => {
		// A refused request shows up as a console error of the browser's own: not a page bug.
		if (msg.type() === 'error' && !/Failed to load resource|net::ERR_/.test(msg.text()))
			errors.push(`${who} console: ${msg.text()}`);
	});
	return {page, errors, who};
}

/** The test audio: MP3s made with sox and lame, and files the server must refuse. */
function makeAudio(dir) {
	const mp3 = (name, title, synth, seconds, bitrate) => {
		const wav = join(dir, `${name}.wav`);
		execFileSync('sox', ['-q', '-n', '-r', '44100', '-c', '2', wav, 'synth', String(seconds), ...synth, 'gain', '-12']);
		execFileSync('lame', ['--quiet', '-b', String(bitrate), '--add-id3v2', '--tt', title, '--ta', 'panels test', wav, join(dir, `${name}.mp3`)]);
		rmSync(wav);
		return join(dir, `${name}.mp3`);
	};
	const files = {
		one: mp3('upload-one', 'Upload One', ['sine', '440'], 4, 128),
		two: mp3('upload-two', 'Upload Two', ['sine', '660'], 5, 128),
		// Larger than the first 4 MiB PATCH, so a drop after it leaves a partial upload.
		big: mp3('big-one', 'Big Resume', ['whitenoise'], 150, 320),
		big2: mp3('big-two', 'Big Reload', ['pinknoise'], 150, 320),
		tagged: mp3('tagged', TAG_TITLE, ['sine', '550'], 3, 128),
		noise: join(dir, 'not-really.mp3'),
		empty: join(dir, 'empty.mp3'),
		wav: join(dir, 'tone.wav'),
	};
	execFileSync('sox', ['-q', '-n', '-r', '44100', '-c', '2', files.wav, 'synth', '1', 'sine', '440']);
	writeFileSync(files.noise, randomBytes(200000));
	writeFileSync(files.empty, '');
	return files;
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function api(method, path, {token, body} = {}) {
	const headers = {};
	if (token)
		headers.Authorization = `Bearer ${token}`;
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	const res = await fetch(`${BASE}${path}`, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
	const text = await res.text();
	let data = null;
	try {
		data = JSON.parse(text);
	} catch {
		data = null;
	}
	return {status: res.status, data, headers: res.headers};
}

/** The token a page keeps for the room (store.js's localStorage entry). */
const tokenOf = (page, code) => page.evaluate((c) => JSON.parse(localStorage.getItem('tutti.rooms') || '{}')[c]?.token ?? null, code);

const chatTexts = (page) => page.$$eval('#chat-panel .chat-log li:not(.system) .chat-text', (ns) => ns.map((n) => n.textContent));
const systemTexts = (page) => page.$$eval('#chat-panel .chat-log li.system', (ns) => ns.map((n) => n.textContent));
const playlistText = (page) => page.textContent('#playlist');
const playlistCount = (page) => page.locator('#playlist li').count();
const approveButtons = (page) => page.locator('#requests-panel li[data-request] button', {hasText: /^Approve$/}).count();
/** The playlist of page as [{id, title}], in order. */
const playlistItems = (page) => page.$$eval('#playlist li[data-item]', (ns) => ns.map((n) => ({
	id: Number(n.dataset.item), title: n.querySelector('.title')?.textContent ?? '',
})));
/** The button labels of the search result rows of page whose text has title. */
const resultButtons = (page, title) => page.locator('#requests-panel li.track-result', {hasText: title}).locator('button').allTextContents();
const panelStatus = (page) => page.textContent('#requests-panel .panel-status');

async function enterRoom({page, who}, code) {
	if (code) {
		await page.goto(`${BASE}/r/${code}`);
		await page.waitForSelector('#join-name');
		await page.fill('#join-name', who);
		await page.click('#join-btn');
	} else {
		await page.goto(`${BASE}/`);
		await page.fill('#create-name', who);
		await page.click('#create-btn');
	}
	return until(async () => (await page.isVisible('#room')) && (await page.isVisible('#chat-panel textarea[name=text]')) &&
		(await page.textContent('#room-code'))?.trim());
}

/** Types text into the chat of page and sends it with Enter. */
async function say(page, text) {
	const box = page.locator('#chat-panel textarea[name=text]');
	await box.fill(text);
	await box.press('Enter');
}

async function chat(alice, bob, carol) {
	const A = alice.page;
	const B = bob.page;

	await say(A, 'hello from alice');
	let seen = await until(async () => (await chatTexts(B)).includes('hello from alice'));
	check(!!seen, 'bob sees alice\'s message live', JSON.stringify(await chatTexts(B)));
	check(await A.inputValue('#chat-panel textarea[name=text]') === '', 'the sent text leaves alice\'s field');
	const mine = await A.locator('#chat-panel .chat-log li.mine').count();
	check(mine === 1, 'alice\'s own message is marked as hers', `li.mine: ${mine}`);

	// Shift+Enter is a new line, Enter sends.
	const box = B.locator('#chat-panel textarea[name=text]');
	await box.fill('first line');
	await box.press('Shift+Enter');
	await box.type('second line');
	check((await box.inputValue()) === 'first line\nsecond line', 'Shift+Enter adds a line instead of sending', JSON.stringify(await box.inputValue()));
	await box.press('Enter');
	seen = await until(async () => (await chatTexts(A)).includes('first line\nsecond line'));
	check(!!seen, 'alice gets bob\'s two-line message with its line break', JSON.stringify(await chatTexts(A)));

	await say(B, MARKUP);
	await until(async () => (await B.inputValue('#chat-panel textarea[name=text]')) === '');
	await say(B, SCRIPT);
	seen = await until(async () => {
		const t = await chatTexts(A);
		return t.includes(MARKUP) && t.includes(SCRIPT);
	});
	check(!!seen, 'markup in chat arrives as the literal text', JSON.stringify(await chatTexts(A)));
	for (const {page, who} of [alice, bob]) {
		const r = await page.evaluate(() => ({
			x: window.__x, y: window.__y,
			tags: document.querySelectorAll('#chat-panel .chat-log img, #chat-panel .chat-log script, #chat-panel .chat-log b').length,
		}));
		check(r.x === undefined && r.y === undefined && r.tags === 0, `${who}: nothing of the markup ran or became an element`, JSON.stringify(r));
	}

	// carol joins late: the history is there, and a system line tells of her.
	const code = (await A.textContent('#room-code')).trim();
	const inRoom = await enterRoom(carol, code);
	check(!!inRoom, 'carol joins the room');
	const C = carol.page;
	seen = await until(async () => {
		const t = await chatTexts(C);
		return t.includes('hello from alice') && t.includes(MARKUP) && t.includes(SCRIPT) ? t : null;
	});
	check(!!seen, 'carol, joining late, sees the chat history', JSON.stringify(await chatTexts(C)));
	seen = await until(async () => (await systemTexts(A)).some((t) => t.includes('carol joined')));
	check(!!seen, 'alice sees a system line for carol joining', JSON.stringify(await systemTexts(A)));
	const r = await C.evaluate(() => ({x: window.__x, y: window.__y, imgs: document.querySelectorAll('#chat-panel .chat-log img').length}));
	check(r.x === undefined && r.y === undefined && r.imgs === 0, 'carol: the markup in the history stays text', JSON.stringify(r));

	// A burst from carol hits the limit of 5 messages in 10 s: "wait N s", text kept.
	let refused = null;
	for (let i = 1; i <= 8 && !refused; i++) {
		const text = `burst ${i}`;
		await say(C, text);
		refused = await until(async () => {
			const status = await C.textContent('#chat-panel form [role=status]');
			if (/wait \d+ s/.test(status))
				return {text, status};
			if ((await C.inputValue('#chat-panel textarea[name=text]')) === '')
				return 'sent';
			return null;
		});
		if (refused === 'sent')
			refused = null;
		else if (!refused)
			break;
	}
	check(!!refused, 'a burst of chat messages shows "wait N s"', refused ? refused.status : 'no 429 message');
	if (refused) {
		const kept = await C.inputValue('#chat-panel textarea[name=text]');
		check(kept === refused.text, 'the refused message stays in the field', JSON.stringify(kept));
		const others = await chatTexts(A);
		check(!others.includes(refused.text), 'the refused message reached nobody', JSON.stringify(others.slice(-6)));
	}

	// Paging: 50 people join (a system line each); a reload shows the last
	// 50 lines and "Load earlier messages" brings back the start.
	for (let i = 0; i < 50; i++) {
		const r = await api('POST', `/api/rooms/${code}/join`, {body: {name: `guest${i}`}});
		if (r.status !== 201 && r.status !== 200) {
			check(false, 'the guests join', JSON.stringify(r.data));
			return;
		}
	}
	await until(async () => (await systemTexts(C)).some((t) => t.includes('guest49 joined')));
	await C.reload();
	const firstPage = await until(async () => {
		const n = await C.locator('#chat-panel .chat-log li').count();
		return n > 0 && (await systemTexts(C)).some((t) => t.includes('guest49 joined')) ? n : null;
	});
	const earlier = C.getByRole('button', {name: 'Load earlier messages'});
	check(firstPage === 50 && await earlier.isVisible() && !(await chatTexts(C)).includes('hello from alice'),
		'after a reload the chat shows its last 50 lines and offers earlier ones', `lines ${firstPage}`);
	await earlier.click();
	const all = await until(async () => (await chatTexts(C)).includes('hello from alice') ? C.locator('#chat-panel .chat-log li').count() : null);
	const order = await C.$$eval('#chat-panel .chat-log li', (ns) => ns.map((n) => Number(n.dataset.id)));
	check(all > 50 && order.every((id, i) => i === 0 || order[i - 1] < id), '"Load earlier messages" brings back the start, in order',
		`lines ${all}`);
	check(!(await earlier.isVisible()), 'with the whole history shown the button goes away');
}

async function requests(alice, bob) {
	const A = alice.page;
	const B = bob.page;

	check(await approveButtons(B) === 0 && await B.locator('#requests-panel input[name=q]').count() === 1,
		'bob has the search field and no Approve button');

	// By library search.
	await B.fill('#requests-panel input[name=q]', 'chord');
	const result = await until(async () => {
		const row = B.locator('#requests-panel li.track-result', {hasText: 'Four Chords'});
		return (await row.count()) === 1 ? row : null;
	});
	if (!check(!!result, 'bob finds "Four Chords" by searching "chord"',
		await B.textContent('#requests-panel').catch(() => '')))
		return;
	const others = await B.locator('#requests-panel li.track-result', {hasText: 'Metronome'}).count();
	check(others === 0, 'the search shows only matching tracks');
	await result.getByRole('button', {name: 'Request'}).click();
	const byTrack = await until(async () => {
		const li = A.locator('#requests-panel .request-list li[data-request]', {hasText: 'Four Chords'});
		return (await li.count()) === 1 ? li : null;
	});
	check(!!byTrack, 'alice sees bob\'s request for Four Chords');
	const approveVisible = byTrack ? await byTrack.getByRole('button', {name: 'Approve'}).isVisible() : false;
	check(approveVisible, 'alice (admin) has an Approve button on it');

	// By free text, with markup in it, and the same again: 409.
	const wish = `Bohemian Rhapsody ${MARKUP}`;
	await B.fill('#requests-panel input[name=text]', wish);
	await B.press('#requests-panel input[name=text]', 'Enter');
	const byText = await until(async () => {
		const li = A.locator('#requests-panel .request-list li[data-request]', {hasText: 'Bohemian Rhapsody'});
		return (await li.count()) === 1 ? li : null;
	});
	check(!!byText && (await byText.textContent()).includes(MARKUP), 'alice sees the free-text request, markup as text',
		byText ? await byText.textContent() : '');
	check(await A.evaluate(() => window.__x) === undefined, 'the markup in the request did not run');
	await until(async () => (await B.inputValue('#requests-panel input[name=text]')) === '');
	await B.fill('#requests-panel input[name=text]', wish.toUpperCase());
	await B.press('#requests-panel input[name=text]', 'Enter');
	const dup = await until(async () => {
		const t = await B.textContent('#requests-panel .panel-status');
		return /already pending/i.test(t) ? t : null;
	});
	check(!!dup, 'asking for the same text again shows the server\'s 409 detail', dup || await B.textContent('#requests-panel'));
	check(await approveButtons(B) === 0, 'bob still sees no Approve button with requests pending');

	// alice approves Four Chords: it joins the playlist on both pages.
	const before = await playlistCount(B);
	await byTrack.getByRole('button', {name: 'Approve'}).click();
	for (const {page, who} of [alice, bob]) {
		const gone = await until(async () => (await page.locator('#requests-panel .request-list li', {hasText: 'Four Chords'}).count()) === 0 &&
			(await page.locator('#requests-panel .request-outcomes li[data-status=approved]', {hasText: 'Four Chords'}).count()) === 1);
		check(!!gone, `${who} sees Four Chords leave the pending list as approved`);
	}
	const grown = await until(async () => (await playlistCount(B)) === before + 1 && (await playlistCount(A)) === before + 1);
	check(!!grown, 'the approved song joins the playlist on both pages', `before ${before}, now ${await playlistCount(B)}`);
	const chatLine = await until(async () => (await systemTexts(B)).some((t) => /approved/.test(t) && t.includes('Four Chords')));
	check(!!chatLine, 'bob\'s chat has the server\'s system line for the approval');

	// alice rejects the free-text one.
	await byText.getByRole('button', {name: 'Reject'}).click();
	for (const {page, who} of [alice, bob]) {
		const gone = await until(async () => (await page.locator('#requests-panel .request-list li', {hasText: 'Bohemian'}).count()) === 0 &&
			(await page.locator('#requests-panel .request-outcomes li[data-status=rejected]', {hasText: 'Bohemian'}).count()) === 1);
		check(!!gone, `${who} sees the free-text request leave the pending list as rejected`);
	}
	check(await playlistCount(A) === before + 1, 'the rejected request added nothing to the playlist');
}

/**
 * Waits until the playlist of every page has exactly one item more than
 * before (a list of item ids) and that item is titled title; returns the
 * new item's id, or null.
 */
async function newItemEverywhere(pages, before, title) {
	let id = null;
	for (const {page, who} of pages) {
		const found = await until(async () => {
			const items = await playlistItems(page);
			const fresh = items.filter((it) => !before.includes(it.id));
			return items.length === before.length + 1 && fresh.length === 1 && fresh[0].title === title ? fresh[0].id : null;
		});
		check(!!found && (id === null || found === id), `${who}'s playlist shows the new “${title}” item`,
			JSON.stringify((await playlistItems(page)).slice(-3)));
		id ??= found;
	}
	return id;
}

/** The user id of name in the room (GET …/users with token). */
async function userId(code, token, name) {
	const users = (await api('GET', `/api/rooms/${code}/users`, {token})).data?.users ?? [];
	return users.find((u) => u.name === name)?.id ?? null;
}

/**
 * Adding a library track from the search results: "Add" for the admin (a
 * stale version: 412, refetch, one retry), "Request" for a member under
 * policy admin, "Add" for him too under policy "everyone"; errors shown.
 */
async function libraryAdds(alice, bob, carol, code) {
	const A = alice.page;
	const B = bob.page;
	const pages = [alice, bob, carol];
	const token = await tokenOf(A, code);
	const title = 'Pluck Arpeggio';

	await A.fill('#requests-panel input[name=q]', 'pluck');
	const shown = await until(async () => (await resultButtons(A, title)).length === 1);
	check(!!shown && JSON.stringify(await resultButtons(A, title)) === '["Add"]',
		'alice (the admin) gets "Add", not "Request", on a search result', JSON.stringify(await resultButtons(A, title)));
	await B.fill('#requests-panel input[name=q]', 'pluck');
	const bobShown = await until(async () => (await resultButtons(B, title)).length === 1);
	check(!!bobShown && JSON.stringify(await resultButtons(B, title)) === '["Request"]',
		'bob (a member under policy admin) gets "Request", not "Add"', JSON.stringify(await resultButtons(B, title)));

	// The first POST goes out with a stale If-Match: the page fetches the version and retries once.
	const before = (await playlistItems(A)).map((it) => it.id);
	const calls = [];
	const onResponse = (res) => {
		if (new URL(res.url()).pathname === `/api/rooms/${code}/playlist`)
			calls.push(`${res.request().method()} ${res.status()}`);
	};
	A.on('response', onResponse);
	let stale = true;
	await A.route('**/api/rooms/*/playlist', (route) => {
		const req = route.request();
		if (req.method() !== 'POST' || !stale)
			return route.continue();
		stale = false;
		return route.continue({headers: {...req.headers(), 'if-match': '"999999"'}});
	});
	await A.locator('#requests-panel li.track-result', {hasText: title}).getByRole('button', {name: 'Add', exact: true}).click();
	const said = await until(async () => (await panelStatus(A)) === `Added “${title}” to the playlist.`);
	check(!!said, 'alice\'s panel says "Added “Pluck Arpeggio” to the playlist."', await panelStatus(A));
	check(JSON.stringify(calls) === '["POST 412","GET 200","POST 201"]',
		'on a stale version (412) the page fetched the playlist and retried once', JSON.stringify(calls));
	A.off('response', onResponse);
	await A.unroute('**/api/rooms/*/playlist');
	const aliceItem = await newItemEverywhere(pages, before, title);
	const aliceId = await userId(code, token, 'alice');
	const listed = (await api('GET', `/api/rooms/${code}/playlist`, {token})).data?.items ?? [];
	const added = listed.find((it) => it.id === aliceItem);
	check(added?.track?.title === title && added.added_by === aliceId && aliceId !== null,
		'the server has the item, added by alice', JSON.stringify(added));

	// A refusal (here a full playlist, answered by a stand-in) is shown in the panel.
	await A.route('**/api/rooms/*/playlist', (route) => route.request().method() !== 'POST' ? route.continue() :
		route.fulfill({status: 409, contentType: 'application/problem+json',
			body: JSON.stringify({type: 'about:blank', title: 'Playlist full', status: 409, detail: 'a playlist holds at most 1000 items'})}));
	await A.locator('#requests-panel li.track-result', {hasText: title}).getByRole('button', {name: 'Add', exact: true}).click();
	const full = await until(async () => /^Not added: Playlist full/.test(await panelStatus(A)));
	check(!!full, 'a 409 "Playlist full" is shown in the panel\'s status', await panelStatus(A));
	await A.unroute('**/api/rooms/*/playlist');

	// Policy "everyone": bob's result turns into "Add" at once, and it works for him.
	let r = await api('PATCH', `/api/rooms/${code}`, {token, body: {policy: 'everyone'}});
	check(r.status === 200, 'alice sets the policy to everyone', JSON.stringify(r.data));
	const flipped = await until(async () => JSON.stringify(await resultButtons(B, title)) === '["Add"]');
	check(!!flipped, 'under policy everyone bob sees "Add" on the same result', JSON.stringify(await resultButtons(B, title)));
	const before2 = (await playlistItems(B)).map((it) => it.id);
	await B.locator('#requests-panel li.track-result', {hasText: title}).getByRole('button', {name: 'Add', exact: true}).click();
	const bobSaid = await until(async () => (await panelStatus(B)) === `Added “${title}” to the playlist.`);
	check(!!bobSaid, 'bob\'s panel says the track was added', await panelStatus(B));
	const bobItem = await newItemEverywhere(pages, before2, title);
	const bobId = await userId(code, token, 'bob');
	const again = (await api('GET', `/api/rooms/${code}/playlist`, {token})).data?.items ?? [];
	check(again.find((it) => it.id === bobItem)?.added_by === bobId && bobId !== null, 'the server has bob\'s item, added by bob',
		JSON.stringify(again.slice(-2)));

	r = await api('PATCH', `/api/rooms/${code}`, {token, body: {policy: 'admin'}});
	const back = await until(async () => JSON.stringify(await resultButtons(B, title)) === '["Request"]');
	check(r.status === 200 && !!back, 'back under policy admin bob sees "Request" again', JSON.stringify(await resultButtons(B, title)));
	for (const page of [A, B])
		await page.fill('#requests-panel input[name=q]', '');
}

/**
 * Find…: alice fulfils bob's free-text request with a library track, from
 * the keyboard; Escape and Cancel leave the mode.
 */
async function fulfil(alice, bob, carol, code) {
	const A = alice.page;
	const B = bob.page;
	const token = await tokenOf(A, code);
	const wish = 'metronome';
	const title = 'Metronome 120';
	const findOf = (page) => page.locator('#requests-panel .request-list li[data-request]', {hasText: wish})
		.getByRole('button', {name: 'Find…'});
	const useButtons = (page) => page.locator('#requests-panel li.track-result button', {hasText: /^Use for /});
	const focused = () => A.evaluate(() => ({
		focus: document.activeElement?.dataset?.focus ?? null,
		name: document.activeElement?.getAttribute('name') ?? null,
	}));

	await B.fill('#requests-panel input[name=text]', wish);
	await B.press('#requests-panel input[name=text]', 'Enter');
	const find = await until(async () => (await findOf(A).count()) === 1 ? findOf(A) : null);
	if (!check(!!find, 'alice has a "Find…" button on bob\'s free-text request', await A.textContent('#requests-panel .request-list')))
		return;
	check(await findOf(B).count() === 0 && await B.locator('#requests-panel .request-list li[data-request]', {hasText: wish}).count() === 1,
		'bob sees his request but no "Find…"');

	// Find… from the keyboard: the text goes into the search, every result offers "Use for".
	await find.focus();
	await A.keyboard.press('Enter');
	let mode = await until(async () => {
		const labels = await resultButtons(A, title);
		return labels.length === 1 && labels[0] === `Use for “${wish}”` ? labels : null;
	});
	check(!!mode && await A.inputValue('#requests-panel input[name=q]') === wish &&
		(await focused()).name === 'q' && await find.getAttribute('aria-pressed') === 'true' &&
		await A.locator('#requests-panel .fulfil-bar').isVisible(),
	'Find… puts the request\'s text into the search (focused) and each result offers "Use for “metronome”"',
	JSON.stringify({labels: await resultButtons(A, title), q: await A.inputValue('#requests-panel input[name=q]'), focus: await focused()}));
	check(await useButtons(B).count() === 0, 'bob\'s page knows nothing of it');

	// Escape leaves the mode; focus goes back to Find….
	await A.keyboard.press('Escape');
	const left = await until(async () => (await useButtons(A).count()) === 0 &&
		JSON.stringify(await resultButtons(A, title)) === '["Add"]' && !(await A.locator('#requests-panel .fulfil-bar').isVisible()));
	const f = await focused();
	check(!!left && /:find$/.test(f.focus ?? '') && await A.inputValue('#requests-panel input[name=q]') === wish,
		'Escape leaves the mode (the results offer "Add" again), focus back on Find…', JSON.stringify(f));

	// Cancel does the same.
	await A.keyboard.press('Enter');
	mode = await until(async () => (await useButtons(A).count()) > 0);
	await A.locator('#requests-panel .fulfil-bar').getByRole('button', {name: 'Cancel'}).click();
	const cancelled = await until(async () => (await useButtons(A).count()) === 0 && (await findOf(A).getAttribute('aria-pressed')) === 'false');
	check(!!mode && !!cancelled, 'Cancel leaves the mode too');

	// Once more, and choose the track with the keyboard.
	const before = (await playlistItems(A)).map((it) => it.id);
	await findOf(A).focus();
	await A.keyboard.press('Enter');
	const use = await until(async () => {
		const b = A.locator('#requests-panel li.track-result', {hasText: title}).getByRole('button', {name: /^Use for /});
		return (await b.count()) === 1 ? b : null;
	});
	if (!check(!!use, 'the "Use for" button is back'))
		return;
	await use.focus();
	await A.keyboard.press('Enter');
	for (const {page, who} of [alice, bob]) {
		const done = await until(async () => (await page.locator('#requests-panel .request-list li', {hasText: wish}).count()) === 0 &&
			(await page.locator('#requests-panel .request-outcomes li[data-status=approved]', {hasText: wish}).count()) === 1);
		check(!!done, `${who} sees bob's free-text request approved`);
	}
	const item = await newItemEverywhere([alice, bob, carol], before, title);
	const bobId = await userId(code, token, 'bob');
	const items = (await api('GET', `/api/rooms/${code}/playlist`, {token})).data?.items ?? [];
	const got = items.find((it) => it.id === item);
	check(got?.track?.title === title && got.added_by === bobId && bobId !== null,
		'the playlist gained Metronome 120 with added_by bob', JSON.stringify(got));
	const reqs = (await api('GET', `/api/rooms/${code}/requests?status=approved`, {token})).data?.requests ?? [];
	const req = reqs.find((x) => x.text === wish);
	check(req?.track?.title === title && req.item_id === item, 'the server has the request approved with that track and item',
		JSON.stringify(req));
	check(await useButtons(A).count() === 0 && /^Approved bob's request “metronome” with “Metronome 120”\.$/.test(await panelStatus(A)),
		'after the choice the mode ends and alice\'s panel says what was done', await panelStatus(A));
	await A.fill('#requests-panel input[name=q]', '');
}

/** Waits until every upload row of page is in a final state; returns [{name, state, status, value, max}]. */
async function uploadRows(page) {
	return page.$$eval('#upload-panel li[data-upload]', (ns) => ns.map((n) => ({
		name: n.querySelector('.upload-name')?.textContent,
		state: n.dataset.state,
		status: n.querySelector('.status')?.textContent,
		value: n.querySelector('progress')?.value,
		max: n.querySelector('progress')?.max,
	})));
}

async function rowOf(page, name) {
	return (await uploadRows(page)).find((r) => r.name === name) ?? null;
}

async function uploads(alice, bob, files) {
	const A = alice.page;
	const B = bob.page;
	const input = '#upload-panel input[type=file][multiple]';

	check(await B.locator(input).isDisabled(), 'bob (a member under policy admin) cannot pick files');
	check(await A.locator(input).isEnabled(), 'alice (the admin) can pick files');

	// Two files at once.
	const before = await playlistCount(B);
	await A.setInputFiles(input, [files.one, files.two]);
	const rows = await until(async () => (await uploadRows(A)).length === 2);
	check(!!rows, 'two upload rows appear');
	const done = await until(async () => {
		const r = await uploadRows(A);
		return r.length === 2 && r.every((x) => x.state === 'done' || x.state === 'error') ? r : null;
	});
	check(!!done && done.every((r) => r.state === 'done' && /added to the playlist/i.test(r.status) && r.value === r.max),
		'both uploads reach done: "Added to the playlist", progress full', JSON.stringify(done || await uploadRows(A)));
	for (const {page, who} of [alice, bob]) {
		const ok = await until(async () => {
			const t = await playlistText(page);
			return t.includes('Upload One') && t.includes('Upload Two') && (await playlistCount(page)) === before + 2;
		});
		check(!!ok, `both uploaded tracks join the playlist on ${who}'s page`, `${await playlistCount(page)} items`);
	}

	// A dropped connection: the second PATCH fails, the client asks HEAD and goes on.
	const log = [];
	const onRequest = (req) => {
		if (req.url().includes('/api/uploads'))
			log.push({method: req.method(), offset: req.headers()['upload-offset'] ?? null});
	};
	A.on('request', onRequest);
	let patches = 0;
	let dropping = true;
	await A.route('**/api/uploads/**', (route) => {
		if (route.request().method() === 'PATCH' && ++patches >= 2 && dropping)
			return route.abort('connectionreset');
		return route.continue();
	});
	await A.setInputFiles(input, [files.big]);
	const paused = await until(async () => (await rowOf(A, 'big-one.mp3'))?.state === 'paused');
	check(!!paused, 'after the connection drops the upload shows paused', JSON.stringify(await rowOf(A, 'big-one.mp3')));
	dropping = false;	// the network is back (the next retry goes through)
	let row = await until(async () => {
		const r = await rowOf(A, 'big-one.mp3');
		return r && (r.state === 'done' || r.state === 'error') ? r : null;
	}, 40000);
	check(row?.state === 'done', 'the interrupted upload resumes and completes', JSON.stringify(row));
	const patchLog = log.filter((l) => l.method === 'PATCH').map((l) => Number(l.offset));
	const dropAt = patchLog[1];
	const dropIndex = log.findIndex((l, i) => l.method === 'PATCH' && log.slice(0, i).some((x) => x.method === 'PATCH'));
	const afterDrop = dropIndex < 0 ? [] : log.slice(dropIndex + 1);
	check(patchLog[0] === 0 && dropAt > 0 && afterDrop.some((l) => l.method === 'HEAD'),
		'the dropped PATCH was not the first; the client then asked HEAD for the offset', JSON.stringify(log));
	const resumedAt = afterDrop.find((l) => l.method === 'PATCH');
	check(resumedAt && Number(resumedAt.offset) === dropAt && dropAt > 0,
		`the upload went on from byte ${dropAt}, not from 0`, JSON.stringify(log));
	check(log.filter((l) => l.method === 'POST').length === 1, 'one upload was created for the file', JSON.stringify(log));
	await A.unroute('**/api/uploads/**');

	const found = await api('GET', '/api/tracks?q=Big%20Resume');
	const tracks = found.data?.tracks ?? [];
	check(tracks.length === 1 && tracks[0].url.includes(sha256(files.big)), 'the library has the file once, with its exact sha256',
		JSON.stringify(tracks));
	if (tracks.length === 1) {
		const media = await fetch(`${BASE}${tracks[0].url}`, {method: 'HEAD'});
		check(Number(media.headers.get('content-length')) === statSync(files.big).size, 'the stored file has the picked file\'s size');
	}
	const inPlaylist = await until(async () => {
		const n = await B.locator('#playlist li', {hasText: 'Big Resume'}).count();
		return n === 1 ? n : null;
	});
	check(!!inPlaylist, 'bob sees the resumed upload in the playlist once');

	// A reload mid-file: picking the same file again resumes it (no new upload).
	// A fresh page first: its first PATCH is 4 MiB again (they grow with the
	// measured speed), so the drop after it leaves the file half sent.
	await A.reload();
	await until(async () => A.isVisible('#upload-panel input[type=file]'));
	log.length = 0;
	patches = 0;
	dropping = true;
	await A.route('**/api/uploads/**', (route) => {
		if (route.request().method() === 'PATCH' && ++patches >= 2 && dropping)
			return route.abort('connectionreset');
		return route.continue();
	});
	await A.setInputFiles(input, [files.big2]);
	const stuck = await until(async () => (await rowOf(A, 'big-two.mp3'))?.state === 'paused');
	check(!!stuck, 'the second big upload is interrupted after its first PATCH');
	const offsetBefore = Number(log.filter((l) => l.method === 'PATCH')[0]?.offset ?? -1);
	let asked = false;
	const onDialog = (d) => {
		asked = d.type() === 'beforeunload';
		d.accept().catch(() => {});
	};
	A.on('dialog', onDialog);
	await A.reload();
	A.off('dialog', onDialog);
	check(asked, 'leaving the page during an upload asks first (beforeunload)');
	await A.unroute('**/api/uploads/**');
	const back = await until(async () => A.isVisible('#upload-panel input[type=file]'));
	check(!!back && (await uploadRows(A)).length === 0, 'after the reload the room is back with an empty upload list');
	log.length = 0;
	await A.setInputFiles(input, [files.big2]);
	row = await until(async () => {
		const r = await rowOf(A, 'big-two.mp3');
		return r && (r.state === 'done' || r.state === 'error') ? r : null;
	}, 40000);
	check(row?.state === 'done', 'the re-picked file completes after the reload', JSON.stringify(row));
	const firstPatch = log.find((l) => l.method === 'PATCH');
	check(offsetBefore === 0 && firstPatch && Number(firstPatch.offset) > 0 && !log.some((l) => l.method === 'POST'),
		'after the reload it resumed from the server\'s offset without creating a new upload', JSON.stringify(log));
	const big2 = (await api('GET', '/api/tracks?q=Big%20Reload')).data?.tracks ?? [];
	check(big2.length === 1 && big2[0].url.includes(sha256(files.big2)), 'the reloaded upload is stored whole (sha256)', JSON.stringify(big2));
	A.off('request', onRequest);

	// Drag and drop anywhere on the page: a visible drop target, then the upload.
	const bytes = [...readFileSync(files.one)];
	const overlay = await A.evaluate((data) => {
		const dt = new DataTransfer();
		dt.items.add(new File([new Uint8Array(data)], 'dropped.mp3', {type: 'audio/mpeg'}));
		const target = document.querySelector('#playlist') || document.body;
		target.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));
		target.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
		const o = document.querySelector('.drop-overlay');
		const shown = !!o && !o.hidden && getComputedStyle(o).display !== 'none' && o.textContent;
		const drop = new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true});
		target.dispatchEvent(drop);
		return {shown, prevented: drop.defaultPrevented, after: !!o && !o.hidden};
	}, bytes);
	check(!!overlay.shown && overlay.prevented && !overlay.after,
		'dragging files over the page shows a drop target; the drop is taken (not opened by the browser)', JSON.stringify(overlay));
	const dropped = await until(async () => {
		const r = await rowOf(A, 'dropped.mp3');
		return r && (r.state === 'done' || r.state === 'error') ? r : null;
	});
	check(dropped?.state === 'done', 'the dropped file uploads', JSON.stringify(dropped));

	// Cancel: a PATCH held back, Cancel terminates the upload (DELETE) and drops the row.
	const held = [];
	await A.route('**/api/uploads/**', (route) => {
		if (route.request().method() === 'PATCH')
			held.push(route);
		else
			route.continue();
	});
	const deletes = [];
	const onResponse = (res) => {
		if (res.request().method() === 'DELETE' && res.url().includes('/api/uploads/'))
			deletes.push(res.status());
	};
	A.on('response', onResponse);
	await A.setInputFiles(input, [files.noise]);
	const started = await until(async () => held.length > 0 && (await rowOf(A, 'not-really.mp3'))?.state === 'uploading');
	check(!!started, 'an upload is under way (its PATCH held back)');
	await A.locator('#upload-panel li[data-upload]', {hasText: 'not-really.mp3'}).getByRole('button', {name: 'Cancel'}).click();
	for (const route of held)
		route.abort('connectionreset').catch(() => {});
	const cancelled = await until(async () => deletes.length > 0 && !(await rowOf(A, 'not-really.mp3')));
	check(!!cancelled && deletes.includes(204), 'Cancel removes the row and terminates the upload on the server', `DELETE answers ${JSON.stringify(deletes)}`);
	const remembered = await A.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tutti.upload.')));
	check(remembered.length === 0, 'nothing of the cancelled upload stays remembered', JSON.stringify(remembered));
	A.off('response', onResponse);
	await A.unroute('**/api/uploads/**');

	// Refused files: random bytes named .mp3 (the server's 415) and an empty
	// file (refused here, without sending anything). A WAV: converted to MP3
	// by the server when it says Tutti-Audio: any (ffmpeg), else refused
	// here as certainly not an MP3.
	const anyAudio = await A.evaluate(async () =>
		(await fetch('/api/uploads', {method: 'OPTIONS'})).headers.get('Tutti-Audio') === 'any');
	note(`the server ${anyAudio ? 'converts other audio files (Tutti-Audio: any)' : 'takes MP3 only'}`);
	const creates = [];
	const onCreate = (req) => {
		if (req.method() === 'POST' && req.url().endsWith('/api/uploads'))
			creates.push(req.headers()['upload-length']);
	};
	A.on('request', onCreate);
	await A.setInputFiles(input, [files.noise, files.empty, files.wav]);
	const refused = await until(async () => {
		const rows = await Promise.all(['not-really.mp3', 'empty.mp3', 'tone.wav'].map((n) => rowOf(A, n)));
		return rows.every((r) => r?.state === 'error' || r?.state === 'done') ? rows : null;
	});
	A.off('request', onCreate);
	check(!!refused && refused[0].state === 'error' && /Not (MPEG )?audio/.test(refused[0].status),
		'random bytes named .mp3: the server\'s "Not audio" is shown', JSON.stringify(refused || await uploadRows(A)));
	check(!!refused && /empty/i.test(refused[1].status), 'an empty file is refused with a message', JSON.stringify(refused));
	if (anyAudio) {
		check(!!refused && refused[2].state === 'done', 'a WAV is converted to MP3 by the server and added', JSON.stringify(refused));
		const wavTrack = (await api('GET', '/api/tracks?q=tone')).data?.tracks?.find((t) => t.title === 'tone');
		check(!!wavTrack && wavTrack.url.endsWith('.mp3') && Math.abs(wavTrack.duration_us - 1e6) < 60000,
			'the WAV is a one-second MP3 track titled from its name', JSON.stringify(wavTrack));
		check(creates.length === 2 && creates.includes(String(statSync(files.noise).size)) &&
			creates.includes(String(statSync(files.wav).size)), 'the random bytes and the WAV went to the server, the empty file did not',
		JSON.stringify(creates));
	} else {
		check(!!refused && /WAV/.test(refused[2].status), 'a WAV is refused as not an MP3', JSON.stringify(refused));
		check(creates.length === 1 && Number(creates[0]) === statSync(files.noise).size,
			'only the file that might be an MP3 went to the server', JSON.stringify(creates));
	}
	const count2 = (await api('GET', '/api/tracks?q=not-really')).data?.tracks?.length;
	check(count2 === 0, 'the refused file made no track');
}

/** An uploaded MP3 whose ID3 title is markup: literal text on every page, nothing of it ran. */
async function taggedUpload(alice, bob, carol, files) {
	const A = alice.page;
	const before = (await playlistItems(A)).map((it) => it.id);
	await A.setInputFiles('#upload-panel input[type=file][multiple]', [files.tagged]);
	const row = await until(async () => {
		const r = await rowOf(A, 'tagged.mp3');
		return r && (r.state === 'done' || r.state === 'error') ? r : null;
	});
	check(row?.state === 'done', 'the MP3 titled with markup uploads', JSON.stringify(row));
	await newItemEverywhere([alice, bob, carol], before, TAG_TITLE);
	for (const {page, who} of [alice, bob, carol]) {
		const r = await page.evaluate(() => ({
			t: window.__t,
			imgs: document.querySelectorAll('img').length,
			inPlaylist: document.querySelectorAll('#playlist img, #playlist [onerror]').length,
		}));
		check(r.t === undefined && r.imgs === 0 && r.inPlaylist === 0, `${who}: the title stayed text (no <img>, window.__t undefined)`,
			JSON.stringify(r));
	}
	// The library search shows it as text too.
	await A.fill('#requests-panel input[name=q]', 'onerror');
	const found = await until(async () => {
		const titles = await A.$$eval('#requests-panel li.track-result .title', (ns) => ns.map((n) => n.textContent));
		return titles.includes(TAG_TITLE) ? titles : null;
	});
	const r = await A.evaluate(() => ({t: window.__t, imgs: document.querySelectorAll('#requests-panel img').length}));
	check(!!found && r.t === undefined && r.imgs === 0, 'the search result shows the markup title as text', JSON.stringify({found, r}));
	await A.fill('#requests-panel input[name=q]', '');
}

/** alice hands the admin role to bob: the panels of both follow at once. */
async function handover(alice, bob, carol, code) {
	const A = alice.page;
	const B = bob.page;
	await carol.page.fill('#requests-panel input[name=text]', 'a song for the new admin');
	await carol.page.press('#requests-panel input[name=text]', 'Enter');
	const pending = await until(async () => (await approveButtons(A)) === 1);
	check(!!pending && await approveButtons(B) === 0, 'alice can approve carol\'s request, bob cannot');
	const token = await tokenOf(A, code);
	const users = (await api('GET', `/api/rooms/${code}/users`, {token})).data?.users ?? [];
	const bobId = users.find((u) => u.name === 'bob')?.id;
	const r = await api('PUT', `/api/rooms/${code}/admin`, {token, body: {user_id: bobId}});
	check(r.status === 200, 'alice hands admin to bob', JSON.stringify(r.data));
	const flipped = await until(async () => (await approveButtons(B)) === 1 && (await approveButtons(A)) === 0);
	check(!!flipped, 'bob now sees Approve, alice no longer does', `bob ${await approveButtons(B)}, alice ${await approveButtons(A)}`);
	const input = '#upload-panel input[type=file][multiple]';
	const inputs = await until(async () => (await B.locator(input).isEnabled()) && (await A.locator(input).isDisabled()));
	check(!!inputs, 'the file picker follows the role: enabled for bob, disabled for alice');
}

async function run(browser, files) {
	const alice = await openPage(browser, 'alice', {width: 1280, height: 900});
	const bob = await openPage(browser, 'bob', {width: 360, height: 780});
	const carol = await openPage(browser, 'carol', {width: 800, height: 800});

	const code = await enterRoom(alice);
	if (!check(/^[2-9A-HJKMNP-Z]{5}$/.test(code || ''), `alice creates a room (${code})`,
		await alice.page.textContent('#error').catch(() => '')))
		return;
	if (!check(!!await enterRoom(bob, code), 'bob joins it', await bob.page.textContent('#error').catch(() => '')))
		return;

	await chat(alice, bob, carol);
	await requests(alice, bob);
	await libraryAdds(alice, bob, carol, code);
	await fulfil(alice, bob, carol, code);
	await uploads(alice, bob, files);
	await taggedUpload(alice, bob, carol, files);
	await handover(alice, bob, carol, code);

	if (ARTIFACTS) {
		mkdirSync(ARTIFACTS, {recursive: true});
		for (const {page, who} of [alice, bob])
			for (const panel of ['chat', 'requests', 'upload'])
				await page.locator(`#${panel}-panel`).screenshot({path: join(ARTIFACTS, `e2e-panels-${who}-${panel}.png`)});
		note(`screenshots in ${ARTIFACTS}`);
	}
	const errors = [...alice.errors, ...bob.errors, ...carol.errors];
	check(errors.length === 0, 'no page errors', errors.join('\n'));
}

runTest(TOTAL_MS, async (browser) => {
	const dir = mkdtempSync(join(tmpdir(), 'tutti-panels-'));
	try {
		await run(browser, makeAudio(dir));
	} finally {
		rmSync(dir, {recursive: true, force: true});
	}
});
