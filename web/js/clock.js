/*
 * clock.js - the page's estimate of server time (ARCHITECTURE.md, "Time and
 * the sync model"). NTP-style probes go over the room's WebSocket as
 * {"type":"ping","id","t0","rtt_us"} and come back as pongs carrying the
 * relay's receive and send times (docs/protocol.md): a burst when a
 * connection opens, then a steady refresh. Each connection has its own
 * estimate (sync-estimator.js: lowest round trips, then a line that follows
 * the skew between this page's clock and the server's); a new connection,
 * perhaps to another relay on another host, takes over once it has a few
 * answers. Each probe also reports the last round trip measured on its
 * connection (rtt_us), from which the server sizes the room's lead.
 * player.js maps anchors through it; realtime.js feeds it.
 */

import {OffsetEstimator, makeSample} from './sync-estimator.js';

/** This page's clock: µs since the Unix epoch, on the monotonic performance timeline. */
export function clientNowUs() {
	return (performance.timeOrigin + performance.now()) * 1000;
}

const BURST_PROBES = 10;       // sent right after a connection opens ...
const BURST_SPACING_MS = 40;   // ... this far apart
const EARLY_REFRESH_MS = 1000; // then one a second ...
const EARLY_FOR_MS = 20000;    // ... for this long ...
const REFRESH_MS = 2000;       // ... then one every two seconds
const TAKE_OVER = 3;           // answers a new connection needs before its estimate replaces the old one
const PROBE_EXPIRY_US = 10e6;  // a probe unanswered this long is forgotten

/**
 * ClockSync keeps the offset estimate. offset_us = server - client, so
 * server time = clientNowUs() + offset_us. Emits "change" {moved_us} when
 * the estimate moves.
 */
export class ClockSync extends EventTarget {
	#send = null;          // (object) => boolean while a socket is open, else null
	#nextId = 1;
	#pending = new Map();  // probe id -> {t0, connection}
	#connection = 0;       // bumps with each connection
	#current = null;       // {id, estimator} of the open (or last) connection
	#active = null;        // the one whose estimate is used: #current once it has TAKE_OVER samples
	#timers = [];
	#lastRtt = null;       // the last round trip measured on this connection, µs
	#hint = null;          // coarse offset from a one-way server timestamp
	#lastOffset = null;

	/**
	 * Starts probing over a freshly opened connection: a burst, then a
	 * periodic refresh. send(obj) must return false when it could not send.
	 * The estimate of the previous connection stays in use until this one
	 * has answered TAKE_OVER times.
	 */
	attach(send) {
		this.detach();
		this.#send = send;
		this.#connection++;
		this.#current = {id: this.#connection, estimator: new OffsetEstimator()};
		this.#lastRtt = null;
		const started = performance.now();
		for (let i = 0; i < BURST_PROBES; i++)
			this.#timers.push(setTimeout(() => this.#probe(), i * BURST_SPACING_MS));
		const refresh = () => {
			this.#probe();
			const early = performance.now() - started < EARLY_FOR_MS;
			this.#timers.push(setTimeout(refresh, early ? EARLY_REFRESH_MS : REFRESH_MS));
		};
		this.#timers.push(setTimeout(refresh, BURST_PROBES * BURST_SPACING_MS + EARLY_REFRESH_MS));
	}

	/** Stops probing (the connection is gone); the estimate stays. */
	detach() {
		for (const t of this.#timers)
			clearTimeout(t);
		this.#timers = [];
		this.#send = null;
		this.#pending.clear();
	}

	/**
	 * A one-way server timestamp (hello, room snapshot): good to a round trip,
	 * used only until the first probe answers.
	 */
	hint(serverNowUs) {
		if (Number.isFinite(serverNowUs))
			this.#hint = serverNowUs - clientNowUs();
	}

	/** Takes a pong {id, t0, t1_us, t2_us}; ignores one it did not ask for. */
	handlePong(msg) {
		const t3 = clientNowUs();
		const probe = this.#pending.get(msg.id);
		if (!probe || probe.connection !== this.#current?.id)
			return;
		this.#pending.delete(msg.id);
		const {t1_us: t1, t2_us: t2} = msg;
		if (!Number.isFinite(t1) || !Number.isFinite(t2))
			return;
		const sample = makeSample(probe.t0, t1, t2, t3);	// our own t0, not the echo
		if (sample.rtt_us < 0)
			return;
		this.#lastRtt = Math.round(sample.rtt_us);
		const cur = this.#current;
		cur.estimator.add(sample);
		if (this.#active !== cur && cur.estimator.count >= TAKE_OVER)
			this.#active = cur;
		this.#changed();
	}

	/** True once at least one probe has been answered. */
	get ready() {
		return this.#estimate() !== null;
	}

	/** The offset (server - client) in µs: measured, else the coarse hint, else 0. */
	get offsetUs() {
		const e = this.#estimate();
		if (e)
			return e.offset_us;
		return this.#hint ?? 0;
	}

	serverNowUs() {
		return clientNowUs() + this.offsetUs;
	}

	toServerUs(clientUs) {
		return clientUs + this.offsetUs;
	}

	toClientUs(serverUs) {
		return serverUs - this.offsetUs;
	}

	/**
	 * The clock figures of window.tutti.syncStats() (docs/protocol.md,
	 * "Browser measurement hook"): offset_us, uncertainty_us, rtt_us,
	 * offset_bound_us, skew_ppm, estimator, samples, clock_connection,
	 * clock_samples_connection; all but the last three null until ready.
	 */
	stats() {
		const e = this.#estimate();
		const round = (v) => (e ? Math.round(v) : null);
		return {
			offset_us: round(e?.offset_us),
			uncertainty_us: round(e?.uncertainty_us),
			rtt_us: round(e?.rtt_us),
			offset_bound_us: round(e?.rtt_us / 2),
			skew_ppm: e ? Math.round(e.skew_ppm * 10) / 10 : null,
			estimator: e?.kind ?? null,
			samples: this.#source()?.estimator.count ?? 0,
			clock_connection: this.#active?.id ?? null,
			clock_samples_connection: this.#current?.estimator.count ?? 0,
		};
	}

	/** The connection whose estimate counts: the active one, else the current one. */
	#source() {
		return this.#active ?? this.#current;
	}

	#estimate() {
		return this.#source()?.estimator.at(clientNowUs()) ?? null;
	}

	#probe() {
		if (!this.#send)
			return;
		const now = clientNowUs();
		for (const [id, p] of this.#pending)
			if (now - p.t0 > PROBE_EXPIRY_US)
				this.#pending.delete(id);
		const id = this.#nextId++;
		const t0 = Math.round(now);
		this.#pending.set(id, {t0, connection: this.#current.id});
		const ping = {type: 'ping', id, t0};
		if (this.#lastRtt !== null)
			ping.rtt_us = this.#lastRtt;
		if (!this.#send(ping))
			this.#pending.delete(id);
	}

	#changed() {
		const offset = this.#estimate()?.offset_us ?? null;
		const previous = this.#lastOffset;
		this.#lastOffset = offset;
		this.dispatchEvent(new CustomEvent('change', {
			detail: {moved_us: previous !== null && offset !== null ? offset - previous : null},
		}));
	}
}
