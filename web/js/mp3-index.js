/*
 * mp3-index.js - finds the MPEG audio Layer III frames of an MP3 file and
 * reads its Xing/Info/LAME tag, so that a long track can be decoded in
 * slices of whole frames (segmented-track.js) that line up sample for
 * sample with what the browser's decodeAudioData gives for the whole file.
 * Pure: no DOM, no Web Audio; the e2e tests import it in node too.
 *
 * The timeline rule (verified in Chromium by tests/e2e/long.test.mjs):
 * decoding the bytes of audio frames [j, j + n) alone gives n ×
 * samplesPerFrame samples, sample t being sample j × samplesPerFrame + t of
 * the "raw" output (frame 0 = the first audio frame after a Xing/Info
 * frame, which is skipped). The whole-file decode is raw samples
 * [startTrim, startTrim + length): with a LAME (Lavc, Lavf) extension,
 * startTrim = encoder delay + DECODER_DELAY and the end is the lesser of
 * tag frames × samplesPerFrame − padding + DECODER_DELAY and the frames
 * present (a file cut short); without one (no tag, or Xing alone) nothing
 * is trimmed. A cut last frame is dropped; junk between frames makes the
 * browser lose some audio (how much depends on the bytes), so such a file
 * (junk > 0) does not have this index's timeline. A slice is only right once the decoder has its bit reservoir
 * and overlap history: decode from preroll(j) frames earlier.
 */

export const DECODER_DELAY = 529;   // samples the Layer III decoder (FFmpeg's, in Chromium) lags its input

const BITRATES = [
	[0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],   // MPEG-1
	[0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],       // MPEG-2 and 2.5
];
const RATES = [44100, 48000, 32000];
const VERSION_SHIFT = {3: 0, 2: 1, 0: 2};   // version bits -> rate divisor shift (MPEG-1, 2, 2.5)
const RESERVOIR_MAX = [511, 255];           // main_data_begin reaches back this many bytes at most (MPEG-1, 2/2.5)
const SYNC_CONFIRM = 3;                     // a resync needs this many frames in a row

/**
 * The Layer III frame header at byte i of u8, or null: {mpeg1, rate,
 * channels, size (bytes), samples (per frame), side (side info bytes),
 * crc}. Free-format and reserved values are refused.
 */
export function parseHeader(u8, i) {
	if (i + 4 > u8.length || u8[i] !== 0xff || (u8[i + 1] & 0xe0) !== 0xe0)
		return null;
	const version = (u8[i + 1] >> 3) & 3;
	const layer = (u8[i + 1] >> 1) & 3;
	const bitrateIndex = u8[i + 2] >> 4;
	const rateIndex = (u8[i + 2] >> 2) & 3;
	if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3 ||
	    (u8[i + 3] & 3) === 2)
		return null;
	const mpeg1 = version === 3;
	const rate = RATES[rateIndex] >> VERSION_SHIFT[version];
	const kbps = BITRATES[mpeg1 ? 0 : 1][bitrateIndex];
	const padding = (u8[i + 2] >> 1) & 1;
	const channels = (u8[i + 3] >> 6) === 3 ? 1 : 2;
	const size = Math.floor((mpeg1 ? 144000 : 72000) * kbps / rate) + padding;
	const side = mpeg1 ? (channels === 1 ? 17 : 32) : (channels === 1 ? 9 : 17);
	return {mpeg1, rate, channels, size, samples: mpeg1 ? 1152 : 576, side, crc: !(u8[i + 1] & 1)};
}

/** The length of an ID3v2 tag at byte i (header, body, footer), or 0. */
function id3v2Length(u8, i) {
	if (i + 10 > u8.length || u8[i] !== 0x49 || u8[i + 1] !== 0x44 || u8[i + 2] !== 0x33)
		return 0;
	if (u8[i + 3] === 0xff || u8[i + 4] === 0xff || ((u8[i + 6] | u8[i + 7] | u8[i + 8] | u8[i + 9]) & 0x80))
		return 0;
	const body = (u8[i + 6] << 21) | (u8[i + 7] << 14) | (u8[i + 8] << 7) | u8[i + 9];
	return 10 + body + (u8[i + 5] & 0x10 ? 10 : 0);
}

/** Whether the header h at i matches the stream's first one (same version, rate, channels). */
function sameStream(h, first) {
	return h.mpeg1 === first.mpeg1 && h.rate === first.rate && h.channels === first.channels;
}

/**
 * Whether a run of SYNC_CONFIRM frames like `first` (any of them when
 * first is null) starts at byte i; the last may end exactly at the end of u8.
 */
function confirmed(u8, i, first) {
	let at = i;
	for (let n = 0; n < SYNC_CONFIRM; n++) {
		if (at === u8.length && n > 0)
			return true;
		const h = parseHeader(u8, at);
		if (!h || (first && !sameStream(h, first)) || at + h.size > u8.length)
			return false;
		first ??= h;
		at += h.size;
	}
	return true;
}

const u32 = (u8, i) => ((u8[i] << 24) | (u8[i + 1] << 16) | (u8[i + 2] << 8) | u8[i + 3]) >>> 0;

function magic(u8, i, text) {
	for (let k = 0; k < text.length; k++)
		if (u8[i + k] !== text.charCodeAt(k))
			return false;
	return true;
}

/**
 * The Xing/Info tag of the frame at byte i (header h), or null:
 * {frames (the tag's count, or null), delay, padding (null without a
 * LAME-style extension)}. `vbri` is true for a Fraunhofer VBRI tag.
 */
function readTag(u8, i, h) {
	const at = i + 4 + (h.crc ? 2 : 0) + h.side;
	if (magic(u8, i + 36, 'VBRI'))
		return {vbri: true};
	if (!magic(u8, at, 'Xing') && !magic(u8, at, 'Info'))
		return null;
	const flags = u32(u8, at + 4);
	let p = at + 8;
	let frames = null;
	if (flags & 1) {
		frames = u32(u8, p);
		p += 4;
	}
	if (flags & 2)
		p += 4;
	if (flags & 4)
		p += 100;
	if (flags & 8)
		p += 4;
	let delay = null;
	let padding = null;
	if (p + 24 <= i + h.size && (magic(u8, p, 'LAME') || magic(u8, p, 'Lavf') || magic(u8, p, 'Lavc'))) {
		const v = (u8[p + 21] << 16) | (u8[p + 22] << 8) | u8[p + 23];
		delay = v >> 12;
		padding = v & 0xfff;
	}
	return {vbri: false, frames, delay, padding};
}

/**
 * Indexes the MP3 in `bytes` (ArrayBuffer or Uint8Array). Returns null when
 * it is not a plain Layer III stream of one sample rate and channel count
 * (or has a VBRI tag, or no frames), else {sampleRate, channels,
 * samplesPerFrame, frames (Uint32Array of byte offsets, audio frames only,
 * plus the end of the last one: frames.length = count + 1), count,
 * tag ("lame", "xing" or null), startTrim, length (samples of the whole-file
 * decode), endTrim (raw samples after it), junk (bytes skipped between
 * frames to resync; trailing bytes such as an ID3v1 tag are not counted),
 * reservoir (max bytes of main data before a frame), overhead (header
 * and side info bytes of a frame), history (frames before a slice's first
 * one that must decode exactly: preroll())}.
 */
export function indexMp3(bytes) {
	const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	let i = 0;
	for (let skip; (skip = id3v2Length(u8, i)) > 0;)
		i += skip;
	// The first frame: the first header that a run of frames confirms.
	while (i < u8.length && !confirmed(u8, i, null))
		i++;
	const first = parseHeader(u8, i);
	if (!first)
		return null;
	let offsets = new Uint32Array(1024);
	let n = 0;
	let junk = 0;
	while (i < u8.length) {
		const h = parseHeader(u8, i);
		if (h && sameStream(h, first) && i + h.size <= u8.length) {
			if (n === offsets.length) {
				const grown = new Uint32Array(n * 2);
				grown.set(offsets);
				offsets = grown;
			}
			offsets[n++] = i;
			i += h.size;
			continue;
		}
		if (h && !sameStream(h, first) && confirmed(u8, i, h))
			return null;	// the rate or channels change mid-stream
		// Resync: the next run of frames of this stream, if any.
		let j = i + 1;
		while (j < u8.length && !confirmed(u8, j, first))
			j++;
		if (j >= u8.length)
			break;	// trailing bytes (ID3v1, APE, a cut frame)
		junk += j - i;
		i = j;
	}
	if (!n)
		return null;
	const tag = readTag(u8, offsets[0], first);
	if (tag?.vbri)
		return null;
	const skip = tag ? 1 : 0;
	const count = n - skip;
	if (!count)
		return null;
	const frames = new Uint32Array(count + 1);
	frames.set(offsets.subarray(skip, n));
	frames[count] = offsets[n - 1] + parseHeader(u8, offsets[n - 1]).size;
	const spf = first.samples;
	const raw = count * spf;
	let startTrim = 0;
	let stop = raw;
	if (tag && tag.delay !== null) {
		startTrim = tag.delay + DECODER_DELAY;
		if (tag.frames !== null)
			stop = Math.min(raw, tag.frames * spf - tag.padding + DECODER_DELAY);
	}
	const length = Math.max(0, stop - startTrim);
	return {
		sampleRate: first.rate,
		channels: first.channels,
		samplesPerFrame: spf,
		frames,
		count,
		tag: tag ? (tag.delay !== null ? 'lame' : 'xing') : null,
		tagFrames: tag?.frames ?? null,
		startTrim,
		length,
		endTrim: raw - startTrim - length,
		junk,
		reservoir: RESERVOIR_MAX[first.mpeg1 ? 0 : 1],
		overhead: 4 + (first.crc ? 2 : 0) + first.side,
		history: first.mpeg1 ? 1 : 2,
	};
}

/**
 * How many frames before frame j (of index ix) to decode so that frame j
 * comes out right. Its first samples come out of the synthesis filter bank
 * fed by the granule before, which overlaps the one before it: the last
 * ix.history frames (MPEG-1: one, two granules; MPEG-2 and 2.5: two, one
 * granule each) must decode exactly, so before them come frames holding
 * the largest bit reservoir (ix.reservoir bytes of main data). Fewer at
 * the file's start.
 */
export function preroll(ix, j) {
	let pre = 0;
	let main = 0;	// main data bytes in frames j - pre .. j - history - 1
	while (j - pre > 0) {
		pre++;
		if (pre > ix.history)
			main += ix.frames[j - pre + 1] - ix.frames[j - pre] - ix.overhead;
		if (pre > ix.history && main >= ix.reservoir)
			break;
	}
	return pre;
}
