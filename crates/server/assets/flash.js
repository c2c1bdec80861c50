// Ticks flash-sale countdowns down once a second from the server's `data-seconds`, and reloads
// the page when one reaches zero, so the sale's new phase (live, ended) comes from the server.
(function () {
  const clocks = Array.from(document.querySelectorAll(".countdown[data-seconds]"));
  if (clocks.length === 0) return;
  const started = Date.now();
  const pad = (n) => String(n).padStart(2, "0");
  const show = (s, day) => {
    const hms = `${Math.floor(s / 3600) % 24}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
    return s >= 86400 ? `${Math.floor(s / 86400)} ${day || "d"} ${hms}` : hms;
  };
  const tick = () => {
    const gone = Math.floor((Date.now() - started) / 1000);
    for (const el of clocks) {
      const left = Math.max(0, Number(el.dataset.seconds) - gone);
      el.textContent = show(left, el.dataset.day);
      if (left === 0) {
        setTimeout(() => location.reload(), 1000);
        return;
      }
    }
    setTimeout(tick, 1000 - ((Date.now() - started) % 1000));
  };
  tick();
})();
