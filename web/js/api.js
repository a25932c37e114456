/*
 * api.js - the REST calls the page makes (POST /api/rooms, .../join,
 * GET /api/rooms/{code}, .../control). Every failure becomes an ApiError
 * carrying the problem+json title and detail the server sent, so the page can
 * show them as they are.
 */

/** A failed call: status 0 when the server could not be reached at all. */
export class ApiError extends Error {
	constructor({status = 0, title = 'Request failed', detail = '', type = 'about:blank'} = {}) {
		super(detail ? `${title}: ${detail}` : title);
		this.name = 'ApiError';
		this.status = status;
		this.title = title;
		this.detail = detail;
		this.type = type;
	}
}

async function request(method, path, {body, token} = {}) {
	const headers = {Accept: 'application/json, application/problem+json'};
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (token)
		headers.Authorization = `Bearer ${token}`;
	let res;
	try {
		res = await fetch(path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			cache: 'no-store',
		});
	} catch {
		throw new ApiError({title: 'Network error', detail: 'The server could not be reached.'});
	}
	let data = null;
	if ((res.headers.get('Content-Type') || '').includes('json')) {
		try {
			data = await res.json();
		} catch {
			data = null;
		}
	}
	if (!res.ok) {
		const problem = data && typeof data === 'object' ? data : {};
		throw new ApiError({
			status: res.status,
			title: typeof problem.title === 'string' ? problem.title : `HTTP ${res.status}`,
			detail: typeof problem.detail === 'string' ? problem.detail : res.statusText,
			type: typeof problem.type === 'string' ? problem.type : 'about:blank',
		});
	}
	if (data === null || typeof data !== 'object')
		throw new ApiError({status: res.status, title: 'Bad response', detail: `${method} ${path} did not answer JSON.`});
	return data;
}

const room = (code) => `/api/rooms/${encodeURIComponent(code)}`;

/** POST /api/rooms: {code, token, user}. */
export function createRoom(name) {
	return request('POST', '/api/rooms', {body: {name}});
}

/** POST /api/rooms/{code}/join: {token, user}; 409 when the name is taken, 404 no room. */
export function joinRoom(code, name) {
	return request('POST', `${room(code)}/join`, {body: {name}});
}

/** GET /api/rooms/{code}: the whole room {code, seq, now_us, you, users, playlist, playback}. */
export function getRoom(code, token) {
	return request('GET', room(code), {token});
}

/** POST /api/rooms/{code}/control: {seq, playback}; position_us only for "seek". */
export function control(code, token, action, positionUs) {
	const body = {action};
	if (positionUs !== undefined)
		body.position_us = Math.max(0, Math.round(positionUs));
	return request('POST', `${room(code)}/control`, {body, token});
}
