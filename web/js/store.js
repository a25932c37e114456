/*
 * store.js - what the page remembers in localStorage: the listener's name,
 * the bearer token of each room joined (so a reload or the share link goes
 * straight back in) with the room's name, the volume and the output delay
 * adjustment. (The theme is theme.js's.) Storage may be unavailable (private
 * modes); everything then just isn't remembered.
 */

const KEY_NAME = 'tutti.name';
const KEY_ROOMS = 'tutti.rooms';
const KEY_VOLUME = 'tutti.volume';
const KEY_DELAY = 'tutti.delay_ms';

function read(key) {
	try {
		return localStorage.getItem(key);
	} catch {
		return null;
	}
}

function write(key, value) {
	try {
		if (value === null)
			localStorage.removeItem(key);
		else
			localStorage.setItem(key, value);
	} catch {
		// not remembered
	}
}

function readRooms() {
	try {
		const rooms = JSON.parse(read(KEY_ROOMS) || '{}');
		return rooms && typeof rooms === 'object' && !Array.isArray(rooms) ? rooms : {};
	} catch {
		return {};
	}
}

export function getName() {
	return read(KEY_NAME) || '';
}

export function setName(name) {
	write(KEY_NAME, name);
}

/** The token stored for room code, or null. */
export function getToken(code) {
	const r = readRooms()[code];
	return r && typeof r.token === 'string' ? r.token : null;
}

/** Remembers the token of room code, with the user's name in it and the room's name. */
export function saveRoom(code, token, name, roomName = '') {
	const rooms = readRooms();
	rooms[code] = {token, name, room_name: roomName, saved: Date.now()};
	write(KEY_ROOMS, JSON.stringify(rooms));
}

/** Updates the remembered name of a room the page holds a token for. */
export function setRoomName(code, roomName) {
	const rooms = readRooms();
	const r = rooms[code];
	if (!r || r.room_name === roomName)
		return;
	r.room_name = roomName;
	write(KEY_ROOMS, JSON.stringify(rooms));
}

export function forgetRoom(code) {
	const rooms = readRooms();
	delete rooms[code];
	write(KEY_ROOMS, JSON.stringify(rooms));
}

/** The rooms with a stored token, most recent first: [{code, name, roomName}]. */
export function listRooms() {
	return Object.entries(readRooms())
		.filter(([, r]) => r && typeof r.token === 'string')
		.sort(([, a], [, b]) => (b.saved || 0) - (a.saved || 0))
		.map(([code, r]) => ({
			code,
			name: typeof r.name === 'string' ? r.name : '',
			roomName: typeof r.room_name === 'string' ? r.room_name : '',
		}));
}

/** Volume in [0, 1], 0.8 by default. */
export function getVolume() {
	const v = Number.parseFloat(read(KEY_VOLUME));
	return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.8;
}

export function setVolume(v) {
	write(KEY_VOLUME, String(v));
}

export function getDelayMs() {
	const v = Number.parseFloat(read(KEY_DELAY));
	return Number.isFinite(v) ? v : 0;
}

export function setDelayMs(ms) {
	write(KEY_DELAY, String(ms));
}
