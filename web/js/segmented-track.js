/*
 * segmented-track.js - a long MP3 held compressed and decoded piece by piece
 * around where it plays, instead of whole (an hour of decoded stereo is over
 * 1 GB). player.js uses it for long tracks; sync-chain.js plays it like one
 * AudioBuffer cut into segments. Its timeline is, sample for sample, the
 * one decodeAudioData gives for the whole file (mp3-index.js says how):
 * each segment (SEGMENT_S of whole MPEG frames) is decoded from a byte slice
 * that starts a few frames early (preroll) and cut to exactly its part.
 *
 * At the file's own rate a segment is a copy of decoded samples. When the
 * page's AudioContext runs at another rate (a 44.1 kHz MP3 on a 48 kHz
 * phone) the whole-file decode would be resampled by the browser as one
 * piece, which slices cannot reproduce; segments are then resampled here
 * with a fixed polyphase windowed-sinc filter whose output sample m sits at
 * input position m × inRate / outRate, whatever the segment: they join
 * exactly, and the timeline has the browser's length and phase (0), its
 * samples within about 1e-4 (RMS, relative) of the browser's resampler.
 */

import {preroll} from './mp3-index.js';

export const SEGMENT_S = 10;        // a segment is about this long
const KEEP_BEHIND_S = 20;           // decoded segments kept this far behind where the track is wanted ...
const KEEP_AHEAD_S = 60;            // ... and this far ahead
const DECODE_AHEAD_S = 30;          // segments are decoded in advance up to this far ahead
const TAPS = 32;                    // the resampling filter's length (input samples)
const MAX_PHASES = 4096;            // rate pairs needing more filter phases than this are not resampled
const RESAMPLE_BLOCK = 1 << 16;     // output samples resampled between two yields to the event loop

const gcd = (a, b) => (b ? gcd(b, a % b) : a);

/**
 * Lets the event loop run other tasks (the scheduler's tick) before going
 * on: a message, which background tabs do not delay as they do timers.
 */
function yieldTask() {
	return new Promise((resolve) => {
		const ch = new MessageChannel();
		ch.port1.onmessage = () => {
			ch.port1.close();
			resolve();
		};
		ch.port2.postMessage(null);
	});
}

/**
 * Resampler: outRate / inRate as the ratio L / M in lowest terms, with one
 * filter of TAPS taps for each of the L phases (Blackman-windowed sinc,
 * cut off at 0.9 of the lower Nyquist frequency, each phase summing to 1).
 */
export class Resampler {
	constructor(inRate, outRate) {
		const g = gcd(inRate, outRate);
		this.ratio = inRate / outRate;
		this.L = outRate / g;
		this.M = inRate / g;
		const scale = 0.9 * Math.min(1, outRate / inRate);
		const table = new Float32Array(this.L * TAPS);
		for (let p = 0; p < this.L; p++) {
			const phase = p / this.L;
			let sum = 0;
			for (let k = 0; k < TAPS; k++) {
				const u = phase + TAPS / 2 - 1 - k;	// input sample q - TAPS/2 + 1 + k is u before the position
				const x = (u + TAPS / 2) / TAPS;
				const w = 0.42 - 0.5 * Math.cos(2 * Math.PI * x) + 0.08 * Math.cos(4 * Math.PI * x);
				const s = u === 0 ? 1 : Math.sin(Math.PI * scale * u) / (Math.PI * scale * u);
				table[p * TAPS + k] = w * s;
				sum += w * s;
			}
			for (let k = 0; k < TAPS; k++)
				table[p * TAPS + k] /= sum;
		}
		this.table = table;
	}

	/** Whether a rate pair is handled (its filter table stays small). */
	static fits(inRate, outRate) {
		return outRate / gcd(inRate, outRate) <= MAX_PHASES;
	}

	/** The output length for n input samples, as Chromium's decodeAudioData has it: n / (inRate / outRate), rounded down. */
	outLength(n) {
		return Math.floor(n / this.ratio);
	}

	/** The first output sample at or after input position n. */
	outAt(n) {
		return Math.ceil(n * this.L / this.M);
	}

	/** The input samples output samples [a, b) read: [lo, hi). */
	inputRange(a, b) {
		return [Math.floor(a * this.M / this.L) - TAPS / 2 + 1, Math.floor((b - 1) * this.M / this.L) + TAPS / 2 + 1];
	}

	/**
	 * Output samples [a, b) into out (Float32Array, b - a long) from x,
	 * which holds input samples [lo, lo + x.length) (see inputRange).
	 */
	run(x, lo, a, b, out) {
		const {L, M, table} = this;
		let q = Math.floor(a * M / L);
		let p = a * M - q * L;
		for (let m = a; m < b; m++) {
			const base = q - TAPS / 2 + 1 - lo;
			const t = p * TAPS;
			let s = 0;
			for (let k = 0; k < TAPS; k++)
				s += x[base + k] * table[t + k];
			out[m - a] = s;
			p += M;
			while (p >= L) {
				p -= L;
				q++;
			}
		}
	}
}

/**
 * Whether a track of index ix can be played in segments on a context of
 * rate `rate`: no bytes skipped between frames (Chromium loses some audio
 * there, so the whole-file timeline would differ) and a rate it resamples.
 */
export function canSegment(ix, rate) {
	return !!ix && ix.junk === 0 && ix.length > 0 && (ix.sampleRate === rate || Resampler.fits(ix.sampleRate, rate));
}

/**
 * SegmentedTrack: bytes (Uint8Array of the whole MP3) indexed by ix
 * (mp3-index.js), played at `rate` (the context's). Segments are decoded by
 * an OfflineAudioContext at the file's own rate, one at a time, into
 * AudioBuffers of `rate`.
 */
export class SegmentedTrack {
	length;                 // frames of the timeline, at `rate`
	numberOfChannels;
	sampleRate;
	decodes = 0;            // segments decoded so far
	failed = null;          // the error of a decode that failed (nothing more is decoded)
	#bytes;
	#ix;
	#decoder;
	#resampler = null;
	#starts;                // segment s covers timeline frames [#starts[s], #starts[s + 1])
	#framesPer;             // MPEG frames per segment
	#held = new Map();      // segment -> AudioBuffer
	#waiters = new Map();   // segment -> [resolve, reject][]
	#want = 0;              // the frame the track is wanted at
	#busy = false;          // a decode is in flight

	/** segmentS: the segment length (s), SEGMENT_S unless a test wants many boundaries. */
	constructor(bytes, ix, rate, {segmentS = SEGMENT_S} = {}) {
		this.#bytes = bytes;
		this.#ix = ix;
		this.numberOfChannels = ix.channels;
		this.sampleRate = rate;
		this.#decoder = new OfflineAudioContext(ix.channels, 1, ix.sampleRate);
		if (ix.sampleRate !== rate)
			this.#resampler = new Resampler(ix.sampleRate, rate);
		const r = this.#resampler;
		this.length = r ? r.outLength(ix.length) : ix.length;
		const spf = ix.samplesPerFrame;
		this.#framesPer = Math.max(1, Math.round(segmentS * ix.sampleRate / spf));
		const starts = [0];
		for (let j = this.#framesPer; j < ix.count; j += this.#framesPer) {
			const n = j * spf - ix.startTrim;	// the first timeline sample of frame j, at the file's rate
			const at = Math.min(this.length, r ? r.outAt(Math.max(0, n)) : Math.max(0, n));
			if (at > starts[starts.length - 1] && at < this.length)
				starts.push(at);
		}
		starts.push(this.length);
		this.#starts = starts;
	}

	/** The compressed bytes held. */
	get compressedBytes() {
		return this.#bytes.byteLength;
	}

	/** The decoded bytes held now. */
	get heldBytes() {
		let n = 0;
		for (const b of this.#held.values())
			n += b.length * b.numberOfChannels * 4;
		return n;
	}

	/** How many segments the track has, and how many are decoded now. */
	get segments() {
		return this.#starts.length - 1;
	}

	get segmentsHeld() {
		return this.#held.size;
	}

	/** The segment holding timeline frame `frame` (0 <= frame < length). */
	#segmentOf(frame) {
		const s = this.#starts;
		let lo = 0;
		let hi = s.length - 2;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (s[mid] <= frame)
				lo = mid;
			else
				hi = mid - 1;
		}
		return lo;
	}

	/**
	 * The decoded segment holding timeline frame `frame`: {buffer (an
	 * AudioBuffer of its frames), start (the timeline frame of its first)},
	 * or null when it is not decoded (yet) or frame is outside the track.
	 */
	segmentAt(frame) {
		if (!(frame >= 0 && frame < this.length))
			return null;
		const s = this.#segmentOf(frame);
		const buffer = this.#held.get(s);
		return buffer ? {buffer, start: this.#starts[s]} : null;
	}

	/**
	 * Says the track is wanted at timeline frame `frame` (where it is being
	 * queued): segments far from it are let go, and the ones from it up to
	 * DECODE_AHEAD_S ahead are decoded, nearest first.
	 */
	want(frame) {
		this.#want = Math.max(0, Math.min(this.length - 1, Math.floor(frame)));
		const rate = this.sampleRate;
		for (const s of [...this.#held.keys()]) {
			if (this.#starts[s + 1] < this.#want - KEEP_BEHIND_S * rate || this.#starts[s] > this.#want + KEEP_AHEAD_S * rate)
				this.#held.delete(s);
		}
		this.#pump();
	}

	/** Resolves once the segment holding `frame` is decoded (wanting it); rejects when a decode fails. */
	ready(frame) {
		frame = Math.max(0, Math.min(this.length - 1, Math.floor(frame)));
		if (this.failed)
			return Promise.reject(this.failed);
		const s = this.#segmentOf(frame);
		const p = this.#held.has(s) ? Promise.resolve() : new Promise((resolve, reject) => {
			const list = this.#waiters.get(s) ?? [];
			list.push([resolve, reject]);
			this.#waiters.set(s, list);
		});
		this.want(frame);
		return p;
	}

	/** Starts the next decode wanted, if none is in flight. */
	#pump() {
		if (this.#busy || this.failed)
			return;
		const first = this.#segmentOf(this.#want);
		const until = this.#want + DECODE_AHEAD_S * this.sampleRate;
		let s = first;
		while (s < this.segments && this.#held.has(s) && this.#starts[s] <= until)
			s++;
		if (s >= this.segments || this.#starts[s] > until) {
			s = [...this.#waiters.keys()][0];	// a segment someone waits for elsewhere
			if (s === undefined)
				return;
		}
		this.#busy = true;
		this.#decode(s).then((buffer) => {
			this.decodes++;
			this.#held.set(s, buffer);
			for (const [resolve] of this.#waiters.get(s) ?? [])
				resolve();
			this.#waiters.delete(s);
		}, (err) => {
			this.failed = err instanceof Error ? err : new Error(String(err));
			for (const list of this.#waiters.values())
				for (const [, reject] of list)
					reject(this.failed);
			this.#waiters.clear();
		}).finally(() => {
			this.#busy = false;
			this.want(this.#want);	// lets go of what is now far, decodes what is next
		});
	}

	/** Decodes segment s into an AudioBuffer of its frames at the context's rate. */
	async #decode(s) {
		const a = this.#starts[s];
		const b = this.#starts[s + 1];
		const r = this.#resampler;
		const [lo, hi] = r ? r.inputRange(a, b) : [a, b];
		const native = await this.#native(lo, hi);
		const out = new AudioBuffer({length: b - a, numberOfChannels: this.numberOfChannels, sampleRate: this.sampleRate});
		for (let c = 0; c < this.numberOfChannels; c++) {
			if (!r) {
				out.copyToChannel(native[c], c);
				continue;
			}
			const y = new Float32Array(b - a);
			for (let m = a; m < b; m += RESAMPLE_BLOCK) {
				if (m > a)
					await yieldTask();	// the scheduler may tick
				const end = Math.min(b, m + RESAMPLE_BLOCK);
				r.run(native[c], lo, m, end, y.subarray(m - a, end - a));
			}
			out.copyToChannel(y, c);
		}
		return out;
	}

	/**
	 * The whole-file decode's samples [lo, hi) at the file's rate, one
	 * Float32Array per channel (zeros outside the track), decoded from the
	 * frames holding them and the preroll before.
	 */
	async #native(lo, hi) {
		const ix = this.#ix;
		const spf = ix.samplesPerFrame;
		const from = Math.max(0, lo);
		const to = Math.min(ix.length, hi);
		const j0 = Math.floor((from + ix.startTrim) / spf);
		const j1 = Math.min(ix.count, Math.ceil((to + ix.startTrim) / spf));
		const first = j0 - preroll(ix, j0);
		const slice = this.#bytes.slice(ix.frames[first], ix.frames[j1]);
		const decoded = await this.#decoder.decodeAudioData(slice.buffer);
		if (decoded.length !== (j1 - first) * spf || decoded.numberOfChannels !== this.numberOfChannels)
			throw new Error(`a segment decoded to ${decoded.length} samples, not ${(j1 - first) * spf}`);
		const skip = from + ix.startTrim - first * spf;	// decoded index of timeline sample `from`
		const out = [];
		for (let c = 0; c < this.numberOfChannels; c++) {
			const x = new Float32Array(hi - lo);
			x.set(decoded.getChannelData(c).subarray(skip, skip + (to - from)), from - lo);
			out.push(x);
		}
		return out;
	}
}
