/*
 * api.js - the REST calls of docs/api.md that the page makes: rooms (list,
 * create, join, get, settings, close, leave), people (hand-over, removal),
 * the playlist (get; add, reorder, remove, with If-Match) and playback
 * control. Every failure becomes an ApiError carrying the problem+json title
 * and detail the server sent, so the page can show them as they are. The
 * panels (chat.js, requests.js, upload.js) build their own calls on request().
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

/**
 * Sends one API call and returns the parsed JSON body. opts: {body (sent as
 * JSON), token (bearer), headers (extra, e.g. If-Match)}. Rejects with an
 * ApiError: status 0 when the server could not be reached.
 */
export async function request(method, path, {body, token, headers: extra} = {}) {
	const headers = {Accept: 'application/json, application/problem+json'};
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (token)
		headers.Authorization = `Bearer ${token}`;
	Object.assign(headers, extra || {});
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
	if (res.status === 204 || res.status === 304)
		return {};
	if (data === null || typeof data !== 'object')
		throw new ApiError({status: res.status, title: 'Bad response', detail: `${method} ${path} did not answer JSON.`});
	return data;
}

/** The path of a room: /api/rooms/{code}. */
export const roomPath = (code) => `/api/rooms/${encodeURIComponent(code)}`;

/** The If-Match header value for playlist version v. */
const ifMatch = (v) => ({'If-Match': `"${v}"`});

/** GET /api/rooms: {rooms: [{code, name, policy, created_us, listeners, playing}]}. */
export function listRooms(limit = 50) {
	return request('GET', `/api/rooms?limit=${limit}`);
}

/**
 * POST /api/rooms: {code, token, user, room}. opts: {name, room_name,
 * public, policy}; absent ones take the server's defaults.
 */
export function createRoom(opts) {
	const body = typeof opts === 'string' ? {name: opts} : {...opts};
	for (const k of Object.keys(body))
		if (body[k] === undefined)
			delete body[k];
	return request('POST', '/api/rooms', {body});
}

/** POST /api/rooms/{code}/join: {token, user, room}; 409 when the name is taken, 404 no room. */
export function joinRoom(code, name) {
	return request('POST', `${roomPath(code)}/join`, {body: {name}});
}

/** GET /api/rooms/{code}: the whole room {code, seq, now_us, you, users, playlist, playback, ...}. */
export function getRoom(code, token) {
	return request('GET', roomPath(code), {token});
}

/** PATCH /api/rooms/{code} (admin): changes {room_name, public, policy, repeat, shuffle}. */
export function patchRoom(code, token, changes) {
	return request('PATCH', roomPath(code), {body: changes, token});
}

/** DELETE /api/rooms/{code} (admin): closes the room. */
export function closeRoom(code, token) {
	return request('DELETE', roomPath(code), {token});
}

/** POST /api/rooms/{code}/leave: the token stops working. */
export function leaveRoom(code, token) {
	return request('POST', `${roomPath(code)}/leave`, {token});
}

/** PUT /api/rooms/{code}/admin (admin): hands the role to userId. */
export function handOver(code, token, userId) {
	return request('PUT', `${roomPath(code)}/admin`, {body: {user_id: userId}, token});
}

/** DELETE /api/rooms/{code}/users/{id} (admin): removes someone. */
export function removeUser(code, token, userId) {
	return request('DELETE', `${roomPath(code)}/users/${userId}`, {token});
}

/** GET /api/rooms/{code}/playlist: {version, items}; the version to send with If-Match. */
export function getPlaylist(code, token) {
	return request('GET', `${roomPath(code)}/playlist`, {token});
}

/**
 * POST /api/rooms/{code}/playlist (the admin; everyone under policy
 * "everyone"): appends library track trackId. Resolves to {item_id,
 * version, items}. Rejects with an ApiError: 412 when version is stale
 * (fetch getPlaylist and decide again), 409 "Playlist full" at 1000 items,
 * 403 for a member under policy "admin", 404 no such track.
 */
export function addTrack(code, token, version, trackId) {
	return request('POST', `${roomPath(code)}/playlist`, {body: {track_id: trackId}, token, headers: ifMatch(version)});
}

/** PUT /api/rooms/{code}/playlist (admin): {version, items}; 412 when version is stale. */
export function reorderPlaylist(code, token, version, itemIds) {
	return request('PUT', `${roomPath(code)}/playlist`, {body: {items: itemIds}, token, headers: ifMatch(version)});
}

/** DELETE /api/rooms/{code}/playlist/{id} (admin): {version, items}; 412 when version is stale. */
export function removeItem(code, token, version, itemId) {
	return request('DELETE', `${roomPath(code)}/playlist/${itemId}`, {token, headers: ifMatch(version)});
}

/**
 * POST /api/rooms/{code}/control: {seq, playback}. args: the action's one
 * argument, {offset_us} or {position_us} for "seek", {item_id} for "jump".
 */
export function control(code, token, action, args = {}) {
	const body = {action};
	for (const k of ['offset_us', 'position_us', 'item_id'])
		if (args[k] !== undefined)
			body[k] = Math.round(args[k]);
	if (body.position_us !== undefined)
		body.position_us = Math.max(0, body.position_us);
	return request('POST', `${roomPath(code)}/control`, {body, token});
}
