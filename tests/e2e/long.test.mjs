// long.test.mjs - long tracks decoded in segments (web/js/mp3-index.js,
// segmented-track.js, sync-chain.js, player.js). (a) mp3-index.js on MP3s
// made here with sox and lame (CBR, VBR, mono, 48 kHz, 32 kbit/s, MPEG-2 and
// 2.5, no tag, ID3v2, junk mid-file) gives the length of Chromium's whole
// decode, and the segments, decoded one by one, hold its samples at every
// index (at the file's rate; at another rate the same resampled timeline
// as one pass, aligned with Chromium's resampler); a chain over a segmented
// track rendered offline joins sample-exactly across segment boundaries.
// (b) A 10.5-minute upload plays in a page through the segmented path:
// little decoded, segment boundaries crossed without an underrun and on
// schedule, a seek far ahead, a gapless advance into the next track.
// (c) A second page forced to decode whole (localStorage
// "tutti.long_track_s") plays it in sync with the first, within 5 ms.
//
//   TUTTI_URL=http://127.0.0.1:PORT node long.test.mjs   (tests/e2e/run.sh)

import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {indexMp3, preroll} from '../../web/js/mp3-index.js';
import {BASE, check, note, pageClockOffset, quantile, roomRequest, runTest, sleep, until as waitFor} from './harness.mjs';

const STEP_MS = 25000;            // the longest one step may wait
const TOTAL_MS = 170000;
const LONG_S = 630;               // the long track: over player.js LONG_TRACK_S (600)
const SPREAD_LIMIT_US = 5000;     // as sync.test.mjs: p95 of the spread between the pages
const STEADY_MS = 22000;          // played from the start: crosses the segments at ~10 and ~20 s
const SEEK_TO_S = 500;            // the seek far ahead
const AFTER_SEEK_MS = 12000;      // ... played from there: crosses the segment at ~500.2 s
const SEGMENT_BOUND_S = 80;       // decoded audio a segmented track may hold (20 s behind, 30 s decoded ahead, slack)
const SCHEDULE_LIMIT_US = 1000;   // |schedule_error_us| while playing segments
const SAMPLE_EVERY_MS = 250;
const STEP_BEFORE_MS = 1000;       // a round this long before an output-clock step ...
const STEP_AFTER_MS = 3000;        // ... or this long after it is set aside (as in sync.test.mjs)

const until = (fn, timeoutMs = STEP_MS, everyMs = 100) => waitFor(fn, timeoutMs, everyMs);
const stats = (page) => page.evaluate(() => window.tutti.syncStats());
const ms = (us) => `${(us / 1000).toFixed(3)} ms`;
const MB = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

// --- The audio ----------------------------------------------------------

/**
 * MP3s for the index checks (24 s each; plucks and a modulated tone over
 * pink noise, so that the encoder uses its bit reservoir), the long track
 * and the short one after it. Returns {name: path}.
 */
function makeAudio(dir) {
	const sox = (...args) => execFileSync('sox', ['-q', '-R', ...args]);	// -R: the same noise every run
	const lame = (...args) => execFileSync('lame', ['--quiet', ...args]);
	const wav = (name) => join(dir, `${name}.wav`);
	sox('-n', '-r', '44100', '-c', '2', wav('tone'), 'synth', '24', 'pluck', 'C3', 'pluck', 'E4', 'synth', '24', 'sine', 'amod', '0.5', '30', 'gain', '-6');
	sox('-n', '-r', '44100', '-c', '2', wav('noise'), 'synth', '24', 'pinknoise', 'gain', '-20');
	sox('-m', wav('tone'), wav('noise'), wav('src'));
	sox(wav('src'), '-r', '48000', wav('src48'));
	sox(wav('src'), '-c', '1', wav('mono'));
	const files = {};
	const mp3 = (name, src, ...opts) => {
		files[name] = join(dir, `${name}.mp3`);
		lame(...opts, wav(src), files[name]);
	};
	mp3('cbr', 'src', '-b', '128');
	mp3('vbr', 'src', '-V2');
	mp3('mono', 'mono', '-m', 'm', '-b', '64');
	mp3('r48', 'src48', '-b', '192');
	mp3('b32', 'src', '-b', '32', '--resample', '44.1');   // frames too small for a tag; a deep reservoir
	mp3('lsf', 'src', '-b', '32');                         // MPEG-2, 16 kHz
	mp3('r8', 'src', '-b', '16', '--resample', '8');       // MPEG-2.5, 8 kHz
	mp3('notag', 'src', '-t', '-b', '128');
	mp3('id3', 'src', '--add-id3v2', '--tt', 'Tagged', '--ta', 'long test', '-b', '160');
	// 300 zero bytes between two frames in the middle: not segmentable.
	const cbr = readFileSync(files.cbr);
	let at = cbr.length >> 1;
	while (!(cbr[at] === 0xff && (cbr[at + 1] & 0xe0) === 0xe0))
		at++;
	files.junk = join(dir, 'junk.mp3');
	writeFileSync(files.junk, Buffer.concat([cbr.subarray(0, at), Buffer.alloc(300), cbr.subarray(at)]));
	// The long track: 21 s repeated to LONG_S; the one after it.
	sox('-n', '-r', '44100', '-c', '2', wav('t21'), 'synth', '21', 'pluck', 'G3', 'pluck', 'B4', 'synth', '21', 'sine', 'amod', '0.7', '30', 'gain', '-6');
	sox('-m', wav('t21'), wav('noise'), wav('l21'), 'trim', '0', '21');
	sox(wav('l21'), wav('long'), 'repeat', String(LONG_S / 21 - 1));
	files.long = join(dir, 'long-mix.mp3');
	lame('-b', '128', '-q', '7', '--add-id3v2', '--tt', 'Long Mix', '--ta', 'long test', wav('long'), files.long);
	sox('-n', '-r', '44100', '-c', '2', wav('tail'), 'synth', '20', 'sine', '330', 'gain', '-12');
	files.tail = join(dir, 'tail-piece.mp3');
	lame('-b', '128', '--add-id3v2', '--tt', 'Tail Piece', '--ta', 'long test', wav('tail'), files.tail);
	return files;
}

// --- (a) in node: the index itself --------------------------------------

function checkIndexNode(files) {
	const rows = [];
	let bad = 0;
	for (const name of ['cbr', 'vbr', 'mono', 'r48', 'b32', 'lsf', 'r8', 'notag', 'id3']) {
		const bytes = new Uint8Array(readFileSync(files[name]));
		const ix = indexMp3(bytes);
		if (!ix) {
			bad++;
			rows.push(`${name}: not indexed`);
			continue;
		}
		// Frames follow each other without a gap; each preroll covers the reservoir.
		let gaps = 0;
		for (let j = 1; j < ix.count; j++)
			if (ix.frames[j] <= ix.frames[j - 1])
				gaps++;
		const pres = [1, Math.floor(ix.count / 2), ix.count - 1].map((j) => preroll(ix, j));
		if (gaps || ix.junk)
			bad++;
		rows.push(`${name}: ${ix.sampleRate} Hz × ${ix.channels}, ${ix.count} frames of ${ix.samplesPerFrame}, tag ${ix.tag}, ` +
			`start trim ${ix.startTrim}, length ${ix.length}, end trim ${ix.endTrim}, preroll ${pres.join('/')}`);
	}
	check(bad === 0, 'mp3-index: every generated MP3 is indexed, frames in order, no junk', rows.join('\n'));
	const expect = {cbr: 'lame', vbr: 'lame', mono: 'lame', r48: 'lame', id3: 'lame', notag: null, b32: null, lsf: null, r8: null};
	const tags = Object.entries(expect).map(([n, want]) => [n, indexMp3(readFileSync(files[n]))?.tag, want]);
	check(tags.every(([, got, want]) => got === want),
		'mp3-index: a LAME tag is read where lame wrote one (not with -t, nor in frames too small for it)',
		tags.map(([n, got]) => `${n} ${got}`).join(', '));
	const junk = indexMp3(readFileSync(files.junk));
	const noise = indexMp3(new Uint8Array(200000).map((_, i) => (i * 7919 + 13) % 251));
	const wav = indexMp3(readFileSync(files.cbr.replace(/cbr\.mp3$/, 'src.wav')));
	check(junk?.junk === 300 && noise === null && wav === null,
		'mp3-index: resyncs past 300 junk bytes (and counts them); refuses noise and a WAV',
		`junk ${junk?.junk}; noise ${JSON.stringify(noise)}; wav ${JSON.stringify(wav)}`);
}

// --- (a) in Chromium: lengths and samples ---------------------------------

/**
 * For each file, in the page: the index's length against Chromium's whole
 * decode, every sample of the segments (segmentS 3: many boundaries) against
 * it, and at the other common rate against a one-pass resampling of it and
 * against Chromium's own resampled decode.
 */
async function checkSegmentsInPage(page, files) {
	const names = ['cbr', 'vbr', 'mono', 'r48', 'b32', 'lsf', 'r8', 'notag', 'id3', 'junk'];
	await page.route('**/long-test/*', (route) => {
		const name = new URL(route.request().url()).pathname.split('/').pop();
		return route.fulfill({status: 200, contentType: 'audio/mpeg', body: readFileSync(files[name])});
	});
	const results = await page.evaluate(async (names) => {
		const {indexMp3} = await import('/js/mp3-index.js');
		const {SegmentedTrack, Resampler, canSegment} = await import('/js/segmented-track.js');
		const decode = (bytes, channels, rate) => new OfflineAudioContext(channels, 1, rate).decodeAudioData(bytes.slice().buffer);
		const out = [];
		for (const name of names) {
			const bytes = new Uint8Array(await (await fetch(`/long-test/${name}`)).arrayBuffer());
			const ix = indexMp3(bytes);
			const native = await decode(bytes, ix.channels, ix.sampleRate);
			const r = {name, rate: ix.sampleRate, ixLength: ix.length, chromeLength: native.length, segmentable: canSegment(ix, ix.sampleRate), runs: []};
			if (!r.segmentable) {
				out.push(r);
				continue;
			}
			for (const rate of [ix.sampleRate, ix.sampleRate === 48000 ? 44100 : 48000]) {
				const track = new SegmentedTrack(bytes, ix, rate, {segmentS: 3});
				let ref = [];
				for (let c = 0; c < native.numberOfChannels; c++)
					ref.push(native.getChannelData(c));
				if (rate !== ix.sampleRate) {	// the same filter in one pass over the whole decode
					const rs = new Resampler(ix.sampleRate, rate);
					const n = rs.outLength(native.length);
					const [lo, hi] = rs.inputRange(0, n);
					ref = ref.map((x) => {
						const padded = new Float32Array(hi - lo);
						padded.set(x, -lo);
						const y = new Float32Array(n);
						rs.run(padded, lo, 0, n, y);
						return y;
					});
				}
				const chrome = rate === ix.sampleRate ? native : await decode(bytes, ix.channels, rate);
				let wrong = 0;
				let first = null;
				let covered = 0;
				let segments = 0;
				for (let frame = 0; frame < track.length; segments++) {
					await track.ready(frame);
					const seg = track.segmentAt(frame);
					if (!seg || seg.start !== frame)
						throw new Error(`${name}: no segment starting at ${frame}`);
					for (let c = 0; c < track.numberOfChannels; c++) {
						const x = seg.buffer.getChannelData(c);
						const y = ref[c];
						for (let i = 0; i < x.length; i++) {
							if (x[i] !== y[seg.start + i]) {
								wrong++;
								first ??= {index: seg.start + i, got: x[i], want: y[seg.start + i]};
							}
						}
					}
					covered += seg.buffer.length;
					frame = seg.start + seg.buffer.length;
				}
				// Against Chromium's resampler: relative RMS error at lags -1, 0, +1.
				const err = (lag) => {
					let e = 0;
					let p = 0;
					const x = ref[0];
					const y = chrome.getChannelData(0);
					for (let i = 4096; i < y.length - 4096; i++) {
						e += (x[i + lag] - y[i]) ** 2;
						p += y[i] ** 2;
					}
					return Math.sqrt(e / p);
				};
				r.runs.push({rate, length: track.length, chromeLength: chrome.length, refLength: ref[0].length, covered, segments,
					wrong, first, errs: [err(-1), err(0), err(1)]});
			}
			out.push(r);
		}
		return out;
	}, names);
	for (const r of results) {
		if (r.name === 'junk') {
			// Chromium's decoder loses audio at junk, how much depending on the
			// bytes around it (0 to 7729 samples here): the index's timeline
			// need not be the whole decode's, so the player decodes it whole.
			check(!r.segmentable, 'junk between frames: the track is not segmented (decoded whole)',
				`index length ${r.ixLength}, Chromium's whole decode ${r.chromeLength} ` +
				`(${r.ixLength - r.chromeLength} samples fewer); segmentable ${r.segmentable}`);
			continue;
		}
		check(r.segmentable && r.ixLength === r.chromeLength,
			`${r.name}: the index gives the length of Chromium's whole decode (${r.chromeLength} at ${r.rate} Hz)`,
			`index ${r.ixLength}, Chromium ${r.chromeLength}`);
		for (const run of r.runs) {
			const same = run.rate === r.rate;
			const [m1, e0, p1] = run.errs;
			const aligned = same ? e0 === 0 : e0 < 1e-3 && m1 > 100 * e0 && p1 > 100 * e0;
			check(run.length === run.chromeLength && run.covered === run.length && run.wrong === 0 && aligned,
				same ? `${r.name}: ${run.segments} segments decoded one by one hold the whole decode's samples at every index` :
					`${r.name} at ${run.rate} Hz: ${run.segments} resampled segments join exactly, with Chromium's length and phase`,
				`length ${run.length} (Chromium ${run.chromeLength}), covered ${run.covered}, ${run.wrong} samples differ` +
				`${run.first ? ` (first at ${JSON.stringify(run.first)})` : ''}; relative RMS error against Chromium at lag -1/0/+1: ` +
				run.errs.map((e) => e.toExponential(2)).join(' / '));
		}
	}
}

/**
 * A chain over a segmented track (segments of 1 s), rendered offline with
 * drops and inserts: every output sample is the whole decode's sample the
 * chunk log puts there, across segment boundaries.
 */
async function checkRender(page) {
	const r = await page.evaluate(async () => {
		const {indexMp3} = await import('/js/mp3-index.js');
		const {SegmentedTrack} = await import('/js/segmented-track.js');
		const {Voice} = await import('/js/sync-chain.js');
		const bytes = new Uint8Array(await (await fetch('/long-test/vbr')).arrayBuffer());
		const ix = indexMp3(bytes);
		const rate = ix.sampleRate;
		const whole = await new OfflineAudioContext(2, 1, rate).decodeAudioData(bytes.slice().buffer);
		const total = rate * 6;
		const ctx = new OfflineAudioContext(2, total, rate);
		const track = new SegmentedTrack(bytes, ix, rate, {segmentS: 1});
		const log = [];
		const voice = new Voice(ctx, track, ctx.destination, {originFrame: 1007 - 7 * rate, startFrame: 1010, log});
		let waited = 0;
		for (let k = 0; voice.nextFrame < total - rate && k < 10000; k++) {
			voice.adjust = k % 6 === 1 ? -3 : k % 6 === 4 ? 3 : 0;
			if (!voice.fill(voice.nextFrame + 1, 0)) {
				waited++;
				await track.ready(voice.nextBufferFrame);
			}
		}
		const rendered = await ctx.startRendering();
		const expected = [new Float32Array(total), new Float32Array(total)];
		for (const c of log)
			for (let ch = 0; ch < 2; ch++)
				expected[ch].set(whole.getChannelData(ch).subarray(c.offset, c.offset + c.length), c.start);
		let wrong = 0;
		for (let ch = 0; ch < 2; ch++) {
			const y = rendered.getChannelData(ch);
			for (let n = 0; n < total; n++)
				if (y[n] !== expected[ch][n])
					wrong++;
		}
		let boundaries = 0;
		let broken = 0;
		let crossing = 0;
		for (let i = 1; i < log.length; i++) {
			if (log[i].segment !== log[i - 1].segment)
				boundaries++;
			if (log[i].start !== log[i - 1].start + log[i - 1].length)
				broken++;
			const seg = track.segmentAt(log[i - 1].offset);
			if (!seg || seg.start !== log[i - 1].segment || log[i - 1].offset - seg.start + log[i - 1].length > seg.buffer.length)
				crossing++;
		}
		return {chunks: log.length, boundaries, broken, crossing, wrong, samples: 2 * total, waited, waits: voice.waits,
			inserted: voice.inserted, dropped: voice.dropped};
	});
	check(r.wrong === 0 && r.broken === 0 && r.crossing === 0 && r.boundaries >= 4 && r.inserted > 0 && r.dropped > 0,
		`a chain over a segmented track joins sample-exactly across ${r.boundaries} segment boundaries (rendered offline)`,
		`${r.chunks} chunks, ${r.dropped} dropped, ${r.inserted} inserted; ${r.wrong} of ${r.samples} output samples differ from ` +
		`the whole decode; ${r.broken} joins not contiguous, ${r.crossing} chunks past their segment's end; ` +
		`the chain waited for a segment ${r.waits} times`);
}

// --- (b), (c): two pages playing the long track ----------------------------

async function openPage(browser, who, init) {
	const context = await browser.newContext({viewport: {width: 1000, height: 800}});
	if (init)
		await context.addInitScript(init);
	const page = await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	const errors = [];
	page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() === 'error' && !/Failed to load resource|net::ERR_/.test(msg.text()))
			errors.push(`${who} console: ${msg.text()}`);
	});
	return {page, errors, who, offset: 0};
}


/** One round: each page's stats and the true instant (node's clock) of its playing track's first sample. */
async function round(pages) {
	const all = await Promise.all(pages.map((p) => stats(p.page)));
	return all.map((s, i) => ({
		s,
		key: s.playing ? `${s.playing.item_id}@${s.playing.at_us - s.playing.position_us}` : null,
		true_us: s.first_sample_client_us === null ? null : s.first_sample_client_us - pages[i].offset,
	}));
}

function spreadOf(r) {
	if (r.some((x) => x.key === null || x.key !== r[0].key || x.true_us === null))
		return null;
	const t = r.map((x) => x.true_us);
	return Math.max(...t) - Math.min(...t);
}

/** Waits until both pages play the same anchor, not `not`, with nothing loading; returns the round. */
function together(pages, not) {
	return until(async () => {
		const r = await round(pages);
		return r.every((x) => x.key && x.key === r[0].key && x.key !== not && x.true_us !== null && x.s.loading === 0) ? r : null;
	}, 40000, 200);
}

/** Rounds for durationMs; returns them. */
async function sample(pages, durationMs) {
	const out = [];
	const end = Date.now() + durationMs;
	while (Date.now() < end) {
		const started = Date.now();
		const r = await round(pages);
		r.at = started;
		out.push(r);
		await sleep(Math.max(0, SAMPLE_EVERY_MS - (Date.now() - started)));
	}
	return out;
}

/** Where the first page (S) is heard in its track (s), by its own stats. */
const heardAt = (s) => (s.server_now_us - s.first_sample_server_us) / 1e6;

/** The segment boundaries (s) of the long track, as segmented-track.js lays them out at 44.1 kHz. */
function boundaries(ix) {
	const per = Math.round(10 * ix.sampleRate / ix.samplesPerFrame);
	const out = [];
	for (let j = per; j < ix.count; j += per)
		out.push((j * ix.samplesPerFrame - ix.startTrim) / ix.sampleRate);
	return out;
}

/**
 * The rounds not near an output-clock step: when the browser's one audio
 * service misses a buffer, a page's output clock steps by it (~23 ms) and
 * the page resyncs within player.js's STEP_BLAME_MS; rounds from
 * STEP_BEFORE_MS before to STEP_AFTER_MS after a step of either page are set
 * aside (as sync.test.mjs does). Returns {clean, aside, steps}.
 */
function clean(rounds) {
	const steps = [];
	for (let i = 1; i < rounds.length; i++)
		if (rounds[i].some((x, j) => x.s.output_steps !== rounds[i - 1][j].s.output_steps))
			steps.push(rounds[i].at);
	const kept = rounds.filter((r) => steps.every((t) => r.at < t - STEP_BEFORE_MS || r.at > t + STEP_AFTER_MS));
	return {clean: kept, aside: rounds.length - kept.length, steps: steps.length};
}

/** Checks one window of rounds: spread p95, and S's segments. Returns the summary line. */
function judge(label, all, sBefore, sAfter, ix) {
	const {clean: rounds, aside, steps} = clean(all);
	note(`${label}: ${all.length} rounds; ${aside} set aside near ${steps} output-clock steps`);
	const spreads = rounds.map(spreadOf).filter((x) => x !== null);
	const p95 = quantile(spreads, 0.95);
	check(spreads.length >= 20 && p95 <= SPREAD_LIMIT_US,
		`${label}: the segmented page and the whole-decoding page play together (spread p95 ${ms(p95)}, limit 5 ms)`,
		`${spreads.length} of ${rounds.length} rounds compared; median ${ms(quantile(spreads, 0.5))}, max ${ms(Math.max(...spreads))}`);
	const S = rounds.map((r) => r[0].s);
	const heard = S.filter((s) => s.playing && s.first_sample_server_us !== null).map(heardAt);
	const lo = Math.min(...heard);
	const hi = Math.max(...heard);
	const crossed = boundaries(ix).filter((b) => b > lo && b < hi);
	const maxBytes = Math.max(...S.map((s) => s.track_bytes ?? Infinity));
	const bound = SEGMENT_BOUND_S * ix.sampleRate * ix.channels * 4;
	const errs = S.map((s) => Math.abs(s.schedule_error_us ?? Infinity));
	check(S.every((s) => s.track_held === 'segments') && maxBytes <= bound,
		`${label}: the long track plays from segments, holding at most ${MB(maxBytes)} decoded (bound ${MB(bound)})`,
		`held: ${[...new Set(S.map((s) => s.track_held))].join(', ')}; decoded bytes of every cached track at the end ${MB(sAfter.decoded_bytes)}`);
	check(crossed.length >= 1 && sAfter.underruns === sBefore.underruns && sAfter.segment_decodes > sBefore.segment_decodes &&
		quantile(errs, 0.95) <= SCHEDULE_LIMIT_US,
	`${label}: heard from ${lo.toFixed(1)} s to ${hi.toFixed(1)} s, across ${crossed.length} segment boundaries, ` +
		`with no underrun and on schedule (p95 |error| ${(quantile(errs, 0.95) / 1000).toFixed(3)} ms)`,
	`boundaries crossed ${crossed.map((b) => b.toFixed(3)).join(', ')}; underruns ${sBefore.underruns} -> ${sAfter.underruns}; ` +
		`segments decoded ${sBefore.segment_decodes} -> ${sAfter.segment_decodes}; waits for a segment ${sBefore.segment_waits} -> ` +
		`${sAfter.segment_waits}; resyncs ${sBefore.resyncs} -> ${sAfter.resyncs}`);
	return crossed.length;
}

async function playLong(browser, files) {
	const ix = indexMp3(new Uint8Array(readFileSync(files.long)));
	const S = await openPage(browser, 'segments');
	const W = await openPage(browser, 'whole', () => localStorage.setItem('tutti.long_track_s', '100000'));
	await S.page.goto(`${BASE}/`);
	await S.page.fill('#create-name', 'seg');
	await S.page.click('#create-btn');
	await S.page.waitForSelector('#room', {state: 'visible'});
	const link = await S.page.inputValue('#share-link');
	const code = new URL(link).pathname.split('/').pop();
	await checkSegmentsInPage(S.page, files);
	await checkRender(S.page);

	// The long track and the one after it, uploaded through the panel.
	await S.page.setInputFiles('#upload-panel input[type=file][multiple]', [files.long, files.tail]);
	const uploaded = await until(async () => {
		const rows = await S.page.$$eval('#upload-panel li[data-upload]', (ns) => ns.map((n) => n.dataset.state));
		return rows.length === 2 && rows.every((s) => s === 'done' || s === 'error') ? rows : null;
	}, 60000);
	let {version, items} = await roomRequest(S.page, code, 'GET', '/playlist');
	const long = items.find((it) => it.track.title === 'Long Mix');
	const tail = items.find((it) => it.track.title === 'Tail Piece');
	if (!check(uploaded?.every((s) => s === 'done') && long && tail, 'both tracks are uploaded into the playlist',
		JSON.stringify({uploaded, titles: items.map((it) => it.track.title)})))
		return;
	note(`long track: ${long.track.duration_us} µs by the server, ${ix.length} samples at ${ix.sampleRate} Hz by the index ` +
		`(${(ix.length / ix.sampleRate * 1e6).toFixed(0)} µs); ${readFileSync(files.long).length} bytes`);
	const order = [long.id, tail.id, ...items.filter((it) => it !== long && it !== tail).map((it) => it.id)];
	({version, items} = await roomRequest(S.page, code, 'PUT', '/playlist', {body: {items: order}, headers: {'If-Match': `"${version}"`}}));

	await W.page.goto(link);
	await W.page.waitForSelector('#join-name');
	await W.page.fill('#join-name', 'whole');
	await W.page.click('#join-btn');
	await W.page.waitForSelector('#room', {state: 'visible'});
	const pages = [S, W];
	const live = await until(async () => (await Promise.all(pages.map((p) => stats(p.page))))
		.every((s) => s.connection === 'live' && s.samples >= 10 && s.audio === 'running'));
	if (!check(!!live, 'both pages are live, with a measured clock and running audio'))
		return;

	// (b), (c): from the start.
	await roomRequest(S.page, code, 'POST', '/control', {body: {action: 'jump', item_id: long.id}});
	let r = await together(pages, null);
	if (!check(!!r && r[0].s.playing.item_id === long.id, 'both pages play the long track',
		r ? `S ${r[0].s.track_held}, W ${r[1].s.track_held}` : JSON.stringify((await round(pages)).map((x) => x.s.playing))))
		return;
	const wholeBytes = r[1].s.track_bytes;
	check(r[1].s.track_held === 'whole' && wholeBytes === ix.length * ix.channels * 4 && r[0].s.track_held === 'segments',
		'the page with tutti.long_track_s = 100000 decodes it whole, the other in segments',
		`whole: ${MB(wholeBytes)} decoded; segments: ${MB(r[0].s.track_bytes)}`);
	for (const p of pages)
		p.offset = (await pageClockOffset(p.page)).offset_us;
	let before = (await stats(S.page));
	let rounds = await sample(pages, STEADY_MS);
	let after = await stats(S.page);
	let crossed = judge('from the start', rounds, before, after, ix);

	// A seek far ahead.
	const key = r[0].key;
	const seek = (await roomRequest(S.page, code, 'POST', '/control', {body: {action: 'seek', position_us: SEEK_TO_S * 1e6}})).playback;
	r = await together(pages, key);
	check(!!r && r[0].s.playing.position_us === SEEK_TO_S * 1e6 && r[0].s.track_held === 'segments',
		`after a seek to ${SEEK_TO_S} s the segmented page plays from there`,
		r ? `anchor ${JSON.stringify(r[0].s.playing)}; last schedule late by ${r[0].s.lastSchedule?.late_us} µs` : JSON.stringify(seek));
	for (const p of pages)
		p.offset = (await pageClockOffset(p.page, 10)).offset_us;
	before = await stats(S.page);
	rounds = await sample(pages, AFTER_SEEK_MS);
	after = await stats(S.page);
	crossed += judge(`after the seek to ${SEEK_TO_S} s`, rounds, before, after, ix);
	note(`segment boundaries crossed while sampled: ${crossed}`);

	// The end, and the next track gaplessly.
	await roomRequest(S.page, code, 'POST', '/control', {body: {action: 'seek', position_us: long.track.duration_us - 6e6}});
	const advanced = await until(async () => {
		const all = await Promise.all(pages.map((p) => stats(p.page)));
		return all.every((s) => s.last_transition?.item_id === tail.id && s.last_transition.confirmed && s.playing?.item_id === tail.id) ? all : null;
	}, 30000, 250);
	check(!!advanced && advanced.every((s) => s.last_transition.gapless),
		'after the long track the next one starts gaplessly on both pages',
		JSON.stringify(advanced ? advanced.map((s) => s.last_transition) : await Promise.all(pages.map((p) => stats(p.page).then((s) => s.last_transition)))));
	const end = await Promise.all(pages.map((p) => stats(p.page)));
	note(`memory: the long track decoded whole ${MB(wholeBytes)}; in segments at most ${MB(SEGMENT_BOUND_S * ix.sampleRate * ix.channels * 4)} ` +
		`by design; every cached track at the end: segmented page ${MB(end[0].decoded_bytes)}, whole page ${MB(end[1].decoded_bytes)}`);
	const errors = pages.flatMap((p) => p.errors);
	check(errors.length === 0, 'no page errors', errors.join('\n'));
}

runTest(TOTAL_MS, async (browser) => {
	const dir = mkdtempSync(join(tmpdir(), 'tutti-long-'));
	try {
		const started = Date.now();
		const files = makeAudio(dir);
		note(`audio made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
		checkIndexNode(files);
		await playLong(browser, files);
	} finally {
		rmSync(dir, {recursive: true, force: true});
	}
});
