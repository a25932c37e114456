/*
 * dom.js - small helpers for building the page from data without HTML
 * strings: every text goes in through textContent or an attribute, and the
 * time and duration formats the views share.
 */

/**
 * Creates an element. props: {class, text, attrs: {name: value}, on: {event: fn}}.
 * Children are nodes or strings (added as text).
 */
export function el(tag, props = {}, ...children) {
	const node = document.createElement(tag);
	if (props.class)
		node.className = props.class;
	if (props.text !== undefined)
		node.textContent = String(props.text);
	for (const [name, value] of Object.entries(props.attrs || {}))
		if (value !== undefined && value !== null && value !== false)
			node.setAttribute(name, value === true ? '' : String(value));
	for (const [type, fn] of Object.entries(props.on || {}))
		node.addEventListener(type, fn);
	for (const child of children)
		if (child !== null && child !== undefined)
			node.append(child);
	return node;
}

/** The element with this id; throws if the page lacks it (a broken index.html). */
export function byId(id) {
	const node = document.getElementById(id);
	if (!node)
		throw new Error(`index.html has no #${id}`);
	return node;
}

/** Shows or hides a node through the hidden attribute. */
export function show(node, visible) {
	node.hidden = !visible;
}

/** 83500000 -> "1:23"; 3723000000 -> "1:02:03"; null -> "–:––". */
export function formatClock(us) {
	if (!Number.isFinite(us))
		return '–:––';
	const total = Math.max(0, Math.floor(us / 1e6));
	const h = Math.floor(total / 3600);
	const m = Math.floor(total / 60) % 60;
	const s = String(total % 60).padStart(2, '0');
	return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** µs -> "12.3 ms" (signed when asked), choosing decimals by size. */
export function formatMs(us, {signed = false} = {}) {
	if (!Number.isFinite(us))
		return '–';
	const ms = us / 1000;
	const abs = Math.abs(ms);
	const text = abs >= 100 ? abs.toFixed(0) : abs >= 10 ? abs.toFixed(1) : abs.toFixed(2);
	const sign = ms < 0 ? '−' : signed ? '+' : '';
	return `${sign}${text} ms`;
}
