/*
 * player.js - plays the room's anchor on this device's audio clock. An anchor
 * ("at server time at_us item item_id is at position_us", docs/protocol.md)
 * goes through clock.js to this page's clock and through the AudioContext's
 * output timestamp to the audio clock. Each track is decoded once, whole
 * (or in segments when it is long: below), cached by track id with the next
 * one prefetched, and played as a chain of short AudioBufferSourceNodes
 * (sync-chain.js), each started on an exact sample frame with start(when,
 * offset); a lookahead scheduler keeps about LOOKAHEAD_S of chunks queued.
 * app.js drives it.
 *
 * Long tracks: a track longer than LONG_TRACK_S (the `longTrackS` option,
 * else localStorage "tutti.long_track_s", else 600 s) whose MP3 indexes
 * cleanly (mp3-index.js) is kept compressed and decoded in segments around
 * where it plays (segmented-track.js), on the same sample timeline as a
 * whole decode; anything else is decoded whole as before. The cache holds
 * tracks up to CACHE_BYTES of decoded (and, for segmented tracks,
 * compressed) bytes, least recently used let go first.
 *
 * Auto-advance: once the end of the playing track is inside the lookahead
 * and the anchor names what follows (next_item_id) the player continues
 * into it on its own, on the anchor the server's advance will carry (that
 * item at position 0 from the track's end). The advance event then only
 * confirms it, so a transition is gapless however late the event arrives;
 * an event that says otherwise (the playlist changed meanwhile) replaces the
 * guess as any new anchor does.
 *
 * Drift: every tick compares where the chain puts the track's first sample
 * (a whole context frame) with where the anchor, the clock offset and the
 * output timestamp say it belongs. Past CORRECT_ABOVE_S the chain drops or
 * repeats one sample at each chunk join (at most one per CHUNK_S, ~450 ppm)
 * until the error is under CORRECT_UNTIL_S; past RESYNC_OVER_S on two ticks
 * in a row it restarts at the right position (a hard resync, crossfaded).
 *
 * Output latency: ctx.getOutputTimestamp() pairs the context time of the
 * sample the device is playing with the performance time it is heard, so
 * mapping through that pair already includes the output latency (measured
 * in Chromium: the pair lags currentTime by outputLatency + one buffer).
 * outputLatency (else baseLatency) is added only when that pair is
 * unavailable, and the user's own adjustment (ms, positive = "this device
 * sounds late") always. The pair is read every tick and the median of the
 * last readings is used, so one late audio callback moves nothing.
 *
 * Calibration: setCalibration(true) plays a short click at every whole
 * second of server time through the same mapping, so devices side by side
 * tick together once each has its adjustment right.
 *
 * stats() (part of window.tutti.syncStats()) is described in
 * docs/protocol.md, "Browser measurement hook".
 */

import {clientNowUs} from './clock.js';
import {indexMp3} from './mp3-index.js';
import {SegmentedTrack, canSegment} from './segmented-track.js';
import {FADE_S, Voice, cancelNode, clickBuffer, frameTime} from './sync-chain.js';

const TICK_MS = 100;             // the scheduler's period while the page is visible ...
const HIDDEN_TICK_MS = 1000;     // ... and while it is hidden (browsers slow timers down)
const LOOKAHEAD_S = 0.8;         // chunks queued this far ahead of the audio clock ...
const HIDDEN_LOOKAHEAD_S = 4;    // ... or this far while hidden
const START_LEAD_S = 0.03;       // nothing is scheduled closer to currentTime than this
const CORRECT_ABOVE_S = 0.0005;  // an error past this is corrected sample by sample ...
const CORRECT_UNTIL_S = 0.00005; // ... until it is under this
const RESYNC_OVER_S = 0.01;      // past this on two ticks in a row: restart at the right position
const REPLACE_OVER_S = 0.0002;   // a chain not heard yet is re-placed when off by more than this
const CLICK_MOVE_S = 0.0005;     // a calibration click not heard yet is moved when off by more than this
const GAPLESS_WITHIN_US = 2000;  // an anchor starting this close to the end of the one before continues it
const READINGS = 7;              // the median of this many readings of where the first sample belongs
const CACHE_BYTES = 256 * 2 ** 20;  // tracks kept up to this many bytes (a minute of decoded stereo at 44.1 kHz is ~21 MB)
const LONG_TRACK_S = 600;        // a track longer than this is decoded in segments when it can be
const LONG_TRACK_KEY = 'tutti.long_track_s';	// localStorage: another threshold (s), for tests and small devices
const FIRST_SEGMENT_TRIES = 4;   // a start waits for the segment at its position at most this many times ...
const FIRST_AHEAD_S = 2;         // ... and for the one this far on (a start just before a segment's end)
const RETRY_LOAD_MS = 5000;      // a track that could not be loaded is tried again after this
const STALE_TIMESTAMP_MS = 500;   // an output timestamp this far from now is not used ...
const FALLBACK_AFTER_MS = 1500;   // ... and after this long without one, the latency estimate is
const OUTPUT_STEP_MS = 5;         // the output mapping moving this much at once is a glitch of the device
const STEP_BLAME_MS = 3000;       // a restart this soon after such a step is blamed on it, not on drift
const RESAMPLE_AFTER_MS = 150;    // a mapping asked for with no reading this recent reads one first

/** True when two anchors describe the same schedule. */
export function sameAnchor(a, b) {
	return !!a && !!b && a.state === b.state && a.item_id === b.item_id &&
		a.track_id === b.track_id && a.position_us === b.position_us && a.at_us === b.at_us;
}

function median(values) {
	const v = [...values].sort((a, b) => a - b);
	const mid = v.length >> 1;
	return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * OutputClock: when a context time is heard, on the performance timeline.
 * Keeps the last readings of (performanceTime - contextTime) from
 * getOutputTimestamp() and answers with their median; falls back to
 * currentTime + outputLatency only when no timestamp has been usable for
 * FALLBACK_AFTER_MS (a single odd timestamp changes nothing).
 */
class OutputClock {
	#ctx;
	#readings = [];
	#lastContextTime = -1;
	#lastGood = -Infinity;	// performance.now() of the last usable timestamp
	steps = 0;              // times the mapping stepped by more than OUTPUT_STEP_MS
	lastStepMs = -Infinity; // performance.now() of the last step

	constructor(ctx) {
		this.#ctx = ctx;
	}

	/** "output-timestamp", or "latency-estimate" while no timestamp is usable. */
	get kind() {
		return this.#usable() ? 'output-timestamp' : 'latency-estimate';
	}

	/** Takes one reading. */
	sample() {
		const ctx = this.#ctx;
		if (typeof ctx.getOutputTimestamp !== 'function')
			return;
		const ts = ctx.getOutputTimestamp();
		const now = performance.now();
		if (!(ts.contextTime > 0 && ts.performanceTime > 0 && Math.abs(now - ts.performanceTime) < STALE_TIMESTAMP_MS))
			return;
		this.#lastGood = now;
		if (ts.contextTime === this.#lastContextTime)
			return;	// nothing new since the last audio callback
		this.#lastContextTime = ts.contextTime;
		const before = this.#readings.length ? median(this.#readings) : null;
		this.#readings.push(ts.performanceTime - ts.contextTime * 1000);
		if (this.#readings.length > 9)
			this.#readings.shift();
		if (before !== null && Math.abs(median(this.#readings) - before) > OUTPUT_STEP_MS) {
			this.steps++;	// the device skipped or repeated a buffer: the music moved with it
			this.lastStepMs = now;
		}
	}

	/**
	 * The performance time (ms) at which context time 0 would be heard. Reads
	 * the timestamp again first when the last reading is older than a tick
	 * (the page may have been busy: a decode, a garbage collection).
	 */
	get zeroMs() {
		if (performance.now() - this.#lastGood > RESAMPLE_AFTER_MS)
			this.sample();
		if (this.#usable())
			return median(this.#readings);
		const ctx = this.#ctx;
		const latency = ctx.outputLatency || ctx.baseLatency || 0;
		return performance.now() + latency * 1000 - ctx.currentTime * 1000;
	}

	#usable() {
		return this.#readings.length > 0 && performance.now() - this.#lastGood < FALLBACK_AFTER_MS;
	}
}

/** The threshold stored under LONG_TRACK_KEY (a number of seconds), else undefined. */
function storedLongTrackS() {
	try {
		const v = localStorage.getItem(LONG_TRACK_KEY);
		return v === null || v.trim() === '' ? undefined : Number(v);
	} catch {
		return undefined;
	}
}

/**
 * Player emits "audiostate" (the AudioContext was suspended or resumed) and
 * "error" {message} (a track could not be loaded or decoded).
 */
export class Player extends EventTarget {
	#clock;
	#ctx;
	#gain;
	#out;
	#loading = 0;           // tracks being fetched or decoded
	#tracks = new Map();    // track id -> track {id, url, duration_us, ...}
	#items = [];            // playlist items in order: {id, track}
	#buffers = new Map();   // track id -> {promise: Promise<AudioBuffer | SegmentedTrack>, audio}, least recently used first
	#longTrackS;
	#segmentDecodes = 0;    // segments decoded by tracks no longer cached
	#anchor = null;         // the anchor being followed
	#gen = 0;               // bumps with each anchor, so a slow load of an old one is dropped
	#loadingGen = 0;        // the gen whose start is waiting for its buffer
	#overGen = 0;           // the gen whose anchor is already past its track's end
	#failed = null;         // {gen, retryAt}: the track of that gen could not be loaded
	#playing = [];          // {voice, anchor, readings, correcting, overs}: the last one follows #anchor
	#current = null;        // the entry of #playing that follows #anchor, if started
	#continues = null;      // {from: entry, frame} when the next start continues a track gaplessly
	#guess = null;          // while #anchor.predicted: {from: the entry it was predicted from, transition: the one before}
	#timer = 0;
	#error = null;          // the current schedule error, s (positive: ahead of schedule)
	#last = null;           // lastSchedule (with its voice)
	#transition = null;
	#totals = {inserted: 0, dropped: 0, underruns: 0, frames: 0, waits: 0};	// of voices no longer kept
	#resyncs = 0;
	#resyncError = null;
	#resyncReason = null;
	#driftResyncs = 0;      // hard resyncs for drift alone (not a device glitch)
	#extraLatencyMs = 0;
	#calibrating = false;
	#click = null;          // the click AudioBuffer
	#clicks = [];           // {node, frame, server_us} queued
	#nextClickUs = 0;       // the next whole second of server time to tick at
	#lastClick = null;      // the entry of #clicks queued last
	#ticksPlayed = 0;

	/**
	 * longTrackS: tracks longer than this (s) are decoded in segments when
	 * they can be (default: localStorage "tutti.long_track_s", else LONG_TRACK_S).
	 */
	constructor(clock, {volume = 1, extraLatencyMs = 0, longTrackS = storedLongTrackS()} = {}) {
		super();
		this.#clock = clock;
		this.#longTrackS = Number.isFinite(longTrackS) && longTrackS >= 0 ? longTrackS : LONG_TRACK_S;
		const Ctx = window.AudioContext || window.webkitAudioContext;
		this.#ctx = new Ctx({latencyHint: 'playback'});
		this.#out = new OutputClock(this.#ctx);
		this.#gain = this.#ctx.createGain();
		this.#gain.connect(this.#ctx.destination);
		this.setVolume(volume);
		this.#extraLatencyMs = Number.isFinite(extraLatencyMs) ? extraLatencyMs : 0;
		this.#ctx.addEventListener('statechange', () => {
			this.dispatchEvent(new Event('audiostate'));
			if (this.#ctx.state === 'running')
				this.recheck();
		});
		clock.addEventListener('change', () => {
			if (!this.#timer)
				this.recheck();
		});
	}

	/** "suspended" until the page has had a user gesture, then "running". */
	get audioState() {
		return this.#ctx.state;
	}

	/** Whether the calibration click is on. */
	get calibrating() {
		return this.#calibrating;
	}

	/** Resumes the AudioContext; call it from a user gesture. Never rejects. */
	resume() {
		if (this.#ctx.state !== 'suspended')
			return Promise.resolve();
		return this.#ctx.resume().catch(() => {});
	}

	/** volume in [0, 1], a slider position; the gain follows its square. */
	setVolume(volume) {
		const v = Math.min(1, Math.max(0, Number(volume) || 0));
		this.#gain.gain.setTargetAtTime(v * v, this.#ctx.currentTime, 0.02);
	}

	/**
	 * How much later than measured this device's output is heard, in ms. The
	 * music follows (by samples, or a restart past RESYNC_OVER_S); queued
	 * calibration clicks are placed again at once.
	 */
	setExtraLatencyMs(ms) {
		this.#extraLatencyMs = Number.isFinite(ms) ? ms : 0;
		if (this.#calibrating) {
			this.#cancelClicks();
			this.#nextClickUs = 0;
		}
		this.recheck();
	}

	/**
	 * Calibration tick on or off: while on, a short click plays at every
	 * whole second of server time (when the audio runs and the clock is
	 * measured), whether or not music plays.
	 */
	setCalibration(on) {
		on = !!on;
		if (on === this.#calibrating)
			return;
		this.#calibrating = on;
		this.#cancelClicks();
		this.#nextClickUs = 0;
		if (on)
			this.recheck();
	}

	/** Takes the room's playlist [{id, position, track}] and prefetches what plays next. */
	setPlaylist(items) {
		this.#items = [...items].sort((a, b) => a.position - b.position);
		this.#tracks = new Map(this.#items.map((it) => [it.track.id, it.track]));
		this.#prefetch();
	}

	/**
	 * Follows a new anchor {state, item_id, track_id, position_us, at_us,
	 * received_us, next_item_id}. Playing: the chain playing now ends at at_us (gaplessly
	 * when the new anchor starts where its track ends) and the new item
	 * starts there (later: further into the track). Paused or stopped: the
	 * chain ends at at_us (at once when that is past), faded. An anchor
	 * equal to the current one only re-checks.
	 */
	apply(anchor) {
		if (this.#anchor?.predicted && sameAnchor(anchor, this.#guess.from.anchor)) {
			// The anchor the guess was made from, again (a beacon or a snapshot
			// from before the server advanced): the guess stands unless what
			// follows changed meanwhile.
			if (anchor.next_item_id === undefined || anchor.next_item_id === this.#anchor.item_id || !this.#unguess(anchor))
				this.recheck();
			return;
		}
		if (sameAnchor(anchor, this.#anchor)) {
			const guessed = this.#anchor.predicted && !anchor.predicted;
			if (guessed && this.#transition?.predicted && this.#transition.item_id === anchor.item_id)
				this.#transition = {...this.#transition, confirmed: true};
			if (guessed)
				this.#guess = null;
			if (guessed || anchor.next_item_id !== this.#anchor.next_item_id) {	// the next item changed (playlist, shuffle, repeat)
				this.#anchor = {...this.#anchor, next_item_id: anchor.next_item_id, predicted: false};
				this.#prefetch();
			}
			this.recheck();
			return;
		}
		// A guess the server contradicts: the track it followed is the one before.
		const previous = this.#anchor?.predicted && !anchor.predicted ? this.#guess.from : this.#current;
		this.#guess = anchor.predicted ? {from: this.#current, transition: this.#transition} : null;
		this.#anchor = anchor;
		this.#gen++;
		this.#current = null;
		this.#continues = null;
		this.#loadingGen = 0;
		const playing = anchor.state === 'playing' && anchor.track_id != null;
		if (!playing)
			this.#error = null;
		// Whatever is queued past the new anchor's start ends there: faded,
		// except the track an auto-advance continues.
		const continues = !!previous && playing && this.#continuation(previous.anchor, anchor);
		const end = this.#canSchedule() ? Math.round(this.#serverToFrame(anchor.at_us)) : 0;
		for (const p of this.#playing)
			p.voice.truncate(end, {fade: !(continues && p === previous), now: this.#earliestFrame()});
		if (continues)
			this.#continues = {from: previous, frame: end};
		this.#prefetch();
		this.recheck();
	}

	/**
	 * Runs the scheduler now (on beacons, clock changes, audio resumes):
	 * starts the anchor's item if it should play and does not, corrects or
	 * restarts a chain off its schedule, keeps the lookahead filled.
	 */
	recheck() {
		clearTimeout(this.#timer);
		this.#timer = 0;
		this.#tick();
	}

	/** Stops everything (the room view is closed). */
	stopAll() {
		this.#anchor = null;
		this.#gen++;
		this.#current = null;
		this.#continues = null;
		this.#guess = null;
		const now = this.#earliestFrame();
		for (const p of this.#playing)
			p.voice.truncate(now, {fade: true, now});
		this.#cancelClicks();
		this.recheck();
	}

	/** The sync figures of the audio side (docs/protocol.md, "Browser measurement hook"). */
	stats() {
		const ctx = this.#ctx;
		const rate = ctx.sampleRate;
		const counts = {...this.#totals};
		for (const p of this.#playing) {
			counts.inserted += p.voice.inserted;
			counts.dropped += p.voice.dropped;
			counts.underruns += p.voice.underruns;
			counts.frames += p.voice.frames;
			counts.waits += p.voice.waits;
		}
		const heard = this.#heard();
		const held = this.#held(heard?.voice.buffer ?? this.#current?.voice.buffer);
		let first = null;
		if (heard && this.#canMap()) {
			const clientUs = this.#frameToClientUs(heard.voice.firstSampleFrame(this.#heardFrame()));
			first = {client: Math.round(clientUs), server: Math.round(this.#clock.toServerUs(clientUs))};
		}
		return {
			audio: ctx.state,
			sample_rate: rate,
			output_latency_s: ctx.outputLatency ?? null,
			base_latency_s: ctx.baseLatency ?? null,
			mapping: this.#out.kind,
			extra_latency_ms: this.#extraLatencyMs,
			rate: 1,
			schedule_error_us: this.#error === null ? null : Math.round(this.#error * 1e6),
			resyncs: this.#resyncs,
			last_resync_error_us: this.#resyncError === null ? null : Math.round(this.#resyncError * 1e6),
			last_resync_reason: this.#resyncReason,
			drift_resyncs: this.#driftResyncs,
			output_steps: this.#out.steps,
			inserted: counts.inserted,
			dropped: counts.dropped,
			underruns: counts.underruns,
			frames_queued: counts.frames,
			loading: this.#loading,
			lookahead_s: this.#current ? Math.max(0, this.#current.voice.nextFrame / rate - ctx.currentTime) : null,
			track_held: held.kind,
			track_bytes: held.bytes,
			decoded_bytes: this.#decodedBytes(),
			segment_decodes: this.#segmentDecodes + [...this.#buffers.values()].reduce((n, e) => n + (e.audio?.decodes ?? 0), 0),
			segment_waits: counts.waits,
			playing: heard ? {
				item_id: heard.anchor.item_id, track_id: heard.anchor.track_id,
				at_us: heard.anchor.at_us, position_us: heard.anchor.position_us,
			} : null,
			first_sample_server_us: first?.server ?? null,
			first_sample_client_us: first?.client ?? null,
			last_transition: this.#transition,
			calibrating: this.#calibrating,
			calibration_ticks: this.#ticksPlayed,
			last_tick: this.#lastTick(),
			lastSchedule: this.#lastSchedule(),
		};
	}

	/** The scheduler: one pass, then the next one armed. */
	#tick() {
		if (this.#ctx.state === 'running') {
			this.#out.sample();
			if (this.#canMap()) {
				const a = this.#anchor;
				if (a?.state === 'playing' && a.track_id != null && !this.#current &&
				    this.#loadingGen !== this.#gen && this.#overGen !== this.#gen &&
				    !(this.#failed?.gen === this.#gen && performance.now() < this.#failed.retryAt))
					this.#startWhenReady(a, this.#gen);
				if (this.#current) {
					this.#control(this.#current);
					if (this.#predictAdvance())
						return;	// apply() ran the tick again
				}
				this.#fill();
				if (this.#calibrating)
					this.#scheduleClicks();
			}
			this.#forget();
		}
		clearTimeout(this.#timer);
		this.#timer = 0;
		const busy = this.#playing.length || this.#calibrating ||
			(this.#anchor?.state === 'playing' && this.#anchor.track_id != null);
		if (busy && this.#ctx.state === 'running')
			this.#timer = setTimeout(() => this.#tick(), document.hidden ? HIDDEN_TICK_MS : TICK_MS);
	}

	/**
	 * Measures the current chain against its anchor and decides: re-place
	 * (not heard yet), restart (far off twice in a row), correct by samples,
	 * or leave it.
	 */
	#control(p) {
		const rate = this.#ctx.sampleRate;
		p.readings.push(this.#anchorOrigin(p.anchor));
		if (p.readings.length > READINGS)
			p.readings.shift();
		const due = median(p.readings);
		const v = p.voice;
		const late = v.originFrame + v.shift - due;	// frames; positive: behind schedule
		this.#error = -late / rate;
		const abs = Math.abs(late) / rate;
		const heard = v.startFrame <= this.#earliestFrame();
		if (!heard) {
			if (abs > REPLACE_OVER_S && !p.pinned)
				this.#restart(p, 'replace');
			return;
		}
		if (abs > RESYNC_OVER_S) {
			// Twice in a row: a real slip, not one odd reading.
			if (++p.overs >= 2)
				this.#restart(p, performance.now() - this.#out.lastStepMs < STEP_BLAME_MS ? 'output-step' : 'drift');
			return;
		}
		p.overs = 0;
		if (abs > CORRECT_ABOVE_S)
			p.correcting = true;
		else if (abs < CORRECT_UNTIL_S)
			p.correcting = false;
		v.adjust = p.correcting ? -Math.round(late) : 0;
	}

	/**
	 * Follows the advance the server will make at the end of the current
	 * chain's track once that end is inside the lookahead: the anchor of
	 * next_item_id at position 0 from the end, marked predicted until the
	 * server's own arrives. Returns whether it did (apply() then ran).
	 */
	#predictAdvance() {
		const a = this.#anchor;
		if (a.predicted || a.next_item_id == null || !sameAnchor(this.#current.anchor, a))
			return false;
		const track = this.#tracks.get(a.track_id);
		const next = this.#items.find((it) => it.id === a.next_item_id);
		if (!next || !Number.isFinite(track?.duration_us))
			return false;
		const endUs = a.at_us - a.position_us + track.duration_us;
		const ahead = document.hidden ? HIDDEN_LOOKAHEAD_S : LOOKAHEAD_S;
		if (this.#serverToFrame(endUs) > (this.#ctx.currentTime + ahead) * this.#ctx.sampleRate)
			return false;
		this.apply({state: 'playing', item_id: next.id, track_id: next.track.id, position_us: 0, at_us: endUs,
			received_us: Math.round(this.#clock.serverNowUs()), next_item_id: undefined, predicted: true});
		return true;
	}

	/**
	 * Takes back the guess of #predictAdvance for anchor (the one it was made
	 * from, with another next item) while none of the guessed chain is heard:
	 * that chain is dropped and the one before plays on. Returns whether it did.
	 */
	#unguess(anchor) {
		const p = this.#current, now = this.#earliestFrame();
		if ((p && p.voice.startFrame < now) || !this.#playing.includes(this.#guess.from))
			return false;	// already heard, or the track before is over: the server's advance decides
		p?.voice.truncate(p.voice.startFrame, {now});
		this.#anchor = anchor;
		this.#gen++;
		this.#loadingGen = 0;
		this.#continues = null;
		this.#current = this.#guess.from;
		this.#transition = this.#guess.transition;
		this.#guess = null;
		this.#prefetch();
		this.recheck();
		return true;
	}

	/**
	 * Queues chunks up to the lookahead for every chain still going; reports
	 * (once) a segmented track whose decoding failed while it played.
	 */
	#fill() {
		const rate = this.#ctx.sampleRate;
		const ahead = document.hidden ? HIDDEN_LOOKAHEAD_S : LOOKAHEAD_S;
		const until = Math.ceil((this.#ctx.currentTime + ahead) * rate);
		const earliest = this.#earliestFrame();
		for (const p of this.#playing) {
			p.voice.fill(until, earliest);
			const failed = p.voice.buffer.failed;
			if (failed && !p.reported) {
				p.reported = true;
				this.#forgetFailed(p.voice.buffer);
				this.#fail(p.anchor.track_id, failed);
			}
		}
	}

	/** Drops chains that have played out (keeping their counts). */
	#forget() {
		const frame = Math.floor(this.#ctx.currentTime * this.#ctx.sampleRate);
		this.#playing = this.#playing.filter((p) => {
			const v = p.voice;
			v.prune(frame);
			if (!v.complete || v.endFrame + 128 > frame)
				return true;
			if (p === this.#current)
				this.#current = null;
			this.#totals.inserted += v.inserted;
			this.#totals.dropped += v.dropped;
			this.#totals.underruns += v.underruns;
			this.#totals.frames += v.frames;
			this.#totals.waits += v.waits;
			v.release(0);
			return false;
		});
	}

	#canSchedule() {
		return this.#ctx.state === 'running' && this.#clock.ready;
	}

	#canMap() {
		return this.#clock.ready;
	}

	async #startWhenReady(anchor, gen) {
		this.#loadingGen = gen;
		let buffer;
		try {
			buffer = await this.#load(anchor.track_id);
			if (buffer instanceof SegmentedTrack)
				await this.#segmentReady(anchor, gen, buffer);
		} catch (err) {
			this.#forgetFailed(buffer);
			if (gen === this.#gen) {
				this.#failed = {gen, retryAt: performance.now() + RETRY_LOAD_MS};
				this.#fail(anchor.track_id, err);
			}
			return;
		} finally {
			if (this.#loadingGen === gen)
				this.#loadingGen = 0;
		}
		if (gen !== this.#gen || this.#current || !this.#canSchedule())
			return;	// superseded, or the next tick starts it once audio and clock are there
		this.#begin(anchor, buffer, this.#placement(anchor), null);
		this.recheck();
	}

	/**
	 * Waits until the segments of track where anchor's chain would start now
	 * and FIRST_AHEAD_S later are decoded (the start moves on while they
	 * decode: a few tries).
	 */
	async #segmentReady(anchor, gen, track) {
		const ahead = Math.round(FIRST_AHEAD_S * this.#ctx.sampleRate);
		for (let i = 0; i < FIRST_SEGMENT_TRIES; i++) {
			if (gen !== this.#gen || this.#current || !this.#canSchedule())
				return;
			const place = this.#placement(anchor);
			const frame = place.start - place.origin;
			if (frame >= track.length)
				return;
			const later = Math.min(frame + ahead, track.length - 1);
			if (track.segmentAt(frame) && track.segmentAt(later))
				return;
			await track.ready(frame);
			await track.ready(later);
		}
	}

	/**
	 * Where a chain for anchor goes: origin (the context frame of the track's
	 * first sample, rounded; `due` when given, else measured now) and start
	 * (the chain's first frame: the anchor's frame, or when that is past the
	 * earliest one, further into the track).
	 */
	#placement(anchor, due = this.#anchorOrigin(anchor)) {
		const origin = Math.round(due);
		const position = Math.round(anchor.position_us * this.#ctx.sampleRate / 1e6);
		const earliest = this.#earliestFrame();
		return {origin, start: Math.max(origin + position, earliest), late: origin + position < earliest};
	}

	/**
	 * Starts a chain for anchor from buffer at place {origin, start, late}
	 * (see #placement), right after the chain it continues when there is one.
	 * resync: null for a first start, "replace" for a chain moved before it
	 * was heard, else why it restarts.
	 */
	#begin(anchor, buffer, place, resync) {
		const rate = this.#ctx.sampleRate;
		let {origin, start} = place;
		const position = Math.round(anchor.position_us * rate / 1e6);
		const cont = this.#continues;
		this.#continues = null;
		let gapless = false;
		if (cont && !resync) {
			// Auto-advance: the first sample right after the last one of the
			// track before, when the anchor agrees to within a few ms; what is
			// left over is corrected sample by sample.
			const earliest = this.#earliestFrame();
			const apart = start - cont.frame;
			gapless = !place.late && cont.frame >= earliest && Math.abs(apart) <= GAPLESS_WITHIN_US * rate / 1e6;
			const why = gapless ? null : place.late ? 'late' : cont.frame < earliest ?
				`the end was ${cont.frame - earliest} frames past the earliest start` : `${apart} frames from the end`;
			if (gapless) {
				origin += cont.frame - start;
				start = cont.frame;
			}
			const from = cont.from.voice;
			this.#transition = {item_id: anchor.item_id, gapless, why,
				gap_frames: start - (from.originFrame + from.buffer.length + from.shift),
				predicted: !!anchor.predicted, confirmed: !anchor.predicted};
		}
		if (start - origin >= buffer.length) {
			this.#overGen = this.#gen;	// already over; the next anchor takes it on
			return;
		}
		const voice = new Voice(this.#ctx, buffer, this.#gain, {originFrame: origin, startFrame: start, fadeIn: !gapless});
		const p = {voice, anchor, readings: [this.#anchorOrigin(anchor)], correcting: false, overs: 0, pinned: gapless};
		this.#playing.push(p);
		this.#current = p;
		this.#error = (origin - this.#anchorOrigin(anchor)) / -rate;
		this.#last = {
			voice,
			item_id: anchor.item_id,
			track_id: anchor.track_id,
			at_us: anchor.at_us,
			position_us: anchor.position_us,
			when_s: start / rate,
			late_us: Math.round((start - origin - position) * 1e6 / rate),
			received_us: anchor.received_us ?? null,
			scheduled_at_client_us: Math.round(clientNowUs()),
			resync: !!resync && resync !== 'replace',
			gapless,
		};
		voice.fill(Math.ceil((this.#ctx.currentTime + LOOKAHEAD_S) * rate), this.#earliestFrame());
	}

	/**
	 * Replaces chain p with a new one on today's schedule (the median of its
	 * readings): a hard resync (reason set, counted, crossfaded) or the
	 * re-placing of a chain not heard yet (reason "replace").
	 */
	#restart(p, reason) {
		const place = this.#placement(p.anchor, median(p.readings));
		if (reason !== 'replace') {
			this.#resyncs++;
			this.#resyncError = this.#error;
			this.#resyncReason = reason;
			if (reason === 'drift')
				this.#driftResyncs++;
		}
		if (reason === 'replace')	// not heard yet: none of it plays
			p.voice.truncate(Math.min(place.start, p.voice.startFrame), {now: this.#earliestFrame()});
		else
			p.voice.truncate(place.start, {fade: true, now: this.#earliestFrame()});
		if (this.#current === p)
			this.#current = null;
		this.#begin(p.anchor, p.voice.buffer, place, reason);
	}

	/** The context frame (fractional) at which buffer frame 0 of anchor's track belongs. */
	#anchorOrigin(anchor) {
		return this.#serverToFrame(anchor.at_us) - anchor.position_us * this.#ctx.sampleRate / 1e6;
	}

	/** The first context frame that may still be scheduled. */
	#earliestFrame() {
		return Math.ceil((this.#ctx.currentTime + START_LEAD_S) * this.#ctx.sampleRate);
	}

	/** The context frame heard now, by the output mapping. */
	#heardFrame() {
		return (performance.now() - this.#out.zeroMs - this.#extraLatencyMs) / 1000 * this.#ctx.sampleRate;
	}

	/** The chain heard now: the last one whose first chunk is due by now, else the first. */
	#heard() {
		if (!this.#playing.length)
			return null;
		const frame = this.#heardFrame();
		let heard = null;
		for (const p of this.#playing)
			if (p.voice.startFrame <= frame && !(p.voice.complete && p.voice.endFrame <= frame))
				heard = p;
		return heard ?? this.#playing.find((p) => !(p.voice.complete && p.voice.endFrame <= frame)) ?? null;
	}

	#serverToFrame(serverUs) {
		const perfMs = this.#clock.toClientUs(serverUs) / 1000 - performance.timeOrigin;
		return (perfMs - this.#out.zeroMs - this.#extraLatencyMs) / 1000 * this.#ctx.sampleRate;
	}

	#frameToClientUs(frame) {
		const perfMs = this.#out.zeroMs + this.#extraLatencyMs + frame / this.#ctx.sampleRate * 1000;
		return (performance.timeOrigin + perfMs) * 1000;
	}

	/** lastSchedule, its start instants worked out now through today's mapping and offset. */
	#lastSchedule() {
		const l = this.#last;
		if (!l)
			return null;
		const {voice, ...rest} = l;
		if (!this.#canMap())
			return {...rest, start_server_us: null, start_client_us: null, mapping: this.#out.kind};
		const position = Math.round(l.position_us * this.#ctx.sampleRate / 1e6);
		const clientUs = this.#frameToClientUs(voice.originFrame + position);	// the first chunk has no correction
		return {
			...rest,
			start_server_us: Math.round(this.#clock.toServerUs(clientUs)),
			start_client_us: Math.round(clientUs),
			mapping: this.#out.kind,
		};
	}

	/** Whether anchor b starts exactly where a's track ends (an auto-advance). */
	#continuation(a, b) {
		if (a.state !== 'playing' || b.position_us !== 0)
			return false;
		const track = this.#tracks.get(a.track_id);
		if (!Number.isFinite(track?.duration_us))
			return false;
		const end = a.at_us - a.position_us + track.duration_us;
		return Math.abs(b.at_us - end) <= GAPLESS_WITHIN_US;
	}

	/**
	 * Queues a click at each whole second of server time within the
	 * lookahead, and moves a queued click not yet heard whose place the
	 * mapping now puts elsewhere (a new clock estimate, an audio glitch
	 * that shifted the output clock), as the music is corrected too.
	 */
	#scheduleClicks() {
		const ctx = this.#ctx;
		const rate = ctx.sampleRate;
		this.#click ??= clickBuffer(ctx);
		const until = Math.ceil((ctx.currentTime + LOOKAHEAD_S) * rate);
		const earliest = this.#earliestFrame();
		for (const c of this.#clicks) {
			const frame = Math.round(this.#serverToFrame(c.server_us));
			if (c.frame >= earliest && frame >= earliest && Math.abs(frame - c.frame) > CLICK_MOVE_S * rate) {
				cancelNode(c.node);
				c.node = this.#queueClick(frame);
				c.frame = frame;
			}
		}
		let s = Math.max(this.#nextClickUs, Math.ceil(this.#clock.serverNowUs() / 1e6) * 1e6);
		for (;;) {
			const frame = Math.round(this.#serverToFrame(s));
			if (frame > until)
				break;
			if (frame >= earliest) {
				this.#lastClick = {node: this.#queueClick(frame), frame, server_us: s};
				this.#clicks.push(this.#lastClick);
				this.#ticksPlayed++;
			}
			s += 1e6;
		}
		this.#nextClickUs = s;
		const now = ctx.currentTime * rate;
		this.#clicks = this.#clicks.filter((c) => c.frame + this.#click.length > now);
	}

	/** Starts the click at context frame `frame`; returns its node. */
	#queueClick(frame) {
		const node = this.#ctx.createBufferSource();
		node.buffer = this.#click;
		node.connect(this.#gain);
		node.start(frameTime(frame, this.#ctx.sampleRate));
		node.onended = () => node.disconnect();
		return node;
	}

	/**
	 * The latest click queued: {server_us: the whole second it marks,
	 * client_us: when it is heard by today's mapping}; null when none.
	 */
	#lastTick() {
		const c = this.#lastClick;
		if (!c || !this.#canMap())
			return null;
		return {server_us: c.server_us, client_us: Math.round(this.#frameToClientUs(c.frame))};
	}

	#cancelClicks() {
		const now = this.#ctx.currentTime * this.#ctx.sampleRate;
		for (const c of this.#clicks) {
			if (c.frame > now + FADE_S * this.#ctx.sampleRate)
				cancelNode(c.node);	// else playing or about to: let it end
		}
		this.#clicks = [];
		this.#lastClick = null;
	}

	/**
	 * Loads the current item and the one the server will advance to into the
	 * cache: the anchor's next_item_id (shuffle and repeat included; null:
	 * nothing follows), else, from a server that does not send it or naming
	 * an item this page has not seen yet, the next in playlist order (or the first).
	 */
	#prefetch() {
		const a = this.#anchor;
		const i = a ? this.#items.findIndex((it) => it.id === a.item_id) : -1;
		const wanted = [];
		if (i >= 0) {
			const told = a.next_item_id == null ? undefined : this.#items.find((it) => it.id === a.next_item_id);
			const next = a.next_item_id === null || a.predicted ? null : told ?? this.#items[i + 1] ?? this.#items[0];
			wanted.push(this.#items[i].track.id, next?.track.id);
		} else if (a?.track_id != null)
			wanted.push(a.track_id);
		else
			wanted.push(this.#items[0]?.track.id);	// what Play will start
		for (const id of wanted)
			if (id != null && this.#tracks.has(id))
				this.#load(id).catch(() => {});	// reported when it is needed
	}

	#load(trackId) {
		const cached = this.#buffers.get(trackId);
		if (cached) {	// most recently used goes last
			this.#buffers.delete(trackId);
			this.#buffers.set(trackId, cached);
			return cached.promise;
		}
		const track = this.#tracks.get(trackId);
		if (!track)
			return Promise.reject(new Error(`track ${trackId} is not in the playlist`));
		this.#loading++;
		const entry = {promise: null, audio: null};
		entry.promise = fetch(track.url)
			.then((res) => {
				if (!res.ok)
					throw new Error(`HTTP ${res.status}`);
				return res.arrayBuffer();
			})
			.then((bytes) => this.#decode(track, bytes))
			.then((audio) => {
				entry.audio = audio;
				this.#trimCache(trackId);
				return audio;
			})
			.finally(() => this.#loading--);
		entry.promise.catch(() => {
			if (this.#buffers.get(trackId) === entry)
				this.#buffers.delete(trackId);	// try again next time
		});
		this.#buffers.set(trackId, entry);
		this.#trimCache(trackId);
		return entry.promise;
	}

	/**
	 * The playable form of a track's bytes: a SegmentedTrack (its first
	 * segment decoded) when the track is long and its MP3 indexes cleanly,
	 * else (or when that first segment does not decode) the whole decoded
	 * AudioBuffer.
	 */
	async #decode(track, bytes) {
		const rate = this.#ctx.sampleRate;
		if (Number.isFinite(track.duration_us) && track.duration_us > this.#longTrackS * 1e6) {
			const u8 = new Uint8Array(bytes);
			const ix = indexMp3(u8);
			if (canSegment(ix, rate)) {
				const t = new SegmentedTrack(u8, ix, rate);
				try {
					await t.ready(0);
					return t;
				} catch {
					// decoded whole below, as any other file
				}
			}
		}
		return this.#ctx.decodeAudioData(bytes);
	}

	/** Drops a segmented track whose decoding failed from the cache: the next load fetches it again. */
	#forgetFailed(audio) {
		if (!audio?.failed)
			return;
		for (const [id, e] of this.#buffers)
			if (e.audio === audio)
				this.#buffers.delete(id);
	}

	/** How audio (an AudioBuffer or SegmentedTrack) is held: {kind, bytes}. */
	#held(audio) {
		if (audio instanceof SegmentedTrack)
			return {kind: 'segments', bytes: audio.heldBytes};
		if (audio)
			return {kind: 'whole', bytes: audio.length * audio.numberOfChannels * 4};
		return {kind: null, bytes: null};
	}

	/** Decoded bytes held by every cached track. */
	#decodedBytes() {
		let n = 0;
		for (const e of this.#buffers.values())
			n += this.#held(e.audio).bytes ?? 0;
		return n;
	}

	/**
	 * Lets go of the least recently used tracks while the cache holds more
	 * than CACHE_BYTES (decoded, plus a segmented track's compressed bytes),
	 * never one that plays or `keep`.
	 */
	#trimCache(keep) {
		const live = new Set(this.#playing.map((x) => x.anchor.track_id));
		const size = (e) => (this.#held(e.audio).bytes ?? 0) + (e.audio instanceof SegmentedTrack ? e.audio.compressedBytes : 0);
		let total = 0;
		for (const e of this.#buffers.values())
			total += size(e);
		for (const [id, e] of this.#buffers) {
			if (total <= CACHE_BYTES)
				break;
			if (live.has(id) || id === keep || !e.audio)
				continue;
			total -= size(e);
			this.#segmentDecodes += e.audio.decodes ?? 0;
			this.#buffers.delete(id);
		}
	}

	#fail(trackId, err) {
		const track = this.#tracks.get(trackId);
		const name = track ? `“${track.title}”` : `track ${trackId}`;
		this.dispatchEvent(new CustomEvent('error', {
			detail: {message: `Could not play ${name}: ${err?.message || err}`, track_id: trackId},
		}));
	}
}
