/*
 * room-view.js - the room view: code and share link, now playing with its
 * progress, the playback buttons and volume, the playlist with the playing
 * item marked, who is here, and the connection and sync figures. It only
 * draws what app.js gives it and reports the listener's input back.
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

export class RoomView {
	#on;
	#busy = false;

	/** on: {control(action), leave(), volume(v in [0,1]), delay(ms), copied(ok)}. */
	constructor(on) {
		this.#on = on;
		this.root = byId('room');
		this.playButton = byId('btn-play');
		const actions = {'btn-prev': 'prev', 'btn-next': 'next', 'btn-stop': 'stop', 'btn-play': 'toggle'};
		for (const [id, action] of Object.entries(actions)) {
			byId(id).addEventListener('click', () => {
				if (!this.#busy)
					this.#on.control(action);
			});
		}
		byId('leave').addEventListener('click', () => this.#on.leave());
		byId('copy-link').addEventListener('click', () => this.#copyLink());
		byId('share-link').addEventListener('focus', (ev) => ev.target.select());
		byId('volume').addEventListener('input', (ev) => this.#on.volume(ev.target.valueAsNumber / 100));
		byId('delay').addEventListener('change', (ev) => {
			const ms = ev.target.valueAsNumber;
			this.#on.delay(Number.isFinite(ms) ? Math.max(-500, Math.min(500, ms)) : 0);
		});
	}

	show(code, shareUrl, {volume, delayMs}) {
		byId('room-code').textContent = code;
		byId('share-link').value = shareUrl;
		byId('volume').value = String(Math.round(volume * 100));
		byId('delay').value = String(delayMs);
		this.renderUsers([], null);
		this.renderPlaylist([], null);
		this.renderPlayback(null, null);
		show(this.root, true);
		byId('room-title').focus();
	}

	hide() {
		show(this.root, false);
	}

	/** While a control request is out, further clicks are ignored (focus stays put). */
	setBusy(busy) {
		this.#busy = busy;
		for (const id of ['btn-prev', 'btn-play', 'btn-next', 'btn-stop'])
			byId(id).setAttribute('aria-disabled', String(busy));
	}

	renderUsers(users, youId) {
		byId('users').replaceChildren(...users.map((u) => el('li', {},
			el('span', {class: 'name', text: u.name}),
			u.id === youId ? el('span', {class: 'muted', text: ' (you)'}) : null,
			u.role === 'admin' ? el('span', {class: 'badge', text: 'admin'}) : null)));
		byId('user-count').textContent = users.length ? `(${users.length})` : '';
	}

	/** items: [{id, position, track}], in order; currentId: the anchor's item. */
	renderPlaylist(items, currentId) {
		byId('playlist').replaceChildren(...items.map((it) => {
			const current = it.id === currentId;
			return el('li', {class: current ? 'current' : '', attrs: {'data-item': it.id, 'aria-current': current && 'true'}},
				el('span', {class: 'mark', attrs: {'aria-hidden': 'true'}, text: current ? '▶' : ''}),
				el('span', {class: 'what'},
					el('span', {class: 'title', text: it.track.title || 'Untitled'}),
					it.track.artist ? el('span', {class: 'artist', text: it.track.artist}) : null,
					current ? el('span', {class: 'sr-only', text: ' (current)'}) : null),
				el('span', {class: 'len', text: formatClock(it.track.duration_us)}));
		}));
		show(byId('playlist-empty'), items.length === 0);
	}

	/** anchor: the room's playback (or null); track: its item's track (or null). */
	renderPlayback(anchor, track) {
		const state = anchor?.state ?? 'stopped';
		byId('np-title').textContent = track ? (track.title || 'Untitled') : 'Nothing is playing';
		byId('np-meta').textContent = track ? [track.artist, track.album].filter(Boolean).join(' · ') :
			'Press play to start the playlist.';
		const stateNode = byId('np-state');
		stateNode.dataset.state = state;
		stateNode.textContent = STATE_TEXT[state] ?? state;
		byId('np-total').textContent = formatClock(track?.duration_us);
		const playing = state === 'playing';
		this.playButton.dataset.playing = String(playing);
		this.playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
		this.playButton.title = playing ? 'Pause (Space)' : 'Play (Space)';
		document.title = track && playing ? `▶ ${track.title || 'Untitled'} · tutti` : `Room ${byId('room-code').textContent} · tutti`;
	}

	/** Moves the time display; startsInUs > 0 while a start is still ahead. */
	tick(elapsedUs, durationUs, startsInUs) {
		byId('np-elapsed').textContent = formatClock(elapsedUs);
		const bar = byId('np-progress');
		bar.value = durationUs > 0 ? Math.round(1000 * Math.min(1, elapsedUs / durationUs)) : 0;
		bar.setAttribute('aria-valuetext', `${formatClock(elapsedUs)} of ${formatClock(durationUs)}`);
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
		if (stats.state === 'playing' && stats.rate !== 1)
			drift += `, steering ${stats.rate > 1 ? '+' : '−'}${(Math.abs(stats.rate - 1) * 100).toFixed(2)} %`;
		byId('sync-error').textContent = drift;
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
		this.#on.copied?.(ok);
	}
}
