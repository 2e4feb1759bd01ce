// Tells the server the browser's time zone (the `tz` cookie), so times on the pages ("try
// again at 14:05") are the shopper's own. Without it the pages name the server's zone.
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  // IANA names only ("Asia/Shanghai"): nothing that could break the cookie header.
  if (!/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) { return; }
  var current = document.cookie.match(/(?:^|;\s*)tz=([^;]*)/);
  if (current && current[1] === zone) { return; }
  document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax" +
    (location.protocol === "https:" ? "; secure" : "");
})();
