// advance.test.mjs - the browser's own continuation at a track's end
// (player.js #predictAdvance): a page continues into the anchor's
// next_item_id before the server's advance event arrives, takes that guess
// back when the room says something else follows, drops it on a pause, and
// the server's advance confirms it. The page is made to look hidden, as a
// background tab: the player then keeps HIDDEN_LOOKAHEAD_S (4 s) queued, so
// its guess comes seconds before the worker's advance (lead ~250 ms) and
// the test can act between the two.
//
//   TUTTI_URL=http://127.0.0.1:PORT node advance.test.mjs   (tests/e2e/run.sh)

import {BASE, check, note, roomRequest, runTest, sleep, until as waitFor} from './harness.mjs';

const STEP_MS = 20000;          // the longest one step may wait
const TOTAL_MS = 150000;
const BEFORE_END_US = 8e6;      // seeks land this far before a track's end

const until = (fn, timeoutMs = STEP_MS, everyMs = 50) => waitFor(fn, timeoutMs, everyMs);
const stats = (page) => page.evaluate(() => window.tutti.syncStats());

/** Creates a room through the landing form; returns its code. */
async function createRoom(page) {
	await page.goto(`${BASE}/`);
	await page.fill('#create-name', 'solo');
	await page.click('#create-btn');
	await page.waitForSelector('#room', {state: 'visible', timeout: STEP_MS});
	return new URL(await page.inputValue('#share-link')).pathname.split('/').pop();
}

/**
 * The room's playlist items long enough to seek near their end, adding
 * library tracks until there are n; returns the first n, in order.
 */
async function fill(page, code, n) {
	const long = (x) => x.duration_us > BEFORE_END_US + 2e6;
	let {version, items} = await roomRequest(page, code, 'GET', '/playlist');
	if (items.filter((it) => long(it.track)).length < n) {
		const tracks = await page.evaluate(async () => {
			const api = await import('/js/api.js');
			return (await api.request('GET', '/api/tracks?limit=50')).tracks;
		});
		for (const t of tracks.filter(long).slice(0, n))
			({version, items} = await roomRequest(page, code, 'POST', '/playlist', {body: {track_id: t.id}, headers: {'If-Match': `"${version}"`}}));
	}
	return items.filter((it) => long(it.track)).slice(0, n);
}

const control = (page, code, body) => roomRequest(page, code, 'POST', '/control', {body});

/** Plays item from BEFORE_END_US before its end; returns the control reply's anchor. */
async function playNearEnd(page, code, item) {
	await control(page, code, {action: 'jump', item_id: item.id});
	const pos = Math.max(0, item.track.duration_us - BEFORE_END_US);
	return (await control(page, code, {action: 'seek', position_us: pos})).playback;
}

/**
 * Polls the page until pred(stats) holds, recording every item heard on the
 * way (stats.playing); returns {s, heard} or {s: null, heard}.
 */
async function watch(page, pred, timeoutMs = STEP_MS) {
	const heard = new Set();
	const s = await until(async () => {
		const x = await stats(page);
		if (x.playing)
			heard.add(x.playing.item_id);
		return pred(x) ? x : null;
	}, timeoutMs);
	return {s, heard};
}

async function run(browser) {
	const context = await browser.newContext();
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	const errors = [];
	page.on('pageerror', (err) => errors.push(err.message));
	const code = await createRoom(page);
	const items = await fill(page, code, 3);
	if (!check(items.length === 3 && items.every((it) => it.track.duration_us > BEFORE_END_US + 2e6),
		'the room has three items, each long enough', JSON.stringify(items.map((it) => [it.id, it.track.duration_us]))))
		return;
	const [a, b, c] = items;
	const live = await until(async () => {
		const s = await stats(page);
		return s.connection === 'live' && s.samples >= 5 && s.audio === 'running';
	});
	check(!!live, 'the page is live, with a measured clock and running audio');
	await page.evaluate(() => Object.defineProperty(document, 'hidden', {configurable: true, get: () => true}));

	// 1. The guess: item b, before the server's advance.
	const anchor = await playNearEnd(page, code, a);
	const endUs = anchor.at_us - anchor.position_us + a.track.duration_us;
	check(anchor.state === 'playing' && anchor.item_id === a.id && anchor.next_item_id === b.id,
		'the room plays the first item near its end, with the second one next', JSON.stringify(anchor));
	const media = () => page.evaluate(() => ({
		title: navigator.mediaSession?.metadata?.title ?? null, album: navigator.mediaSession?.metadata?.album ?? null,
		state: navigator.mediaSession?.playbackState ?? null,
	}));
	const m1 = await until(async () => (await media()).state === 'playing' ? media() : null, 5000);
	check(m1?.title === (a.track.title || 'Untitled') && m1.state === 'playing' && m1.album,
		'the device\'s media controls (Media Session) show the playing title and room, playing', JSON.stringify(m1));
	let w = await watch(page, (s) => s.last_transition?.item_id === b.id && s.last_transition.predicted);
	const room = await roomRequest(page, code, 'GET', '');
	check(!!w.s && !w.s.last_transition.confirmed && room.playback.item_id === a.id,
		'a hidden page continues into next_item_id seconds before the server advances',
		w.s ? `${JSON.stringify(w.s.last_transition)}; server plays item ${room.playback.item_id}, ` +
			`${((endUs - room.now_us) / 1e6).toFixed(2)} s before the end` : 'no guess');

	// 2. What follows changes before the end: the guess follows it.
	const {version} = await roomRequest(page, code, 'GET', '/playlist');
	await roomRequest(page, code, 'PUT', '/playlist', {body: {items: [a.id, c.id, b.id]}, headers: {'If-Match': `"${version}"`}});
	w = await watch(page, (s) => s.last_transition?.item_id === c.id && s.last_transition.confirmed &&
		s.playing?.item_id === c.id);
	const heardB = w.heard.has(b.id);
	check(!!w.s && w.s.last_transition.predicted && w.s.last_transition.gapless,
		'after a reorder the page guesses the new next item, continues gaplessly, and the advance confirms it',
		w.s ? JSON.stringify(w.s.last_transition) : 'never confirmed');
	check(!heardB && w.s?.playing?.item_id === c.id, 'the item guessed first is never heard',
		`heard items ${[...w.heard].join(', ')}; now ${w.s?.playing?.item_id}`);

	// 3. A pause before the end drops the guess.
	await playNearEnd(page, code, c);	// c then b
	w = await watch(page, (s) => s.last_transition?.item_id === b.id && s.last_transition.predicted);
	check(!!w.s, 'the page guesses the item after the next one too', w.s ? JSON.stringify(w.s.last_transition) : '');
	const paused = (await control(page, code, {action: 'pause'})).playback;
	w = await watch(page, (s) => s.playing === null && s.lookahead_s === null);
	await sleep(1000);	// past where b would have started had the guess stood
	const after = await stats(page);
	const m2 = await media();
	check(m2.state === 'paused' && m2.title === (c.track.title || 'Untitled'),
		'after the pause the media controls say paused, on the same title', JSON.stringify(m2));
	check(paused.state === 'paused' && paused.item_id === c.id && !!w.s && !w.heard.has(b.id) &&
		after.playing === null && after.lookahead_s === null && !after.last_transition.confirmed,
	'a pause before the end stops the page and drops its guess unheard',
	`pause ${JSON.stringify(paused)}; heard ${[...w.heard].join(', ')}; after: playing ${JSON.stringify(after.playing)}, ` +
		`lookahead ${after.lookahead_s}, transition ${JSON.stringify(after.last_transition)}`);
	check(errors.length === 0, 'no page errors', errors.join('\n'));
	note(`room ${code}`);
}

runTest(TOTAL_MS, run);
