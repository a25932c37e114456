// delay-proxy.mjs - a TCP proxy for the browser tests that delays every
// chunk of bytes, in each direction separately, by a base delay plus a random
// jitter, like a long and uneven network path. Bytes of one connection keep
// their order (a chunk never overtakes the one before it: jitter stretches
// the stream, it cannot reorder it). HTTP and WebSocket alike go through it.
// sync.test.mjs gives each page one of these in front of nginx.
//
// As a command: node delay-proxy.mjs TARGET_PORT DELAY_MS [JITTER_MS [LISTEN_PORT]]

import {createServer, connect} from 'node:net';
import {pathToFileURL} from 'node:url';

/**
 * A deterministic random source in [0, 1) (mulberry32), so a run with the
 * same seed draws the same jitter.
 */
export function seededRandom(seed) {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6D2B79F5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * One direction of one connection: chunks written to `to` at
 * max(arrival + delay + jitter, the previous chunk's release).
 */
class DelayedPipe {
	#to;
	#delayMs;
	#jitterMs;
	#random;
	#queue = [];      // {due, data}; data null: end the stream
	#timer = null;
	#lastDue = 0;

	constructor(from, to, {delayMs, jitterMs, random}) {
		this.#to = to;
		this.#delayMs = delayMs;
		this.#jitterMs = jitterMs;
		this.#random = random;
		from.on('data', (data) => this.#push(data));
		from.on('end', () => this.#push(null));
	}

	#push(data) {
		const due = Math.max(this.#lastDue, performance.now() + this.#delayMs + this.#random() * this.#jitterMs);
		this.#lastDue = due;
		this.#queue.push({due, data});
		if (this.#queue.length === 1)
			this.#arm();
	}

	#arm() {
		clearTimeout(this.#timer);
		if (!this.#queue.length)
			return;
		this.#timer = setTimeout(() => this.#release(), Math.max(0, this.#queue[0].due - performance.now()));
	}

	#release() {
		const now = performance.now();
		while (this.#queue.length && this.#queue[0].due <= now + 0.5) {
			const {data} = this.#queue.shift();
			if (this.#to.destroyed)
				continue;
			if (data === null)
				this.#to.end();
			else
				this.#to.write(data);
		}
		this.#arm();
	}

	stop() {
		clearTimeout(this.#timer);
		this.#queue = [];
	}
}

/**
 * Starts a proxy on 127.0.0.1 (port 0: any free one) to target
 * {host, port}. delayMs, jitterMs: per direction. Resolves to
 * {port, close(), connections()}; close() ends every connection.
 */
export function startDelayProxy({target, delayMs, jitterMs = 0, seed = 1, port = 0}) {
	const random = seededRandom(seed);
	const sockets = new Set();
	const pipes = new Set();
	let accepted = 0;
	// Half-open allowed: a side that has finished sending still gets what is
	// on its way to it; each side is ended by its pipe, in order.
	const server = createServer({allowHalfOpen: true}, (client) => {
		accepted++;
		const upstream = connect({port: target.port, host: target.host || '127.0.0.1', allowHalfOpen: true});
		for (const s of [client, upstream]) {
			s.setNoDelay(true);
			sockets.add(s);
			s.on('close', () => sockets.delete(s));
		}
		const up = new DelayedPipe(client, upstream, {delayMs, jitterMs, random});
		const down = new DelayedPipe(upstream, client, {delayMs, jitterMs, random});
		pipes.add(up);
		pipes.add(down);
		const fail = () => {
			up.stop();
			down.stop();
			pipes.delete(up);
			pipes.delete(down);
			client.destroy();
			upstream.destroy();
		};
		client.on('error', fail);
		upstream.on('error', fail);
		client.on('close', (hadError) => hadError && fail());
		upstream.on('close', (hadError) => hadError && fail());
	});
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => resolve({
			port: server.address().port,
			connections: () => accepted,
			close() {
				for (const p of pipes)
					p.stop();
				for (const s of sockets)
					s.destroy();
				return new Promise((done) => server.close(() => done()));
			},
		}));
	});
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
	const [targetPort, delay, jitter = '0', listen = '0'] = process.argv.slice(2);
	if (!targetPort || !delay) {
		console.error('usage: node delay-proxy.mjs TARGET_PORT DELAY_MS [JITTER_MS [LISTEN_PORT]]');
		process.exit(2);
	}
	const proxy = await startDelayProxy({target: {port: Number(targetPort)}, delayMs: Number(delay),
		jitterMs: Number(jitter), seed: Date.now(), port: Number(listen)});
	console.log(`delay-proxy: 127.0.0.1:${proxy.port} -> ${targetPort}, ${delay} ms + 0..${jitter} ms each way`);
}
