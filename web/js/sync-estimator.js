/*
 * sync-estimator.js - the arithmetic of the page's clock offset estimate,
 * with no DOM in it (so the e2e test can drive it from node with synthetic
 * probes). clock.js keeps one OffsetEstimator per relay connection and feeds
 * it the NTP-style samples of docs/protocol.md; player.js reads the result
 * through clock.js. Section "Browser measurement hook" of docs/protocol.md
 * says what the figures mean.
 */

const WINDOW = 64;            // samples kept per connection (about two minutes of probes)
const BEST = 3;               // the median of this many lowest-round-trip samples ...
const RECENT = 16;            // ... among this many latest ones, before a fit is possible
const SELECT_FRACTION = 0.25; // a fit uses the lowest-round-trip quarter of the window ...
const SELECT_MIN = 6;         // ... at least this many samples ...
const SELECT_MAX = 16;        // ... at most this many
const FIT_MIN_SPAN_US = 30e6; // and only when they span this long
const MAX_SKEW = 500e-6;      // a fitted slope beyond ±500 ppm is not a clock: fall back to the median
const SKEW_SIGNIFICANCE = 1.5;   // standard errors a fitted slope must clear to count
const MIN_UNCERTAINTY_US = 50;

/**
 * One probe answered: offset_us = server - client at t_us (the client's
 * clock halfway between sending and receiving), rtt_us its round trip.
 */
export function makeSample(t0, t1, t2, t3) {
	return {t_us: (t0 + t3) / 2, offset_us: ((t1 - t0) + (t2 - t3)) / 2, rtt_us: (t3 - t0) - (t2 - t1)};
}

function median(values) {
	const v = [...values].sort((a, b) => a - b);
	const mid = v.length >> 1;
	return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * The estimate of the earlier clock.js (kept for comparison in the tests):
 * the median offset of the BEST lowest-round-trip samples among the last 16.
 * Returns {offset_us, rtt_us} or null.
 */
export function medianOfBest(samples, window = 16, best = BEST) {
	if (!samples.length)
		return null;
	const chosen = samples.slice(-window).sort((a, b) => a.rtt_us - b.rtt_us).slice(0, best);
	return {offset_us: median(chosen.map((s) => s.offset_us)), rtt_us: chosen[0].rtt_us};
}

/**
 * OffsetEstimator: the samples of one connection and the estimate from them.
 * Until the kept samples with the lowest round trips span FIT_MIN_SPAN_US,
 * the estimate is the median offset of the BEST lowest-round-trip samples
 * among the RECENT latest;
 * after that, a least-squares line through the lowest-round-trip quarter of
 * the window, so a page clock that runs at a slightly different rate from
 * the server's (skew, tens of ppm on real devices) is followed instead of
 * lagging behind by skew × the age of the best samples. The slope is shrunk
 * towards 0 unless it stands out from its own noise (see fitLine).
 */
export class OffsetEstimator {
	#samples = [];	// oldest first
	#fit = null;	// {kind, t_ref_us, offset_us, skew, rtt_us, uncertainty_us, used}

	/** Adds a sample {t_us, offset_us, rtt_us}; ignores one with a negative round trip. */
	add(sample) {
		if (!(sample.rtt_us >= 0) || !Number.isFinite(sample.offset_us) || !Number.isFinite(sample.t_us))
			return;
		this.#samples.push(sample);
		if (this.#samples.length > WINDOW)
			this.#samples.shift();
		this.#fit = this.#compute();
	}

	/** How many samples this connection has kept. */
	get count() {
		return this.#samples.length;
	}

	/**
	 * The estimate at the client's time tUs: {offset_us, uncertainty_us,
	 * rtt_us, skew_ppm, kind ("median" or "fit"), used}; null without samples.
	 */
	at(tUs) {
		const f = this.#fit;
		if (!f)
			return null;
		return {
			offset_us: f.offset_us + f.skew * (tUs - f.t_ref_us),
			uncertainty_us: f.uncertainty_us,
			rtt_us: f.rtt_us,
			skew_ppm: f.skew * 1e6,
			kind: f.kind,
			used: f.used,
		};
	}

	#compute() {
		const all = this.#samples;
		if (!all.length)
			return null;
		const byRtt = [...all].sort((a, b) => a.rtt_us - b.rtt_us);
		const minRtt = byRtt[0].rtt_us;
		const n = Math.min(SELECT_MAX, Math.max(SELECT_MIN, Math.round(all.length * SELECT_FRACTION)));
		const chosen = byRtt.slice(0, n);
		const span = Math.max(...chosen.map((s) => s.t_us)) - Math.min(...chosen.map((s) => s.t_us));
		if (chosen.length >= SELECT_MIN && span >= FIT_MIN_SPAN_US) {
			const line = fitLine(chosen);
			if (line && Math.abs(line.skew) <= MAX_SKEW)
				return {kind: 'fit', ...line, rtt_us: minRtt, used: chosen.length,
					uncertainty_us: spread(chosen, line, minRtt)};
		}
		const best = all.slice(-RECENT).sort((a, b) => a.rtt_us - b.rtt_us).slice(0, BEST);
		const offset = median(best.map((s) => s.offset_us));
		const flat = {t_ref_us: 0, offset_us: offset, skew: 0};
		return {kind: 'median', ...flat, rtt_us: minRtt, used: best.length,
			uncertainty_us: spread(best, flat, minRtt)};
	}
}

/** Least squares offset = a + skew × (t - t_ref) over samples; null when degenerate. */
function fitLine(samples) {
	const tRef = samples.reduce((s, x) => s + x.t_us, 0) / samples.length;
	const yRef = samples.reduce((s, x) => s + x.offset_us, 0) / samples.length;
	let sxx = 0;
	let sxy = 0;
	for (const s of samples) {
		const dx = s.t_us - tRef;
		sxx += dx * dx;
		sxy += dx * (s.offset_us - yRef);
	}
	if (!(sxx > 0))
		return null;
	// A slope not clearly larger than its standard error is mostly noise
	// (on one machine, or with an NTP-disciplined page clock, the true skew
	// is ~0): shrink it, to nothing within SKEW_SIGNIFICANCE standard errors.
	let skew = sxy / sxx;
	const residuals = samples.map((s) => Math.abs(s.offset_us - yRef - skew * (s.t_us - tRef)));
	const sigma = Math.max(MIN_UNCERTAINTY_US, 1.4826 * median(residuals));
	const r = SKEW_SIGNIFICANCE * sigma / Math.sqrt(sxx) / Math.abs(skew);
	skew = Number.isFinite(r) ? skew * Math.max(0, 1 - r * r) : 0;
	return {t_ref_us: tRef, offset_us: yRef, skew};
}

/**
 * How far the estimate can be trusted if the path is symmetric: the larger
 * of how much the samples used disagree with it (1.4826 × their median
 * absolute residual, a robust standard deviation) and half the extra round
 * trip of the median one over the fastest (the part of a round trip that
 * queueing may have put on one side only).
 */
function spread(samples, line, minRtt) {
	const residuals = samples.map((s) => Math.abs(s.offset_us - (line.offset_us + line.skew * (s.t_us - line.t_ref_us))));
	const mad = 1.4826 * median(residuals);
	const queueing = (median(samples.map((s) => s.rtt_us)) - minRtt) / 2;
	return Math.max(MIN_UNCERTAINTY_US, mad, queueing);
}
