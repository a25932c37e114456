/*
 * theme.js - the light/dark theme: "auto" follows the system
 * (prefers-color-scheme, live), "light" and "dark" are fixed. The choice is
 * remembered in localStorage ("tutti.theme"); theme-boot.js applies it
 * before the first paint, this module keeps it current and drives the
 * topbar's toggle button (#btn-theme: auto -> light -> dark -> auto).
 */

import {byId} from './dom.js';

const KEY = 'tutti.theme';
const PREFS = ['auto', 'light', 'dark'];
const LABEL = {auto: 'automatic (follows the system)', light: 'light', dark: 'dark'};

function readPref() {
	try {
		const v = localStorage.getItem(KEY);
		return PREFS.includes(v) ? v : 'auto';
	} catch {
		return 'auto';
	}
}

function writePref(pref) {
	try {
		if (pref === 'auto')
			localStorage.removeItem(KEY);
		else
			localStorage.setItem(KEY, pref);
	} catch {
		// not remembered
	}
}

export class Theme {
	#pref = readPref();
	#media = window.matchMedia('(prefers-color-scheme: dark)');
	#button = byId('btn-theme');

	/** announce(text): tells screen readers the new theme. */
	constructor(announce) {
		this.#media.addEventListener('change', () => this.#apply());
		this.#button.addEventListener('click', () => {
			this.set(PREFS[(PREFS.indexOf(this.#pref) + 1) % PREFS.length]);
			announce?.(`Theme: ${LABEL[this.#pref]}`);
		});
		window.addEventListener('storage', (ev) => {
			if (ev.key === KEY) {
				this.#pref = readPref();
				this.#apply();
			}
		});
		this.#apply();
	}

	/** The remembered choice: "auto", "light" or "dark". */
	get pref() {
		return this.#pref;
	}

	/** The theme in effect: "light" or "dark". */
	get resolved() {
		return this.#pref === 'auto' ? (this.#media.matches ? 'dark' : 'light') : this.#pref;
	}

	/** Sets and remembers the choice; an unknown value means "auto". */
	set(pref) {
		this.#pref = PREFS.includes(pref) ? pref : 'auto';
		writePref(this.#pref);
		this.#apply();
	}

	#apply() {
		const root = document.documentElement;
		root.dataset.theme = this.resolved;
		root.dataset.themePref = this.#pref;
		this.#button.dataset.pref = this.#pref;
		const next = PREFS[(PREFS.indexOf(this.#pref) + 1) % PREFS.length];
		byId('theme-label').textContent = `Theme: ${LABEL[this.#pref]}. Switch to ${next}`;
		this.#button.title = `Theme: ${LABEL[this.#pref]} (click for ${next})`;
	}
}
