/*
 * app.js - the browser client's entry point (loaded by index.html). Routes
 * between the landing view (/) and a room (/r/CODE), keeps the room model
 * (the snapshot from GET /api/rooms/{code} plus every event of
 * docs/protocol.md in seq order from realtime.js), hands anchors to
 * player.js, draws through room-view.js and admin.js, and feeds the chat,
 * requests and upload panels (enter on every snapshot, every event, leave).
 * Exposes window.tutti.syncStats() for tests and diagnostics.
 */

import {AdminPanel} from './admin.js';
import * as api from './api.js';
import {ChatPanel} from './chat.js';
import {ClockSync, clientNowUs} from './clock.js';
import {confirmDialog} from './dialogs.js';
import {byId, show} from './dom.js';
import {CODE_RE, Landing, normalizeCode} from './landing.js';
import {MediaControls} from './media-session.js';
import {Player, sameAnchor} from './player.js';
import {RoomLink} from './realtime.js';
import {RequestsPanel} from './requests.js';
import {RoomView} from './room-view.js';
import {Shortcuts} from './shortcuts.js';
import * as store from './store.js';
import {Theme} from './theme.js';
import {UploadPanel} from './upload.js';

const TICK_MS = 250;
const BEACON_SILENCE_MS = 3500;	// beacons come every second while the room plays
const NOT_YOURS = 'Only the admin controls playback in this room.';

/** An anchor from the wire (event, beacon, snapshot or control reply). */
function anchorOf(p, receivedUs) {
	return {
		state: p?.state ?? 'stopped',
		item_id: p?.item_id ?? null,
		track_id: p?.track_id ?? null,
		position_us: p?.position_us ?? 0,
		at_us: p?.at_us ?? 0,
		received_us: Math.round(receivedUs),
		next_item_id: p?.next_item_id,	// what the server advances to (null: nothing); undefined: not sent
	};
}

const sortItems = (items) => [...(items || [])].sort((a, b) => a.position - b.position);
const titleOf = (item) => item?.track?.title || 'Untitled';

/** What this user may do in room (the model): docs/api.md's policy table. */
function permissions(room) {
	const admin = room?.you?.role === 'admin';
	return {admin, control: admin || room?.policy === 'everyone', seek: admin, policy: room?.policy};
}

class App {
	clock = new ClockSync();
	player = new Player(this.clock, {volume: store.getVolume(), extraLatencyMs: store.getDelayMs()});
	/**
	 * {code, token, link, heard, room: null | {code, name, public, policy,
	 * repeat, shuffle, you, users, online: Map(id -> bool), listeners,
	 * playlist, playlistVersion, playback}}
	 */
	session = null;
	#busy = false;
	#pending = null;	// {action, args}: the command given while one was out

	constructor() {
		this.theme = new Theme((text) => this.announce(text));
		this.landing = new Landing({
			create: (opts) => this.#create(opts),
			join: (code, name) => this.#join(code, name),
			open: (code) => this.navigate(`/r/${code}`),
			hasToken: (code) => !!store.getToken(code),
			forget: (code) => store.forgetRoom(code),
			listRooms: () => api.listRooms(),
			error: (message) => this.showError(message),
		});
		this.admin = new AdminPanel(byId('admin-panel'), {
			session: () => (this.session?.room ? this.session : null),
			announce: (text) => this.announce(text),
			error: (err) => this.showError(err),
			refetch: () => this.session?.link.refetch(),
			preview: (ids) => this.#previewOrder(ids),
			redraw: () => this.session?.room && this.#render(this.session),
			applySettings: (settings) => this.#applySettings(this.session, settings),
			closed: () => this.#roomClosed(this.session, {reason: 'closed', by: this.session?.room?.you?.id}),
		});
		this.view = new RoomView({
			control: (action, args) => this.control(action, args),
			leave: () => this.#leave(),
			volume: (v) => this.#setVolume(v, false),
			delay: (ms) => {
				this.player.setExtraLatencyMs(ms);
				store.setDelayMs(ms);
			},
			calibrate: () => this.#toggleCalibration(),
			jump: (itemId) => this.control('jump', {item_id: itemId}),
			move: (itemId, delta) => this.admin.move(itemId, delta),
			reorder: (ids) => this.admin.reorder(ids),
			removeItem: (itemId) => this.admin.removeItem(itemId),
			handOver: (userId) => this.admin.handOver(userId),
			removeUser: (userId) => this.admin.removeUser(userId),
		});
		const ctx = {
			announce: (text) => this.announce(text),
			error: (err) => this.showError(err),
			playlistVersion: () => this.session?.room?.playlistVersion ?? null,
		};
		this.panels = [
			new ChatPanel(byId('chat-panel'), ctx),
			new RequestsPanel(byId('requests-panel'), ctx),
			new UploadPanel(byId('upload-panel'), ctx),
		];
		this.media = new MediaControls({
			play: () => this.control('play'),
			pause: () => this.control('pause'),
			next: () => this.control('next'),
			prev: () => this.control('prev'),
			seekBy: (us) => this.control('seek', {offset_us: Math.round(us)}),
		});
		this.shortcuts = new Shortcuts({
			active: () => !!this.session?.room,
			toggle: () => this.control('toggle'),
			seekBy: (us) => this.control('seek', {offset_us: us}),
			volumeBy: (d) => this.#setVolume(store.getVolume() + d, true),
		});
		this.player.addEventListener('audiostate', () => this.#renderAudioHint());
		this.player.addEventListener('error', (ev) => this.showError(ev.detail.message));
		this.clock.addEventListener('change', () => this.#renderSync());
		window.addEventListener('popstate', () => this.route());
		byId('audio-enable').addEventListener('click', () => this.player.resume());
		byId('error-close').addEventListener('click', () => {
			this.clearError();
			byId('main').focus();
		});
		// The AudioContext may only start from a user gesture: take the first one anywhere.
		for (const type of ['pointerdown', 'keydown', 'click'])
			document.addEventListener(type, () => this.player.resume(), {capture: true});
		document.addEventListener('click', (ev) => this.#followLink(ev));
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
		let code;
		try {
			code = normalizeCode(decodeURIComponent(m[1]));
		} catch {
			code = m[1];
		}
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

	/** Goes to path (/ or /r/CODE) in the history, clears the banner and shows it. */
	navigate(path) {
		if (location.pathname !== path)
			history.pushState(null, '', path);
		this.clearError();
		this.route();
	}

	/**
	 * Sends a playback command: "toggle" is play or pause by the state when
	 * it is sent; args as api.control ({offset_us}, {position_us},
	 * {item_id}). One command is out at a time: one given meanwhile waits
	 * for it (the latest wins; relative seeks add up).
	 */
	async control(action, args = {}) {
		const s = this.session;
		if (!s?.room)
			return;
		const perms = permissions(s.room);
		if (!perms.control || (args.position_us !== undefined && !perms.seek)) {
			this.showError(perms.control ? 'Only the admin can seek with the bar; use −10 and +10 to move.' : NOT_YOURS);
			return;
		}
		this.player.resume();
		if (this.#busy) {
			const p = this.#pending;
			if (p && p.action === 'seek' && action === 'seek' && p.args.offset_us !== undefined && args.offset_us !== undefined)
				p.args = {offset_us: p.args.offset_us + args.offset_us};
			else
				this.#pending = {action, args};
			return;
		}
		this.#busy = true;
		this.view.setBusy(true);
		try {
			if (action === 'toggle')
				action = s.room.playback.state === 'playing' ? 'pause' : 'play';
			const reply = await api.control(s.code, s.token, action, args);
			this.clearError();
			if (s === this.session && Number.isInteger(reply.seq) && reply.playback)
				s.link.offer({type: 'playback', room: s.code, seq: reply.seq, cause: action, ...reply.playback});
		} catch (err) {
			this.#pending = null;
			this.showError(err);
		} finally {
			this.#busy = false;
			this.view.setBusy(false);
		}
		const next = this.#pending;
		this.#pending = null;
		if (next && s === this.session)
			this.control(next.action, next.args);
	}

	/** A polite announcement for screen readers (the #announcer live region). */
	announce(text) {
		const node = byId('announcer');
		node.textContent = '';
		// A fresh text node after a tick, so the same words twice are read twice.
		setTimeout(() => { node.textContent = String(text); }, 30);
	}

	/** Shows an ApiError (its problem+json title and detail) or a plain message; role=alert. */
	showError(err, kind = 'error') {
		const node = byId('error');
		node.dataset.kind = kind;
		byId('error-text').textContent = typeof err === 'string' ? err : err?.message || String(err);
		show(node, true);
	}

	/** Hides the banner. */
	clearError() {
		show(byId('error'), false);
	}

	/**
	 * window.tutti.syncStats(): the clock estimate (clock.js stats()), the
	 * audio side (player.js stats(), lastSchedule described there) and the
	 * link, as one plain object. docs/protocol.md documents the fields.
	 */
	syncStats() {
		const s = this.session;
		return {
			...this.clock.stats(),
			...this.player.stats(),
			relay: s?.link.relay ?? null,
			seq: s?.link.seq ?? null,
			state: s?.room?.playback.state ?? null,
			connection: s?.link.state ?? 'closed',
			server_now_us: Math.round(this.clock.serverNowUs()),
		};
	}

	async #create(opts) {
		store.setName(opts.name);
		this.clearError();
		try {
			const r = await api.createRoom(opts);
			store.saveRoom(r.code, r.token, r.user?.name ?? opts.name, r.room?.name ?? '');
			this.navigate(`/r/${r.code}`);
		} catch (err) {
			this.showError(err);
		}
	}

	async #join(code, name) {
		store.setName(name);
		this.clearError();
		if (store.getToken(code)) {
			this.navigate(`/r/${code}`);	// already in it: go back in
			return;
		}
		try {
			const r = await api.joinRoom(code, name);
			store.saveRoom(code, r.token, r.user?.name ?? name, r.room?.name ?? '');
			this.navigate(`/r/${code}`);
		} catch (err) {
			this.showError(err.status === 404 ? `There is no open room ${code}. Check the code, or start a new room.` : err);
		}
	}

	/** Leave room: POST leave (the admin confirms first), forget the token, back to the start. */
	async #leave() {
		const s = this.session;
		if (!s)
			return;
		if (s.room?.you?.role === 'admin' && s.room.users.length > 1) {
			const ok = await confirmDialog({
				title: 'Leave the room?',
				text: 'You are the admin. When you leave, the person here longest becomes the admin a few seconds later. To choose who, use “Make admin” first.',
				confirm: 'Leave',
			});
			if (!ok || s !== this.session)
				return;
		}
		try {
			await api.leaveRoom(s.code, s.token);
		} catch (err) {
			if (err.status !== 401 && err.status !== 404) {
				this.showError(err);
				return;
			}
		}
		store.forgetRoom(s.code);
		this.navigate('/');
		this.showError(`You left room ${s.code}.`, 'info');
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
		link.addEventListener('status', (ev) => {
			if (s !== this.session)
				return;
			this.view.renderConnection(ev.detail);
			if (ev.detail.state === 'live' && s.room && s.room.online.get(s.room.you?.id) !== true) {
				s.room.online.set(s.room.you.id, true);	// this page listens
				this.#renderUsers(s);
			}
		});
		link.addEventListener('snapshot', (ev) => this.#onSnapshot(s, ev.detail.room));
		link.addEventListener('event', (ev) => this.#onEvent(s, ev.detail.msg));
		link.addEventListener('beacon', (ev) => this.#onBeacon(s, ev.detail.msg));
		link.addEventListener('fatal', (ev) => this.#onFatal(s, ev.detail.error));
		this.view.show(code, `${location.origin}/r/${code}`, {volume: store.getVolume(), delayMs: store.getDelayMs()});
		this.admin.update(null);
		this.#renderCalibration();
		this.#renderAudioHint();
		link.start();
	}

	#leaveRoom() {
		const s = this.session;
		if (!s)
			return;
		this.session = null;
		s.link.stop();
		for (const p of this.panels)
			p.leave();
		if (this.player.calibrating && typeof this.player.setCalibration === 'function')
			this.player.setCalibration(false);
		this.player.stopAll();
		this.media.clear();
		this.admin.update(null);
		show(byId('conn'), false);
		this.#renderAudioHint();
	}

	#onSnapshot(s, room) {
		if (s !== this.session)
			return;
		s.heard = performance.now();
		const prev = s.room;
		const users = [...(room.users || [])];
		// Presence is known from events; keep what is known of those still here.
		const online = new Map();
		for (const u of users) {
			if (typeof u.online === 'boolean')
				online.set(u.id, u.online);
			else if (prev?.online.has(u.id))
				online.set(u.id, prev.online.get(u.id));
		}
		if (s.link.state === 'live' || s.link.state === 'syncing')
			online.set(room.you?.id, true);
		s.room = {
			code: s.code,
			name: room.name ?? '',
			public: !!room.public,
			policy: room.policy ?? 'admin',
			repeat: room.repeat ?? 'off',
			shuffle: !!room.shuffle,
			you: {...room.you},
			users,
			online,
			listeners: Number.isInteger(room.listeners) ? room.listeners :
				users.length && users.every((u) => typeof u.online === 'boolean') ?
					users.filter((u) => u.online).length : prev?.listeners ?? null,
			playlist: sortItems(room.playlist),
			playlistVersion: room.playlist_version ?? null,
			playback: anchorOf(room.playback, this.clock.serverNowUs()),
		};
		store.setRoomName(s.code, s.room.name);
		this.player.setPlaylist(s.room.playlist);
		this.player.apply(s.room.playback);
		if (prev)
			this.#announcePlayback(s, prev.playback, s.room.playback, prev.playlist);
		else
			this.announce(`You are in ${s.room.name || `room ${s.code}`}`);
		this.#render(s);
		const session = {code: s.code, token: s.token, you: {...room.you}, room};
		for (const p of this.panels)
			p.enter(session);
	}

	#onEvent(s, msg) {
		if (s !== this.session || !s.room)
			return;
		const m = s.room;
		switch (msg.type) {
		case 'playback':
			this.#setPlayback(s, anchorOf(msg, this.clock.serverNowUs()));
			break;
		case 'user_joined':
			if (msg.user && !m.users.some((u) => u.id === msg.user.id)) {
				m.users.push(msg.user);
				this.announce(`${msg.user.name} joined`);
			}
			this.#renderUsers(s);
			break;
		case 'user_left':
			if (msg.user?.id === m.you.id) {
				this.#deliver(msg);
				this.#removed(s, msg);
				return;
			}
			m.users = m.users.filter((u) => u.id !== msg.user?.id);
			m.online.delete(msg.user?.id);
			if (msg.user)
				this.announce(msg.reason === 'removed' ? `${msg.user.name} was removed` : `${msg.user.name} left`);
			this.#renderUsers(s);
			break;
		case 'role_changed':
			this.#roleChanged(s, msg);
			break;
		case 'room_updated':
			this.#applySettings(s, msg.settings, msg.by);
			break;
		case 'room_closed':
			this.#deliver(msg);
			this.#roomClosed(s, msg);
			return;
		case 'playlist':
			if (Array.isArray(msg.items)) {
				m.playlist = sortItems(msg.items);
				m.playlistVersion = msg.version ?? m.playlistVersion;
				this.player.setPlaylist(m.playlist);
				this.#render(s);
			}
			break;
		case 'presence':
			if (msg.user && typeof msg.online === 'boolean')
				m.online.set(msg.user.id, msg.online);
			if (Number.isInteger(msg.listeners))
				m.listeners = msg.listeners;
			this.#renderUsers(s);
			break;
		default:
			// chat, request and anything newer: the panels' business
		}
		this.#deliver(msg);
	}

	/** Every event goes to every panel, in seq order. */
	#deliver(msg) {
		for (const p of this.panels) {
			try {
				p.event(msg);
			} catch (err) {
				console.error(err);	// one panel's bug must not stop the room
			}
		}
	}

	#roleChanged(s, msg) {
		const m = s.room;
		const u = msg.user;
		if (!u)
			return;
		for (const x of m.users) {
			if (x.id === u.id)
				x.role = u.role ?? 'admin';
			else if (x.role === 'admin' && (u.role ?? 'admin') === 'admin')
				x.role = 'member';	// one admin at a time
		}
		if (m.you.id === u.id)
			m.you.role = u.role ?? 'admin';
		else if (m.you.role === 'admin')
			m.you.role = 'member';
		if (m.you.id === u.id)
			this.announce(msg.reason === 'handed over' ? 'You are now the admin: the admin panel is below the playlist.' :
				'You are now the admin (the previous admin went away): the admin panel is below the playlist.');
		else
			this.announce(`${u.name} is now the admin`);
		this.#render(s);
	}

	/** settings from room_updated or a PATCH answer: {code, name, public, policy, repeat, shuffle}. */
	#applySettings(s, settings, by) {
		if (!s?.room || !settings)
			return;
		const m = s.room;
		const said = [];
		if (typeof settings.name === 'string' && settings.name !== m.name) {
			m.name = settings.name;
			store.setRoomName(s.code, m.name);
			said.push(m.name ? `name ${m.name}` : 'no name');
		}
		if (typeof settings.public === 'boolean' && settings.public !== m.public) {
			m.public = settings.public;
			said.push(m.public ? 'public' : 'private');
		}
		if (settings.policy && settings.policy !== m.policy) {
			m.policy = settings.policy;
			said.push(m.policy === 'everyone' ? 'everyone controls playback' : 'only the admin controls playback');
		}
		if (settings.repeat && settings.repeat !== m.repeat) {
			m.repeat = settings.repeat;
			said.push(`repeat ${m.repeat}`);
		}
		if (typeof settings.shuffle === 'boolean' && settings.shuffle !== m.shuffle) {
			m.shuffle = settings.shuffle;
			said.push(m.shuffle ? 'shuffle on' : 'shuffle off');
		}
		if (said.length && by !== undefined && by !== m.you.id)
			this.announce(`Room settings changed: ${said.join(', ')}`);
		this.#render(s);
	}

	#roomClosed(s, msg) {
		if (!s || s !== this.session)
			return;
		const name = s.room?.name ? `“${s.room.name}” (${s.code})` : s.code;
		const byMe = msg.by !== undefined && msg.by !== null && msg.by === s.room?.you?.id;
		const why = msg.reason === 'idle' ? `Room ${name} was closed because nobody listened for a while.` :
			byMe ? `You closed room ${name}.` : `Room ${name} was closed by its admin.`;
		store.forgetRoom(s.code);
		this.navigate('/');
		this.showError(why, 'info');
	}

	#removed(s, msg) {
		const by = s.room.users.find((u) => u.id === msg.by)?.name;
		store.forgetRoom(s.code);
		this.navigate('/');
		this.showError(msg.reason === 'removed' ?
			`You were removed from room ${s.code}${by ? ` by ${by}` : ''}.` :
			`You left room ${s.code} (from another tab or device).`, 'info');
	}

	#onBeacon(s, msg) {
		if (s !== this.session || !s.room)
			return;
		s.heard = performance.now();
		const anchor = anchorOf(msg, this.clock.serverNowUs());
		if (sameAnchor(anchor, s.room.playback) && anchor.next_item_id !== s.room.playback.next_item_id) {
			// A playlist or mode change moved what follows: the player only prefetches anew.
			this.player.apply(anchor);
			s.room.playback = {...s.room.playback, next_item_id: anchor.next_item_id};
		} else if (sameAnchor(anchor, s.room.playback))
			this.player.recheck();
		else
			this.#setPlayback(s, anchor);
	}

	#setPlayback(s, anchor) {
		s.heard = performance.now();
		const prev = s.room.playback;
		s.room.playback = anchor;
		if (anchor.item_id !== null && !s.room.playlist.some((it) => it.id === anchor.item_id))
			s.link.refetch();	// an item this page has not seen: the playlist changed
		this.player.apply(anchor);
		this.#announcePlayback(s, prev, anchor, s.room.playlist);
		this.#renderPlayback(s);
	}

	/** Tells screen readers of a new song and of play, pause and stop. */
	#announcePlayback(s, prev, next, prevPlaylist) {
		if (!prev)
			return;
		const item = this.#currentItem(s);
		const prevItem = prevPlaylist.find((it) => it.id === prev.item_id);
		if (next.item_id !== prev.item_id && item && next.state === 'playing')
			this.announce(`Now playing: ${titleOf(item)}${item.track.artist ? ` by ${item.track.artist}` : ''}`);
		else if (next.state !== prev.state)
			this.announce(next.state === 'playing' ? `Playing ${titleOf(item ?? prevItem)}` :
				next.state === 'paused' ? 'Paused' : 'Stopped');
	}

	#onFatal(s, error) {
		if (s !== this.session)
			return;
		store.forgetRoom(s.code);
		this.#showLanding({code: error.status === 404 ? '' : s.code});
		const why = error.status === 404 ? `Room ${s.code} is closed or does not exist.` :
			`Your place in room ${s.code} is no longer valid: you were removed, or left it elsewhere. Join again below.`;
		this.showError(`${why} (${error.message})`);
	}

	#currentItem(s) {
		const id = s.room?.playback.item_id;
		return id === null || id === undefined ? null : s.room.playlist.find((it) => it.id === id) ?? null;
	}

	/** Draws the whole room from the model. */
	#render(s) {
		const perms = permissions(s.room);
		this.view.renderHeader(s.room);
		this.view.renderPermissions(perms);
		this.#renderUsers(s);
		this.#renderPlayback(s);
		this.admin.update(s.room);
	}

	#renderUsers(s) {
		const m = s.room;
		this.view.renderUsers({users: m.users, youId: m.you?.id, online: m.online, listeners: m.listeners,
			admin: permissions(m).admin});
	}

	#renderPlayback(s) {
		const item = this.#currentItem(s);
		const perms = permissions(s.room);
		this.view.renderPlaylist(s.room.playlist, item?.id ?? null, {canJump: perms.control, editable: perms.admin});
		this.view.renderPlayback(s.room.playback, item?.track ?? null);
		const p = s.room.playback;
		this.media.update({
			track: item?.track ?? null, state: p.state, roomName: s.room.name, control: perms.control,
			positionUs: p.state === 'playing' ? this.clock.serverNowUs() - p.at_us + p.position_us : p.position_us,
		});
		this.#tick();
		this.#renderSync();
	}

	/** Draws the playlist in a new order before the server confirms it. */
	#previewOrder(ids) {
		const s = this.session;
		if (!s?.room)
			return;
		const byIdMap = new Map(s.room.playlist.map((it) => [it.id, it]));
		const items = ids.map((id) => byIdMap.get(id)).filter(Boolean);
		this.view.renderPlaylist(items, s.room.playback.item_id, {canJump: permissions(s.room).control, editable: true});
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

	#setVolume(v, fromKeyboard) {
		const vol = Math.min(1, Math.max(0, Math.round(v * 100) / 100));
		this.player.setVolume(vol);
		store.setVolume(vol);
		if (fromKeyboard) {
			this.view.setVolume(vol);
			this.announce(`Volume ${Math.round(vol * 100)} %`);
		}
	}

	/** The calibration tick (player.setCalibration, when the player has it). */
	#toggleCalibration() {
		if (typeof this.player.setCalibration !== 'function')
			return;
		const on = !this.player.calibrating;
		this.player.resume();
		this.player.setCalibration(on);
		this.announce(on ? 'Calibration tick on: every device in the room clicks on each second' : 'Calibration tick off');
		this.#renderCalibration();
	}

	#renderCalibration() {
		const available = typeof this.player.setCalibration === 'function';
		this.view.renderCalibration({available, on: available && !!this.player.calibrating});
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
}

const app = new App();
window.tutti = Object.freeze({
	syncStats: () => app.syncStats(),
	clientNowUs,
});
app.route();
