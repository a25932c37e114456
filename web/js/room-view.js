/*
 * room-view.js - the room view: name, code and share link, now playing with
 * the seek bar and times, the playback buttons (disabled with the reason when
 * the room's policy does not let this user use them) and volume, the
 * playlist with the playing item marked (and, for the admin, move, remove and
 * drag-and-drop), who is here and listening (admin tools per person), and the
 * connection and sync figures. It only draws what app.js gives it and reports
 * the listener's input back through the callbacks.
 */

import {byId, el, formatClock, formatMs, show} from './dom.js';

const CONNECTION_TEXT = {
	connecting: 'Connecting…',
	syncing: 'Syncing…',
	live: 'Connected',
	reconnecting: 'Connection lost',
	offline: 'Offline: waiting for the network',
	degraded: 'Connected, room state not loaded',
	closed: 'Not connected',
};

const STATE_TEXT = {playing: 'Playing', paused: 'Paused', stopped: 'Stopped'};
const PLAYBACK_BUTTONS = ['btn-prev', 'btn-back10', 'btn-play', 'btn-fwd10', 'btn-next', 'btn-stop'];
const SEEK_COMMIT_MS = 250;	// keyboard steps on the seek bar are sent once they pause
const SEEK_HOLD_MS = 1500;	// the bar stays where the listener put it this long

/** How good a clock estimate is, from its uncertainty. */
function quality(uncertaintyUs) {
	if (!Number.isFinite(uncertaintyUs))
		return ['none', 'Measuring…'];
	if (uncertaintyUs < 2000)
		return ['good', 'Excellent'];
	if (uncertaintyUs < 5000)
		return ['good', 'Good'];
	if (uncertaintyUs < 15000)
		return ['fair', 'Fair'];
	return ['poor', 'Poor: expect audible offsets'];
}

/** How the last source started: on time (and how early the anchor came) or late. */
function describeStart(s) {
	if (!s)
		return '–';
	if (s.late_us > 1000) {
		const late = s.late_us >= 1e6 ? `${(s.late_us / 1e6).toFixed(1)} s` : formatMs(s.late_us);
		return `joined late, ${late} into the schedule`;
	}
	const ahead = Number.isFinite(s.received_us) ? s.at_us - s.received_us : null;
	return ahead !== null && ahead > 0 ? `on time (told ${formatMs(ahead)} ahead)` : 'on time';
}

/** The focused control inside container as {key, cls}, to find it again after a redraw. */
function focusOf(container, keyAttr) {
	const a = document.activeElement;
	if (!a || !container.contains(a))
		return null;
	const row = a.closest(`[${keyAttr}]`);
	return row ? {key: row.getAttribute(keyAttr), cls: a.classList[0] || ''} : null;
}

function restoreFocus(container, keyAttr, f) {
	if (!f)
		return;
	const row = container.querySelector(`[${keyAttr}="${CSS.escape(f.key)}"]`);
	if (!row)
		return;
	let target = f.cls ? row.querySelector(`.${CSS.escape(f.cls)}`) : null;
	if (!target || target.disabled)
		target = row.querySelector('button:not([disabled])');
	target?.focus();
}

const trackTitle = (t) => (t?.title || 'Untitled');

export class RoomView {
	#on;
	#items = [];
	#editable = false;
	#dragId = null;
	#seekHoldUntil = 0;
	#seekPointer = false;
	#seekTimer = 0;

	/**
	 * on: {control(action, args), leave(), volume(v in [0,1]), delay(ms),
	 * calibrate(), jump(itemId), move(itemId, delta), reorder(itemIds),
	 * removeItem(itemId), handOver(userId), removeUser(userId)}.
	 */
	constructor(on) {
		this.#on = on;
		this.root = byId('room');
		this.playButton = byId('btn-play');
		const actions = {
			'btn-prev': ['prev'], 'btn-next': ['next'], 'btn-stop': ['stop'], 'btn-play': ['toggle'],
			'btn-back10': ['seek', {offset_us: -10e6}], 'btn-fwd10': ['seek', {offset_us: 10e6}],
		};
		for (const [id, [action, args]] of Object.entries(actions)) {
			byId(id).addEventListener('click', () => this.#on.control(action, args));
		}
		byId('leave').addEventListener('click', () => this.#on.leave());
		byId('copy-link').addEventListener('click', () => this.#copyLink());
		byId('share-link').addEventListener('focus', (ev) => ev.target.select());
		byId('volume').addEventListener('input', (ev) => {
			this.#showVolume(ev.target.valueAsNumber);
			this.#on.volume(ev.target.valueAsNumber / 100);
		});
		// The delay applies while it is nudged (spinner, arrows, typing) and is
		// tidied up (clamped, rounded) when the field is left.
		const delay = byId('delay');
		const clampDelay = (ms) => Math.max(-500, Math.min(500, Math.round(ms)));
		delay.addEventListener('input', () => {
			if (Number.isFinite(delay.valueAsNumber))
				this.#on.delay(clampDelay(delay.valueAsNumber));
		});
		delay.addEventListener('change', () => {
			const v = Number.isFinite(delay.valueAsNumber) ? clampDelay(delay.valueAsNumber) : 0;
			delay.value = String(v);
			this.#on.delay(v);
		});
		byId('btn-calibrate').addEventListener('click', () => this.#on.calibrate());
		this.#wireSeek();
		this.#wirePlaylist();
	}

	/** Shows the view for room code, empty until the first snapshot; focus goes to its title. */
	show(code, shareUrl, {volume, delayMs}) {
		byId('room-code').textContent = code;
		byId('room-name').textContent = 'Room';
		byId('room-facts').textContent = '';
		byId('share-link').value = shareUrl;
		this.setVolume(volume);
		byId('delay').value = String(delayMs);
		this.renderUsers({users: [], youId: null, online: new Map(), listeners: null, admin: false});
		this.renderPlaylist([], null, {canJump: false, editable: false});
		this.renderPlayback(null, null);
		show(this.root, true);
		byId('room-title').focus();
	}

	/** Hides the view. */
	hide() {
		show(this.root, false);
	}

	/** v in [0, 1]: moves the slider (keyboard shortcuts, stored value). */
	setVolume(v) {
		const pct = Math.round(Math.min(1, Math.max(0, v)) * 100);
		byId('volume').value = String(pct);
		this.#showVolume(pct);
	}

	#showVolume(pct) {
		byId('volume-out').textContent = `${pct} %`;
	}

	/** A control request is out (app.js queues what comes meanwhile). */
	setBusy(busy) {
		byId('btn-play').closest('.controls').setAttribute('aria-busy', String(busy));
	}

	/** room: {code, name, public, policy, repeat, shuffle}. */
	renderHeader(room) {
		byId('room-name').textContent = room.name || 'Room';
		byId('room-code').textContent = room.code;
		const facts = [
			room.public ? 'Public' : 'Private',
			room.policy === 'everyone' ? 'everyone controls playback' : 'the admin controls playback',
		];
		byId('room-facts').textContent = facts.join(' · ');
		const modes = [];
		if (room.repeat === 'one')
			modes.push('Repeat one');
		else if (room.repeat === 'all')
			modes.push('Repeat all');
		if (room.shuffle)
			modes.push('Shuffle');
		byId('playlist-modes').textContent = modes.join(' · ');
	}

	/**
	 * perms: {control, seek, admin, policy}: which controls this user may use.
	 * What may not be used is disabled, with the reason next to it.
	 */
	renderPermissions(perms) {
		for (const id of PLAYBACK_BUTTONS)
			byId(id).disabled = !perms.control;
		const note = byId('controls-note');
		note.textContent = perms.control ? '' :
			'Only the admin controls playback in this room. You can still set your own volume, chat and ask for songs.';
		show(note, !perms.control);
		const seek = byId('seek');
		seek.disabled = !perms.seek;
		byId('seek-help').textContent = perms.seek ? '' : perms.control ?
			'Only the admin can seek with the bar; use −10 and +10 to move.' :
			'Only the admin can seek.';
		show(byId('seek-help'), !perms.seek);
		byId('playlist-help').textContent = perms.admin ?
			'Choose a song to play it. Drag songs or use the arrows to reorder them.' :
			perms.control ? 'Choose a song to play it.' : 'Only the admin chooses what plays in this room.';
	}

	/**
	 * {users: [{id, name, role}], youId, online: Map(id -> bool), listeners
	 * (count or null), admin: whether this user may hand over and remove}.
	 */
	renderUsers({users, youId, online, listeners, admin}) {
		const list = byId('users');
		const focus = focusOf(list, 'data-user');
		list.replaceChildren(...users.map((u) => {
			const you = u.id === youId;
			const state = online.has(u.id) ? (online.get(u.id) ? 'online' : 'offline') : 'unknown';
			const stateText = state === 'online' ? 'listening' : state === 'offline' ? 'not listening' : '';
			return el('li', {attrs: {'data-user': u.id, 'data-online': state, 'data-role': u.role}},
				el('span', {class: 'presence', attrs: {'aria-hidden': 'true', title: stateText || 'presence unknown'}}),
				el('span', {class: 'who'},
					el('span', {class: 'name', text: u.name}),
					you ? el('span', {class: 'muted', text: ' (you)'}) : null,
					u.role === 'admin' ? el('span', {class: 'badge', text: 'admin'}) : null,
					stateText ? el('span', {class: 'sr-only', text: `, ${stateText}`}) : null),
				admin && !you ? el('span', {class: 'tools'},
					el('button', {class: 'make-admin small quiet', text: 'Make admin',
						attrs: {type: 'button', 'aria-label': `Make ${u.name} the admin`},
						on: {click: () => this.#on.handOver(u.id)}}),
					el('button', {class: 'remove-user small quiet danger-text', text: 'Remove',
						attrs: {type: 'button', 'aria-label': `Remove ${u.name} from the room`},
						on: {click: () => this.#on.removeUser(u.id)}})) : null);
		}));
		byId('user-count').textContent = users.length ? `(${users.length})` : '';
		byId('listener-count').textContent = Number.isInteger(listeners) ?
			`${listeners} listening now` : '';
		restoreFocus(list, 'data-user', focus);
	}

	/**
	 * items: [{id, position, track}] in order; currentId: the anchor's item;
	 * canJump: items play when chosen; editable: the admin's move, remove
	 * and drag-and-drop.
	 */
	renderPlaylist(items, currentId, {canJump, editable}) {
		this.#items = items;
		this.#editable = editable;
		const list = byId('playlist');
		const focus = focusOf(list, 'data-item');
		const last = items.length - 1;
		list.replaceChildren(...items.map((it, i) => {
			const current = it.id === currentId;
			const title = trackTitle(it.track);
			return el('li', {
				class: current ? 'current' : '',
				attrs: {'data-item': it.id, 'aria-current': current && 'true', draggable: editable ? 'true' : null},
			},
			el('button', {class: 'item-play', attrs: {type: 'button', disabled: !canJump,
				title: canJump ? `Play ${title}` : null}},
				el('span', {class: 'mark', attrs: {'aria-hidden': 'true'}, text: current ? '▶' : String(i + 1)}),
				el('span', {class: 'what'},
					el('span', {class: 'title', text: title}),
					it.track.artist ? el('span', {class: 'artist', text: it.track.artist}) : null,
					current ? el('span', {class: 'sr-only', text: ' (now playing)'}) : null),
				el('span', {class: 'len', text: formatClock(it.track.duration_us)})),
			editable ? el('span', {class: 'tools'},
				el('button', {class: 'move-up small quiet', text: '↑',
					attrs: {type: 'button', disabled: i === 0, 'aria-label': `Move ${title} up`, title: 'Move up'},
					on: {click: () => this.#on.move(it.id, -1)}}),
				el('button', {class: 'move-down small quiet', text: '↓',
					attrs: {type: 'button', disabled: i === last, 'aria-label': `Move ${title} down`, title: 'Move down'},
					on: {click: () => this.#on.move(it.id, 1)}}),
				el('button', {class: 'remove-item small quiet danger-text', text: '✕',
					attrs: {type: 'button', 'aria-label': `Remove ${title} from the playlist`, title: 'Remove'},
					on: {click: () => this.#on.removeItem(it.id)}})) : null);
		}));
		byId('playlist-count').textContent = items.length ? `(${items.length})` : '';
		show(byId('playlist-empty'), items.length === 0);
		restoreFocus(list, 'data-item', focus);
	}

	/** anchor: the room's playback (or null); track: its item's track (or null). */
	renderPlayback(anchor, track) {
		const state = anchor?.state ?? 'stopped';
		byId('np-title').textContent = track ? trackTitle(track) : 'Nothing is playing';
		byId('np-meta').textContent = track ? [track.artist, track.album].filter(Boolean).join(' · ') :
			'Press play to start the playlist.';
		const stateNode = byId('np-state');
		stateNode.dataset.state = state;
		stateNode.textContent = STATE_TEXT[state] ?? state;
		byId('np-total').textContent = formatClock(track?.duration_us);
		const seek = byId('seek');
		seek.max = String(track ? Math.max(0, track.duration_us / 1e6) : 0);
		const playing = state === 'playing';
		this.playButton.dataset.playing = String(playing);
		this.playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
		this.playButton.title = playing ? 'Pause (Space)' : 'Play (Space)';
		const room = byId('room-name').textContent;
		document.title = track && playing ? `▶ ${trackTitle(track)} · ${room} · tutti` : `${room} ${byId('room-code').textContent} · tutti`;
	}

	/** Moves the time display; startsInUs > 0 while a start is still ahead. */
	tick(elapsedUs, durationUs, startsInUs) {
		byId('np-elapsed').textContent = formatClock(elapsedUs);
		const seek = byId('seek');
		if (!this.#seekPointer && performance.now() > this.#seekHoldUntil) {
			seek.value = String(durationUs > 0 ? Math.min(elapsedUs, durationUs) / 1e6 : 0);
			seek.setAttribute('aria-valuetext', `${formatClock(elapsedUs)} of ${formatClock(durationUs)}`);
		}
		const stateNode = byId('np-state');
		if (stateNode.dataset.state === 'playing')
			stateNode.textContent = startsInUs > 0 ? `Starting in ${(startsInUs / 1e6).toFixed(1)} s` : 'Playing';
	}

	/** {state, retry_ms?, error?} from the realtime link. */
	renderConnection({state, retry_ms: retryMs, error}) {
		const node = byId('conn');
		node.dataset.state = state;
		let text = CONNECTION_TEXT[state] ?? state;
		if (state === 'reconnecting' && Number.isFinite(retryMs))
			text += `; retrying in ${(retryMs / 1000).toFixed(1)} s`;
		if (state === 'degraded' && error)
			text += `: ${error.title}`;
		byId('conn-text').textContent = text;
		show(node, state !== 'closed');
	}

	/** {available, on}: the calibration tick's toggle (player.setCalibration). */
	renderCalibration({available, on}) {
		const b = byId('btn-calibrate');
		b.disabled = !available;
		b.setAttribute('aria-pressed', String(!!on));
		b.textContent = on ? 'Stop the tick' : 'Calibration tick';
		b.title = available ? '' : 'This version of the player has no calibration tick';
	}

	/** stats: window.tutti.syncStats(). */
	renderSync(stats) {
		const [level, text] = quality(stats.uncertainty_us);
		const q = byId('sync-quality');
		q.dataset.quality = level;
		q.textContent = text;
		byId('sync-offset').textContent = stats.offset_us === null ? '–' :
			`${formatMs(stats.offset_us, {signed: true})} ± ${formatMs(stats.uncertainty_us)}`;
		byId('sync-rtt').textContent = formatMs(stats.rtt_us);
		byId('sync-samples').textContent = String(stats.samples);
		byId('sync-relay').textContent = stats.relay || '–';
		let audio = stats.audio === 'running' ? 'On' : stats.audio === 'suspended' ? 'Off until you click' : String(stats.audio);
		if (stats.audio === 'running' && Number.isFinite(stats.output_latency_s))
			audio += `, output latency ${formatMs(stats.output_latency_s * 1e6)}`;
		byId('sync-audio').textContent = audio;
		byId('sync-start').textContent = describeStart(stats.lastSchedule);
		let drift = stats.state === 'playing' ? formatMs(stats.schedule_error_us, {signed: true}) : '–';
		const corrected = (stats.inserted || 0) + (stats.dropped || 0);
		if (stats.state === 'playing' && corrected > 0)
			drift += `, ${corrected} sample${corrected === 1 ? '' : 's'} corrected`;
		byId('sync-error').textContent = drift;
	}

	/** The seek bar: an absolute seek (admin) once the listener lets go. */
	#wireSeek() {
		const seek = byId('seek');
		const hold = () => {
			this.#seekHoldUntil = performance.now() + SEEK_HOLD_MS;
		};
		seek.addEventListener('pointerdown', () => {
			this.#seekPointer = true;
		});
		const release = () => {
			if (this.#seekPointer) {
				this.#seekPointer = false;
				hold();
			}
		};
		seek.addEventListener('pointerup', release);
		seek.addEventListener('pointercancel', release);
		seek.addEventListener('input', () => {
			hold();
			const max = Number(seek.max) * 1e6;
			byId('np-elapsed').textContent = formatClock(seek.valueAsNumber * 1e6);
			seek.setAttribute('aria-valuetext', `${formatClock(seek.valueAsNumber * 1e6)} of ${formatClock(max)}`);
		});
		seek.addEventListener('change', () => {
			hold();
			clearTimeout(this.#seekTimer);
			this.#seekTimer = setTimeout(() => {
				hold();
				this.#on.control('seek', {position_us: Math.round(seek.valueAsNumber * 1e6)});
			}, this.#seekPointer ? 0 : SEEK_COMMIT_MS);
		});
	}

	/** Choosing an item plays it; the admin drags items to reorder them. */
	#wirePlaylist() {
		const list = byId('playlist');
		list.addEventListener('click', (ev) => {
			const button = ev.target.closest('button.item-play');
			if (button && !button.disabled)
				this.#on.jump(Number(button.closest('li').dataset.item));
		});
		const clearMarks = () => {
			for (const li of list.querySelectorAll('.drop-before, .drop-after, .dragging'))
				li.classList.remove('drop-before', 'drop-after', 'dragging');
		};
		list.addEventListener('dragstart', (ev) => {
			const li = ev.target.closest?.('li[data-item]');
			if (!this.#editable || !li) {
				ev.preventDefault();
				return;
			}
			this.#dragId = Number(li.dataset.item);
			ev.dataTransfer.effectAllowed = 'move';
			ev.dataTransfer.setData('text/plain', li.querySelector('.title')?.textContent || '');
			li.classList.add('dragging');
		});
		list.addEventListener('dragover', (ev) => {
			const li = ev.target.closest?.('li[data-item]');
			if (this.#dragId === null || !li)
				return;
			ev.preventDefault();
			ev.dataTransfer.dropEffect = 'move';
			const r = li.getBoundingClientRect();
			const after = ev.clientY > r.top + r.height / 2;
			for (const other of list.querySelectorAll('.drop-before, .drop-after'))
				if (other !== li)
					other.classList.remove('drop-before', 'drop-after');
			li.classList.toggle('drop-after', after);
			li.classList.toggle('drop-before', !after);
		});
		list.addEventListener('drop', (ev) => {
			const li = ev.target.closest?.('li[data-item]');
			const dragged = this.#dragId;
			if (dragged === null || !li)
				return;
			ev.preventDefault();
			const after = li.classList.contains('drop-after');
			clearMarks();
			this.#dragId = null;
			const target = Number(li.dataset.item);
			if (target === dragged)
				return;
			const ids = this.#items.map((it) => it.id).filter((id) => id !== dragged);
			const at = ids.indexOf(target) + (after ? 1 : 0);
			ids.splice(at, 0, dragged);
			if (ids.some((id, i) => id !== this.#items[i].id))
				this.#on.reorder(ids);
		});
		list.addEventListener('dragend', () => {
			this.#dragId = null;
			clearMarks();
		});
	}

	async #copyLink() {
		const input = byId('share-link');
		let ok = false;
		try {
			await navigator.clipboard.writeText(input.value);
			ok = true;
		} catch {
			input.focus();
			input.select();	// the listener can copy it by hand
		}
		const button = byId('copy-link');
		button.textContent = ok ? 'Copied' : 'Select and copy';
		setTimeout(() => { button.textContent = 'Copy'; }, 2000);
	}
}
