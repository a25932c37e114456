/*
 * admin.js - what only the room's admin can do (docs/api.md): the admin
 * panel (#admin-panel: room settings through PATCH, closing the room) shown
 * only while this user is the admin, and the actions the room view offers
 * the admin on playlist rows and people: reorder (buttons and drag and drop)
 * and remove items with If-Match of the playlist version (a 412 refetches the
 * room and says so), hand the admin role over, remove someone. app.js
 * creates it and calls update() on every change of the room model.
 */

import * as api from './api.js';
import {confirmDialog} from './dialogs.js';
import {el, show} from './dom.js';
import {ROOM_NAME_MAX} from './landing.js';

const STALE = 'The playlist changed while you were editing it. It has been reloaded: please try again.';

export class AdminPanel {
	#root;
	#ctx;
	#form;
	#status;
	#dirty = false;
	#shown = false;
	#room = null;

	/**
	 * root: the #admin-panel section. ctx: {session() -> {code, token, room}
	 * or null (room: app.js's model), announce(text), error(err),
	 * refetch(), preview(itemIds): show an order before the server confirms
	 * it, redraw(): draw the model again, applySettings(settings), closed():
	 * the room was closed by this user}.
	 */
	constructor(root, ctx) {
		this.#root = root;
		this.#ctx = ctx;
		this.#build();
	}

	/** Shows the panel to the admin only and fills the form from room (app.js's model). */
	update(room) {
		this.#room = room;
		const admin = room?.you?.role === 'admin';
		if (!admin && this.#root.contains(document.activeElement))
			document.getElementById('room-title')?.focus();
		if (admin !== this.#shown) {
			this.#shown = admin;
			this.#dirty = false;
			this.#status.textContent = '';
		}
		show(this.#root, admin);
		if (admin && !this.#dirty)
			this.#fill(room);
	}

	/** Moves an item delta places (-1 up, 1 down). */
	move(itemId, delta) {
		const ids = this.#room.playlist.map((it) => it.id);
		const i = ids.indexOf(itemId);
		const j = i + delta;
		if (i < 0 || j < 0 || j >= ids.length)
			return;
		[ids[i], ids[j]] = [ids[j], ids[i]];
		const title = this.#room.playlist[i].track.title || 'Untitled';
		this.reorder(ids, `Moved ${title} to place ${j + 1} of ${ids.length}`);
	}

	/** PUT the playlist in the order itemIds (every item once). */
	async reorder(itemIds, announcement = 'Playlist reordered') {
		const s = this.#ctx.session();
		if (!s)
			return;
		this.#ctx.preview(itemIds);
		try {
			await api.reorderPlaylist(s.code, s.token, s.room.playlistVersion, itemIds);
			this.#ctx.announce(announcement);
		} catch (err) {
			this.#failed(err);
		}
	}

	/** DELETE one playlist item. */
	async removeItem(itemId) {
		const s = this.#ctx.session();
		const item = s?.room.playlist.find((it) => it.id === itemId);
		if (!item)
			return;
		try {
			await api.removeItem(s.code, s.token, s.room.playlistVersion, itemId);
			this.#ctx.announce(`Removed ${item.track.title || 'Untitled'} from the playlist`);
		} catch (err) {
			this.#failed(err);
		}
	}

	/** Hands the admin role to userId, after a confirmation. */
	async handOver(userId) {
		const s = this.#ctx.session();
		const u = s?.room.users.find((x) => x.id === userId);
		if (!u)
			return;
		const ok = await confirmDialog({
			title: `Make ${u.name} the admin?`,
			text: `You become a member: ${u.name} then decides the room's settings and playlist, and playback too unless everyone may control it.`,
			confirm: 'Make admin',
		});
		if (!ok || s !== this.#ctx.session())
			return;
		try {
			await api.handOver(s.code, s.token, userId);
		} catch (err) {
			this.#ctx.error(err);
		}
	}

	/** Removes userId from the room, after a confirmation. */
	async removeUser(userId) {
		const s = this.#ctx.session();
		const u = s?.room.users.find((x) => x.id === userId);
		if (!u)
			return;
		const ok = await confirmDialog({
			title: `Remove ${u.name}?`,
			text: `${u.name} leaves the room at once. They can join again with the link or the code.`,
			confirm: 'Remove',
		});
		if (!ok || s !== this.#ctx.session())
			return;
		try {
			await api.removeUser(s.code, s.token, userId);
		} catch (err) {
			this.#ctx.error(err);
		}
	}

	#failed(err) {
		if (err.status === 412 || err.status === 428) {
			this.#ctx.error(`${STALE} (${err.message})`);
			this.#ctx.refetch();
		} else {
			this.#ctx.error(err);
		}
		this.#ctx.redraw();
	}

	#build() {
		const field = (label, input, help) => el('div', {class: 'field'},
			el('label', {text: label, attrs: {for: input.id}}), input,
			help ? el('p', {class: 'help', text: help}) : null);
		const select = (id, name, options) => el('select', {attrs: {id, name}},
			...options.map(([value, text]) => el('option', {text, attrs: {value}})));
		const check = (id, name, text) => el('label', {class: 'check'},
			el('input', {attrs: {type: 'checkbox', id, name}}), ` ${text}`);
		this.#status = el('p', {class: 'help', attrs: {role: 'status', id: 'settings-status'}});
		this.#form = el('form', {attrs: {id: 'settings-form', novalidate: true, 'aria-labelledby': 'settings-title'}},
			el('h3', {text: 'Room settings', attrs: {id: 'settings-title'}}),
			field('Room name', el('input', {attrs: {id: 'set-room-name', name: 'room_name', maxlength: ROOM_NAME_MAX,
				autocomplete: 'off'}})),
			field('Who controls playback', select('set-policy', 'policy',
				[['admin', 'Only the admin'], ['everyone', 'Everyone in the room']]),
			'Playing, pausing, skipping, ±10 s, adding and uploading songs. Seeking with the bar, the playlist\'s order and these settings stay the admin\'s.'),
			field('Repeat', select('set-repeat', 'repeat', [['off', 'Off'], ['one', 'This song'], ['all', 'The whole playlist']])),
			el('div', {class: 'checks'},
				check('set-public', 'public', 'Public: listed on the start page'),
				check('set-shuffle', 'shuffle', 'Shuffle')),
			el('div', {class: 'actions'},
				el('button', {class: 'primary', text: 'Save settings', attrs: {type: 'submit', id: 'settings-save'}}),
				this.#status));
		this.#form.addEventListener('input', () => {
			this.#dirty = true;
			this.#status.textContent = 'Unsaved changes';
		});
		this.#form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#save();
		});
		const close = el('button', {class: 'danger', text: 'Close the room',
			attrs: {type: 'button', id: 'btn-close-room'}, on: {click: () => this.#close()}});
		this.#root.replaceChildren(
			el('h2', {text: 'Admin', attrs: {id: 'admin-title'}}),
			el('p', {class: 'help', text: 'Only you see this. Reorder or remove songs in the playlist above; hand over the admin role or remove someone next to their name under “Here”.'}),
			this.#form,
			el('div', {class: 'danger-zone'},
				el('h3', {text: 'Close the room'}),
				el('p', {class: 'help', text: 'Everyone is sent back to the start page and the share link stops working.'}),
				close));
	}

	#fill(room) {
		const f = this.#form.elements;
		if (document.activeElement !== f.room_name)
			f.room_name.value = room.name ?? '';
		f.policy.value = room.policy === 'everyone' ? 'everyone' : 'admin';
		f.repeat.value = ['one', 'all'].includes(room.repeat) ? room.repeat : 'off';
		f.public.checked = !!room.public;
		f.shuffle.checked = !!room.shuffle;
	}

	async #save() {
		const s = this.#ctx.session();
		if (!s)
			return;
		const f = this.#form.elements;
		const room = s.room;
		const want = {
			room_name: f.room_name.value.trim(),
			public: f.public.checked,
			policy: f.policy.value,
			repeat: f.repeat.value,
			shuffle: f.shuffle.checked,
		};
		if ([...want.room_name].length > ROOM_NAME_MAX) {
			f.room_name.setAttribute('aria-invalid', 'true');
			f.room_name.focus();
			this.#ctx.error(`A room name has at most ${ROOM_NAME_MAX} characters.`);
			return;
		}
		f.room_name.removeAttribute('aria-invalid');
		const have = {room_name: room.name ?? '', public: !!room.public, policy: room.policy,
			repeat: room.repeat, shuffle: !!room.shuffle};
		const changes = Object.fromEntries(Object.entries(want).filter(([k, v]) => v !== have[k]));
		if (Object.keys(changes).length === 0) {
			this.#dirty = false;
			this.#status.textContent = 'Nothing to change';
			return;
		}
		const button = this.#form.querySelector('#settings-save');
		button.setAttribute('aria-busy', 'true');
		try {
			const settings = await api.patchRoom(s.code, s.token, changes);
			this.#dirty = false;
			this.#ctx.applySettings(settings);
			this.#status.textContent = 'Saved';
			this.#ctx.announce('Room settings saved');
		} catch (err) {
			this.#status.textContent = 'Not saved';
			this.#ctx.error(err);
		} finally {
			button.removeAttribute('aria-busy');
		}
	}

	async #close() {
		const s = this.#ctx.session();
		if (!s)
			return;
		const ok = await confirmDialog({
			title: 'Close this room?',
			text: 'Everyone in it is sent back to the start page and the share link stops working. This cannot be undone.',
			confirm: 'Close the room',
		});
		if (!ok || s !== this.#ctx.session())
			return;
		try {
			await api.closeRoom(s.code, s.token);
			this.#ctx.closed();	// the room_closed event may be on its way too
		} catch (err) {
			this.#ctx.error(err);
		}
	}
}
