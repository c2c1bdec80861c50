// Every page's script. Times the server wrote in UTC are shown in the reader's own time zone
// (the account's choice, else the browser's; the exact value stays in the title). The search box
// suggests categories and products as one types (from the suggest API), and a filter form marked
// `data-auto` applies each change at once, so its Apply button is only needed without scripts.
// Wide screens open the filters; phones show results first. A form that acts once (it carries a
// `_key`; not one marked `data-plain`) is sent by the script: a refusal shows beside the input it
// is about with everything typed kept in place, and success goes where the server says. Without
// scripts the same forms post as usual, a refusal on a page of its own.
(function () {
  const zh = document.documentElement.lang === "zh";
  // The account's time zone if it chose one, else the browser's.
  const zone = document.documentElement.dataset.tz;
  const style = { dateStyle: "medium", timeStyle: "short" };
  let local;
  try { local = new Intl.DateTimeFormat(zh ? "zh-CN" : "en-GB", zone ? { ...style, timeZone: zone } : style); }
  catch (_) { local = new Intl.DateTimeFormat(zh ? "zh-CN" : "en-GB", style); }
  for (const t of document.querySelectorAll("time[datetime]")) {
    const at = new Date(t.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    t.title = t.textContent;
    t.textContent = local.format(at);
  }
  const box = document.querySelector("input[data-suggest]");
  const list = document.getElementById("suggestions");
  if (box && list) {
    let timer = null;
    let asked = "";
    const close = () => { list.hidden = true; box.setAttribute("aria-expanded", "false"); };
    const show = (items) => {
      list.replaceChildren();
      for (const s of items) {
        const a = document.createElement("a");
        a.href = s.kind === "category"
          ? "/search?category=" + encodeURIComponent(s.id)
          : "/products/" + encodeURIComponent(s.id);
        a.textContent = (zh && s.text_zh) || s.text;
        if (s.kind === "category") a.className = "category";
        const li = document.createElement("li");
        li.append(a);
        list.append(li);
      }
      list.hidden = items.length === 0;
      box.setAttribute("aria-expanded", String(items.length > 0));
    };
    const ask = async () => {
      const text = box.value.trim();
      if (text === asked) return;
      asked = text;
      if (text === "") return close();
      try {
        const res = await fetch("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(text));
        if (res.ok && box.value.trim() === text) show((await res.json()).suggestions);
      } catch (_) { close(); }
    };
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 150); });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
      if (e.key === "ArrowDown" && !list.hidden) { e.preventDefault(); list.querySelector("a").focus(); }
    });
    list.addEventListener("keydown", (e) => {
      const li = e.target.closest("li");
      if (!li) return;
      if (e.key === "Escape") { close(); box.focus(); }
      const next = e.key === "ArrowDown" ? li.nextElementSibling : e.key === "ArrowUp" ? li.previousElementSibling : null;
      if (next) { e.preventDefault(); next.querySelector("a").focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); box.focus(); }
    });
    document.addEventListener("click", (e) => { if (!e.target.closest("form.search")) close(); });
  }

  for (const form of document.querySelectorAll("form[data-auto]")) {
    const apply = form.querySelector("button.apply");
    if (apply) apply.hidden = true;
    form.addEventListener("change", (e) => {
      // A price range is applied when one leaves it, not between its two boxes.
      const group = e.target.type === "text" && e.target.closest("fieldset");
      if (!group) return form.requestSubmit();
      setTimeout(() => { if (!group.contains(document.activeElement)) form.requestSubmit(); }, 0);
    });
  }
  const filters = document.querySelector("details.filters");
  if (filters && window.matchMedia("(min-width: 800px)").matches) filters.open = true;

  const go = (to) => {
    const target = new URL(to, location.href);
    if (target.href.split("#")[0] !== location.href.split("#")[0]) return location.assign(target.href);
    history.replaceState(null, "", target.href);
    location.reload();
  };
  const refuse = (form, html) => {
    for (const old of form.querySelectorAll(".field-error[data-inline]")) old.remove();
    for (const f of form.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
    const sent = new DOMParser().parseFromString(html, "text/html").querySelector(".field-error");
    const note = document.createElement("p");
    note.className = "field-error";
    note.setAttribute("role", "alert");
    note.dataset.inline = "";
    note.textContent = sent ? sent.textContent : html;
    const named = sent && sent.dataset.input ? form.elements.namedItem(sent.dataset.input) : null;
    const input = named && named.length !== undefined && !named.tagName ? named[0] : named;
    if (input && input.type !== "hidden") {
      note.id = "error-" + input.name;
      (input.closest("label") || input).after(note);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.focus();
    } else {
      form.prepend(note);
      note.scrollIntoView({ block: "nearest" });
    }
  };
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    // Attributes, not properties: an input named "action" or "method" would stand in for them.
    const method = (form.getAttribute("method") || "get").toLowerCase();
    if (e.defaultPrevented || method !== "post" || form.hasAttribute("data-plain")) return;
    if (!form.querySelector("input[name=_key]")) return;
    e.preventDefault();
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    const body = new URLSearchParams(new FormData(form, e.submitter));
    let res;
    try {
      const to = new URL(form.getAttribute("action") || location.href, location.href);
      res = await fetch(to, { method: "POST", body, headers: { "X-Souk-Form": "inline" } });
    } catch (_) {
      delete form.dataset.sending;
      return refuse(form, zh ? "连接失败，请重试。" : "The connection failed; please try again.");
    }
    const to = res.headers.get("X-Souk-Location");
    if (to !== null) return go(to);
    delete form.dataset.sending;
    if (res.headers.get("X-Souk-Form") === "error") return refuse(form, await res.text());
    // Anything else (signed out, an expired form) is the page the server would have shown.
    if (res.redirected) return location.assign(res.url);
    const page = await res.text();
    document.open();
    document.write(page);
    document.close();
  });
})();
