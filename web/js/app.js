/*
 * app.js - the browser client's entry point (loaded by index.html). Routes
 * between the landing view (/) and a room (/r/CODE), keeps the room model
 * (snapshot from GET /api/rooms/{code} plus events in seq order from
 * realtime.js), hands anchors to player.js and draws through room-view.js.
 * Exposes window.tutti.syncStats() for tests and diagnostics.
 */

import * as api from './api.js';
import {ClockSync, clientNowUs} from './clock.js';
import {byId, show} from './dom.js';
import {CODE_RE, Landing, normalizeCode} from './landing.js';
import {Player, sameAnchor} from './player.js';
import {RoomLink} from './realtime.js';
import {RoomView} from './room-view.js';
import * as store from './store.js';

const TICK_MS = 250;
const SEEK_STEP_US = 5e6;
const BEACON_SILENCE_MS = 3500;	// beacons come every second while the room plays

/** An anchor from the wire (event, beacon, snapshot or control reply). */
function anchorOf(p, receivedUs) {
	return {
		state: p?.state ?? 'stopped',
		item_id: p?.item_id ?? null,
		track_id: p?.track_id ?? null,
		position_us: p?.position_us ?? 0,
		at_us: p?.at_us ?? 0,
		received_us: Math.round(receivedUs),
	};
}

class App {
	clock = new ClockSync();
	player = new Player(this.clock, {volume: store.getVolume(), extraLatencyMs: store.getDelayMs()});
	session = null;	// {code, token, link, room: {you, users, playlist, playback} | null}
	#busy = false;

	constructor() {
		this.landing = new Landing({
			create: (name) => this.#create(name),
			join: (code, name) => this.#join(code, name),
			forget: (code) => store.forgetRoom(code),
			error: (message) => this.showError(message),
		});
		this.view = new RoomView({
			control: (action) => this.control(action),
			leave: () => this.navigate('/'),
			volume: (v) => {
				this.player.setVolume(v);
				store.setVolume(v);
			},
			delay: (ms) => {
				this.player.setExtraLatencyMs(ms);
				store.setDelayMs(ms);
			},
		});
		this.player.addEventListener('audiostate', () => this.#renderAudioHint());
		this.player.addEventListener('error', (ev) => this.showError(ev.detail.message));
		this.clock.addEventListener('change', () => this.#renderSync());
		window.addEventListener('popstate', () => this.route());
		byId('audio-enable').addEventListener('click', () => this.player.resume());
		// The AudioContext may only start from a user gesture: take the first one anywhere.
		for (const type of ['pointerdown', 'keydown', 'click'])
			document.addEventListener(type, () => this.player.resume(), {capture: true});
		document.addEventListener('click', (ev) => this.#followLink(ev));
		document.addEventListener('keydown', (ev) => this.#shortcut(ev));
		setInterval(() => this.#tick(), TICK_MS);
		setInterval(() => this.#renderSync(), 1000);
	}

	/** Shows what the address asks for: a room (/r/CODE) or the landing view. */
	route() {
		const m = /^\/r\/([^/]+)\/?$/.exec(location.pathname);
		if (!m) {
			this.#showLanding({});
			return;
		}
		const code = normalizeCode(decodeURIComponent(m[1]));
		if (!CODE_RE.test(code)) {
			this.#showLanding({});
			this.showError(`“${code}” is not a room code: they are 5 letters and digits.`);
			return;
		}
		const token = store.getToken(code);
		if (!token)
			this.#showLanding({code});
		else if (this.session?.code !== code)
			this.#enterRoom(code, token);
	}

	navigate(path) {
		if (location.pathname !== path)
			history.pushState(null, '', path);
		this.clearError();
		this.route();
	}

	/**
	 * Sends a playback command; "toggle" is play or pause by the current
	 * state; positionUs only with "seek".
	 */
	async control(action, positionUs) {
		const s = this.session;
		if (!s || this.#busy)
			return;
		if (action === 'toggle')
			action = s.room?.playback.state === 'playing' ? 'pause' : 'play';
		this.player.resume();
		this.#busy = true;
		this.view.setBusy(true);
		try {
			const reply = await api.control(s.code, s.token, action, positionUs);
			this.clearError();
			if (s === this.session && Number.isInteger(reply.seq) && reply.playback)
				s.link.offer({type: 'playback', seq: reply.seq, cause: action, ...reply.playback});
		} catch (err) {
			this.showError(err);
		} finally {
			this.#busy = false;
			this.view.setBusy(false);
		}
	}

	/** Shows an ApiError (its problem+json title and detail) or a plain message. */
	showError(err) {
		const node = byId('error');
		node.textContent = typeof err === 'string' ? err : err?.message || String(err);
		show(node, true);
	}

	clearError() {
		show(byId('error'), false);
	}

	/** window.tutti.syncStats(): see player.js for lastSchedule. */
	syncStats() {
		const c = this.clock.stats();
		const p = this.player.stats();
		const s = this.session;
		return {
			offset_us: c.offset_us,
			rtt_us: c.rtt_us,
			uncertainty_us: c.uncertainty_us,
			samples: c.samples,
			relay: s?.link.relay ?? null,
			seq: s?.link.seq ?? null,
			state: s?.room?.playback.state ?? null,
			connection: s?.link.state ?? 'closed',
			audio: p.audio,
			output_latency_s: p.output_latency_s,
			resyncs: p.resyncs,
			last_resync_error_us: p.last_resync_error_us,
			rate: p.rate,
			schedule_error_us: p.schedule_error_us,
			server_now_us: Math.round(this.clock.serverNowUs()),
			lastSchedule: p.lastSchedule,
		};
	}

	async #create(name) {
		store.setName(name);
		this.clearError();
		try {
			const r = await api.createRoom(name);
			store.saveRoom(r.code, r.token, r.user?.name ?? name);
			this.navigate(`/r/${r.code}`);
		} catch (err) {
			this.showError(err);
		}
	}

	async #join(code, name) {
		store.setName(name);
		this.clearError();
		try {
			const r = await api.joinRoom(code, name);
			store.saveRoom(code, r.token, r.user?.name ?? name);
			this.navigate(`/r/${code}`);
		} catch (err) {
			this.showError(err);
		}
	}

	#showLanding({code = ''}) {
		this.#leaveRoom();
		this.view.hide();
		document.title = 'tutti';
		this.landing.show({code, name: store.getName(), rooms: store.listRooms()});
	}

	#enterRoom(code, token) {
		this.#leaveRoom();
		this.landing.hide();
		const link = new RoomLink({code, token, clock: this.clock, fetchRoom: api.getRoom});
		const s = {code, token, link, room: null, heard: 0};
		this.session = s;
		link.addEventListener('status', (ev) => this.view.renderConnection(ev.detail));
		link.addEventListener('snapshot', (ev) => this.#onSnapshot(s, ev.detail.room));
		link.addEventListener('event', (ev) => this.#onEvent(s, ev.detail.msg));
		link.addEventListener('beacon', (ev) => this.#onBeacon(s, ev.detail.msg));
		link.addEventListener('fatal', (ev) => this.#onFatal(s, ev.detail.error));
		this.view.show(code, `${location.origin}/r/${code}`, {volume: store.getVolume(), delayMs: store.getDelayMs()});
		this.#renderAudioHint();
		link.start();
	}

	#leaveRoom() {
		const s = this.session;
		if (!s)
			return;
		this.session = null;
		s.link.stop();
		this.player.stopAll();
		show(byId('conn'), false);
		this.#renderAudioHint();
	}

	#onSnapshot(s, room) {
		if (s !== this.session)
			return;
		s.heard = performance.now();
		const playlist = [...(room.playlist || [])].sort((a, b) => a.position - b.position);
		s.room = {
			you: room.you,
			users: [...(room.users || [])],
			playlist,
			playback: anchorOf(room.playback, this.clock.serverNowUs()),
		};
		this.player.setPlaylist(playlist);
		this.player.apply(s.room.playback);
		this.view.renderUsers(s.room.users, room.you?.id);
		this.#renderPlayback(s);
	}

	#onEvent(s, msg) {
		if (s !== this.session || !s.room)
			return;
		if (msg.type === 'playback') {
			this.#setPlayback(s, anchorOf(msg, this.clock.serverNowUs()));
		} else if (msg.type === 'user_joined' && msg.user) {
			if (!s.room.users.some((u) => u.id === msg.user.id))
				s.room.users.push(msg.user);
			this.view.renderUsers(s.room.users, s.room.you?.id);
		}
		// Other types (later additions) still advance seq in the link.
	}

	#onBeacon(s, msg) {
		if (s !== this.session || !s.room)
			return;
		s.heard = performance.now();
		const anchor = anchorOf(msg, this.clock.serverNowUs());
		if (sameAnchor(anchor, s.room.playback))
			this.player.recheck();
		else
			this.#setPlayback(s, anchor);
	}

	#setPlayback(s, anchor) {
		s.heard = performance.now();
		s.room.playback = anchor;
		if (anchor.item_id !== null && !s.room.playlist.some((it) => it.id === anchor.item_id))
			s.link.refetch();	// an item this page has not seen: the playlist changed
		this.player.apply(anchor);
		this.#renderPlayback(s);
	}

	#onFatal(s, error) {
		if (s !== this.session)
			return;
		store.forgetRoom(s.code);
		this.#showLanding({code: error.status === 404 ? '' : s.code});
		const why = error.status === 404 ? `Room ${s.code} is gone` : `Your place in room ${s.code} is no longer valid; join again`;
		this.showError(`${why} (${error.message}).`);
	}

	#currentItem(s) {
		const id = s.room?.playback.item_id;
		return id === null || id === undefined ? null : s.room.playlist.find((it) => it.id === id) ?? null;
	}

	#renderPlayback(s) {
		const item = this.#currentItem(s);
		this.view.renderPlaylist(s.room.playlist, item?.id ?? null);
		this.view.renderPlayback(s.room.playback, item?.track ?? null);
		this.#tick();
		this.#renderSync();
	}

	/** Where the current item is now (µs), and how long until a scheduled start. */
	#position(s) {
		const a = s.room.playback;
		const duration = this.#currentItem(s)?.track.duration_us ?? 0;
		const now = this.clock.serverNowUs();
		let pos = a.position_us;
		if (a.state === 'playing')
			pos += Math.max(0, now - a.at_us);
		return {pos: Math.min(Math.max(0, pos), duration || Infinity), duration, startsIn: a.at_us - now};
	}

	#tick() {
		const s = this.session;
		if (!s?.room)
			return;
		// Playing, yet no beacon for a while: the event that ended it was lost.
		if (s.room.playback.state === 'playing' && s.link.state === 'live' &&
		    performance.now() - s.heard > BEACON_SILENCE_MS) {
			s.heard = performance.now();
			s.link.refetch();
		}
		if (document.hidden)
			return;
		const {pos, duration, startsIn} = this.#position(s);
		this.view.tick(pos, duration, s.room.playback.state === 'playing' ? startsIn : 0);
	}

	#renderSync() {
		if (this.session)
			this.view.renderSync(this.syncStats());
	}

	#renderAudioHint() {
		show(byId('audio-hint'), !!this.session && this.player.audioState !== 'running');
		this.#renderSync();
	}

	/** Same-origin links to / and /r/... stay in the page. */
	#followLink(ev) {
		const a = ev.target.closest?.('a[href]');
		if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
			return;
		const url = new URL(a.href, location.href);
		if (url.origin !== location.origin || !/^\/(r\/[^/]+)?$/.test(url.pathname))
			return;
		ev.preventDefault();
		this.navigate(url.pathname);
	}

	/** Space: play/pause; ←/→: seek 5 s; not while a field or a button uses the key. */
	#shortcut(ev) {
		const s = this.session;
		if (!s?.room || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat)
			return;
		if (ev.target.closest?.('input, textarea, select, [contenteditable]'))
			return;	// they use these keys themselves
		if (ev.key === ' ' && !ev.target.closest?.('button, a')) {
			ev.preventDefault();
			this.control('toggle');
		} else if ((ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') && this.#currentItem(s)) {
			ev.preventDefault();
			const {pos, duration} = this.#position(s);
			const step = ev.key === 'ArrowLeft' ? -SEEK_STEP_US : SEEK_STEP_US;
			this.control('seek', Math.min(Math.max(0, pos + step), Math.max(0, duration - 1)));
		}
	}
}

const app = new App();
window.tutti = Object.freeze({
	syncStats: () => app.syncStats(),
	clientNowUs,
});
app.route();
