/*
 * dialogs.js - the page's modal <dialog>s (index.html): opening one so that
 * focus comes back to where it was when it closes, a confirmation dialog
 * (#confirm-dialog) that resolves to true or false, and the name prompt
 * (#name-dialog) that the landing view uses for the public rooms list.
 */

import {byId} from './dom.js';

/**
 * Opens dialog as a modal; when it closes (a button, Escape), focus returns
 * to the element that had it. Returns a promise of dialog.returnValue.
 */
export function openDialog(dialog) {
	const back = document.activeElement;
	dialog.returnValue = '';
	return new Promise((resolve) => {
		dialog.addEventListener('close', () => {
			if (back && back.isConnected && typeof back.focus === 'function')
				back.focus();
			resolve(dialog.returnValue);
		}, {once: true});
		dialog.showModal();
	});
}

/** True while one of the page's dialogs is open (keyboard shortcuts pause). */
export function dialogOpen() {
	return !!document.querySelector('dialog[open]');
}

/**
 * Asks for confirmation: {title, text, confirm (the button's label)}.
 * Resolves to true only when the listener pressed the confirm button; the
 * cancel button has the focus first, so Enter does not confirm by accident.
 */
export async function confirmDialog({title, text, confirm = 'OK'}) {
	const dialog = byId('confirm-dialog');
	byId('confirm-title').textContent = title;
	byId('confirm-text').textContent = text;
	byId('confirm-ok').textContent = confirm;
	const done = openDialog(dialog);
	byId('confirm-cancel').focus();
	return (await done) === 'ok';
}

/**
 * Asks for a display name: {title, name (prefilled), validate(name) -> error
 * text or ''}. Resolves to the trimmed name, or null when cancelled.
 */
export async function namePrompt({title, name = '', validate}) {
	const dialog = byId('name-dialog');
	const input = byId('name-dialog-input');
	byId('name-dialog-title').textContent = title;
	input.value = name;
	input.removeAttribute('aria-invalid');
	const form = byId('name-dialog-form');
	const check = (ev) => {
		if (ev.submitter?.value !== 'ok')
			return;
		const problem = validate ? validate(input.value.trim()) : '';
		if (problem) {
			ev.preventDefault();
			input.setAttribute('aria-invalid', 'true');
			input.setCustomValidity(problem);
			input.reportValidity();
			input.setCustomValidity('');
		}
	};
	form.addEventListener('submit', check);
	const done = openDialog(dialog);
	input.focus();
	input.select();
	const how = await done;
	form.removeEventListener('submit', check);
	return how === 'ok' ? input.value.trim() : null;
}
