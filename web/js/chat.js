/*
 * chat.js - the chat panel in #chat-panel (app.js drives it: enter/event/leave):
 * the snapshot's history with "load earlier" paging, live `chat` events deduped
 * by id, system lines, and the form (POST .../chat, 1-500 characters, Enter
 * sends, a 429 says how long to wait). Message text goes in as text only.
 */

import {ApiError, request, roomPath} from './api.js';
import {el} from './dom.js';

const MAX_CHARS = 500;
const PAGE = 50;                 // what the snapshot carries and a page asks for
const BOTTOM_SLACK_PX = 32;      // this close to the end counts as "at the bottom"
const ANNOUNCE_DELAY_MS = 1200;  // messages arriving within this are announced together
const ANNOUNCE_TEXT_MAX = 140;

let uid = 0;

/** Code points of a string (what the server counts), after ASCII trimming. */
export function chatLength(text) {
	return [...text.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '')].length;
}

/** "14:05", or "Mon 3 Mar, 14:05" for another day. */
function formatTime(atUs) {
	const d = new Date(atUs / 1000);
	const today = new Date();
	const time = d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
	if (d.toDateString() === today.toDateString())
		return time;
	return `${d.toLocaleDateString([], {weekday: 'short', day: 'numeric', month: 'short'})}, ${time}`;
}

function clip(text, max) {
	const chars = [...text];
	return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

/**
 * POSTs a chat message; resolves to the stored message. Rejects with an
 * ApiError whose retryAfter (seconds) is set on a 429. Done here rather than
 * through api.request() because the caller needs the Retry-After header.
 */
async function postMessage(code, token, text) {
	let res;
	try {
		res = await fetch(`${roomPath(code)}/chat`, {
			method: 'POST',
			headers: {
				Accept: 'application/json, application/problem+json',
				'Content-Type': 'application/json',
				Authorization: `Bearer ${token}`,
			},
			body: JSON.stringify({text}),
			cache: 'no-store',
		});
	} catch {
		throw new ApiError({title: 'Network error', detail: 'The server could not be reached.'});
	}
	let data = null;
	try {
		data = await res.json();
	} catch {
		data = null;
	}
	if (!res.ok) {
		const p = data && typeof data === 'object' ? data : {};
		const err = new ApiError({
			status: res.status,
			title: typeof p.title === 'string' ? p.title : `HTTP ${res.status}`,
			detail: typeof p.detail === 'string' ? p.detail : res.statusText,
		});
		const after = Number.parseInt(res.headers.get('Retry-After') || '', 10);
		err.retryAfter = res.status === 429 ? (Number.isFinite(after) && after > 0 ? after : 1) : 0;
		throw err;
	}
	if (!data || typeof data !== 'object' || !Number.isInteger(data.id))
		throw new ApiError({status: res.status, title: 'Bad response', detail: 'the chat did not answer a message'});
	return data;
}

/**
 * ChatPanel(root, ctx): builds the chat inside root. ctx: {announce(text),
 * error(e)}. enter(session) on every room snapshot, event(msg) for each
 * room event, leave() when the room view closes.
 */
export class ChatPanel {
	#session = null;
	#messages = new Map();   // id -> message
	#nodes = new Map();      // id -> li
	#more = false;           // older messages exist on the server
	#loadingEarlier = false;
	#sending = false;
	#waitUntil = 0;          // ms timestamp: 429 wait ends
	#waitTimer = 0;
	#unseen = 0;             // messages below the visible part of the log
	#pendingAnnounce = [];
	#announceTimer = 0;
	#admins = new Set();     // user ids holding the admin role now

	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		const id = `chat-${++uid}`;
		root.replaceChildren();
		root.classList.add('panel', 'chat');
		root.setAttribute('aria-labelledby', `${id}-title`);

		this.earlier = el('button', {
			class: 'small quiet chat-earlier', text: 'Load earlier messages',
			attrs: {type: 'button', hidden: true}, on: {click: () => this.#loadEarlier()},
		});
		this.log = el('ol', {
			class: 'chat-log',
			attrs: {'aria-labelledby': `${id}-title`, tabindex: '0', 'aria-describedby': `${id}-empty`},
			on: {scroll: () => this.#onScroll()},
		});
		this.empty = el('p', {class: 'muted chat-empty', text: 'No messages yet. Say hello!', attrs: {id: `${id}-empty`}});
		this.jump = el('button', {
			class: 'small chat-jump', attrs: {type: 'button', hidden: true},
			on: {click: () => this.#scrollToEnd(true)},
		});
		this.text = el('textarea', {
			attrs: {
				id: `${id}-text`, name: 'text', rows: '2', autocomplete: 'off',
				'aria-describedby': `${id}-count ${id}-help`, placeholder: 'Write a message…',
			},
			on: {input: () => this.#renderCount(), keydown: (ev) => this.#onKey(ev)},
		});
		this.count = el('span', {class: 'chat-count', text: `0/${MAX_CHARS}`, attrs: {id: `${id}-count`}});
		this.send = el('button', {class: 'primary', text: 'Send', attrs: {type: 'submit'}});
		this.status = el('p', {class: 'panel-status', attrs: {role: 'status', 'aria-live': 'polite'}});
		this.form = el('form', {class: 'chat-form', attrs: {novalidate: true}, on: {submit: (ev) => this.#onSubmit(ev)}},
			el('label', {class: 'sr-only', text: 'Message', attrs: {for: `${id}-text`}}),
			this.text,
			el('div', {class: 'chat-form-row'},
				el('span', {class: 'help', text: 'Enter sends, Shift+Enter adds a line.', attrs: {id: `${id}-help`}}),
				this.count,
				this.send),
			this.status);
		root.append(
			el('h2', {text: 'Chat', attrs: {id: `${id}-title`}}),
			el('div', {class: 'chat-scroll'}, this.earlier, this.empty, this.log, this.jump),
			this.form);
		this.#renderCount();
	}

	/** A room snapshot: its last 50 messages merge into what is shown (same room) or replace it. */
	enter(session) {
		const room = session.room || {};
		const sameRoom = this.#session?.code === session.code;
		this.#session = session;
		this.#admins = new Set((room.users || []).filter((u) => u.role === 'admin').map((u) => u.id));
		const list = (Array.isArray(room.chat) ? room.chat : []).filter((m) => m && Number.isInteger(m.id));
		const newest = Math.max(0, ...this.#messages.keys());
		const oldestSnap = list.length ? Math.min(...list.map((m) => m.id)) : Infinity;
		// A full page that starts past everything shown may hide a gap: start over.
		const gap = list.length >= PAGE && oldestSnap > newest;
		if (!sameRoom || gap) {
			this.#reset();
			this.#more = list.length >= PAGE;
		}
		const stick = this.#atBottom() || !sameRoom || gap;
		for (const m of list)
			this.#add(m);
		this.#renderEmpty();
		this.#renderBadges();
		if (stick)
			this.#scrollToEnd(false);
	}

	/** One room event: chat messages, and role changes for the admin badges. */
	event(msg) {
		if (!this.#session)
			return;
		if (msg.type === 'chat' && msg.message && Number.isInteger(msg.message.id)) {
			const m = msg.message;
			if (this.#messages.has(m.id))
				return;
			const stick = this.#atBottom();
			this.#add(m);
			this.#renderEmpty();
			if (stick) {
				this.#scrollToEnd(false);
			} else if (m.user_id !== this.#you()?.id) {
				this.#unseen++;
				this.#renderJump();
			}
			if (m.user_id !== this.#you()?.id)
				this.#queueAnnounce(m);
		} else if (msg.type === 'role_changed' && msg.user) {
			this.#admins = new Set([msg.user.id]);
			this.#renderBadges();
		} else if (msg.type === 'user_left' && msg.user) {
			this.#admins.delete(msg.user.id);
			this.#renderBadges();
		}
	}

	/** The room view closes: timers stop, everything shown is dropped. */
	leave() {
		this.#session = null;
		this.#reset();
		clearTimeout(this.#announceTimer);
		this.#pendingAnnounce = [];
		this.#setWait(0);
		this.status.textContent = '';
		this.text.value = '';
		this.#renderCount();
	}

	/** Whether s (taken before an await) is still the room shown: snapshots replace the object. */
	#same(s) {
		return !!this.#session && this.#session.code === s.code && this.#session.token === s.token;
	}

	#you() {
		return this.#session?.room?.you ?? null;
	}

	#reset() {
		this.#messages.clear();
		this.#nodes.clear();
		this.log.replaceChildren();
		this.#more = false;
		this.#unseen = 0;
		this.#renderJump();
		this.#renderEmpty();
	}

	/** Adds one message in id order (usually at the end). */
	#add(m) {
		if (this.#messages.has(m.id))
			return;
		this.#messages.set(m.id, m);
		const li = this.#render(m);
		this.#nodes.set(m.id, li);
		const last = this.log.lastElementChild;
		if (!last || Number(last.dataset.id) < m.id) {
			this.log.append(li);	// the usual case: a newer message
			return;
		}
		const next = [...this.log.children].find((node) => Number(node.dataset.id) > m.id);
		this.log.insertBefore(li, next ?? null);
	}

	#render(m) {
		const when = el('time', {
			class: 'chat-time', text: formatTime(m.at_us),
			attrs: {datetime: new Date(m.at_us / 1000).toISOString(), title: new Date(m.at_us / 1000).toLocaleString()},
		});
		if (m.kind === 'system')
			return el('li', {class: 'system', attrs: {'data-id': m.id}}, el('span', {class: 'chat-text', text: m.text}), ' ', when);
		const mine = m.user_id !== null && m.user_id === this.#you()?.id;
		const author = el('span', {class: 'chat-author', text: m.name || 'someone'});
		const head = el('div', {class: 'chat-head'}, author);
		if (mine)
			head.append(el('span', {class: 'chat-you', text: ' (you)'}));
		head.append(' ', when);
		return el('li', {
			class: mine ? 'mine' : '',
			attrs: {'data-id': m.id, 'data-user': m.user_id ?? ''},
		}, head, el('p', {class: 'chat-text', text: m.text}));
	}

	/** An "admin" badge after the names of whoever holds the role now. */
	#renderBadges() {
		for (const li of this.log.children) {
			const user = Number(li.dataset.user);
			const head = li.querySelector('.chat-head');
			if (!head)
				continue;
			const badge = head.querySelector('.badge');
			const admin = user > 0 && this.#admins.has(user);
			if (admin && !badge)
				head.querySelector('.chat-author').after(el('span', {class: 'badge', text: 'admin'}));
			else if (!admin && badge)
				badge.remove();
		}
	}

	#renderEmpty() {
		this.empty.hidden = this.#messages.size > 0;
		this.earlier.hidden = !this.#more || this.#messages.size === 0;
	}

	#atBottom() {
		const l = this.log;
		return l.scrollHeight - l.scrollTop - l.clientHeight <= BOTTOM_SLACK_PX;
	}

	#scrollToEnd(focusLast) {
		this.log.scrollTop = this.log.scrollHeight;
		this.#unseen = 0;
		this.#renderJump();
		if (focusLast)
			this.log.focus();
	}

	#onScroll() {
		if (this.#unseen && this.#atBottom()) {
			this.#unseen = 0;
			this.#renderJump();
		}
	}

	#renderJump() {
		this.jump.hidden = this.#unseen === 0;
		this.jump.textContent = this.#unseen === 1 ? '1 new message ↓' : `${this.#unseen} new messages ↓`;
	}

	async #loadEarlier() {
		const s = this.#session;
		if (!s || this.#loadingEarlier || !this.#messages.size)
			return;
		const before = Math.min(...this.#messages.keys());
		this.#loadingEarlier = true;
		this.earlier.setAttribute('aria-busy', 'true');
		this.earlier.textContent = 'Loading…';
		try {
			const page = await request('GET', `${roomPath(s.code)}/chat?before=${before}&limit=${PAGE}`, {token: s.token});
			if (!this.#same(s))
				return;
			const height = this.log.scrollHeight;
			const top = this.log.scrollTop;
			const got = (page.messages || []).filter((m) => Number.isInteger(m?.id));
			for (const m of got)
				this.#add(m);
			this.#more = !!page.more;
			this.#renderBadges();
			this.log.scrollTop = top + (this.log.scrollHeight - height);
			this.status.textContent = got.length ? `${got.length} earlier messages loaded.` : 'No earlier messages.';
		} catch (err) {
			if (this.#same(s))
				this.status.textContent = `Could not load earlier messages: ${err.message}`;
		} finally {
			this.#loadingEarlier = false;
			this.earlier.removeAttribute('aria-busy');
			this.earlier.textContent = 'Load earlier messages';
			const hadFocus = document.activeElement === this.earlier;
			this.#renderEmpty();
			if (hadFocus && this.earlier.hidden)
				this.log.focus();
		}
	}

	#onKey(ev) {
		if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing || ev.ctrlKey || ev.altKey || ev.metaKey)
			return;
		ev.preventDefault();
		this.form.requestSubmit();
	}

	#renderCount() {
		const n = chatLength(this.text.value);
		const over = n > MAX_CHARS;
		this.count.textContent = over ? `${n}/${MAX_CHARS}: too long` : `${n}/${MAX_CHARS}`;
		this.count.classList.toggle('over', over);
		if (over)
			this.text.setAttribute('aria-invalid', 'true');
		else
			this.text.removeAttribute('aria-invalid');
		const blocked = this.#sending || this.#waitUntil > Date.now();
		this.send.setAttribute('aria-disabled', String(blocked || over || n === 0));
	}

	async #onSubmit(ev) {
		ev.preventDefault();
		const s = this.#session;
		if (!s || this.#sending)
			return;
		const raw = this.text.value;
		const n = chatLength(raw);
		if (n === 0) {
			this.status.textContent = 'Write something first.';
			return;
		}
		if (n > MAX_CHARS) {
			this.status.textContent = `A message has at most ${MAX_CHARS} characters; this one has ${n}.`;
			return;
		}
		const wait = Math.ceil((this.#waitUntil - Date.now()) / 1000);
		if (wait > 0) {
			this.status.textContent = `Too many messages: wait ${wait} s.`;
			return;
		}
		this.#sending = true;
		this.send.setAttribute('aria-busy', 'true');
		this.#renderCount();
		try {
			const m = await postMessage(s.code, s.token, raw);
			if (!this.#same(s))
				return;
			// Only clear what was sent: the user may have typed on meanwhile.
			if (this.text.value === raw)
				this.text.value = '';
			this.status.textContent = '';
			this.#add(m);
			this.#renderEmpty();
			this.#renderBadges();
			this.#scrollToEnd(false);
		} catch (err) {
			if (!this.#same(s))
				return;
			if (err.status === 429)
				this.#setWait(err.retryAfter);
			else
				this.status.textContent = `Not sent: ${err.message}`;
		} finally {
			this.#sending = false;
			this.send.removeAttribute('aria-busy');
			this.#renderCount();
		}
	}

	/** Shows "wait N s" counting down; the text stays in the field. */
	#setWait(seconds) {
		clearInterval(this.#waitTimer);
		this.#waitTimer = 0;
		this.#waitUntil = seconds > 0 ? Date.now() + seconds * 1000 : 0;
		const tick = () => {
			const left = Math.ceil((this.#waitUntil - Date.now()) / 1000);
			if (left <= 0) {
				clearInterval(this.#waitTimer);
				this.#waitTimer = 0;
				this.#waitUntil = 0;
				if (this.status.dataset.wait)
					this.status.textContent = 'You can send again.';
				delete this.status.dataset.wait;
			} else {
				this.status.dataset.wait = '1';
				this.status.textContent = `Too many messages: wait ${left} s, your text is kept.`;
			}
			this.#renderCount();
		};
		if (seconds > 0) {
			tick();
			this.#waitTimer = setInterval(tick, 1000);
		}
	}

	/** Live messages are announced (batched) only while the panel does not have focus. */
	#queueAnnounce(m) {
		if (this.root.contains(document.activeElement) && document.hasFocus())
			return;
		this.#pendingAnnounce.push(m);
		if (!this.#announceTimer)
			this.#announceTimer = setTimeout(() => this.#flushAnnounce(), ANNOUNCE_DELAY_MS);
	}

	#flushAnnounce() {
		this.#announceTimer = 0;
		const list = this.#pendingAnnounce;
		this.#pendingAnnounce = [];
		if (!list.length || !this.#session)
			return;
		if (list.length === 1) {
			const m = list[0];
			const text = clip(m.text.replace(/\s+/g, ' '), ANNOUNCE_TEXT_MAX);
			this.ctx.announce(m.kind === 'system' ? text : `${m.name}: ${text}`);
		} else {
			const last = list[list.length - 1];
			this.ctx.announce(`${list.length} new chat messages, the last from ${last.kind === 'system' ? 'the room' : last.name}.`);
		}
	}
}
