/*
 * shortcuts.js - the room's keyboard shortcuts: Space play/pause, ←/→ back
 * and forward 5 s, ↑/↓ volume, ? the shortcuts dialog (#shortcuts-dialog,
 * also opened by the topbar's ? button). Keys are never taken from what
 * uses them itself: text fields, selects, sliders, buttons and links (Space,
 * Enter), open dialogs, or keys with Ctrl, Alt or Meta.
 */

import {dialogOpen, openDialog} from './dialogs.js';
import {byId} from './dom.js';

/** Elements that use typing, arrows or Space themselves. */
const OWN_KEYS = 'input, textarea, select, [contenteditable]:not([contenteditable="false"]), ' +
	'[role="slider"], [role="listbox"], [role="menu"], [role="radiogroup"], [role="tablist"], [role="textbox"]';

export class Shortcuts {
	#on;

	/**
	 * on: {active() -> whether a room is shown, toggle(), seekBy(offsetUs),
	 * volumeBy(delta in [-1, 1])}.
	 */
	constructor(on) {
		this.#on = on;
		byId('btn-shortcuts').addEventListener('click', () => this.help());
		document.addEventListener('keydown', (ev) => this.#key(ev));
	}

	/** Opens the shortcuts dialog; focus returns where it was on close. */
	help() {
		const dialog = byId('shortcuts-dialog');
		if (dialog.open)
			return;
		const done = openDialog(dialog);
		byId('shortcuts-close').focus();
		return done;
	}

	#key(ev) {
		if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing || dialogOpen())
			return;
		const t = ev.target instanceof Element ? ev.target : null;
		if (t?.closest(OWN_KEYS))
			return;
		if (ev.key === '?') {
			ev.preventDefault();
			this.help();
			return;
		}
		if (!this.#on.active())
			return;
		const onButton = !!t?.closest('button, a[href], summary, [role="button"], [role="link"]');
		switch (ev.key) {
		case ' ':
		case 'Spacebar':
			if (onButton)
				return;	// Space presses the focused button
			ev.preventDefault();
			if (!ev.repeat)
				this.#on.toggle();
			break;
		case 'ArrowLeft':
		case 'ArrowRight':
			ev.preventDefault();
			if (!ev.repeat)
				this.#on.seekBy(ev.key === 'ArrowLeft' ? -5e6 : 5e6);
			break;
		case 'ArrowUp':
		case 'ArrowDown':
			ev.preventDefault();
			this.#on.volumeBy(ev.key === 'ArrowUp' ? 0.1 : -0.1);
			break;
		default:
		}
	}
}
