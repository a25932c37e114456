/*
 * requests.js - the song requests panel in #requests-panel (app.js drives it:
 * enter/event/leave): ask by library search (GET /api/tracks?q=) or free text,
 * or, for those the room lets add (the admin; everyone under policy
 * "everyone"), add a found track to the playlist at once; the pending list
 * from the snapshot and `request` events, Approve/Reject for the admin (and
 * Find… to fulfil a free-text request with a library track), followed live
 * through role_changed and room_updated, and the recent outcomes.
 */

import {addTrack, getPlaylist, request, roomPath} from './api.js';
import {el, formatClock} from './dom.js';

const SEARCH_DELAY_MS = 250;
const SEARCH_LIMIT = 20;
const TEXT_MAX = 200;
const OUTCOMES_KEPT = 5;
const LABEL_TEXT_MAX = 24;	// characters of a request's text on a "Use for" button

/** “text”, cut to max characters with an ellipsis: for a button at 360 px. */
function quoteShort(text, max = LABEL_TEXT_MAX) {
	const chars = [...String(text ?? '')];
	return `“${chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('')}”`;
}

/** Whether a refused PATCH means the request is no longer pending (decided elsewhere, or gone). */
function decidedElsewhere(err) {
	return (err.status === 409 && err.title !== 'Playlist full') || (err.status === 404 && err.title !== 'No such track');
}

let uid = 0;

/** What a request asks for, as plain text: "Title by Artist" or “free text”. */
export function requestLabel(r) {
	if (r.track)
		return trackLabel(r.track);
	return `“${r.text ?? ''}”`;
}

function trackLabel(t) {
	const title = t.title || 'Untitled';
	return t.artist ? `${title} by ${t.artist}` : title;
}

/**
 * RequestsPanel(root, ctx): builds the panel inside root. ctx:
 * {announce(text), error(e), playlistVersion() -> the version app.js holds
 * (null when unknown)}. enter(session) on every room snapshot, event(msg)
 * for each room event, leave() when the room view closes.
 */
export class RequestsPanel {
	#session = null;
	#admin = false;
	#policy = 'admin';        // the room's policy: "everyone" lets members add
	#adding = new Set();      // track ids with a POST …/playlist in flight
	#fulfil = null;           // id of the free-text request the admin picks a track for
	#pending = new Map();     // id -> request (pending only)
	#outcomes = [];           // the latest resolved requests, newest first
	#busy = new Set();        // request ids with a PATCH in flight
	#searchTimer = 0;
	#searchSeq = 0;
	#results = [];
	#lastQuery = '';

	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.id = `req-${++uid}`;
		const id = this.id;
		root.replaceChildren();
		root.classList.add('panel', 'requests');
		root.setAttribute('aria-labelledby', `${id}-title`);

		this.q = el('input', {
			attrs: {
				id: `${id}-q`, name: 'q', type: 'search', autocomplete: 'off', spellcheck: 'false',
				maxlength: '200', placeholder: 'Title or artist', 'aria-controls': `${id}-results`,
			},
			on: {input: () => this.#scheduleSearch(), keydown: (ev) => {
				if (ev.key === 'Enter') {
					ev.preventDefault();
					this.#search();
				}
			}},
		});
		this.results = el('ul', {class: 'track-results', attrs: {id: `${id}-results`, 'aria-label': 'Library tracks'}});
		this.searchInfo = el('p', {class: 'muted search-info', attrs: {role: 'status', 'aria-live': 'polite'}});
		this.text = el('input', {
			attrs: {
				id: `${id}-text`, name: 'text', autocomplete: 'off',
				placeholder: 'e.g. that song from the film', 'aria-describedby': `${id}-text-help`,
			},
		});
		this.ask = el('button', {class: 'primary', text: 'Ask', attrs: {type: 'submit'}});
		this.status = el('p', {class: 'panel-status', attrs: {role: 'status', 'aria-live': 'polite'}});
		this.pendingList = el('ul', {class: 'request-list', attrs: {'aria-labelledby': `${id}-pending`, tabindex: '-1'}});
		this.pendingEmpty = el('p', {class: 'muted', text: 'Nobody is waiting for a song.'});
		this.pendingCount = el('span', {class: 'count'});
		this.outcomeList = el('ul', {class: 'request-outcomes', attrs: {'aria-labelledby': `${id}-outcomes`}});
		this.outcomeBox = el('div', {class: 'request-outcome-box', attrs: {hidden: true}},
			el('h3', {text: 'Recently decided', attrs: {id: `${id}-outcomes`}}),
			this.outcomeList);
		this.adminHint = el('p', {class: 'help', text: 'You are the admin: approve a request to add it to the playlist, or use Find… to pick the library track for one asked by name.', attrs: {hidden: true}});
		this.fulfilText = el('p', {class: 'fulfil-text', attrs: {id: `${id}-fulfil`}});
		this.fulfilBar = el('div', {class: 'fulfil-bar', attrs: {hidden: true}},
			this.fulfilText,
			el('button', {class: 'small', text: 'Cancel', attrs: {type: 'button', 'aria-describedby': `${id}-fulfil`},
				on: {click: () => this.#endFulfil(true)}}));

		root.append(
			el('h2', {text: 'Requests', attrs: {id: `${id}-title`}}),
			this.fulfilBar,
			el('form', {class: 'request-search', attrs: {role: 'search', novalidate: true}, on: {submit: (ev) => {
				ev.preventDefault();
				this.#search();
			}}},
			el('label', {text: 'Search the library', attrs: {for: `${id}-q`}}),
			this.q),
			this.searchInfo,
			this.results,
			el('form', {class: 'request-text', attrs: {novalidate: true}, on: {submit: (ev) => this.#askText(ev)}},
				el('label', {text: 'Or ask by name', attrs: {for: `${id}-text`}}),
				el('div', {class: 'row'}, this.text, this.ask),
				el('p', {class: 'help', text: 'For a song that is not in the library yet.', attrs: {id: `${id}-text-help`}})),
			this.status,
			el('h3', {attrs: {id: `${id}-pending`}}, 'Pending ', this.pendingCount),
			this.adminHint,
			this.pendingEmpty,
			this.pendingList,
			this.outcomeBox);
		root.addEventListener('keydown', (ev) => {
			if (ev.key === 'Escape' && this.#fulfil !== null && !ev.defaultPrevented) {
				ev.preventDefault();	// also keeps the search text (type=search clears on Escape)
				this.#endFulfil(true);
			}
		});
		this.#renderPending();
	}

	/** A room snapshot: its pending requests replace the list; the role is taken from you. */
	enter(session) {
		const room = session.room || {};
		if (this.#session?.code !== session.code) {
			this.#outcomes = [];
			this.#busy.clear();
			this.#adding.clear();
			this.#fulfil = null;
			this.status.textContent = '';
		}
		this.#session = session;
		this.#admin = (room.you?.role ?? session.you?.role) === 'admin';
		this.#policy = room.policy ?? this.#policy;
		this.#pending.clear();
		for (const r of Array.isArray(room.requests) ? room.requests : [])
			if (r && Number.isInteger(r.id) && r.status === 'pending')
				this.#pending.set(r.id, r);
		this.#checkFulfil();
		this.#renderPending();
		this.#renderOutcomes();
		this.#renderResults();
	}

	/** Room events: request added/approved/rejected, role and policy changes. */
	event(msg) {
		const s = this.#session;
		if (!s)
			return;
		if (msg.type === 'request' && msg.request && Number.isInteger(msg.request.id)) {
			this.#apply(msg.request);
		} else if (msg.type === 'role_changed' && msg.user) {
			const me = this.#you()?.id;
			const was = this.#admin;
			if (msg.user.id === me)
				this.#admin = true;
			else if (msg.previous?.id === me || this.#admin)
				this.#admin = false;	// there is one admin: someone else has the role now
			if (was !== this.#admin) {
				this.#checkFulfil();
				this.#renderPending();
				this.#renderResults();
			}
		} else if (msg.type === 'room_updated' && msg.settings?.policy && msg.settings.policy !== this.#policy) {
			this.#policy = msg.settings.policy;
			this.#renderResults();
		}
	}

	/** The room view closes: timers stop, everything shown is dropped. */
	leave() {
		this.#session = null;
		clearTimeout(this.#searchTimer);
		this.#searchSeq++;
		this.#pending.clear();
		this.#outcomes = [];
		this.#busy.clear();
		this.#adding.clear();
		this.#fulfil = null;
		this.#policy = 'admin';
		this.#results = [];
		this.#lastQuery = '';
		this.q.value = '';
		this.text.value = '';
		this.status.textContent = '';
		this.searchInfo.textContent = '';
		this.#renderFulfilBar();
		this.#renderPending();
		this.#renderOutcomes();
		this.#renderResults();
	}

	/** Whether s (taken before an await) is still the room shown: snapshots replace the object. */
	#same(s) {
		return !!this.#session && this.#session.code === s.code && this.#session.token === s.token;
	}

	#you() {
		return this.#session?.room?.you ?? this.#session?.you ?? null;
	}

	/** Whether this page may add to the playlist: docs/api.md's policy table. */
	#canAdd() {
		return this.#admin || this.#policy === 'everyone';
	}

	/** A request as the server now has it. */
	#apply(r) {
		if (r.status === 'pending') {
			this.#pending.set(r.id, r);
			this.#renderPending();
			this.#renderResults();
			return;
		}
		this.#pending.delete(r.id);
		this.#busy.delete(r.id);
		this.#checkFulfil();
		const fresh = !this.#outcomes.some((o) => o.id === r.id);
		if (fresh) {
			this.#outcomes.unshift(r);
			this.#outcomes.length = Math.min(this.#outcomes.length, OUTCOMES_KEPT);
		}
		this.#renderPending();
		this.#renderOutcomes();
		this.#renderResults();
		if (fresh) {
			const verb = r.status === 'approved' ? 'approved' : 'rejected';
			const added = r.status === 'approved' && r.item_id ? ', added to the playlist' : '';
			this.ctx.announce(`${r.user?.name ?? 'Someone'}'s request for ${requestLabel(r)} was ${verb}${added}.`);
		}
	}

	/*
	 * The pending list. Rebuilt whole (it is short); the focused button is
	 * found again by its data-focus key, or focus goes to the list.
	 */
	#renderPending() {
		const active = document.activeElement;
		const focusKey = this.pendingList.contains(active) ? active.dataset.focus : null;
		const focusIndex = focusKey ? [...this.pendingList.children].findIndex((li) => li.contains(active)) : -1;
		const list = [...this.#pending.values()].sort((a, b) => a.id - b.id);
		this.pendingList.replaceChildren(...list.map((r) => this.#renderRequest(r)));
		this.pendingEmpty.hidden = list.length > 0;
		this.pendingCount.textContent = list.length ? `(${list.length})` : '';
		this.adminHint.hidden = !this.#admin;
		if (focusKey) {
			const again = this.pendingList.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
			const near = this.pendingList.children[Math.min(focusIndex, this.pendingList.children.length - 1)];
			(again || near?.querySelector('button') || this.pendingList).focus();
		}
	}

	#renderRequest(r) {
		const descId = `${this.id}-r${r.id}`;
		const mine = r.user?.id === this.#you()?.id;
		const what = el('span', {class: 'what'},
			el('span', {class: 'title', text: requestLabel(r)}),
			el('span', {class: 'who', text: mine ? 'asked by you' : `asked by ${r.user?.name ?? 'someone'}`}));
		what.id = descId;
		const li = el('li', {attrs: {'data-request': r.id, 'data-kind': r.track ? 'track' : 'text'}}, what);
		if (r.track?.duration_us)
			what.firstChild.append(el('span', {class: 'len', text: ` · ${formatClock(r.track.duration_us)}`}));
		if (this.#admin) {
			const busy = this.#busy.has(r.id);
			const button = (label, status, cls) => el('button', {
				class: `small ${cls}`, text: label,
				attrs: {type: 'button', 'aria-describedby': descId, 'data-focus': `${r.id}:${status}`, 'aria-disabled': busy ? 'true' : null},
				on: {click: () => this.#decide(r, status)},
			});
			const find = r.track ? null : el('button', {
				class: 'small', text: 'Find…',
				attrs: {
					type: 'button', 'aria-describedby': descId, 'data-focus': `${r.id}:find`,
					'aria-pressed': String(this.#fulfil === r.id), 'aria-disabled': busy ? 'true' : null,
					title: 'Find the library track that fulfils this request',
				},
				on: {click: () => this.#startFulfil(r)},
			});
			li.append(el('span', {class: 'actions'},
				button('Approve', 'approved', 'primary'),
				find,
				button('Reject', 'rejected', '')));
			if (this.#fulfil === r.id)
				li.classList.add('fulfilling');
		}
		return li;
	}

	#renderOutcomes() {
		this.outcomeBox.hidden = this.#outcomes.length === 0;
		this.outcomeList.replaceChildren(...this.#outcomes.map((r) => el('li', {
			attrs: {'data-request': r.id, 'data-status': r.status},
		},
		el('span', {class: 'outcome', text: r.status === 'approved' ? 'Approved' : 'Rejected'}),
		' ',
		el('span', {class: 'title', text: requestLabel(r)}),
		el('span', {class: 'who', text: ` for ${r.user?.name ?? 'someone'}`}))));
	}

	async #decide(r, status) {
		const s = this.#session;
		if (!s || !this.#admin || this.#busy.has(r.id))
			return;
		this.#busy.add(r.id);
		this.#renderPending();
		try {
			const done = await request('PATCH', `${roomPath(s.code)}/requests/${r.id}`, {token: s.token, body: {status}});
			if (!this.#same(s))
				return;
			this.status.textContent = '';
			this.#apply(done);
		} catch (err) {
			if (!this.#same(s))
				return;
			this.#busy.delete(r.id);
			if (decidedElsewhere(err)) {
				// Decided already (by another tab) or gone: the event brings the outcome.
				this.#pending.delete(r.id);
				this.#checkFulfil();
			}
			this.status.textContent = `Could not ${status === 'approved' ? 'approve' : 'reject'}: ${err.message}`;
			this.#renderPending();
			this.#renderResults();
		}
	}

	#scheduleSearch() {
		clearTimeout(this.#searchTimer);
		this.#searchTimer = setTimeout(() => this.#search(), SEARCH_DELAY_MS);
	}

	async #search() {
		clearTimeout(this.#searchTimer);
		const q = this.q.value.trim();
		const seq = ++this.#searchSeq;
		if (!q) {
			this.#results = [];
			this.#lastQuery = '';
			this.searchInfo.textContent = '';
			this.#renderResults();
			return;
		}
		if (new TextEncoder().encode(q).length > 200) {
			this.searchInfo.textContent = 'That is too long to search for (200 bytes at most).';
			return;
		}
		try {
			const res = await request('GET', `/api/tracks?q=${encodeURIComponent(q)}&limit=${SEARCH_LIMIT}`);
			if (seq !== this.#searchSeq || !this.#session)
				return;	// a newer search was started meanwhile
			this.#results = Array.isArray(res.tracks) ? res.tracks : [];
			this.#lastQuery = q;
			const total = Number.isInteger(res.total) ? res.total : this.#results.length;
			this.searchInfo.textContent = total === 0 ? `No track matches “${q}”: ask for it by name below.` :
				total > this.#results.length ? `${total} tracks match; the first ${this.#results.length} are shown.` :
					`${total} ${total === 1 ? 'track matches' : 'tracks match'}.`;
			this.#renderResults();
		} catch (err) {
			if (seq === this.#searchSeq)
				this.searchInfo.textContent = `Search failed: ${err.message}`;
		}
	}

	/**
	 * The search results, one button each: "Use for “…”" while the admin
	 * picks a track for a free-text request, else "Add" for those who may
	 * add, else "Request" ("Requested" when that track is pending). Keeps
	 * focus by track id.
	 */
	#renderResults() {
		const active = document.activeElement;
		const focusKey = this.results.contains(active) ? active.dataset.focus : null;
		const pendingTracks = new Set([...this.#pending.values()].filter((r) => r.track).map((r) => r.track.id));
		const fulfil = this.#fulfil === null ? null : this.#pending.get(this.#fulfil);
		const canAdd = this.#canAdd();
		this.results.replaceChildren(...this.#results.map((t) => {
			const descId = `${this.id}-t${t.id}`;
			const attrs = {type: 'button', 'aria-describedby': descId, 'data-focus': `t${t.id}`};
			let button;
			if (fulfil) {
				button = el('button', {
					class: 'small primary', text: `Use for ${quoteShort(fulfil.text)}`,
					attrs: {...attrs, 'data-action': 'use', 'aria-disabled': this.#busy.has(fulfil.id) ? 'true' : null},
					on: {click: () => this.#useFor(t)},
				});
			} else if (canAdd) {
				button = el('button', {
					class: 'small primary', text: 'Add',
					attrs: {...attrs, 'data-action': 'add', 'aria-disabled': this.#adding.has(t.id) ? 'true' : null},
					on: {click: () => this.#add(t)},
				});
			} else {
				const pending = pendingTracks.has(t.id);
				button = el('button', {
					class: 'small', text: pending ? 'Requested' : 'Request',
					attrs: {...attrs, 'data-action': 'request', 'aria-disabled': pending ? 'true' : null},
					on: {click: () => this.#askTrack(t)},
				});
			}
			return el('li', {class: 'track-result', attrs: {'data-track': t.id}},
				el('span', {class: 'what', attrs: {id: descId}},
					el('span', {class: 'title', text: t.title || 'Untitled'}),
					el('span', {class: 'who', text: [t.artist, t.duration_us ? formatClock(t.duration_us) : ''].filter(Boolean).join(' · ')})),
				button);
		}));
		if (focusKey)
			this.results.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
	}

	/**
	 * Adds track t to the playlist with the version app.js holds; on 412
	 * (the playlist changed meanwhile) fetches the current version and
	 * tries once more. The outcome is said in the panel's status.
	 */
	async #add(t) {
		const s = this.#session;
		if (!s || !this.#canAdd() || this.#adding.has(t.id))
			return;
		const title = `“${t.title || 'Untitled'}”`;
		this.#adding.add(t.id);
		this.status.textContent = `Adding ${title}…`;
		this.#renderResults();
		try {
			let version = this.ctx.playlistVersion?.();
			if (!Number.isInteger(version))
				version = (await getPlaylist(s.code, s.token)).version;
			try {
				await addTrack(s.code, s.token, version, t.id);
			} catch (err) {
				if (err.status !== 412 || !this.#same(s))
					throw err;
				const fresh = await getPlaylist(s.code, s.token);
				if (!this.#same(s))
					return;
				await addTrack(s.code, s.token, fresh.version, t.id);
			}
			if (this.#same(s))
				this.status.textContent = `Added ${title} to the playlist.`;
		} catch (err) {
			if (this.#same(s))
				this.status.textContent = err.status === 412 ?
					`Not added: the playlist keeps changing; try again. (${err.message})` : `Not added: ${err.message}`;
		} finally {
			if (this.#same(s)) {
				this.#adding.delete(t.id);
				this.#renderResults();
			}
		}
	}

	/**
	 * Find…: the admin picks the library track for free-text request r.
	 * Its text goes into the search, and each result offers "Use for";
	 * pressed again (or Cancel, or Escape) it ends.
	 */
	#startFulfil(r) {
		if (!this.#admin || !this.#pending.has(r.id) || this.#busy.has(r.id))
			return;
		if (this.#fulfil === r.id) {
			this.#endFulfil(true);
			return;
		}
		this.#fulfil = r.id;
		this.q.value = r.text ?? '';
		this.#renderFulfilBar();
		this.#renderPending();
		this.#renderResults();
		this.q.focus();
		this.ctx.announce(`Choose the track for ${this.#asker(r)} request ${requestLabel(r)}: search, then “Use for” on a result. Escape cancels.`);
		this.#search();
	}

	/** Leaves the Find… mode; focus back to that request's Find… button when asked. */
	#endFulfil(refocus) {
		const id = this.#fulfil;
		if (id === null)
			return;
		this.#fulfil = null;
		this.#renderFulfilBar();
		this.#renderPending();
		this.#renderResults();
		if (refocus)
			(this.pendingList.querySelector(`[data-focus="${CSS.escape(`${id}:find`)}"]`) || this.q).focus();
	}

	/** The Find… mode ends by itself when its request is no longer pending or the role went. */
	#checkFulfil() {
		if (this.#fulfil === null || (this.#admin && this.#pending.has(this.#fulfil)))
			return;
		this.#fulfil = null;
		this.#renderFulfilBar();
		this.#renderResults();
	}

	/** The bar above the search while Find… is on; focus on its Cancel moves to the search when it goes. */
	#renderFulfilBar() {
		const r = this.#fulfil === null ? null : this.#pending.get(this.#fulfil);
		if (!r && this.fulfilBar.contains(document.activeElement))
			this.q.focus();
		this.fulfilBar.hidden = !r;
		this.fulfilText.textContent = r ? `Picking the track for ${this.#asker(r)} request ${requestLabel(r)}.` : '';
	}

	/** "bob's" or "your": whose request r is. */
	#asker(r) {
		return r.user?.id === this.#you()?.id ? 'your' : `${r.user?.name ?? 'someone'}'s`;
	}

	/** Approves the request being fulfilled with track t: the server appends t to the playlist. */
	async #useFor(t) {
		const s = this.#session;
		const r = this.#fulfil === null ? null : this.#pending.get(this.#fulfil);
		if (!s || !r || !this.#admin || this.#busy.has(r.id))
			return;
		this.#busy.add(r.id);
		this.status.textContent = 'Sending…';
		this.#renderPending();
		this.#renderResults();
		try {
			const done = await request('PATCH', `${roomPath(s.code)}/requests/${r.id}`,
				{token: s.token, body: {status: 'approved', track_id: t.id}});
			if (!this.#same(s))
				return;
			this.status.textContent = `Approved ${this.#asker(r)} request ${requestLabel(r)} with “${t.title || 'Untitled'}”.`;
			this.#apply(done);	// no longer pending: the mode ends
		} catch (err) {
			if (!this.#same(s))
				return;
			this.#busy.delete(r.id);
			if (decidedElsewhere(err))
				this.#pending.delete(r.id);
			this.status.textContent = `Could not approve: ${err.message}`;
			this.#checkFulfil();
			this.#renderPending();
			this.#renderResults();
		}
	}

	async #askTrack(t) {
		const s = this.#session;
		if (!s)
			return;
		if ([...this.#pending.values()].some((r) => r.track?.id === t.id)) {
			this.status.textContent = `${trackLabel(t)} is already requested.`;
			return;
		}
		await this.#post({track_id: t.id}, trackLabel(t));
	}

	async #askText(ev) {
		ev.preventDefault();
		const text = this.text.value.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
		const n = [...text].length;
		if (!n || n > TEXT_MAX) {
			this.text.setAttribute('aria-invalid', 'true');
			this.status.textContent = n ? `A request has at most ${TEXT_MAX} characters; this one has ${n}.` : 'Type the song you would like to hear.';
			this.text.focus();
			return;
		}
		this.text.removeAttribute('aria-invalid');
		if (await this.#post({text}, `“${text}”`))
			this.text.value = '';
	}

	/** POSTs a request; true when it was taken. Errors (409: already pending) are shown in the panel. */
	async #post(body, label) {
		const s = this.#session;
		if (!s)
			return false;
		this.status.textContent = 'Sending…';
		try {
			const r = await request('POST', `${roomPath(s.code)}/requests`, {token: s.token, body});
			if (!this.#same(s))
				return false;
			this.status.textContent = `You asked for ${label}.`;
			this.#apply(r);
			return true;
		} catch (err) {
			if (this.#same(s))
				this.status.textContent = err.status === 409 ? err.message : `Not sent: ${err.message}`;
			return false;
		}
	}
}
