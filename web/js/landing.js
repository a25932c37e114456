/*
 * landing.js - the landing view: join a room by code (filled in when the page
 * was opened through a /r/CODE share link), create one (room name, public or
 * private, who controls playback), pick a public room from a live list with
 * listener counts (GET /api/rooms, refreshed while the view is shown and the
 * tab visible), and the rooms this browser still holds a token for. It
 * validates the forms and hands the values to app.js, which makes the calls.
 */

import {namePrompt} from './dialogs.js';
import {byId, el, show} from './dom.js';

/** Room codes: 5 characters of common/token.h's CODE_ALPHABET (no look-alikes). */
export const CODE_RE = /^[2-9A-HJKMNP-Z]{5}$/;
export const NAME_MAX = 32;
export const ROOM_NAME_MAX = 64;
const REFRESH_MS = 5000;

/** Uppercases a typed or pasted code and drops spaces and dashes. */
export function normalizeCode(text) {
	return String(text).toUpperCase().replace(/[\s-]+/g, '');
}

/** '' when name is a valid display name, else what is wrong with it. */
export function nameProblem(name) {
	if (!name)
		return 'Please enter your name.';
	if ([...name].length > NAME_MAX)
		return `A name has at most ${NAME_MAX} characters.`;
	// eslint-disable-next-line no-control-regex
	if (/[\u0000-\u001f\u007f-\u009f]/.test(name))
		return 'A name cannot contain control characters.';
	return '';
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export class Landing {
	#on;
	#busy = false;
	#shown = false;
	#timer = 0;
	#loading = false;
	#rows = new Map();	// code -> li of the public list

	/**
	 * on: {create({name, room_name, public, policy}), join(code, name),
	 * open(code): enter a room the page holds a token for, hasToken(code),
	 * forget(code), listRooms() -> Promise<{rooms}>, error(message)};
	 * create and join return promises (the form stays busy until they settle).
	 */
	constructor(on) {
		this.#on = on;
		this.root = byId('landing');
		this.joinCode = byId('join-code');
		this.joinName = byId('join-name');
		this.createName = byId('create-name');
		this.roomName = byId('create-room-name');
		this.joinCode.addEventListener('input', () => {
			const code = normalizeCode(this.joinCode.value);
			if (code !== this.joinCode.value)
				this.joinCode.value = code;
			this.joinCode.removeAttribute('aria-invalid');
		});
		// One name for both forms: typing it in one fills the other.
		for (const [input, other] of [[this.joinName, this.createName], [this.createName, this.joinName]]) {
			input.addEventListener('input', () => {
				input.removeAttribute('aria-invalid');
				other.value = input.value;
			});
		}
		byId('join-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#submitJoin();
		});
		byId('create-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#submitCreate();
		});
		byId('public-refresh').addEventListener('click', () => this.#refresh());
		document.addEventListener('visibilitychange', () => this.#schedule(true));
	}

	/** Shows the view; code (optional) prefills the join form, name both forms. */
	show({code = '', name = '', rooms = []} = {}) {
		this.joinCode.value = code;
		for (const input of [this.joinName, this.createName]) {
			input.value = name;
			input.removeAttribute('aria-invalid');
		}
		byId('join-title').textContent = code ? `Join room ${code}` : 'Join a room';
		byId('create-title').textContent = code ? 'Or start a new room' : 'Start a new room';
		this.#renderRooms(rooms);
		show(this.root, true);
		this.#shown = true;
		this.#schedule(true);
		const first = code ? (name ? byId('join-btn') : this.joinName) : this.joinCode;
		first.focus();
	}

	/** Hides the view and stops refreshing the public list. */
	hide() {
		show(this.root, false);
		this.#shown = false;
		this.#schedule(false);
	}

	/** (Re)starts or stops the public list's refresh: only while shown and visible. */
	#schedule(now) {
		clearTimeout(this.#timer);
		this.#timer = 0;
		if (!this.#shown || document.hidden)
			return;
		if (now)
			this.#refresh();
		else
			this.#timer = setTimeout(() => this.#refresh(), REFRESH_MS);
	}

	async #refresh() {
		if (this.#loading)
			return;
		this.#loading = true;
		const status = byId('public-status');
		try {
			const {rooms} = await this.#on.listRooms();
			if (this.#shown)
				this.#renderPublic(Array.isArray(rooms) ? rooms : []);
		} catch (err) {
			const text = `Could not load the list (${err.message}); retrying.`;
			if (status.textContent !== text)
				status.textContent = text;
			show(status, true);
		} finally {
			this.#loading = false;
			this.#schedule(false);
		}
	}

	#renderPublic(rooms) {
		const status = byId('public-status');
		const text = rooms.length ? '' : 'No public rooms right now. Create one and make it public to list it here.';
		if (status.textContent !== text)
			status.textContent = text;
		show(status, !!text);
		const list = byId('public-list');
		const keep = new Map();
		const rows = rooms.map((r) => {
			const li = this.#rows.get(r.code) ?? this.#publicRow(r.code);
			this.#fillPublicRow(li, r);
			keep.set(r.code, li);
			return li;
		});
		this.#rows = keep;
		// Only touch the order when it changed (moving a node drops its focus).
		const same = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
		if (!same)
			list.replaceChildren(...rows);
	}

	#publicRow(code) {
		const li = el('li', {attrs: {'data-code': code}},
			el('div', {class: 'what'},
				el('span', {class: 'room-name'}),
				el('span', {class: 'muted small facts'})),
			el('span', {class: 'listeners'}),
			el('button', {class: 'small', text: 'Join', attrs: {type: 'button'},
				on: {click: () => this.#joinListed(code, li.dataset.name || '')}}));
		return li;
	}

	#fillPublicRow(li, r) {
		const name = typeof r.name === 'string' && r.name ? r.name : '';
		li.dataset.name = name;
		li.querySelector('.room-name').textContent = name || `Room ${r.code}`;
		const facts = [`code ${r.code}`, r.policy === 'everyone' ? 'everyone controls' : 'admin controls'];
		if (typeof r.playing === 'string' && r.playing)
			facts.push(`playing ${r.playing}`);
		li.querySelector('.facts').textContent = facts.join(' · ');
		const n = Number.isInteger(r.listeners) ? r.listeners : 0;
		li.querySelector('.listeners').textContent = plural(n, 'listener', 'listeners');
		const label = `Join ${name || `room ${r.code}`}${this.#on.hasToken(r.code) ? ' (you are in it)' : ''}`;
		li.querySelector('button').setAttribute('aria-label', label);
	}

	async #joinListed(code, roomName) {
		if (this.#on.hasToken(code)) {
			this.#on.open(code);
			return;
		}
		const name = await namePrompt({
			title: `Join ${roomName || `room ${code}`}`,
			name: this.joinName.value.trim(),
			validate: nameProblem,
		});
		if (name)
			await this.#busyWhile(null, () => this.#on.join(code, name));
	}

	#renderRooms(rooms) {
		const list = byId('recent-list');
		list.replaceChildren(...rooms.map(({code, name, roomName}) => el('li', {},
			el('div', {class: 'what'},
				el('a', {class: 'room-name', text: roomName || `Room ${code}`, attrs: {href: `/r/${code}`}}),
				el('span', {class: 'muted small', text: `code ${code}${name ? ` · you are ${name}` : ''}`})),
			el('button', {
				class: 'quiet small',
				text: 'Forget',
				attrs: {type: 'button', 'aria-label': `Forget room ${code}`},
				on: {click: () => {
					this.#on.forget(code);
					this.#renderRooms(rooms.filter((r) => r.code !== code));
					byId('join-code').focus();
				}},
			}))));
		show(byId('recent'), rooms.length > 0);
	}

	#name(input) {
		const name = input.value.trim();
		const problem = nameProblem(name);
		if (problem) {
			input.setAttribute('aria-invalid', 'true');
			input.focus();
			this.#on.error(problem);
			return null;
		}
		return name;
	}

	async #submitJoin() {
		if (this.#busy)
			return;
		const code = normalizeCode(this.joinCode.value);
		if (!CODE_RE.test(code)) {
			this.joinCode.setAttribute('aria-invalid', 'true');
			this.joinCode.focus();
			this.#on.error('A room code is 5 letters and digits, like K7M3Q (no 0, 1, I, L or O).');
			return;
		}
		const name = this.#name(this.joinName);
		if (name)
			await this.#busyWhile(byId('join-btn'), () => this.#on.join(code, name));
	}

	async #submitCreate() {
		if (this.#busy)
			return;
		const name = this.#name(this.createName);
		if (!name)
			return;
		const roomName = this.roomName.value.trim();
		if ([...roomName].length > ROOM_NAME_MAX) {
			this.roomName.setAttribute('aria-invalid', 'true');
			this.roomName.focus();
			this.#on.error(`A room name has at most ${ROOM_NAME_MAX} characters.`);
			return;
		}
		const form = byId('create-form');
		const opts = {
			name,
			room_name: roomName || undefined,
			public: form.elements.visibility.value === 'public',
			policy: form.elements.policy.value === 'everyone' ? 'everyone' : 'admin',
		};
		await this.#busyWhile(byId('create-btn'), () => this.#on.create(opts));
	}

	async #busyWhile(button, fn) {
		this.#busy = true;
		button?.setAttribute('aria-busy', 'true');
		try {
			await fn();
		} finally {
			this.#busy = false;
			button?.removeAttribute('aria-busy');
		}
	}
}
