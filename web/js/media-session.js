/*
 * media-session.js - the room's playback on the device's own media controls
 * (a phone's lock screen and notification, a headset's buttons, a
 * keyboard's media keys) through the Media Session API, where the browser
 * has it: the playing title, artist and room, whether it plays, where it is,
 * and play, pause, next, previous and ±10 s sent as the room's commands
 * while this person may control playback. app.js drives it.
 */

const SEEK_US = 10e6;

/**
 * MediaControls(actions): actions {play(), pause(), next(), prev(),
 * seekBy(offsetUs)} run the room's commands; they are called only while
 * update() said this person may control playback. Does nothing where
 * navigator.mediaSession does not exist.
 */
export class MediaControls {
	#ms = typeof navigator !== 'undefined' ? navigator.mediaSession ?? null : null;
	#actions;
	#control = null;        // the handlers installed: true, false (none), null (not yet)
	#key = '';              // what the metadata shows now

	constructor(actions) {
		this.#actions = actions;
	}

	/**
	 * Shows the room's playback: track {title, artist, duration_us} or null,
	 * state "playing" | "paused" | "stopped", positionUs where it is now,
	 * roomName, and control (whether this person may control playback).
	 */
	update({track, state, positionUs, roomName, control}) {
		const ms = this.#ms;
		if (!ms)
			return;
		const key = JSON.stringify([track?.title, track?.artist, roomName]);
		if (!track)
			ms.metadata = null;
		else if (key !== this.#key && typeof MediaMetadata === 'function')
			ms.metadata = new MediaMetadata({title: track.title || 'Untitled', artist: track.artist || '', album: roomName || 'tutti'});
		this.#key = track ? key : '';
		ms.playbackState = !track || state === 'stopped' ? 'none' : state === 'playing' ? 'playing' : 'paused';
		this.#position(track, positionUs);
		this.#handlers(!!control);
	}

	/** Forgets everything shown (the room view closed). */
	clear() {
		const ms = this.#ms;
		if (!ms)
			return;
		ms.metadata = null;
		ms.playbackState = 'none';
		this.#key = '';
		this.#position(null, 0);
		this.#handlers(false);
	}

	#position(track, positionUs) {
		if (typeof this.#ms.setPositionState !== 'function')
			return;
		try {
			const duration = track?.duration_us > 0 ? track.duration_us / 1e6 : 0;
			if (!duration)
				this.#ms.setPositionState();	// clears it
			else
				this.#ms.setPositionState({duration, playbackRate: 1, position: Math.min(duration, Math.max(0, positionUs / 1e6))});
		} catch {
			// a browser that refuses the values: the controls work without
		}
	}

	#handlers(control) {
		if (control === this.#control)
			return;
		this.#control = control;
		const a = this.#actions;
		const set = (action, fn) => {
			try {
				this.#ms.setActionHandler(action, control ? fn : null);
			} catch {
				// an action this browser does not know
			}
		};
		set('play', () => a.play());
		set('pause', () => a.pause());
		set('stop', () => a.pause());
		set('nexttrack', () => a.next());
		set('previoustrack', () => a.prev());
		set('seekbackward', (d) => a.seekBy(-(d?.seekOffset ? d.seekOffset * 1e6 : SEEK_US)));
		set('seekforward', (d) => a.seekBy(d?.seekOffset ? d.seekOffset * 1e6 : SEEK_US));
	}
}
