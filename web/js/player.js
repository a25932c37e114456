/*
 * player.js - plays the room's anchor on this device's audio clock. An anchor
 * ("at server time at_us item item_id is at position_us", docs/protocol.md)
 * goes through clock.js to this page's clock and through the AudioContext's
 * output timestamp to the audio clock; each track is decoded whole once
 * (cached by track id, the next one prefetched) and started sample-exactly
 * with AudioBufferSourceNode.start(when, offset). app.js drives it.
 *
 * Output latency: ctx.getOutputTimestamp() pairs the context time of the
 * sample the device is playing *now* with the performance time it is heard,
 * so mapping through that pair already includes the output latency (measured
 * in Chromium: the pair lags currentTime by outputLatency). outputLatency
 * (else baseLatency) is added only when that pair is unavailable, and the
 * user's own adjustment (ms, positive = "this device sounds late") always.
 *
 * lastSchedule (in stats(), so in window.tutti.syncStats()) describes the
 * last source started: {item_id, track_id, at_us, position_us,
 * start_server_us, start_client_us, when_s, late_us, received_us, mapping,
 * resync, scheduled_at_client_us}. start_server_us is the server time at
 * which this page computes that the sample at position_us is heard: the
 * `when` it gave to start() mapped back through the output timestamp and the
 * clock offset as they stand when asked (not when scheduled), less what a
 * late start skipped (late_us). A page on schedule gives at_us within its
 * clock error, so two pages can be compared; start_client_us is the same
 * instant on the page's own clock, which pages on one machine share.
 * received_us is the server time the anchor arrived at, by this page's clock.
 */

import {clientNowUs} from './clock.js';

const START_LEAD_S = 0.03;    // the earliest a start is scheduled ahead of currentTime
const RESYNC_OVER_S = 0.02;   // a playing source off schedule by more than this is restarted
const STEER_ABOVE_S = 0.003;  // below that, an error is steered away through the playback rate ...
const STEER_UNTIL_S = 0.0005; // ... until it is this small
const STEER_OVER_S = 2;       // aiming to remove the error over about this long
const STEER_MAX = 0.005;      // rate 1 ± this at most (under 9 cents of pitch)
const REPLACE_OVER_S = 0.0005; // a start still ahead is re-placed when off by more than this
const CACHED_TRACKS = 4;      // decoded tracks kept (a minute of stereo is ~20 MB)
const STALE_TIMESTAMP_MS = 500;
const RECHECK_BEFORE_S = 0.04; // a start is checked again this long before it is heard

/** True when two anchors describe the same schedule. */
export function sameAnchor(a, b) {
	return !!a && !!b && a.state === b.state && a.item_id === b.item_id &&
		a.track_id === b.track_id && a.position_us === b.position_us && a.at_us === b.at_us;
}

/**
 * Player emits "audiostate" (the AudioContext was suspended or resumed) and
 * "error" {message} (a track could not be loaded or decoded).
 */
export class Player extends EventTarget {
	#clock;
	#ctx;
	#gain;
	#tracks = new Map();    // track id -> track {id, url, duration_us, ...}
	#items = [];            // playlist items in order: {id, track}
	#buffers = new Map();   // track id -> Promise<AudioBuffer>, least recently used first
	#anchor = null;         // the anchor being followed
	#gen = 0;               // bumps with each anchor, so a slow load of an old one is dropped
	#loadingGen = 0;        // the gen whose start is waiting for its buffer
	#voice = null;          // {source, anchor, buffer, when, offset_s, ref: {ctx_s, pos_s, rate}}
	#error = null;          // the last measured schedule error, s (positive: ahead)
	#last = null;           // lastSchedule
	#resyncs = 0;
	#overs = 0;             // consecutive checks that found the source off by more than RESYNC_OVER_S
	#resyncError = null;    // the error that caused the last hard resync, s
	#extraLatencyMs = 0;
	#recheckTimer = 0;      // the re-check just before a scheduled start

	constructor(clock, {volume = 1, extraLatencyMs = 0} = {}) {
		super();
		this.#clock = clock;
		const Ctx = window.AudioContext || window.webkitAudioContext;
		this.#ctx = new Ctx({latencyHint: 'playback'});
		this.#gain = this.#ctx.createGain();
		this.#gain.connect(this.#ctx.destination);
		this.setVolume(volume);
		this.#extraLatencyMs = extraLatencyMs;
		this.#ctx.addEventListener('statechange', () => {
			this.dispatchEvent(new Event('audiostate'));
			if (this.#ctx.state === 'running')
				this.recheck();
		});
		clock.addEventListener('change', () => this.recheck());
	}

	/** "suspended" until the page has had a user gesture, then "running". */
	get audioState() {
		return this.#ctx.state;
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

	/** How much later than measured this device's output is heard, in ms. */
	setExtraLatencyMs(ms) {
		this.#extraLatencyMs = Number.isFinite(ms) ? ms : 0;
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
	 * received_us}. Playing: starts its item at at_us (later: further into the
	 * track) and stops the previous source at that same instant. Paused or
	 * stopped: stops the source at at_us. An anchor equal to the current one
	 * only re-checks the running source.
	 */
	apply(anchor) {
		if (sameAnchor(anchor, this.#anchor)) {
			this.recheck();
			return;
		}
		this.#anchor = anchor;
		const gen = ++this.#gen;
		if (anchor.state === 'playing' && anchor.track_id != null)
			this.#startWhenReady(anchor, gen);
		else
			this.#stopAt(anchor.at_us);
		this.#prefetch();
	}

	/**
	 * Checks the source against the anchor (on beacons, clock changes, audio
	 * resumes): starts it if it should play and does not, restarts it if it
	 * has drifted more than RESYNC_OVER_S from the schedule.
	 */
	recheck() {
		const a = this.#anchor;
		if (!a || a.state !== 'playing' || a.track_id == null || !this.#canSchedule())
			return;
		const v = this.#voice;
		if (!v || v.anchor !== a) {
			if (this.#loadingGen !== this.#gen)
				this.#startWhenReady(a, this.#gen);
			return;
		}
		// Where the source is against where the anchor says it should be, both
		// at the same context time, through today's clock offset and mapping.
		const now = this.#ctx.currentTime;
		const t = Math.max(now, v.ref.ctx_s);
		const actual = v.ref.pos_s + (t - v.ref.ctx_s) * v.ref.rate;
		if (actual >= v.buffer.duration)
			return;	// over; the next anchor takes it on
		const expected = (a.position_us + this.#clock.toServerUs(this.#ctxToClientUs(t, this.#mapping())) - a.at_us) / 1e6;
		const error = actual - expected;
		this.#error = error;
		const started = now + START_LEAD_S / 2 >= v.when;
		if (!started && Math.abs(error) > REPLACE_OVER_S) {
			this.#start(a, v.buffer, false);	// not heard yet: just move it
		} else if (Math.abs(error) > RESYNC_OVER_S && ++this.#overs >= 2) {
			// Twice in a row: a real slip, not one noisy reading of the
			// output clock (a busy machine can delay one by tens of ms).
			this.#overs = 0;
			this.#resyncs++;
			this.#resyncError = error;
			this.#start(a, v.buffer, true);
		} else if (Math.abs(error) > RESYNC_OVER_S) {
			clearTimeout(this.#recheckTimer);
			this.#recheckTimer = setTimeout(() => this.recheck(), 200);
		} else {
			this.#overs = 0;
			if (started)
				this.#steer(v, error);
		}
	}

	/** Stops everything (the room view is closed). */
	stopAll() {
		clearTimeout(this.#recheckTimer);
		this.#anchor = null;
		this.#gen++;
		this.#stopAt(null);
	}

	/** The sync figures of the audio side (see the comment at the top). */
	stats() {
		return {
			audio: this.#ctx.state,
			sample_rate: this.#ctx.sampleRate,
			output_latency_s: this.#ctx.outputLatency ?? null,
			resyncs: this.#resyncs,
			last_resync_error_us: this.#resyncError === null ? null : Math.round(this.#resyncError * 1e6),
			rate: this.#voice?.ref.rate ?? 1,
			schedule_error_us: this.#error === null ? null : Math.round(this.#error * 1e6),
			lastSchedule: this.#lastSchedule(),
		};
	}

	/**
	 * Nudges the playback rate so that a small error fades over STEER_OVER_S
	 * instead of a jump (the Web Audio form of adding or dropping samples).
	 */
	#steer(v, error) {
		const abs = Math.abs(error);
		let rate = 1;
		if (abs > STEER_ABOVE_S || (v.ref.rate !== 1 && abs > STEER_UNTIL_S))
			rate = 1 - Math.max(-STEER_MAX, Math.min(STEER_MAX, error / STEER_OVER_S));
		if (rate === v.ref.rate)
			return;
		const t0 = this.#ctx.currentTime + 0.01;	// a quantum or so ahead, so the change lands where recorded
		const pos = v.ref.pos_s + (t0 - v.ref.ctx_s) * v.ref.rate;
		v.source.playbackRate.setValueAtTime(rate, t0);
		v.ref = {ctx_s: t0, pos_s: pos, rate};
	}

	#canSchedule() {
		return this.#ctx.state === 'running' && this.#clock.ready;
	}

	async #startWhenReady(anchor, gen) {
		this.#loadingGen = gen;
		let buffer;
		try {
			buffer = await this.#load(anchor.track_id);
		} catch (err) {
			if (gen === this.#gen)
				this.#fail(anchor.track_id, err);
			return;
		} finally {
			if (this.#loadingGen === gen)
				this.#loadingGen = 0;
		}
		if (gen !== this.#gen || !this.#canSchedule())
			return;	// superseded, or recheck() starts it once audio and clock are there
		this.#start(anchor, buffer, false);
	}

	#start(anchor, buffer, isResync) {
		const ctx = this.#ctx;
		this.#overs = 0;
		let when = this.#serverToCtx(anchor.at_us, this.#mapping());
		let offset = anchor.position_us / 1e6;
		const earliest = ctx.currentTime + START_LEAD_S;
		if (when < earliest) {	// late: join the song where it is by then
			offset += earliest - when;
			when = earliest;
		}
		const previous = this.#voice;
		if (offset >= buffer.duration) {	// already over; the next anchor takes it on
			this.#voice = null;
			if (previous)
				this.#stopSource(previous.source, when);
			return;
		}
		const source = ctx.createBufferSource();
		source.buffer = buffer;
		source.connect(this.#gain);
		source.start(when, offset);
		if (previous)	// gapless hand-over; one not yet heard never will be
			this.#stopSource(previous.source, previous.when > ctx.currentTime + 0.005 ? ctx.currentTime : when);
		source.addEventListener('ended', () => source.disconnect());
		this.#voice = {source, anchor, buffer, when, offset_s: offset, ref: {ctx_s: when, pos_s: offset, rate: 1}};
		this.#error = 0;
		this.#record(anchor, when, offset, isResync);
		this.#recheckBefore(when);
	}

	/**
	 * Checks a start again just before it is heard: the start may have been
	 * placed through the latency estimate (no output timestamp yet, as right
	 * after the audio device opens) or an early clock estimate, and the
	 * beacons that re-check it come only once a second.
	 */
	#recheckBefore(when) {
		clearTimeout(this.#recheckTimer);
		const ms = (when - this.#ctx.currentTime - RECHECK_BEFORE_S) * 1000;
		if (ms > 0)
			this.#recheckTimer = setTimeout(() => this.recheck(), ms);
	}

	#record(anchor, when, offset, isResync) {
		this.#last = {
			item_id: anchor.item_id,
			track_id: anchor.track_id,
			at_us: anchor.at_us,
			position_us: anchor.position_us,
			when_s: when,
			late_us: Math.round(offset * 1e6 - anchor.position_us),
			received_us: anchor.received_us ?? null,
			scheduled_at_client_us: Math.round(clientNowUs()),
			resync: isResync,
		};
	}

	/**
	 * lastSchedule with its start instants worked out now: `when` mapped back
	 * through the current output timestamp and clock offset, less what a late
	 * start skipped. So it is a check of the schedule, not an echo of it.
	 */
	#lastSchedule() {
		const l = this.#last;
		if (!l)
			return null;
		const m = this.#mapping();
		const heardClientUs = this.#ctxToClientUs(l.when_s, m) - l.late_us;
		return {
			...l,
			start_server_us: Math.round(this.#clock.toServerUs(heardClientUs)),
			start_client_us: Math.round(heardClientUs),
			mapping: m.kind,
		};
	}

	#stopAt(atUs) {
		const v = this.#voice;
		this.#voice = null;
		this.#error = null;
		if (!v)
			return;
		let t = this.#ctx.currentTime;
		if (atUs != null && this.#canSchedule())
			t = Math.max(t, this.#serverToCtx(atUs, this.#mapping()));
		this.#stopSource(v.source, t);
	}

	#stopSource(source, t) {
		try {
			source.stop(t);
		} catch {
			// already stopped
		}
	}

	/**
	 * A linear map between the audio clock and the page clock: the sample at
	 * context time ctx_s is heard at performance time perf_ms.
	 */
	#mapping() {
		const ctx = this.#ctx;
		const extra = this.#extraLatencyMs;
		if (typeof ctx.getOutputTimestamp === 'function') {
			const ts = ctx.getOutputTimestamp();
			const age = performance.now() - ts.performanceTime;
			if (ts.contextTime > 0 && ts.performanceTime > 0 && age >= 0 && age < STALE_TIMESTAMP_MS)
				return {kind: 'output-timestamp', ctx_s: ts.contextTime, perf_ms: ts.performanceTime + extra};
		}
		const latency = ctx.outputLatency || ctx.baseLatency || 0;
		return {kind: 'latency-estimate', ctx_s: ctx.currentTime, perf_ms: performance.now() + latency * 1000 + extra};
	}

	#serverToCtx(serverUs, m) {
		const perfMs = this.#clock.toClientUs(serverUs) / 1000 - performance.timeOrigin;
		return m.ctx_s + (perfMs - m.perf_ms) / 1000;
	}

	#ctxToClientUs(ctxS, m) {
		return (performance.timeOrigin + m.perf_ms + (ctxS - m.ctx_s) * 1000) * 1000;
	}

	/** Loads the current item and the one after it into the cache. */
	#prefetch() {
		const a = this.#anchor;
		const i = a ? this.#items.findIndex((it) => it.id === a.item_id) : -1;
		const wanted = [];
		if (i >= 0)
			wanted.push(this.#items[i].track.id, this.#items[i + 1]?.track.id);
		else if (a?.track_id != null)
			wanted.push(a.track_id);
		else
			wanted.push(this.#items[0]?.track.id);	// what Play will start
		for (const id of wanted)
			if (id != null && this.#tracks.has(id))
				this.#load(id).catch(() => {});	// reported when it is needed
	}

	#load(trackId) {
		let p = this.#buffers.get(trackId);
		if (p) {	// most recently used goes last
			this.#buffers.delete(trackId);
			this.#buffers.set(trackId, p);
			return p;
		}
		const track = this.#tracks.get(trackId);
		if (!track)
			return Promise.reject(new Error(`track ${trackId} is not in the playlist`));
		p = fetch(track.url)
			.then((res) => {
				if (!res.ok)
					throw new Error(`HTTP ${res.status}`);
				return res.arrayBuffer();
			})
			.then((bytes) => this.#ctx.decodeAudioData(bytes));
		p.catch(() => {
			if (this.#buffers.get(trackId) === p)
				this.#buffers.delete(trackId);	// try again next time
		});
		this.#buffers.set(trackId, p);
		const playing = this.#voice?.anchor.track_id;
		for (const id of this.#buffers.keys()) {
			if (this.#buffers.size <= CACHED_TRACKS)
				break;
			if (id !== playing && id !== trackId)
				this.#buffers.delete(id);
		}
		return p;
	}

	#fail(trackId, err) {
		const track = this.#tracks.get(trackId);
		const name = track ? `“${track.title}”` : `track ${trackId}`;
		this.dispatchEvent(new CustomEvent('error', {
			detail: {message: `Could not play ${name}: ${err?.message || err}`, track_id: trackId},
		}));
	}
}
