/*
 * realtime.js - the page's live link to a room: the WebSocket of
 * docs/protocol.md plus the REST snapshot it is ordered against. Events carry
 * the room's seq; the link opens the socket, then fetches the room, buffers
 * events meanwhile and applies those newer than the snapshot, refetches on a
 * seq gap, a beacon ahead of it or a "resync" message, and reconnects with
 * exponential backoff and jitter (refetching once back: every snapshot is
 * a "snapshot" event, after which app.js re-enters every panel). It also
 * carries clock.js's probes. app.js listens to what it emits.
 */

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 20000;
const HELLO_WAIT_MS = 1000;     // fetch anyway if the relay has not said hello by then
const SILENCE_MS = 10000;       // nothing heard this long (pongs come every 2 s): reconnect
const FATAL = new Set([401, 403, 404, 410]);
const SESSION_ENDED = new Set([4401, 4410]);  // relay close codes: the session ended (docs/protocol.md)
const GAP_REFETCHES = 3;        // snapshots in a row that leave a buffered event unreachable

function backoff(attempt) {
	const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
	return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

/**
 * RoomLink emits:
 *   "status"   {state, retry_ms?, error?}: connecting | syncing | live |
 *              reconnecting | offline | degraded (socket up, REST failing) | closed
 *   "snapshot" {room, received_us}: a full room from GET, to replace the model
 *   "event"    {msg}: the next event in seq order (playback, user_joined, ...)
 *   "beacon"   {msg}: a beacon for the state already applied
 *   "fatal"    {error}: the token or the room is no longer valid; the link has stopped
 */
export class RoomLink extends EventTarget {
	#code;
	#token;
	#clock;
	#fetchRoom;
	#ws = null;
	#attempt = 0;          // reconnect attempts since the last good sync
	#fetchAttempt = 0;
	#timers = {reconnect: 0, hello: 0, refetch: 0, watchdog: 0};
	#stopped = true;
	#synced = false;       // the snapshot and every event up to #lastSeq are applied
	#lastSeq = null;
	#buffer = [];          // events that arrived while not synced
	#fetching = false;
	#fetchAgain = false;
	#relay = null;
	#lastHeard = 0;
	#state = 'closed';

	/** fetchRoom(code, token) -> Promise<room>, rejecting with an ApiError. */
	constructor({code, token, clock, fetchRoom}) {
		super();
		this.#code = code;
		this.#token = token;
		this.#clock = clock;
		this.#fetchRoom = fetchRoom;
		this.onOnline = () => this.#reconnectNow();
	}

	get seq() {
		return this.#lastSeq;
	}

	get relay() {
		return this.#relay;
	}

	get state() {
		return this.#state;
	}

	start() {
		if (!this.#stopped)
			return;
		this.#stopped = false;
		window.addEventListener('online', this.onOnline);
		this.#connect();
	}

	stop() {
		this.#stopped = true;
		window.removeEventListener('online', this.onOnline);
		for (const k of Object.keys(this.#timers)) {
			clearTimeout(this.#timers[k]);
			clearInterval(this.#timers[k]);
		}
		this.#dropSocket(1000);
		this.#setState('closed');
	}

	/** Fetches the room again (the page found something it cannot place). */
	refetch() {
		if (!this.#stopped)
			this.#refetch();
	}

	/**
	 * Offers an event learned another way (the answer to a control request).
	 * It is applied only if it is exactly the next one; the same event from
	 * the socket is then skipped as already seen.
	 */
	offer(msg) {
		if (this.#synced && msg.seq === this.#lastSeq + 1)
			this.#apply(msg);
	}

	#connect() {
		const url = new URL('/ws', location.href);
		url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
		url.search = new URLSearchParams({room: this.#code, token: this.#token}).toString();
		this.#setState(navigator.onLine === false ? 'offline' : 'connecting');
		let ws;
		try {
			ws = new WebSocket(url);
		} catch {
			this.#scheduleReconnect();
			return;
		}
		this.#ws = ws;
		let opened = false;
		ws.addEventListener('open', () => {
			opened = true;
			this.#lastHeard = performance.now();
			this.#setState('syncing');
			this.#clock.attach((obj) => this.#send(ws, obj));
			this.#timers.hello = setTimeout(() => this.#refetch(), HELLO_WAIT_MS);
			this.#timers.watchdog = setInterval(() => this.#checkSilence(ws), SILENCE_MS / 4);
		});
		ws.addEventListener('message', (ev) => {
			if (ws !== this.#ws)
				return;
			this.#lastHeard = performance.now();
			this.#onMessage(ev.data);
		});
		ws.addEventListener('close', (ev) => {
			if (ws !== this.#ws)
				return;
			this.#ws = null;
			// 4401 (you left or were removed) and 4410 (the room closed): the
			// token is void; ask REST what happened instead of reconnecting.
			this.#afterClose(opened && !SESSION_ENDED.has(ev.code));
		});
	}

	#send(ws, obj) {
		if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN)
			return false;
		ws.send(JSON.stringify(obj));
		return true;
	}

	#onMessage(data) {
		let msg;
		try {
			msg = JSON.parse(data);
		} catch {
			return;
		}
		if (!msg || typeof msg !== 'object')
			return;
		switch (msg.type) {
		case 'hello':
			this.#relay = typeof msg.relay === 'string' ? msg.relay : String(msg.relay ?? '');
			this.#clock.hint(msg.now_us);
			clearTimeout(this.#timers.hello);
			this.#refetch();
			break;
		case 'pong':
			this.#clock.handlePong(msg);
			break;
		case 'resync':
			this.#refetch();
			break;
		case 'beacon':
			if (!this.#synced || !Number.isInteger(msg.seq))
				break;
			if (msg.seq > this.#lastSeq)
				this.#refetch();	// something was missed
			else
				this.dispatchEvent(new CustomEvent('beacon', {detail: {msg}}));
			break;
		default:
			if (Number.isInteger(msg.seq))
				this.#onEvent(msg);
		}
	}

	#onEvent(msg) {
		if (!this.#synced) {
			this.#buffer.push(msg);
			return;
		}
		if (msg.seq <= this.#lastSeq)
			return;
		if (msg.seq === this.#lastSeq + 1) {
			this.#apply(msg);
			return;
		}
		this.#buffer.push(msg);
		this.#refetch();
	}

	#apply(msg) {
		this.#lastSeq = msg.seq;
		this.dispatchEvent(new CustomEvent('event', {detail: {msg}}));
	}

	/** Applies buffered events after the snapshot; false when one is missing. */
	#drain() {
		const events = this.#buffer.sort((a, b) => a.seq - b.seq);
		this.#buffer = [];
		for (let i = 0; i < events.length; i++) {
			const msg = events[i];
			if (msg.seq <= this.#lastSeq)
				continue;
			if (msg.seq !== this.#lastSeq + 1) {
				this.#buffer = events.slice(i);
				return false;
			}
			this.#apply(msg);
		}
		return true;
	}

	async #refetch() {
		clearTimeout(this.#timers.hello);
		clearTimeout(this.#timers.refetch);
		this.#synced = false;
		if (this.#fetching) {
			this.#fetchAgain = true;
			return;
		}
		this.#fetching = true;
		if (this.#ws)
			this.#setState('syncing');
		try {
			let gaps = 0;
			do {
				this.#fetchAgain = false;
				const room = await this.#fetchRoom(this.#code, this.#token);
				if (this.#stopped)
					return;
				this.#lastSeq = room.seq;
				this.#clock.hint(room.now_us);
				this.dispatchEvent(new CustomEvent('snapshot', {detail: {room}}));
				if (!this.#drain()) {
					// An event ahead of the room's own seq: normally its commit
					// shows in the next GET; one that never does is dropped
					// (the snapshot is the truth) instead of fetching forever.
					if (++gaps < GAP_REFETCHES)
						this.#fetchAgain = true;
					else
						this.#buffer = [];
				}
			} while (this.#fetchAgain);
			this.#fetchAttempt = 0;
			if (this.#ws?.readyState === WebSocket.OPEN) {
				this.#synced = true;
				this.#attempt = 0;
				this.#setState('live');
			}
		} catch (error) {
			if (this.#stopped)
				return;
			if (FATAL.has(error.status)) {
				this.#fatal(error);
				return;
			}
			const delay = backoff(this.#fetchAttempt++);
			if (this.#ws)
				this.#setState('degraded', {error, retry_ms: delay});
			this.#timers.refetch = setTimeout(() => this.#refetch(), delay);
		} finally {
			this.#fetching = false;
		}
	}

	#afterClose(opened) {
		this.#clock.detach();
		clearTimeout(this.#timers.hello);
		clearInterval(this.#timers.watchdog);
		this.#synced = false;
		this.#buffer = [];
		if (this.#stopped)
			return;
		if (!opened) {
			// A refused upgrade shows as a bare close; REST says whether it was the token or the room.
			this.#fetchRoom(this.#code, this.#token).catch((error) => {
				if (!this.#stopped && FATAL.has(error.status))
					this.#fatal(error);
			});
		}
		this.#scheduleReconnect();
	}

	#scheduleReconnect() {
		const delay = backoff(this.#attempt++);
		this.#setState(navigator.onLine === false ? 'offline' : 'reconnecting', {retry_ms: delay});
		clearTimeout(this.#timers.reconnect);
		this.#timers.reconnect = setTimeout(() => {
			if (!this.#stopped)
				this.#connect();
		}, delay);
	}

	/** The network is back: skip the rest of the backoff (a live socket stays). */
	#reconnectNow() {
		if (this.#stopped || this.#ws)
			return;
		clearTimeout(this.#timers.reconnect);
		this.#connect();
	}

	#checkSilence(ws) {
		if (ws === this.#ws && performance.now() - this.#lastHeard > SILENCE_MS) {
			this.#dropSocket(4000);	// a dead path can take minutes to report a close
			this.#afterClose(true);
		}
	}

	#dropSocket(code) {
		const ws = this.#ws;
		this.#ws = null;
		this.#clock.detach();
		clearInterval(this.#timers.watchdog);
		if (ws && ws.readyState <= WebSocket.OPEN) {
			try {
				ws.close(code);
			} catch {
				// closing anyway
			}
		}
	}

	#fatal(error) {
		this.stop();
		this.dispatchEvent(new CustomEvent('fatal', {detail: {error}}));
	}

	#setState(state, extra = {}) {
		this.#state = state;
		this.dispatchEvent(new CustomEvent('status', {detail: {state, ...extra}}));
	}
}
