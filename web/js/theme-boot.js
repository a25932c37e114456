/*
 * theme-boot.js - a classic (blocking) script in index.html's <head>: sets
 * <html data-theme="light|dark" data-theme-pref="auto|light|dark"> from the
 * remembered choice (localStorage "tutti.theme") and the system preference
 * before the first paint, so the page never flashes the wrong theme.
 * theme.js (a module) takes over once the page has loaded.
 */
(function () {
	var pref = 'auto';
	try {
		var v = localStorage.getItem('tutti.theme');
		if (v === 'light' || v === 'dark')
			pref = v;
	} catch (e) {
		// storage unavailable: follow the system
	}
	var dark = pref === 'dark' || (pref === 'auto' && window.matchMedia &&
	    window.matchMedia('(prefers-color-scheme: dark)').matches);
	document.documentElement.setAttribute('data-theme', dark ? 'dark' : 'light');
	document.documentElement.setAttribute('data-theme-pref', pref);
}());
