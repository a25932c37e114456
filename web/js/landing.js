/*
 * landing.js - the landing view: join a room by code (the code filled in when
 * the page was opened through a /r/CODE share link) or create one, and the
 * rooms this browser still holds a token for. It validates the form and hands
 * the values to app.js, which makes the calls.
 */

import {byId, el, show} from './dom.js';

/** Room codes: 5 characters of common/token.h's CODE_ALPHABET (no look-alikes). */
export const CODE_RE = /^[2-9A-HJKMNP-Z]{5}$/;
export const NAME_MAX = 32;

/** Uppercases a typed or pasted code and drops spaces and dashes. */
export function normalizeCode(text) {
	return String(text).toUpperCase().replace(/[\s-]+/g, '');
}

export class Landing {
	#on;
	#busy = false;

	/**
	 * on: {create(name), join(code, name), forget(code)}; create and join
	 * return promises (the form stays busy until they settle); error(message)
	 * shows a validation message.
	 */
	constructor(on) {
		this.#on = on;
		this.root = byId('landing');
		this.joinCode = byId('join-code');
		this.joinName = byId('join-name');
		this.createName = byId('create-name');
		this.joinCode.addEventListener('input', () => {
			const code = normalizeCode(this.joinCode.value);
			if (code !== this.joinCode.value)
				this.joinCode.value = code;
			this.joinCode.removeAttribute('aria-invalid');
		});
		for (const input of [this.joinName, this.createName])
			input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
		byId('join-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#submitJoin();
		});
		byId('create-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#submitCreate();
		});
	}

	/** Shows the view; code (optional) prefills the join form, name both forms. */
	show({code = '', name = '', rooms = []} = {}) {
		this.joinCode.value = code;
		for (const input of [this.joinName, this.createName]) {
			input.value = name;
			input.removeAttribute('aria-invalid');
		}
		byId('create-title').textContent = code ? 'Or start a new room' : 'Start a new room';
		this.#renderRooms(rooms);
		show(this.root, true);
		const first = code ? (name ? byId('join-btn') : this.joinName) : (this.joinCode);
		first.focus();
	}

	hide() {
		show(this.root, false);
	}

	#renderRooms(rooms) {
		const list = byId('recent-list');
		list.replaceChildren(...rooms.map(({code, name}) => el('li', {},
			el('a', {class: 'code', text: code, attrs: {href: `/r/${code}`}}),
			el('span', {class: 'muted', text: name ? ` as ${name}` : ''}),
			el('button', {
				class: 'quiet small',
				text: 'Forget',
				attrs: {type: 'button', 'aria-label': `Forget room ${code}`},
				on: {click: () => {
					this.#on.forget(code);
					this.#renderRooms(rooms.filter((r) => r.code !== code));
				}},
			}))));
		show(byId('recent'), rooms.length > 0);
	}

	#name(input) {
		const name = input.value.trim();
		if (!name || [...name].length > NAME_MAX) {
			input.setAttribute('aria-invalid', 'true');
			input.focus();
			this.#on.error(name ? `A name has at most ${NAME_MAX} characters.` : 'Please enter your name.');
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
			this.#on.error('A room code is 5 letters and digits, like K7M3Q.');
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
		if (name)
			await this.#busyWhile(byId('create-btn'), () => this.#on.create(name));
	}

	async #busyWhile(button, fn) {
		this.#busy = true;
		button.setAttribute('aria-busy', 'true');
		try {
			await fn();
		} finally {
			this.#busy = false;
			button.removeAttribute('aria-busy');
		}
	}
}
