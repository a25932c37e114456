/*
 * sync-chain.js - plays one decoded track as a chain of short
 * AudioBufferSourceNodes on any BaseAudioContext, each started at an exact
 * context sample frame with start(when, offset, duration). Every start is
 * computed from integer frame counts against a fixed origin, so the chunks
 * join sample to sample; at a join the chain may skip one sample of the
 * track (drop) or play one twice (insert), which is how player.js corrects
 * drift without resampling. The e2e test renders it offline to check that.
 *
 * The track is an AudioBuffer, or a segmented track (segmented-track.js:
 * `length`, `segmentAt(frame)` -> {buffer, start} or null, `want(frame)`)
 * whose segments are decoded on demand: a chunk never crosses a segment's
 * end, so a segment boundary is one more sample-exact join, and the chain
 * waits where the next segment is not decoded yet. An AudioBuffer is one
 * segment.
 */

export const CHUNK_S = 0.05;        // nominal chunk length: one correction per chunk at most (~450 ppm)
const CUT_SEARCH_S = 0.004;         // a correcting join is moved back up to this far, to where the wave is flattest
export const FADE_S = 0.005;        // fades on starts and stops that are not gapless

/**
 * The context time to give start()/stop() for sample frame `frame` at
 * `rate`: frame / rate, nudged up by the last bit if needed so that
 * time × rate is not below frame. Chromium starts a source at the first
 * frame at or after time × rate, reading from the exact buffer frame when
 * that product is a whole number or just above it (a product just below
 * would read between two samples).
 */
export function frameTime(frame, rate) {
	let t = frame / rate;
	if (t * rate < frame)
		t = nextUp(t);
	return t;
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);

/** The next double above x (x > 0). */
function nextUp(x) {
	f64[0] = x;
	i64[0] += 1n;
	return f64[0];
}

/**
 * The buffer frame near `end` (searching back `search` frames) where the
 * signal moves least from one sample to the next over all channels: where
 * skipping or repeating one sample changes the least.
 */
export function flattestFrame(buffer, end, search) {
	const lo = Math.max(1, end - search);
	const hi = Math.min(end, buffer.length - 2);
	if (hi <= lo)
		return end;
	const channels = [];
	for (let c = 0; c < buffer.numberOfChannels; c++)
		channels.push(buffer.getChannelData(c));
	let best = hi;
	let bestCost = Infinity;
	for (let n = hi; n >= lo; n--) {
		let cost = 0;
		for (const x of channels)
			cost += Math.abs(x[n + 1] - x[n]) + Math.abs(x[n] - x[n - 1]);
		if (cost < bestCost) {
			bestCost = cost;
			best = n;
		}
	}
	return best;
}

/** The segment view of an AudioBuffer: one segment, always there. */
function wholeTrack(buffer) {
	const segment = {buffer, start: 0};
	return {
		length: buffer.length,
		segmentAt: (frame) => (frame >= 0 && frame < buffer.length ? segment : null),
		want() {},
	};
}

/**
 * Voice: one track on the context timeline. `buffer` is an AudioBuffer or
 * a segmented track (see the top); "buffer frame" means a frame of the
 * track's timeline. originFrame is the context
 * frame at which buffer frame 0 plays with no correction yet (integer, may
 * be negative); the chain starts at context frame startFrame (>= the origin;
 * buffer frame startFrame - originFrame). `shift` is the corrections so far
 * (inserted - dropped): buffer frame p of the next chunk plays at context
 * frame originFrame + p + shift. Chunks are queued by fill(); `adjust` asks
 * for corrections: its sign says which (positive: insert, the music moves
 * later), one sample per join until it is used up. `log` (optional array)
 * receives every chunk {start, offset, length, shift, segment (the
 * segment's first buffer frame)} for tests.
 */
export class Voice {
	ctx;
	buffer;
	originFrame;
	shift = 0;
	adjust = 0;
	inserted = 0;
	dropped = 0;
	underruns = 0;
	frames = 0;            // frames queued so far
	waits = 0;             // times the chain stopped at a segment not decoded yet
	#track;                // the segment view of buffer
	#starved = false;      // moved on for an underrun and queued nothing since
	#gain;
	#rate;
	#first;                // context frame of the first chunk
	#next;                 // context frame of the next chunk
	#limit = Infinity;     // no chunk reaches past this context frame
	#chunks = [];          // queued or playing: {node, start, length, shift}
	#log;

	/** destination: the node the voice plays into; fadeIn: ramp up over FADE_S from startFrame. */
	constructor(ctx, buffer, destination, {originFrame, startFrame, fadeIn = false, log = null}) {
		this.ctx = ctx;
		this.buffer = buffer;
		this.#track = typeof buffer.segmentAt === 'function' ? buffer : wholeTrack(buffer);
		this.originFrame = originFrame;
		this.#rate = ctx.sampleRate;
		this.#first = startFrame;
		this.#next = startFrame;
		this.#log = log;
		this.#gain = ctx.createGain();
		this.#gain.connect(destination);
		if (fadeIn) {
			const t = frameTime(startFrame, this.#rate);
			this.#gain.gain.setValueAtTime(0, t);
			this.#gain.gain.linearRampToValueAtTime(1, t + FADE_S);
		}
	}

	/** The context frame where the chain starts or started. */
	get startFrame() {
		return this.#first;
	}

	/** The context frame after the last sample queued (or to be queued next). */
	get nextFrame() {
		return this.#next;
	}

	/** The buffer frame the next chunk starts at. */
	get nextBufferFrame() {
		return this.#next - this.originFrame - this.shift;
	}

	/** True once everything up to the end (of the track, or of a truncate) is queued. */
	get complete() {
		return this.#next >= this.#limit || this.nextBufferFrame >= this.#track.length;
	}

	/** The context frame after the voice's last sample, once complete. */
	get endFrame() {
		return this.#next;
	}

	/**
	 * Queues chunks until the chain reaches context frame `until`. A chunk
	 * that would start before `earliest` (the chain ran dry: the page was
	 * too busy to refill it, or its segment was not decoded in time) is
	 * moved there, on schedule: the music skips what it missed. Stops early
	 * at a segment not decoded yet (asking for it). Returns the number of
	 * chunks queued.
	 */
	fill(until, earliest) {
		let queued = 0;
		while (this.#next < until && !this.complete) {
			if (this.#next < earliest) {
				if (!this.#starved)
					this.underruns++;
				this.#starved = true;
				this.#next = earliest;
				if (this.complete)
					break;
			}
			if (!this.#queue()) {
				this.waits++;
				break;
			}
			this.#starved = false;
			queued++;
		}
		if (!this.complete)
			this.#track.want(this.nextBufferFrame);
		return queued;
	}

	/** Queues the next chunk; false when its segment is not decoded yet. */
	#queue() {
		const rate = this.#rate;
		const offset = this.nextBufferFrame;
		const segment = this.#track.segmentAt(offset);
		if (!segment)
			return false;
		const {buffer, start} = segment;
		const local = offset - start;
		const nominal = Math.max(1, Math.round(CHUNK_S * rate));
		let length = Math.min(nominal, buffer.length - local, this.#limit - this.#next);
		let step = 0;	// +1: the next chunk skips a sample; -1: it repeats one
		if (this.adjust !== 0 && local + length < buffer.length - 2) {
			const at = flattestFrame(buffer, local + length, Math.round(CUT_SEARCH_S * rate));
			if (at > local) {
				length = at - local;
				step = this.adjust < 0 ? 1 : -1;
			}
		}
		const node = this.ctx.createBufferSource();
		node.buffer = buffer;
		node.connect(this.#gain);
		// Half a frame short: Chromium plays ceil(duration × rate) frames.
		node.start(frameTime(this.#next, rate), local / rate, (length - 0.5) / rate);
		const chunk = {node, start: this.#next, length, shift: this.shift};
		this.#chunks.push(chunk);
		this.#log?.push({start: this.#next, offset, length, shift: this.shift, segment: start});
		node.onended = () => node.disconnect();
		this.#next += length;
		this.frames += length;
		if (step) {
			this.shift -= step;
			this.adjust += step;
			if (step > 0)
				this.dropped++;
			else
				this.inserted++;
		}
		return true;
	}

	/**
	 * The context frame of buffer frame 0 for the chunk playing at context
	 * frame `frame` (the first chunk before it starts, the last after the
	 * end): originFrame + that chunk's shift.
	 */
	firstSampleFrame(frame) {
		let shift = this.#chunks[0]?.shift ?? this.shift;
		for (const c of this.#chunks) {
			if (c.start > frame)
				break;
			shift = c.shift;
		}
		return this.originFrame + shift;
	}

	/** Forgets chunks that ended before context frame `frame`. */
	prune(frame) {
		while (this.#chunks.length > 1 && this.#chunks[0].start + this.#chunks[0].length < frame)
			this.#chunks.shift();
	}

	/**
	 * Ends the voice at context frame `frame`: chunks that start there or
	 * later are cancelled, the one across it stops there, nothing more is
	 * queued. fade: ramp down over FADE_S before it (from `now` at the
	 * earliest). A frame before `now` means `now`; a frame at or after an
	 * earlier truncate changes nothing.
	 */
	truncate(frame, {fade = false, now = 0} = {}) {
		const rate = this.#rate;
		frame = Math.max(frame, now);
		if (frame >= this.#limit)
			return;	// already ends there or earlier
		this.#limit = frame;
		if (this.#next > frame)
			this.#next = frame;
		const kept = [];
		for (const c of this.#chunks) {
			if (c.start >= frame) {
				cancelNode(c.node);
				this.frames -= c.length;
				continue;
			}
			if (c.start + c.length > frame) {
				stopAt(c.node, frameTime(frame, rate));
				this.frames -= c.start + c.length - frame;
			}
			kept.push(c);
		}
		this.#chunks = kept;
		if (fade) {
			const end = frameTime(frame, rate);
			const begin = Math.max(frameTime(now, rate), end - FADE_S);
			const g = this.#gain.gain;
			g.cancelScheduledValues(begin);
			g.setValueAtTime(1, begin);
			g.linearRampToValueAtTime(0, end);
		}
	}

	/** Disconnects the voice once it has fallen silent (call after truncate). */
	release(afterS) {
		const gain = this.#gain;
		setTimeout(() => gain.disconnect(), Math.max(0, afterS * 1000) + 100);
	}
}

/** Stops a source node at once, whether or not it has started, and disconnects it. */
export function cancelNode(node) {
	try {
		node.stop(0);
	} catch {
		// never started
	}
	node.disconnect();
}

function stopAt(node, t) {
	try {
		node.stop(t);
	} catch {
		// already stopped
	}
}

/**
 * The calibration click: a 2.5 kHz burst with a sharp onset, decaying over
 * a few ms, as an AudioBuffer of the context's rate (so it starts on an
 * exact frame like the music).
 */
export function clickBuffer(ctx) {
	const rate = ctx.sampleRate;
	const length = Math.round(0.008 * rate);
	const buffer = ctx.createBuffer(1, length, rate);
	const x = buffer.getChannelData(0);
	for (let n = 0; n < length; n++)
		x[n] = 0.8 * Math.sin(2 * Math.PI * 2500 * n / rate) * Math.exp(-n / (0.0015 * rate));
	return buffer;
}
