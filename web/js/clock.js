/*
 * clock.js - the page's estimate of server time (ARCHITECTURE.md, "Time and
 * the sync model"). NTP-style probes go over the room's WebSocket as
 * {"type":"ping","id","t0","rtt_us"} and come back as pongs carrying the
 * relay's receive and send times (docs/protocol.md); the samples with the
 * lowest round trip give the offset. Each probe also reports the last round
 * trip measured on this connection (rtt_us), from which the server sizes the
 * room's lead. player.js maps anchors through it; realtime.js feeds it.
 */

/** This page's clock: µs since the Unix epoch, on the monotonic performance timeline. */
export function clientNowUs() {
	return (performance.timeOrigin + performance.now()) * 1000;
}

const BURST_PROBES = 8;        // sent right after a connection opens ...
const BURST_SPACING_MS = 50;   // ... this far apart
const REFRESH_MS = 2000;       // then one probe this often
const WINDOW = 16;             // samples kept (the most recent ones)
const BEST = 3;                // the offset is the median of this many lowest-RTT samples
const PROBE_EXPIRY_US = 10e6;  // a probe unanswered this long is forgotten

/**
 * ClockSync keeps the offset estimate. offset_us = server - client, so
 * server time = clientNowUs() + offset_us. Emits "change" when the estimate moves.
 */
export class ClockSync extends EventTarget {
	#send = null;          // (object) => boolean while a socket is open, else null
	#nextId = 1;
	#pending = new Map();  // probe id -> {t0, generation}
	#samples = [];         // {offset_us, rtt_us, generation}, oldest first
	#generation = 0;       // bumps with each connection
	#timers = [];
	#estimate = null;      // {offset_us, rtt_us, uncertainty_us} from samples
	#lastRtt = null;       // the last round trip measured on this connection, µs
	#hint = null;          // coarse offset from a one-way server timestamp

	/**
	 * Starts probing over a freshly opened connection: a burst, then a
	 * periodic refresh. send(obj) must return false when it could not send.
	 * Samples of earlier connections are replaced once this one answers.
	 */
	attach(send) {
		this.detach();
		this.#send = send;
		this.#generation++;
		this.#lastRtt = null;
		for (let i = 0; i < BURST_PROBES; i++)
			this.#timers.push(setTimeout(() => this.#probe(), i * BURST_SPACING_MS));
		this.#timers.push(setInterval(() => this.#probe(), REFRESH_MS));
	}

	/** Stops probing (the connection is gone); the estimate stays. */
	detach() {
		for (const t of this.#timers) {
			clearTimeout(t);
			clearInterval(t);
		}
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
		if (!probe || probe.generation !== this.#generation)
			return;
		this.#pending.delete(msg.id);
		const {t1_us: t1, t2_us: t2} = msg;
		if (!Number.isFinite(t1) || !Number.isFinite(t2))
			return;
		const t0 = probe.t0;	// our own copy, not the echo
		const rtt = (t3 - t0) - (t2 - t1);
		if (rtt < 0)
			return;
		this.#lastRtt = Math.round(rtt);
		this.#addSample({offset_us: ((t1 - t0) + (t2 - t3)) / 2, rtt_us: rtt,
			generation: this.#generation});
	}

	/** True once at least one probe has been answered. */
	get ready() {
		return this.#estimate !== null;
	}

	/** The offset (server - client) in µs: measured, else the coarse hint, else 0. */
	get offsetUs() {
		if (this.#estimate)
			return this.#estimate.offset_us;
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

	/** {offset_us, rtt_us, uncertainty_us, samples}; the first three null until ready. */
	stats() {
		const e = this.#estimate;
		return {
			offset_us: e ? Math.round(e.offset_us) : null,
			rtt_us: e ? Math.round(e.rtt_us) : null,
			uncertainty_us: e ? Math.round(e.uncertainty_us) : null,
			samples: this.#samples.length,
		};
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
		this.#pending.set(id, {t0, generation: this.#generation});
		const ping = {type: 'ping', id, t0};
		if (this.#lastRtt !== null)
			ping.rtt_us = this.#lastRtt;
		if (!this.#send(ping))
			this.#pending.delete(id);
	}

	#addSample(sample) {
		// Once a new connection has answered BEST times, it replaces what older
		// ones measured (it may be another relay on another host); until then
		// one slow first answer should not outvote them.
		this.#samples.push(sample);
		const current = this.#samples.filter((s) => s.generation === sample.generation);
		if (current.length >= BEST)
			this.#samples = current;
		if (this.#samples.length > WINDOW)
			this.#samples.shift();
		const best = [...this.#samples].sort((a, b) => a.rtt_us - b.rtt_us).slice(0, BEST);
		const offsets = best.map((s) => s.offset_us).sort((a, b) => a - b);
		const mid = offsets.length >> 1;
		const offset = offsets.length % 2 ? offsets[mid] : (offsets[mid - 1] + offsets[mid]) / 2;
		const previous = this.#estimate;
		this.#estimate = {offset_us: offset, rtt_us: best[0].rtt_us, uncertainty_us: best[0].rtt_us / 2};
		this.dispatchEvent(new CustomEvent('change', {
			detail: {moved_us: previous ? offset - previous.offset_us : null},
		}));
	}
}
