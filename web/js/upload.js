/*
 * upload.js - the upload panel in #upload-panel (app.js drives it:
 * enter/event/leave) and its tus 1.0.0 client (docs/api.md §10): picked or
 * dropped files queue up, two at a time, in PATCHes of about two seconds with
 * progress per file, and resume after a dropped connection (HEAD, backoff,
 * `online`) or a reload (the upload URL is kept in localStorage).
 */

import {el} from './dom.js';

const TUS = '1.0.0';
const MiB = 1024 * 1024;
const CHUNK_FIRST = 4 * MiB;     // the first PATCH of a page; later ones adapt
const CHUNK_MIN = 4 * MiB;
const CHUNK_MAX = 64 * MiB;
const CHUNK_TARGET_S = 2;        // each PATCH about this long: < 1 request/s per file
const PARALLEL = 2;
const STALL_MS = 30000;          // no progress this long in a PATCH: drop it and resume
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const RETRIES = 10;              // failed attempts in a row before giving up (network, 5xx)
const SPEED_WINDOW_MS = 3000;
const RENDER_EVERY_MS = 200;
const STORE_PREFIX = 'tutti.upload.';

let uid = 0;

/** An answer of the tus endpoints that is not a success; status 0: no answer. */
class TusError extends Error {
	constructor(status, title, detail = '', headers = null) {
		super(detail ? `${title}: ${detail}` : title);
		this.status = status;
		this.title = title;
		this.detail = detail;
		this.headers = headers;	// get(name) -> string | null
	}

	header(name) {
		return this.headers?.get(name) ?? null;
	}
}

/** The problem+json of an answer as a TusError. */
function problem(status, text, headers, fallback) {
	let p = {};
	try {
		p = JSON.parse(text) || {};
	} catch {
		p = {};
	}
	return new TusError(status,
		typeof p.title === 'string' ? p.title : `HTTP ${status}`,
		typeof p.detail === 'string' ? p.detail : fallback || '', headers);
}

/** 1234567 -> "1.2 MB". */
export function formatBytes(n) {
	if (!Number.isFinite(n))
		return '–';
	if (n < 1000)
		return `${n} B`;
	const units = ['kB', 'MB', 'GB', 'TB'];
	let v = n;
	let i = -1;
	do {
		v /= 1000;
		i++;
	} while (v >= 1000 && i < units.length - 1);
	return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function formatEta(s) {
	if (!Number.isFinite(s) || s <= 0)
		return '';
	if (s < 60)
		return `${Math.ceil(s)} s left`;
	if (s < 3600)
		return `${Math.ceil(s / 60)} min left`;
	return `${(s / 3600).toFixed(1)} h left`;
}

/** Base64 of a string's UTF-8 (tus metadata values), at most maxBytes of it on a character boundary. */
function b64(text, maxBytes = 1024) {
	const enc = new TextEncoder();
	let bytes = enc.encode(text);
	if (bytes.length > maxBytes) {
		const chars = [...text];
		while (chars.length && enc.encode(chars.join('')).length > maxBytes)
			chars.pop();
		bytes = enc.encode(chars.join(''));
	}
	let bin = '';
	for (const b of bytes)
		bin += String.fromCharCode(b);
	return btoa(bin);
}

function storeGet(key) {
	try {
		const v = JSON.parse(localStorage.getItem(key) || 'null');
		return v && typeof v.url === 'string' && v.url.startsWith('/api/uploads/') ? v : null;
	} catch {
		return null;
	}
}

function storeSet(key, value) {
	try {
		if (value)
			localStorage.setItem(key, JSON.stringify(value));
		else
			localStorage.removeItem(key);
	} catch {
		// not remembered: a reload restarts this file
	}
}

/** Drops remembered uploads past their Upload-Expires. */
function storeSweep() {
	try {
		const now = Date.now();
		for (let i = localStorage.length - 1; i >= 0; i--) {
			const key = localStorage.key(i);
			if (key?.startsWith(STORE_PREFIX) && !(storeGet(key)?.expires > now))
				localStorage.removeItem(key);
		}
	} catch {
		// storage unavailable
	}
}

/*
 * Containers that are certainly not MP3, by their first bytes: refused here
 * rather than after sending the whole file. Anything else goes to the server,
 * which decides (libmpg123).
 */
const NOT_MP3 = [
	[(b, t) => t.startsWith('RIFF') && t.slice(8, 12) === 'WAVE', 'a WAV file'],
	[(b, t) => t.startsWith('fLaC'), 'a FLAC file'],
	[(b, t) => t.startsWith('OggS'), 'an Ogg file'],
	[(b, t) => t.slice(4, 8) === 'ftyp', 'an MP4/M4A file'],
	[(b, t) => t.startsWith('FORM') && (t.slice(8, 12) === 'AIFF' || t.slice(8, 12) === 'AIFC'), 'an AIFF file'],
	[(b) => b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3, 'a WebM/Matroska file'],
];

/** What a file certainly is when it is not MP3 ("a WAV file"), or null. */
export async function sniffNotMp3(file) {
	let bytes;
	try {
		bytes = new Uint8Array(await file.slice(0, 12).arrayBuffer());
	} catch {
		return null;
	}
	const text = String.fromCharCode(...bytes);
	return NOT_MP3.find(([test]) => test(bytes, text))?.[1] ?? null;
}

/** Extensions of audio files the server converts when it says Tutti-Audio: any. */
const AUDIO_EXTENSIONS = ['.mp3', '.flac', '.wav', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.aif', '.aiff', '.wma', '.webm', '.mka'];
const AUDIO_NAME = new RegExp(`(${AUDIO_EXTENSIONS.map((e) => e.replace('.', '\\.')).join('|')})$`, 'i');

const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes('Files');

/**
 * UploadPanel(root, ctx): builds the panel inside root and the page-wide
 * drop target. ctx: {announce(text), error(e)}. enter(session) on every room
 * snapshot, event(msg) for each room event (role and policy changes),
 * leave() when the room view closes (running uploads stop where they are and
 * resume when the same file is picked again).
 */
export class UploadPanel {
	#session = null;
	#role = 'member';
	#policy = 'admin';
	#items = [];
	#active = 0;
	#gen = 0;                  // bumped by leave(): runs of an older room stop counting
	#chunk = CHUNK_FIRST;
	#maxSize = null;           // Tus-Max-Size
	#anyAudio = false;         // Tutti-Audio: any (the server converts what is not MP3)
	#optionsAsked = false;
	#dragTimer = 0;

	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		const id = `up-${++uid}`;
		root.replaceChildren();
		root.classList.add('panel', 'upload');
		root.setAttribute('aria-labelledby', `${id}-title`);

		this.input = el('input', {
			class: 'upload-input',
			attrs: {id: `${id}-file`, type: 'file', multiple: true, accept: 'audio/mpeg,.mp3', 'aria-describedby': `${id}-help`},
			on: {change: () => {
				this.add(this.input.files);
				this.input.value = '';
			}},
		});
		this.pick = el('label', {class: 'button primary upload-pick', text: 'Choose files', attrs: {for: `${id}-file`}});
		this.note = el('p', {class: 'upload-note', attrs: {hidden: true}});
		this.list = el('ul', {class: 'upload-list', attrs: {'aria-labelledby': `${id}-title`, tabindex: '-1'}});
		this.clear = el('button', {
			class: 'small quiet', text: 'Clear finished', attrs: {type: 'button', hidden: true},
			on: {click: () => this.#clearFinished()},
		});
		this.zone = el('div', {class: 'dropzone'},
			this.input,
			this.pick,
			this.dropText = el('span', {class: 'muted', text: ' or drop MP3 files here'}),
			el('p', {class: 'help', attrs: {id: `${id}-help`}, text: 'Each file joins the library and the end of the playlist. Several at once are fine; an interrupted upload resumes.'}));
		root.append(el('h2', {text: 'Add music', attrs: {id: `${id}-title`}}), this.note, this.zone, this.list, this.clear);

		this.overlay = el('div', {class: 'drop-overlay', attrs: {hidden: true, 'aria-hidden': 'true'}},
			el('p', {class: 'drop-overlay-text'}));
		document.body.append(this.overlay);
		window.addEventListener('dragenter', (ev) => this.#dragEnter(ev));
		window.addEventListener('dragover', (ev) => this.#dragOver(ev));
		window.addEventListener('drop', (ev) => this.#drop(ev));
		this.overlay.addEventListener('dragleave', (ev) => {
			if (!ev.relatedTarget || !document.documentElement.contains(ev.relatedTarget))
				this.#showOverlay(false);
		});
		window.addEventListener('online', () => this.#wakeAll());
		window.addEventListener('beforeunload', (ev) => {
			if (this.#items.some((it) => it.state === 'uploading' || it.state === 'queued' || it.state === 'paused')) {
				ev.preventDefault();
				ev.returnValue = '';
			}
		});
	}

	/** A room snapshot: the role and policy decide whether this page may upload. */
	enter(session) {
		const room = session.room || {};
		if (this.#session && this.#session.code !== session.code)
			this.leave();
		this.#session = session;
		this.#role = room.you?.role ?? session.you?.role ?? 'member';
		this.#policy = room.policy ?? this.#policy;
		this.#renderAllowed();
		if (!this.#optionsAsked) {
			this.#optionsAsked = true;
			storeSweep();
			this.#options();
		}
		// A token that changed (rejoined) goes to the uploads still to come.
		for (const it of this.#items)
			if (it.code === session.code)
				it.token = session.token;
	}

	/** Role and policy changes: whether this page may upload now. */
	event(msg) {
		const you = this.#session?.room?.you ?? this.#session?.you;
		if (!you)
			return;
		if (msg.type === 'role_changed' && msg.user) {
			if (msg.user.id === you.id)
				this.#role = 'admin';
			else if (msg.previous?.id === you.id || this.#role === 'admin')
				this.#role = 'member';
			this.#renderAllowed();
		} else if (msg.type === 'room_updated' && msg.settings?.policy) {
			this.#policy = msg.settings.policy;
			this.#renderAllowed();
		}
	}

	/** The room view closes: uploads stop where they are (a later pick resumes them). */
	leave() {
		for (const it of this.#items)
			this.#stop(it);
		this.#items = [];
		this.#active = 0;
		this.#gen++;
		this.list.replaceChildren();
		this.clear.hidden = true;
		this.#session = null;
		this.#showOverlay(false);
	}

	/** Whether this page may upload: the admin, or everyone under policy "everyone". */
	get allowed() {
		return this.#role === 'admin' || this.#policy === 'everyone';
	}

	/** Queues files (a FileList or an array of File). */
	add(files) {
		const s = this.#session;
		if (!s)
			return;
		const list = [...(files || [])];
		if (!list.length)
			return;
		if (!this.allowed) {
			this.ctx.announce('Only the admin can add music in this room.');
			this.#flashNote();
			return;
		}
		let queued = 0;
		for (const file of list) {
			const key = `${STORE_PREFIX}${s.code}.${file.name}.${file.size}.${file.lastModified}`;
			if (this.#items.some((it) => it.key === key && it.state !== 'done' && it.state !== 'error')) {
				this.ctx.announce(`${file.name} is already in the list.`);
				continue;
			}
			const it = {
				id: ++uid, key, file, name: file.name, size: file.size, code: s.code, token: s.token,
				state: 'queued', sent: 0, live: 0, url: null, xhr: null, wake: null, attempts: 0,
				restarted: false, cancelled: false, samples: [], drawn: 0, message: 'Waiting…', node: null,
			};
			const refused = this.#precheck(file);
			if (refused) {
				it.state = 'error';
				it.message = refused;
			}
			this.#items.push(it);
			this.list.append(this.#row(it));
			this.#draw(it);
			if (refused)
				this.ctx.announce(`${it.name}: ${refused}`);
			else
				queued++;
		}
		if (queued)
			this.ctx.announce(queued === 1 ? '1 file queued for upload.' : `${queued} files queued for upload.`);
		this.#pump();
	}

	/** What is obviously wrong with a pick, or null; the server decides the rest. */
	#precheck(file) {
		if (file.size === 0)
			return 'Refused: the file is empty.';
		if (this.#anyAudio) {
			if (file.type && !/^(audio|video)\//.test(file.type) && !AUDIO_NAME.test(file.name))
				return `Refused: not an audio file (${file.type}).`;
			return this.#maxSize && file.size > this.#maxSize ?
				`Refused: too large (${formatBytes(file.size)}); files are at most ${formatBytes(this.#maxSize)}.` : null;
		}
		const mp3Name = /\.mp3$/i.test(file.name);
		if (file.type && !file.type.startsWith('audio/') && !mp3Name)
			return `Refused: not an audio file (${file.type}); only MP3 files can be added.`;
		if (!file.type && !mp3Name)
			return 'Refused: only MP3 files can be added.';
		if (this.#maxSize && file.size > this.#maxSize)
			return `Refused: too large (${formatBytes(file.size)}); files are at most ${formatBytes(this.#maxSize)}.`;
		return null;
	}

	async #options() {
		try {
			const res = await fetch('/api/uploads', {method: 'OPTIONS', cache: 'no-store'});
			const max = Number(res.headers.get('Tus-Max-Size'));
			if (res.ok && max > 0)
				this.#maxSize = max;
			if (res.ok && res.headers.get('Tutti-Audio') === 'any') {
				// The server converts other audio files to MP3 (ffmpeg).
				this.#anyAudio = true;
				this.input.accept = `audio/*,${AUDIO_EXTENSIONS.join(',')}`;
				this.dropText.textContent = ' or drop audio files here (MP3, FLAC, WAV, Ogg, M4A…)';
			}
		} catch {
			// the server still checks Upload-Length
		}
	}

	#renderAllowed() {
		const ok = this.allowed;
		this.input.disabled = !ok;
		this.pick.classList.toggle('disabled', !ok);
		this.pick.setAttribute('aria-disabled', String(!ok));
		this.note.hidden = ok;
		this.note.textContent = ok ? '' : 'Only the admin can add music in this room. You can ask for a song in Requests.';
	}

	#flashNote() {
		this.note.hidden = false;
		this.note.classList.remove('flash');
		void this.note.offsetWidth;
		this.note.classList.add('flash');
	}

	// --- drag and drop, on the panel and anywhere on the page

	#dragEnter(ev) {
		if (!this.#session || !hasFiles(ev))
			return;
		ev.preventDefault();
		this.#showOverlay(true);
	}

	#dragOver(ev) {
		if (!this.#session || !hasFiles(ev))
			return;
		ev.preventDefault();	// else the browser opens the file and leaves the room
		ev.dataTransfer.dropEffect = this.allowed ? 'copy' : 'none';
		this.#showOverlay(true);
		// A drag cancelled outside the window may end without dragleave.
		clearTimeout(this.#dragTimer);
		this.#dragTimer = setTimeout(() => this.#showOverlay(false), 1000);
	}

	#drop(ev) {
		if (!this.#session || !hasFiles(ev))
			return;
		ev.preventDefault();
		this.#showOverlay(false);
		this.add(ev.dataTransfer.files);
	}

	#showOverlay(on) {
		if (on && this.overlay.hidden) {
			this.overlay.querySelector('p').textContent = this.allowed ?
				'Drop the files to add them to the playlist' : 'Only the admin can add music in this room';
			this.overlay.dataset.allowed = String(this.allowed);
		}
		this.overlay.hidden = !on;
		this.root.classList.toggle('drag-over', on);
	}

	// --- the list

	#row(it) {
		const nameId = `up-name-${it.id}`;
		it.bar = el('progress', {attrs: {max: String(Math.max(1, it.size)), value: '0', 'aria-labelledby': nameId}});
		it.statusNode = el('p', {class: 'status'});
		it.bytesNode = el('span', {class: 'bytes'});
		it.actions = el('span', {class: 'actions'});
		it.node = el('li', {attrs: {'data-upload': it.id, 'data-state': it.state}},
			el('div', {class: 'upload-head'},
				el('span', {class: 'upload-name', text: it.name, attrs: {id: nameId, title: it.name}}),
				it.bytesNode),
			it.bar,
			el('div', {class: 'upload-foot'}, it.statusNode, it.actions));
		return it.node;
	}

	/** Redraws a row; progress-only redraws are throttled. */
	#draw(it, progressOnly = false) {
		const now = performance.now();
		if (progressOnly && now - it.drawn < RENDER_EVERY_MS)
			return;
		it.drawn = now;
		const done = Math.min(it.size, it.sent + it.live);
		it.bar.value = it.state === 'done' ? it.size : done;
		const pct = it.size ? Math.floor(done * 100 / it.size) : 0;
		it.bytesNode.textContent = it.state === 'done' || it.state === 'error' ? formatBytes(it.size) :
			`${formatBytes(done)} of ${formatBytes(it.size)} (${pct}%)`;
		let text = it.message;
		if (it.state === 'uploading' && !it.message) {
			const speed = this.#speed(it);
			text = speed > 0 ? `Uploading · ${formatBytes(speed)}/s · ${formatEta((it.size - done) / speed)}` : 'Uploading…';
			if (done >= it.size)
				text = 'Checking the file…';
		}
		it.statusNode.textContent = text;
		it.node.dataset.state = it.state;
		if (!progressOnly)
			this.#drawActions(it);
	}

	#drawActions(it) {
		const focused = it.actions.contains(document.activeElement) ? document.activeElement.dataset.action : null;
		const button = (action, label) => el('button', {
			class: 'small', text: label,
			attrs: {type: 'button', 'data-action': action, 'aria-describedby': `up-name-${it.id}`},
			on: {click: () => this.#act(it, action)},
		});
		const buttons = [];
		if (it.state === 'queued' || it.state === 'uploading' || it.state === 'paused')
			buttons.push(button('cancel', 'Cancel'));
		if (it.state === 'error' && it.retryable)
			buttons.push(button('retry', 'Retry'));
		if (it.state === 'done' || it.state === 'error')
			buttons.push(button('remove', 'Remove'));
		it.actions.replaceChildren(...buttons);
		if (focused) {
			const again = it.actions.querySelector(`[data-action="${focused}"]`) || it.actions.querySelector('button');
			(again || this.list).focus();
		}
		this.clear.hidden = !this.#items.some((x) => x.state === 'done' || x.state === 'error');
	}

	#act(it, action) {
		if (action === 'cancel')
			this.#cancel(it);
		else if (action === 'retry') {
			it.state = 'queued';
			it.message = 'Waiting…';
			it.attempts = 0;
			it.retryable = false;
			this.#draw(it);
			this.#pump();
		} else if (action === 'remove')
			this.#remove(it);
	}

	#remove(it) {
		const hadFocus = it.node.contains(document.activeElement);
		const index = this.#items.indexOf(it);
		this.#items = this.#items.filter((x) => x !== it);
		it.node.remove();
		this.clear.hidden = !this.#items.some((x) => x.state === 'done' || x.state === 'error');
		if (hadFocus) {
			const next = this.#items[Math.min(index, this.#items.length - 1)];
			(next?.node.querySelector('button') || this.list).focus();
		}
	}

	#clearFinished() {
		for (const it of [...this.#items])
			if (it.state === 'done' || it.state === 'error')
				this.#remove(it);
		this.list.focus();
	}

	#set(it, state, message = '', announce = '') {
		it.state = state;
		it.message = message;
		this.#draw(it);
		if (announce)
			this.ctx.announce(announce);
	}

	#speed(it) {
		const s = it.samples;
		if (s.length < 2)
			return 0;
		const [t0, b0] = s[0];
		const [t1, b1] = s[s.length - 1];
		return t1 > t0 ? (b1 - b0) * 1000 / (t1 - t0) : 0;
	}

	#sample(it) {
		const now = performance.now();
		it.samples.push([now, it.sent + it.live]);
		while (it.samples.length > 2 && now - it.samples[0][0] > SPEED_WINDOW_MS)
			it.samples.shift();
	}

	// --- the queue

	#pump() {
		while (this.#active < PARALLEL) {
			const it = this.#items.find((x) => x.state === 'queued');
			if (!it)
				return;
			this.#active++;
			const gen = this.#gen;
			this.#run(it).finally(() => {
				if (gen !== this.#gen)
					return;
				this.#active--;
				this.#pump();
			});
		}
	}

	/** Uploads one file to its end, retrying what can be retried. */
	async #run(it) {
		it.state = 'uploading';
		it.message = '';
		it.samples = [];
		this.#draw(it);
		const kind = it.url || it.sniffed || this.#anyAudio ? null : await sniffNotMp3(it.file);
		it.sniffed = true;
		if (kind) {
			this.#set(it, 'error', `Refused: this is ${kind}, not an MP3; convert it to MP3 first.`,
				`${it.name}: refused, ${kind}, not an MP3.`);
			return;
		}
		for (;;) {
			if (it.cancelled || !this.#items.includes(it))
				return;
			try {
				await this.#locate(it);
				if (it.state !== 'done')
					await this.#send(it);
				return;
			} catch (err) {
				if (it.cancelled || !this.#items.includes(it))
					return;
				if (!(await this.#recover(it, err)))
					return;
			}
		}
	}

	/**
	 * Where the upload stands: a known URL (this page's, or one remembered
	 * from an earlier visit) is asked with HEAD; otherwise one is created.
	 */
	async #locate(it) {
		if (!it.url) {
			const kept = storeGet(it.key);
			if (kept)
				it.url = kept.url;
		}
		if (it.url && it.needHead !== false) {
			const res = await this.#call('HEAD', it);
			if (res.ok) {
				const offset = Number(res.headers.get('Upload-Offset'));
				const length = Number(res.headers.get('Upload-Length'));
				if (Number.isInteger(offset) && length === it.size) {
					const resumed = it.sent === 0 && offset > 0 && !it.wasRunning;
					it.sent = offset;
					it.live = 0;
					it.needHead = false;
					if (res.headers.get('Tutti-Track')) {
						this.#finish(it, res.headers);
						return;
					}
					if (resumed)
						this.ctx.announce(`${it.name}: resuming at ${Math.floor(offset * 100 / it.size)}%.`);
					return;
				}
			} else if (res.status !== 404 && res.status !== 410 && res.status !== 403) {
				throw problem(res.status, '', res.headers, res.statusText);
			}
			// Not ours any more (expired, gone, another file): start over.
			this.#forget(it);
		}
		if (!it.url)
			await this.#create(it);
	}

	async #create(it) {
		const res = await this.#call('POST', it, {
			'Upload-Length': String(it.size),
			'Upload-Metadata': `room ${b64(it.code)},filename ${b64(it.name)}`,
		});
		const where = res.headers.get('Location');
		if (res.status !== 201 || !where)
			throw problem(res.status, await res.text(), res.headers, 'the upload could not be created');
		it.url = new URL(where, location.href).pathname;
		if (it.cancelled) {
			this.#call('DELETE', it).catch(() => {});
			return;
		}
		it.sent = 0;
		it.live = 0;
		it.needHead = false;
		const expires = Date.parse(res.headers.get('Upload-Expires') || '');
		storeSet(it.key, {url: it.url, expires: Number.isFinite(expires) ? expires : Date.now() + 864e5});
	}

	/** The PATCHes from it.sent to the end; the last one answers Tutti-Track. */
	async #send(it) {
		it.wasRunning = true;
		for (;;) {
			if (it.state !== 'uploading' || it.message)
				this.#set(it, 'uploading', '', it.state === 'paused' ? `${it.name}: uploading again.` : '');
			const start = it.sent;
			const end = Math.min(it.size, start + this.#chunk);
			const t0 = performance.now();
			const xhr = await this.#patch(it, start, end);
			const offset = Number(xhr.getResponseHeader('Upload-Offset'));
			if (!Number.isInteger(offset) || offset < start || offset > it.size) {
				it.needHead = true;
				throw new TusError(0, 'Bad answer', 'the server did not say where the upload stands');
			}
			it.sent = offset;
			it.live = 0;
			it.attempts = 0;
			if (xhr.getResponseHeader('Tutti-Track')) {
				this.#finish(it, {get: (name) => xhr.getResponseHeader(name)});
				return;
			}
			if (offset >= it.size)
				throw new TusError(500, 'Not finished', 'the server has the whole file but did not add it; retrying');
			// A PATCH under 20 ms (loopback) counts as 20 ms: the chunk still grows.
			const secs = Math.max(0.02, (performance.now() - t0) / 1000);
			if (offset - start >= MiB) {
				const ideal = (offset - start) / secs * CHUNK_TARGET_S;
				this.#chunk = Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, Math.round(ideal / MiB) * MiB));
			}
		}
	}

	/** One PATCH through XMLHttpRequest (for upload progress); resolves with the 204. */
	#patch(it, start, end) {
		return new Promise((resolve, reject) => {
			const xhr = new XMLHttpRequest();
			it.xhr = xhr;
			let last = performance.now();
			const watchdog = setInterval(() => {
				if (it.live < end - start && performance.now() - last > STALL_MS)
					xhr.abort();	// stalled: resume from the server's offset
			}, 1000);
			const finish = () => {
				clearInterval(watchdog);
				if (it.xhr === xhr)
					it.xhr = null;
			};
			xhr.open('PATCH', it.url);
			xhr.setRequestHeader('Tus-Resumable', TUS);
			xhr.setRequestHeader('Authorization', `Bearer ${it.token}`);
			xhr.setRequestHeader('Upload-Offset', String(start));
			xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
			xhr.upload.onprogress = (ev) => {
				last = performance.now();
				it.live = ev.loaded;
				this.#sample(it);
				this.#draw(it, true);
			};
			xhr.onload = () => {
				finish();
				if (xhr.status === 204) {
					resolve(xhr);
					return;
				}
				it.live = 0;
				reject(problem(xhr.status, xhr.responseText, {get: (name) => xhr.getResponseHeader(name)}));
			};
			const lost = (why) => () => {
				finish();
				it.live = 0;
				it.needHead = true;
				reject(new TusError(0, why, 'the connection dropped'));
			};
			xhr.onerror = lost('Network error');
			xhr.onabort = lost('Interrupted');
			xhr.ontimeout = lost('Timed out');
			xhr.send(it.file.slice(start, end));
		});
	}

	/** HEAD, POST or DELETE of the tus endpoints through fetch; status 0 errors throw. */
	async #call(method, it, extra = {}) {
		try {
			return await fetch(method === 'POST' ? '/api/uploads' : it.url, {
				method,
				headers: {'Tus-Resumable': TUS, Authorization: `Bearer ${it.token}`, ...extra},
				cache: 'no-store',
			});
		} catch {
			throw new TusError(0, 'Network error', 'the server could not be reached');
		}
	}

	#finish(it, headers) {
		it.sent = it.size;
		it.live = 0;
		it.trackId = Number(headers.get('Tutti-Track')) || null;
		it.itemId = Number(headers.get('Tutti-Item')) || null;
		storeSet(it.key, null);
		const where = it.itemId ? 'Added to the playlist' : 'Added to the library (the room has closed)';
		this.#set(it, 'done', where, `${it.name}: ${where.toLowerCase()}.`);
	}

	#forget(it) {
		storeSet(it.key, null);
		it.url = null;
		it.sent = 0;
		it.live = 0;
		it.needHead = false;
		this.#draw(it, true);
	}

	/**
	 * After a failed step: waits and returns true to try again, or marks the
	 * file failed and returns false. The server's problem+json is shown as it is.
	 */
	async #recover(it, err) {
		const s = err.status;
		const final = (message, retryable = false) => {
			if (!retryable)
				storeSet(it.key, null);
			it.retryable = retryable;
			this.#set(it, 'error', message, `${it.name}: upload failed. ${message}`);
			return false;
		};
		if (s === 415)
			return final(`Refused: ${err.message}`);
		if (s === 413) {
			const max = Number(err.header('Tus-Max-Size'));
			return final(max > 0 ? `Refused, too large: files are at most ${formatBytes(max)}.` : `Refused: ${err.message}`);
		}
		if (s === 403)
			return final(`Not allowed: ${err.detail || err.title}`);
		if (s === 401)
			return final('Your place in this room is no longer valid: join again to upload.', true);
		if (s === 507)
			return final(`${err.title}: ${err.detail}`, true);
		if (s === 410 || s === 404) {
			if (it.restarted)
				return final(`${err.message}`, true);
			it.restarted = true;
			this.#forget(it);
			this.#set(it, 'uploading', `${s === 410 ? 'The upload expired' : 'The server lost the upload'}: starting again…`);
			return true;
		}
		if (s === 409) {
			const offset = Number(err.header('Upload-Offset'));
			if (Number.isInteger(offset) && offset >= 0 && offset <= it.size && ++it.attempts <= RETRIES) {
				it.sent = offset;
				it.needHead = false;
				return true;
			}
			it.needHead = true;
		}
		if (s >= 400 && s < 500 && ![408, 409, 423, 429, 460].includes(s))
			return final(err.message, true);	// 400 and the like: retrying would not help
		// The network, a busy or restarting server: wait, ask the offset, go on.
		// A server that says when to come back (429, or 503 while its upload
		// slots are taken) is busy, not failing: that wait uses no attempt.
		const after = Number(err.header('Retry-After'));
		const busy = (s === 429 || s === 503) && after > 0;
		if (!busy && ++it.attempts > RETRIES)
			return final(`Gave up after ${RETRIES} attempts: ${err.message}`, true);
		it.needHead = true;
		it.samples = [];	// the speed starts again after the pause
		if (!navigator.onLine) {
			this.#set(it, 'paused', 'Offline: the upload goes on when the network is back.', `${it.name}: paused, offline.`);
			while (!navigator.onLine && !it.cancelled && this.#items.includes(it))
				await this.#sleep(it, 15000);
			it.attempts = 0;
			return true;
		}
		const base = busy ? after * 1000 : Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (it.attempts - 1));
		const wait = Math.round(base * (0.75 + Math.random() * 0.5));
		const why = s === 0 ? 'Connection lost' : err.title;
		this.#set(it, 'paused', `${why}: resuming in ${Math.ceil(wait / 1000)} s…`,
			it.attempts === 1 ? `${it.name}: ${why.toLowerCase()}, resuming shortly.` : '');
		await this.#sleep(it, wait);
		if (it.state === 'paused' && !it.cancelled)
			this.#set(it, 'uploading', 'Resuming…');
		return true;
	}

	/** Waits ms, or less when woken (the network is back, a cancel). */
	#sleep(it, ms) {
		return new Promise((resolve) => {
			const timer = setTimeout(done, ms);
			function done() {
				clearTimeout(timer);
				it.wake = null;
				resolve();
			}
			it.wake = done;
		});
	}

	#wakeAll() {
		for (const it of this.#items)
			it.wake?.();
	}

	/** Stops a file's transfer and timers, keeping the server's upload. */
	#stop(it) {
		it.cancelled = true;
		it.xhr?.abort();
		it.wake?.();
	}

	/** Cancel: stops and terminates the upload on the server (DELETE), then drops the row. */
	async #cancel(it) {
		this.#stop(it);
		storeSet(it.key, null);
		this.#remove(it);
		this.ctx.announce(`${it.name}: upload cancelled.`);
		if (!it.url)
			return;
		// A PATCH the server is still reading is 423 for a moment.
		for (let i = 0; i < 5; i++) {
			try {
				const res = await this.#call('DELETE', it);
				if (res.status !== 423)
					return;
			} catch {
				return;
			}
			await new Promise((r) => setTimeout(r, 500 * (i + 1)));
		}
	}
}
