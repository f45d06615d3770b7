// What every pingroll page shares (served as /assets/pingroll.js): the API token kept for the
// browser session (taken from #token=... once, then removed from the address bar), the version
// order and the chart palette.
"use strict";
const PingRoll = (() => {
  const KEY = "pingroll-token";
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    sessionStorage.setItem(KEY, hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return {
    token: () => sessionStorage.getItem(KEY),
    setToken: (token) => sessionStorage.setItem(KEY, token),
    forgetToken: () => sessionStorage.removeItem(KEY),
    // Versions as versions: 16.10 after 16.9; anything else after them, as text.
    compareVersions(a, b) {
      const num = (s) => /^\d+(\.\d+)*$/.test(s) ? s.split(".").map(Number) : null;
      const pa = num(a), pb = num(b);
      if (pa && pb) {
        for (let i = 0; i < Math.max(pa.length, pb.length); i++) { const d = (pa[i] || 0) - (pb[i] || 0); if (d) return d; }
        return 0;
      }
      if (pa) return -1;
      if (pb) return 1;
      return a.localeCompare(b);
    },
    // Distinguishable colours for many series: hues a golden angle apart, two lightness bands.
    color: (i) => "hsl(" + Math.round((i * 137.508) % 360) + ", 65%, " + (i % 2 ? 38 : 50) + "%)",
    // The same color at a third of its opacity: bands, points from too few reports.
    fade: (i) => "hsla(" + Math.round((i * 137.508) % 360) + ", 65%, " + (i % 2 ? 38 : 50) + "%, 0.3)",
  };
})();
